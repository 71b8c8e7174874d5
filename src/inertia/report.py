"""One self-contained HTML report of a comparison or a sweep (a batch study's: :mod:`inertia.study_report`):
tables, conclusions backed by statistics, interactive charts (Plotly, inlined: the file makes no network
request), decision regions across momenta and epochs, the ball in the valley with a momentum slider, and what
produced it.

``write_report(path)`` takes a folder written by :func:`inertia.compare` (``summary.json``, ``curves.csv``,
``regions.json``) or a sweep store (``.db``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.stats import format_estimate, mean_ci, paired_difference

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]
CLASS_COLORS = ["#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
                "#dbdb8d", "#9edae5"]


def write_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``path`` (a compare folder or a sweep store) to ``out`` (default: ``report.html``
    in the folder, or ``<store>.html`` beside the store) and return its path."""
    path = Path(path)
    if path.is_dir() and (path / "batch_study.json").exists():
        from inertia.study_report import write_study_report

        return write_study_report(path, out)
    out = Path(out) if out else default_output(path)
    page = compare_report(path) if path.is_dir() else sweep_report(path)
    out.write_text(page)
    if path.is_dir() and out.resolve() == (path / "report.html").resolve():
        _list_in_summary(path, out)
    return out


def _list_in_summary(folder: Path, report: Path) -> None:
    """Add ``report.html`` to the files a compare folder's ``summary.json`` lists, so that the next
    :meth:`~inertia.studies.comparison.Comparison.save` into the folder removes it unless it is written again."""
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text())
    if summary.get("files", {}).get("report") != str(report):
        summary.setdefault("files", {})["report"] = str(report)
        summary_file.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")


def default_output(path: str | Path) -> Path:
    """Where :func:`write_report` writes by default: ``report.html`` in a compare folder, ``<store>.html``
    beside a store. ``FileNotFoundError`` for anything else."""
    path = Path(path)
    if path.is_dir():
        return path / "report.html"
    if path.suffix == ".db" and path.is_file():
        return path.with_suffix(".html")
    raise FileNotFoundError(f"{path} is neither a compare output folder nor a sweep store (.db)")


# --- a comparison ----------------------------------------------------------------------------------------------


def compare_report(folder: Path) -> str:
    summary_file, curves_file = folder / "summary.json", folder / "curves.csv"
    if not summary_file.exists() or not curves_file.exists():
        raise FileNotFoundError(f"{folder} has no summary.json and curves.csv; run `inertia compare --out {folder}`")
    summary = json.loads(summary_file.read_text())
    curves = pd.read_csv(curves_file)
    config = summary["config"]
    momenta = config["momenta"]
    sections = [
        _section("What was run", f"<pre class='command'>{html.escape(command_line(config))}</pre>"
                 f"<p>{len(config['seeds'])} seeds × {len(momenta)} momenta on <b>{html.escape(summary['dataset'])}"
                 f"</b>, layers {config['layers']}, lr {config['lr']:g}, batch {config['batch_size']}, "
                 f"{config['epochs']} epochs, {'shuffled' if config['shuffle'] else 'unshuffled'} minibatches, "
                 f"form {config['form']}. Within a seed every momentum starts from the same weights and sees "
                 f"the same minibatches, so differences are paired.</p>"),
        _section("Summary (mean ± 95 % CI over seeds)",
                 _compare_table(summary["table"] + summary.get("baselines", []), config)),
        _section("Conclusions", _list(conclusions(curves, baseline=0.0 if 0.0 in momenta else momenta[0])
                                      + baseline_conclusions(summary.get("paired", [])))),
    ]
    if "effective_lr" in summary:
        held = summary["effective_lr"]
        sections.append(_section(
            "Is it momentum, or the larger step? (equal effective learning rate lr/(1 − β))",
            "<p>Every momentum β was also trained at lr·(1 − β), so that its effective step lr/(1 − β) equals plain "
            "SGD's lr, over the same seeds. A gain that survives is momentum's own; one that vanishes was the "
            "larger step.</p>" + _compare_table(held["table"], config)
            + _list(effective_lr_sentences(pd.DataFrame(held["gains"])))))
    claims = _claims(curves)
    if claims is not None:
        sections.append(_section("Do the seed notebook's conclusions hold?", claims))
    charts = {"loss": curve_chart(curves, "loss", "full-data loss (cross-entropy, nats)"),
              "accuracy": curve_chart(curves, "accuracy", "full-data accuracy")}
    sections.append(_section("Loss and accuracy per epoch",
                             "<p>Mean over seeds with a 95 % band; hover for values, click a legend entry to "
                             "hide a momentum.</p><div id='loss' class='chart'></div>"
                             "<div id='accuracy' class='chart'></div>"))
    scripts = []
    regions_file = folder / "regions.json"
    if regions_file.exists():
        regions = json.loads(regions_file.read_text())
        body, chart_specs, script = regions_block(regions)
        charts.update(chart_specs)
        scripts.append(script)
        sections.append(_section(f"Decision regions (seed {regions['seed']})", body))
    ball_body, ball_chart, ball_script = ball_block()
    charts.update(ball_chart)
    scripts.append(ball_script)
    sections.append(_section("Why momentum helps: the ball in the bumpy valley", ball_body))
    return _page("inertia compare: momentum on " + summary["dataset"], sections, charts, scripts)


