"""Tuning inside the population against Optuna, the same search space and budget, in the same run.

For each data set of ``inertia tune-study`` (the spiral with the lab's ``[2, 50, 3]``, MNIST-1D with
``[40, 100, 100, 10]``; lr log-uniform on [0.003, 3], momentum uniform on [0, 0.99]; 20 epochs; a budget of 640
member-epochs) and each tuner seed:

  random, halving, pbt   ``inertia.sweeps.tune.tune`` (one population; halving η = 4 from 1 epoch; PBT every 2 epochs)
  optuna                 Optuna's TPE sampler with its ``SuccessiveHalvingPruner(reduction_factor=4, min_resource=1)``
                         over a plain PyTorch loop per trial (``inertia.models.MLP``, ``torch.optim.SGD``, the
                         held-out loss reported after every epoch), trials started until the epochs they trained
                         reach the budget

Every choice is trained again from the same 10 fresh seeds by the same code (``inertia.sweeps.tuned.train_again``)
and judged on held-out data; the JSON gives, per method, the held-out loss and accuracy (mean over tuner seeds,
95 % t-interval) and the wall seconds of one tuning.

    python benchmarks/tune_optuna.py [--json] [--tuner-seeds 10] [--datasets spiral,mnist1d]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_model
from inertia.models import MLP
from inertia.stats import mean_ci
from inertia.sweeps.run import dataset_of
from inertia.sweeps.spec import canonical, load_spec
from inertia.sweeps.tune import tune
from inertia.sweeps.tune_study import SPECS
from inertia.sweeps.tuned import retrain, train_again


def optuna_search(spec, seed: int, budget: int) -> tuple[dict, int]:
    """Optuna's TPE with successive-halving pruning over a plain torch loop, until ``budget`` epochs are trained;
    returns the best trial's lr and momentum and the number of trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = dataset_of(canonical(spec.data))
    x, y = dataset.tensors()
    x_test, y_test = dataset.test.tensors()
    layers, epochs, batch = spec.model["layers"], spec.train["epochs"], spec.train["batch_size"]
    used = {"epochs": 0}

    def objective(trial):
        lr = trial.suggest_float("lr", 0.003, 3.0, log=True)
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        model = MLP(layers, seed=seed * 100_000 + trial.number)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        generator = torch.Generator().manual_seed(seed * 100_000 + trial.number)
        loss = math.inf
        for epoch in range(epochs):
            for index in torch.randperm(len(y), generator=generator).split(batch):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
                optimizer.step()
            used["epochs"] += 1
            with torch.no_grad():
                loss = torch.nn.functional.cross_entropy(model(x_test), y_test).item()
            if not math.isfinite(loss):
                return 1e9  # diverged: the worst score (Optuna takes no NaN)
            trial.report(loss, epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned
        return loss

    def enough(study, trial):
        if used["epochs"] >= budget:
            study.stop()

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner(reduction_factor=4, min_resource=1))
    study.optimize(objective, callbacks=[enough])
    return study.best_params, len(study.trials), used["epochs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tuner-seeds", type=int, default=10)
    parser.add_argument("--retrain-seeds", type=int, default=10)
    parser.add_argument("--datasets", default="spiral,mnist1d")
    args = parser.parse_args()
    try:
        import optuna
    except ImportError:
        print("optuna is not installed (pip install optuna): the comparison is skipped")
        return
    out = {"machine": cpu_model(), "threads": torch.get_num_threads(), "optuna": optuna.__version__,
           "torch": torch.__version__, "tuner_seeds": args.tuner_seeds, "retrain_seeds": args.retrain_seeds,
           "datasets": {}}
    for name in args.datasets.split(","):
        spec = load_spec(SPECS[name])
        epochs = spec.train["epochs"]
        budget = 32 * epochs
        runs = {method: [] for method in ("random", "halving", "pbt", "optuna")}
        tune(spec, method="random", budget=budget, seed=0)  # kernels loaded, data built: not in the first timing
        for seed in range(args.tuner_seeds):
            for method in ("random", "halving", "pbt"):
                started = time.perf_counter()
                tuning = tune(spec, method=method, budget=budget, seed=seed)
                seconds = time.perf_counter() - started
                again = retrain(spec, tuning, args.retrain_seeds)
                runs[method].append({"seconds": seconds, "loss": again["loss_mean"],
                                     "accuracy": again["accuracy_mean"], "trials": len(tuning.seeds),
                                     "member_epochs": tuning.member_epochs})
            started = time.perf_counter()
            best, trials, used = optuna_search(spec, seed, budget)
            seconds = time.perf_counter() - started
            again = train_again(spec, [{"start": 0, "end": epochs, **best}], args.retrain_seeds)
            runs["optuna"].append({"seconds": seconds, "loss": again["loss_mean"], "accuracy": again["accuracy_mean"],
                                   "trials": trials, "member_epochs": used, **best})
        rows = {}
        for method, results in runs.items():
            row = {"seconds": float(np.mean([r["seconds"] for r in results])),
                   "trials": float(np.mean([r["trials"] for r in results])),
                   "member_epochs": float(np.mean([r["member_epochs"] for r in results]))}
            for metric in ("loss", "accuracy"):
                estimate = mean_ci([np.nan if r[metric] is None else r[metric] for r in results])
                row |= {metric: estimate.mean, f"{metric}_low": estimate.low, f"{metric}_high": estimate.high}
            rows[method] = row
        for method in ("random", "halving", "pbt"):
            rows[method]["optuna_seconds_ratio"] = rows["optuna"]["seconds"] / rows[method]["seconds"]
        out["datasets"][name] = {"layers": spec.model["layers"], "epochs": epochs, "budget": budget, "rows": rows,
                                 "runs": runs}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, result in out["datasets"].items():
        print(f"{name} {result['layers']}, budget {result['budget']} member-epochs, {args.tuner_seeds} tuner seeds:")
        for method, row in result["rows"].items():
            print(f"  {method:8} held-out loss {row['loss']:.4f} [{row['loss_low']:.4f}, {row['loss_high']:.4f}], "
                  f"accuracy {row['accuracy']:.4f}, {row['seconds']:.2f} s per tuning, {row['trials']:.0f} "
                  f"configurations")


if __name__ == "__main__":
    main()