def command_line(config: dict) -> str:
    """The ``inertia compare`` command that reproduces ``config``."""
    parts = ["inertia compare", f"--momenta {','.join(f'{m:g}' for m in config['momenta'])}",
             f"--lr {config['lr']:g}", f"--layers {','.join(map(str, config['layers']))}",
             f"--activation {config['activation']}", f"--batch-size {config['batch_size']}",
             f"--epochs {config['epochs']}", f"--seeds {len(config['seeds'])}", f"--dataset {config['dataset']}",
             "--shuffle" if config["shuffle"] else "--no-shuffle", f"--form {config['form']}"]
    if config.get("baselines"):
        parts.append(f"--baselines {','.join(config['baselines'])}")
    if config.get("nesterov"):
        parts.append("--nesterov")
    if config.get("hold", "lr") != "lr":
        parts.append(f"--hold {config['hold']}")
    return " ".join(parts)


def conclusions(curves: pd.DataFrame, baseline: float, metric: str = "loss") -> list[str]:
    """Plain sentences, each with its statistic: every momentum against ``baseline``, paired by seed, on the
    final full-data ``metric``."""
    final = curves.sort_values("epoch").groupby(["momentum", "seed"])[metric].last().unstack("seed")
    lower_is_better = metric == "loss"
    words = "full-data loss" if metric == "loss" else "full-data accuracy"
    out = []
    for momentum in final.index:
        if momentum == baseline:
            continue
        ours, base = final.loc[momentum].to_numpy(float), final.loc[baseline].to_numpy(float)
        finite = np.isfinite(ours) & np.isfinite(base)
        if not finite.any():
            out.append(f"momentum {momentum:g}: no seed where both it and {baseline:g} finished with a finite "
                       f"{words} (diverged)")
            continue
        difference = paired_difference(ours, base)
        wins = int(((ours < base) if lower_is_better else (ours > base))[finite].sum())
        better = "lower" if lower_is_better else "higher"
        if difference.n < 2:
            verdict = "one seed: no interval"
        elif difference.low > 0 or difference.high < 0:
            verdict = "the interval excludes 0"
        else:
            verdict = "the interval includes 0: no clear difference"
        out.append(f"momentum {momentum:g} ends with {better} {words} than {baseline:g} in {wins} of "
                   f"{int(finite.sum())} seeds; mean difference {difference.mean:+.3g}, 95 % CI "
                   f"[{difference.low:+.3g}, {difference.high:+.3g}] ({verdict}).")
    return out


def baseline_conclusions(paired: list[dict]) -> list[str]:
    """One sentence per baseline and momentum, each with its paired statistic on the final loss."""
    out = []
    for r in paired:
        if r["pairs"] == 0:
            out.append(f"{r['optimizer']} against momentum {r['momentum']:g}: no seed where both finished")
            continue
        interval = "" if r["low"] is None else f", 95 % CI [{r['low']:+.3g}, {r['high']:+.3g}]"
        out.append(f"{r['optimizer']} ends with lower full-data loss than momentum {r['momentum']:g} in "
                   f"{r['better_in']} of {r['pairs']} seeds; mean difference {r['difference']:+.3g}{interval}")
    return out


def effective_lr_sentences(gains: pd.DataFrame) -> list[str]:
    """One sentence per momentum from :meth:`~inertia.studies.comparison.Comparison.gains` on the final loss: its
    gain over plain SGD at equal lr, and at equal effective lr lr/(1 − β)."""
    def part(g, name):
        return (f"{g[name + '_difference']:+.4g} [{g[name + '_low']:+.4g}, {g[name + '_high']:+.4g}], lower in "
                f"{g[name + '_better_in']} of {g[name + '_pairs']} seeds")

    out = []
    for _, g in gains.iterrows():
        if not g["gain"]:
            verdict = "no clear gain at equal lr to begin with"
        elif g["survives"]:
            verdict = "the gain survives at equal effective step: it is momentum's own"
        elif g["equal_effective_lr_low"] > 0:
            verdict = "at equal effective step momentum does worse than plain SGD"
        else:
            verdict = "no clear gain remains at equal effective step (the interval includes 0): it was the larger step"
        out.append(f"momentum {g['momentum']:g} − SGD, final loss: at equal lr {g['lr']:g}: {part(g, 'equal_lr')}; at "
                   f"equal effective lr (lr {g['held_lr']:.4g}): {part(g, 'equal_effective_lr')} — {verdict}.")
    return out


def curve_chart(curves: pd.DataFrame, metric: str, label: str) -> dict:
    """Plotly figure: per momentum (and baseline optimizer, dashed), the mean over seeds and its 95 % band
    (one legend entry for both)."""
    traces = []
    if "optimizer" not in curves:
        curves = curves.assign(optimizer="momentum")
    groups = [(f"momentum {m:g}", g, "solid") for m, g in curves[curves["optimizer"] == "momentum"].groupby("momentum")]
    groups += [(name, g, "dash") for name, g in curves[curves["optimizer"] != "momentum"].groupby("optimizer")]
    for i, (name, group, dash) in enumerate(groups):
        color = PALETTE[i % len(PALETTE)]
        epochs, means, lows, highs = [], [], [], []
        for epoch, at in group.groupby("epoch"):
            estimate = mean_ci(at[metric])
            epochs.append(int(epoch))
            means.append(estimate.mean)
            lows.append(estimate.low if np.isfinite(estimate.low) else estimate.mean)
            highs.append(estimate.high if np.isfinite(estimate.high) else estimate.mean)
        traces.append({"x": epochs + epochs[::-1], "y": highs + lows[::-1], "fill": "toself", "mode": "lines",
                       "line": {"width": 0}, "fillcolor": _alpha(color, 0.18), "legendgroup": name,
                       "showlegend": False, "hoverinfo": "skip", "name": name + " 95 % CI"})
        traces.append({"x": epochs, "y": means, "mode": "lines", "name": name, "legendgroup": name,
                       "line": {"color": color, "width": 2, "dash": dash},
                       "hovertemplate": f"{html.escape(name)}<br>epoch %{{x}}<br>{metric} %{{y:.4f}}<extra></extra>"})
    layout = {"xaxis": {"title": {"text": "epoch"}}, "yaxis": {"title": {"text": label}},
              "margin": {"t": 30}, "height": 380, "legend": {"title": {"text": "click to hide"}}}
    if metric == "loss":
        layout["yaxis"]["type"] = "log"
    return {"data": traces, "layout": layout}


def regions_block(regions: dict) -> tuple[str, dict, str]:
    """One heatmap per momentum with the data on top, and an epoch slider shared by all."""
    epochs = list(regions["classes"])
    momenta = list(regions["classes"][epochs[0]])
    labels = np.asarray(regions["points"]["label"])
    classes = int(labels.max()) + 1
    colors = CLASS_COLORS[:classes]
    scale = [[k / max(1, classes - 1), c] for k, c in enumerate(colors)] if classes > 1 else [[0, colors[0]],
                                                                                            [1, colors[0]]]
    charts = {}
    divs = []
    last = epochs[-1]
    for i, momentum in enumerate(momenta):
        chart_id = f"regions-{i}"
        data = [{"type": "heatmap", "x": regions["x"], "y": regions["y"], "z": regions["classes"][last][momentum],
                 "colorscale": scale, "zmin": 0, "zmax": max(1, classes - 1), "showscale": False,
                 "hovertemplate": "x₁ %{x}<br>x₂ %{y}<br>predicted class %{z}<extra></extra>"}]
        for k in range(classes):
            mask = labels == k
            data.append({"type": "scattergl", "mode": "markers", "name": f"class {k}",
                         "x": np.asarray(regions["points"]["x1"])[mask].tolist(),
                         "y": np.asarray(regions["points"]["x2"])[mask].tolist(),
                         "marker": {"size": 3, "color": PALETTE[k % len(PALETTE)]}, "showlegend": i == 0})
        charts[chart_id] = {"data": data, "layout": {
            "title": {"text": f"momentum {momentum}"}, "height": 330, "margin": {"t": 40, "l": 40, "r": 10, "b": 40},
            "xaxis": {"title": {"text": "x₁"}}, "yaxis": {"title": {"text": "x₂"}, "scaleanchor": "x"}}}
        divs.append(f"<div id='{chart_id}' class='small-chart'></div>")
    body = (f"<p>Predicted class over the plane after each epoch shown; drag to move through training.</p>"
            f"<label>epoch <input type='range' id='regions-epoch' min='0' max='{len(epochs) - 1}' "
            f"value='{len(epochs) - 1}'> <span id='regions-epoch-label'>{last}</span></label>"
            f"<div class='grid'>{''.join(divs)}</div>")
    script = (f"const regionEpochs = {json.dumps(epochs)}; const regionMomenta = {json.dumps(momenta)};"
              f"const regionClasses = {json.dumps(regions['classes'])};"
              "document.getElementById('regions-epoch').addEventListener('input', (event) => {"
              " const epoch = regionEpochs[event.target.value];"
              " document.getElementById('regions-epoch-label').textContent = epoch;"
              " regionMomenta.forEach((m, i) => Plotly.restyle('regions-' + i, {z: [regionClasses[epoch][m]]}, [0]));"
              "});")
    return body, charts, script


def ball_block() -> tuple[str, dict, str]:
    """Seed 003's valley and the ball's path for momentum 0 to 0.95 (precomputed), chosen with a slider."""
    from inertia.studies import valley

    x, y = valley.bumpy_valley()
    betas = [round(0.05 * i, 2) for i in range(20)]
    paths = {}
    for beta in betas:
        run = valley.roll(beta, 50)
        paths[f"{beta:g}"] = {"x": [float(x[i]) for i in run.path], "y": [float(y[i]) for i in run.path],
                              "text": (f"β = {beta:g}: stops at index {run.final_index} after {run.steps} steps, "
                                       f"{'reaches the bottom' if run.reached_bottom else 'stuck before the bump'}")}
    start = "0.6"
    chart = {"ball": {"data": [
        {"x": x.tolist(), "y": y.tolist(), "mode": "lines", "name": "valley (bump at index 25)",
         "line": {"color": "#555"}},
        {"x": paths[start]["x"], "y": paths[start]["y"], "mode": "lines+markers", "name": "the ball's path",
         "marker": {"size": 6, "color": "#d62728"}},
    ], "layout": {"height": 360, "margin": {"t": 30}, "xaxis": {"title": {"text": "position X"}},
                  "yaxis": {"title": {"text": "height 0.2 (X − 0.5)² + bump"}}}}}
    body = ("<p>Plain descent stops at the bump; with enough momentum the ball rolls over it (seed 003: "
            "EMA velocity v ← βv + (1 − β)·slope, one step right while v &lt; 0, 51 epochs).</p>"
            f"<label>momentum β <input type='range' id='ball-beta' min='0' max='{len(betas) - 1}' "
            f"value='{betas.index(0.6)}'> <span id='ball-beta-label'>0.6</span></label>"
            f"<p id='ball-verdict'>{html.escape(paths[start]['text'])}</p><div id='ball' class='chart'></div>")
    script = (f"const ballBetas = {json.dumps([f'{b:g}' for b in betas])}; const ballPaths = {json.dumps(paths)};"
              "document.getElementById('ball-beta').addEventListener('input', (event) => {"
              " const beta = ballBetas[event.target.value]; const path = ballPaths[beta];"
              " document.getElementById('ball-beta-label').textContent = beta;"
              " document.getElementById('ball-verdict').textContent = path.text;"
              " Plotly.restyle('ball', {x: [path.x], y: [path.y]}, [1]);"
              "});")
    return body, chart, script


def _claims(curves: pd.DataFrame) -> str | None:
    """The notebook's conclusions under this comparison's protocol, when it ran the lab's momenta."""
    from inertia.studies.reproduce import LAB_MOMENTA, check_claims

    if not set(LAB_MOMENTA) <= set(curves["momentum"].unique()) or curves["seed"].nunique() < 2:
        return None
    table = check_claims(None, curves[curves["momentum"].isin(LAB_MOMENTA)])
    rows = "".join(f"<tr><td>{html.escape(r.iloc[0])}</td><td>{html.escape(r.iloc[2])}</td>"
                   f"<td class='{'yes' if r.iloc[3] else 'no'}'>{'holds' if r.iloc[3] else 'does not hold'}</td></tr>"
                   for _, r in table.iterrows())
    return ("<p>The notebook drew these from one run and the loss of its last minibatch. Here: several seeds, "
            "full-data loss (<code>inertia reproduce lab</code> shows the notebook's own numbers beside them).</p>"
            f"<table><tr><th>the notebook says</th><th>evidence here</th><th>verdict</th></tr>{rows}</table>")


def _compare_table(records: list[dict], config: dict) -> str:
    target = config.get("target_accuracy", 0.9)
    head = ("<tr><th>momentum</th><th>final loss</th><th>best loss</th><th>final accuracy</th>"
            f"<th>epochs to {target:.0%} accuracy</th><th>reached</th><th>diverged</th><th>no progress</th></tr>")
    cells = (("final_loss", ".4f"), ("best_loss", ".4f"), ("final_accuracy", ".3f"), ("epochs_to_target", ".1f"))
    rows = "".join(
        f"<tr><td>{html.escape(r['optimizer']) if 'optimizer' in r else format(r['momentum'], 'g')}</td>"
        + "".join(f"<td>{format_estimate(r, n, f)}</td>" for n, f in cells)
        + f"<td>{r['reached_target']}/{r['runs']}</td><td>{r['diverged']}</td><td>{r.get('no_progress', 0)}</td></tr>"
        for r in records)
    note = ("<p>Means and intervals are over the runs that did not diverge (a diverged run has no final loss); "
            "runs that made no progress (ended no better than their initial loss) are results and count.</p>")
    return f"<table>{head}{rows}</table>{note}"


# --- a sweep ---------------------------------------------------------------------------------------------------


def sweep_report(path: Path) -> str:
    from inertia.sweeps.results import Results, describe
    from inertia.sweeps.store import Store

    results = Results.load(path)
    if results.runs.empty:
        raise ValueError(f"{path} holds no finished runs yet")
    with Store(path, readonly=True) as db:
        specs = db.specs()
    summary, axes = results.summary(), results.axes
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("setting", "runs", "ok / no progress / diverged / failed",
                                                         "final loss", "final accuracy"))
    rows = "".join(
        f"<tr><td>{html.escape(describe(r, axes) or 'all')}</td><td>{r['runs']}</td>"
        f"<td>{r['ok']} / {r['no_progress']} / {r['diverged']} / {r['failed']}</td>"
        f"<td>{format_estimate(r, 'final_loss', '.4g')}</td>"
        f"<td>{format_estimate(r, 'final_accuracy', '.3f')}</td></tr>" for _, r in summary.iterrows())
    sections = [
        _section("What was run", "".join(f"<pre class='command'>{html.escape(json.dumps(s, indent=1))}</pre>"
                                         for s in specs)),
        _section(f"Summary: {len(results.runs)} runs, {len(summary)} settings (mean ± 95 % CI over seeds)",
                 f"<table><tr>{head}</tr>{rows}</table>"),
    ]
    best = results.best()
    sentences = [f"best {r['metric']}: {r['setting']} ({r['mean']:.4g}, n = {r['n']})" for _, r in best.iterrows()]
    if "momentum" in axes:
        paired = results.paired({"momentum": 0.0}) if (results.runs["momentum"] == 0).any() else pd.DataFrame()
        for _, r in paired.iterrows():
            sentences.append(f"{describe(r, axes)}: final loss − momentum 0 = {r['difference']:+.3g}, 95 % CI "
                             f"[{r['low']:+.3g}, {r['high']:+.3g}], lower in {r['better_in']} of {r['pairs']} seeds")
    sections.append(_section("Conclusions", _list(sentences)))
    charts = {}
    heat = sweep_heatmap(results, specs)
    if heat is not None:
        edge = heat.pop("edge")
        charts["heatmap"] = heat
        sections.append(_section("Final loss by learning rate and momentum",
                                 "<p>Mean over seeds (diverged runs left out); × marks a setting where a run "
                                 "diverged or failed, ○ one where a run made no progress. The "
                                 "dashed line is the quadratic theory's edge lr = 2(1 + β)/λ_max, with λ_max "
                                 f"the Hessian's top eigenvalue at initialization: {html.escape(edge)}.</p>"
                                 "<div id='heatmap' class='chart'></div>"))
    ball_body, ball_chart, ball_script = ball_block()
    charts.update(ball_chart)
    sections.append(_section("Why momentum helps: the ball in the bumpy valley", ball_body))
    return _page(f"inertia sweep: {path.name}", sections, charts, [ball_script])


def sweep_heatmap(results, specs) -> dict | None:
    runs = results.runs
    if "lr" not in runs or "momentum" not in runs:
        return None
    runs = runs[runs["momentum"].notna() & (runs["optimizer"] == "momentum")]
    if runs["lr"].nunique() < 2 or runs["momentum"].nunique() < 2:
        return None
    table = runs.groupby(["momentum", "lr"])["final_loss"].mean().unstack("lr")
    bad = runs.assign(bad=runs["status"].isin(["diverged", "failed"])).groupby(["momentum", "lr"])["bad"].any()
    stalled = runs.assign(stalled=runs["status"] == "no_progress").groupby(["momentum", "lr"])["stalled"].any()
    bad, stalled = (frame.unstack("lr").fillna(False).astype(bool) for frame in (bad, stalled))
    lrs, momenta = list(table.columns), list(table.index)
    losses = table.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(losses)
    cells = [[[float(losses[i, j]), lrs[j], momenta[i]] for j in range(len(lrs))] for i in range(len(momenta))]
    data = [{"type": "heatmap", "x": list(range(len(lrs))), "y": list(range(len(momenta))),
             "z": np.where(np.isfinite(z), z, np.nan).tolist(), "colorscale": "Viridis", "reversescale": True,
             "colorbar": {"title": {"text": "log₁₀ final loss"}}, "customdata": cells, "name": "final loss",
             "hovertemplate": "lr %{customdata[1]:.3g}<br>momentum %{customdata[2]:.3g}<br>"
                              "final loss %{customdata[0]:.4g}<extra></extra>"}]
    for frame, symbol, color, name in ((bad, "×", "red", "diverged or failed"),
                                       (stalled & ~bad, "○", "orange", "no progress")):
        marks = [(j, i) for i, m in enumerate(momenta) for j, lr in enumerate(lrs) if frame.loc[m, lr]]
        if marks:
            data.append({"type": "scatter", "mode": "text", "text": [symbol] * len(marks),
                         "x": [a for a, _ in marks], "y": [b for _, b in marks],
                         "textfont": {"color": color, "size": 18}, "name": name, "hoverinfo": "skip"})
    edge, description = _theory_edge(specs, lrs, momenta)
    if edge is not None:
        data.append(edge)
    layout = {"height": 420, "margin": {"t": 30},
              "xaxis": {"title": {"text": "learning rate"}, "tickvals": list(range(len(lrs))),
                        "ticktext": [f"{v:.3g}" for v in lrs], "range": [-0.5, len(lrs) - 0.5]},
              "yaxis": {"title": {"text": "momentum β"}, "tickvals": list(range(len(momenta))),
                        "ticktext": [f"{v:.3g}" for v in momenta], "range": [-0.5, len(momenta) - 0.5]},
              "legend": {"orientation": "h", "y": -0.2}, "showlegend": True}
    return {"data": data, "layout": layout, "edge": description}


def _theory_edge(specs, lrs, momenta):
    """The predicted largest stable lr per momentum, placed on the heatmap's lr axis."""
    try:
        from inertia.models import MLP
        from inertia.studies import stability
        from inertia.sweeps.run import dataset_of
        from inertia.sweeps.spec import canonical

        spec = specs[0]
        dataset = dataset_of(canonical(spec["data"]))
        layers = spec.get("model", {}).get("layers") or [dataset.features, 50, dataset.classes]
        model = MLP(layers, spec.get("model", {}).get("activation", "relu"), seed=0)
        top = stability.hessian_lambda_max(model, dataset, iterations=30)
    except (ValueError, RuntimeError, KeyError, TypeError, OSError):  # an extra: the report stands without it
        return None, "the stability edge could not be estimated for this data and model"
    logs = np.log(np.asarray(lrs, dtype=float))
    step = (logs[-1] - logs[0]) / (len(lrs) - 1)
    xs, edges = [], []
    for m in momenta:  # the edge's position on the lr axis: cells evenly spaced, log lr linear between them
        edge = 2 * (1 + m) / top
        edges.append(f"β = {m:.3g}: lr ≈ {edge:.3g}")
        if logs[0] <= np.log(edge) <= logs[-1]:
            xs.append(float(np.interp(np.log(edge), logs, np.arange(len(lrs)))))
        else:  # beyond the grid: drawn up to half a cell past the last (or first) column, else left out
            position = (np.log(edge) - logs[0]) / step if np.log(edge) < logs[0] else \
                len(lrs) - 1 + (np.log(edge) - logs[-1]) / step
            xs.append(float(position) if -0.5 <= position <= len(lrs) - 0.5 else None)
    description = (f"λ_max ≈ {top:.3g}; predicted largest stable lr {'; '.join(edges)}"
                   + ("" if any(x is not None for x in xs) else " (beyond this grid's learning rates)"))
    return {"type": "scatter", "mode": "lines+markers", "x": xs, "y": list(range(len(momenta))),
            "name": f"theory edge 2(1+β)/λ_max (λ_max ≈ {top:.3g})", "line": {"dash": "dash", "color": "white"},
            "marker": {"color": "white"}, "showlegend": True}, description


# --- page ------------------------------------------------------------------------------------------------------


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _list(items) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _alpha(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .3em .6em; }
th { background: #f5f5f5; } td.yes { color: #2a7a2a; font-weight: bold; } td.no { color: #b22; font-weight: bold; }
pre.command { background: #f5f5f5; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.chart { width: 100%; min-height: 340px; } .grid { display: grid; grid-template-columns: repeat(3, 1fr); }
.small-chart { min-height: 320px; } input[type=range] { width: 320px; vertical-align: middle; }
"""


def _page(title: str, sections: list[str], charts: dict, scripts: list[str]) -> str:
    from plotly.offline import get_plotlyjs

    data = json.dumps(charts, allow_nan=True).replace("NaN", "null").replace("Infinity", "null")
    boot = ("const charts = " + data + ";"
            "for (const [id, figure] of Object.entries(charts)) {"
            " Plotly.newPlot(id, figure.data, figure.layout, {displaylogo: false, responsive: true}); }")
    body = "\n".join(sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(title)}</h1>{body}"
            f"<script>{boot}\n{''.join(scripts)}</script></body></html>")
