"""What determines a comparison's result: :class:`CompareConfig`, checked when it is made."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from inertia.arguments import check_layers
from inertia.optim import rules, schedules
from inertia.optim.checks import check_hyperparameters, check_momentum

LAB_MOMENTA = (0.0, 0.1, 0.2, 0.4, 0.5)
HOLDS = ("lr", "effective-lr")
LONGEST = 10**9  # the length a schedule's text is read with until the training's own is known


@dataclass(frozen=True)
class CompareConfig:
    """Everything that determines a comparison's result."""

    momenta: tuple[float, ...] = LAB_MOMENTA
    dataset: str = "spiral"
    layers: tuple[int, ...] | None = None
    activation: str = "relu"
    lr: float = 0.1
    batch_size: int = 20
    epochs: int = 100
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    shuffle: bool = True
    data_seed: int = 0
    target_accuracy: float = 0.9
    form: str = "pytorch"
    baselines: tuple[str, ...] = ()
    hold: str = "lr"
    nesterov: bool = False
    model: str | None = None  # a model of one's own, as module:function (``layers`` then None)
    schedule: str | None = None  # a learning-rate schedule for the momenta, as text (optim.schedules.parse)
    momentum_schedules: tuple[str, ...] = ()  # momentum schedules, each an arm of its own beside the momenta

    @property
    def arms(self) -> tuple[str, ...]:
        """What is trained beside the momenta, each over the same seeds: the baselines, then the momentum
        schedules, by their texts."""
        return self.baselines + self.momentum_schedules

    def lr_schedule(self, updates: int, check: bool = True):
        """The learning-rate schedule for a training of ``updates`` updates, or None (constant ``lr``). A one-cycle
        schedule leaves the momentum alone here (``cycle_momentum=false``): the momenta are what a comparison
        varies, and cycling would give them all the same one."""
        if self.schedule is None:
            return None
        made = schedules.parse(self.schedule, self.lr, updates, check)
        if isinstance(made, schedules.OneCycle) and made.cycle_momentum:
            if "cycle_momentum" in self.schedule:
                raise ValueError("Invalid onecycle cycle_momentum: true (allowed: false in a comparison, whose "
                                 "momenta it would all replace by one cycle)")
            made = replace(made, cycle_momentum=False)
        return made

    @classmethod
    def of(cls, **arguments) -> CompareConfig:
        """A configuration from :func:`~inertia.studies.comparison.training.compare`'s arguments as a caller gives
        them (``seeds`` a count n for seeds 0..n-1, or a list; sequences as lists), checked."""
        seeds = arguments.pop("seeds", 5)
        if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
            if seeds < 1:
                raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
            seeds = range(seeds)
        for name in ("momenta", "layers", "baselines", "momentum_schedules"):
            if arguments.get(name) is not None:
                arguments[name] = tuple(arguments[name])
        return cls(seeds=tuple(seeds), **{**arguments, "nesterov": bool(arguments.get("nesterov", False))})

    def __post_init__(self) -> None:
        if self.hold not in HOLDS:
            raise ValueError(f"hold must be one of {list(HOLDS)}, got {self.hold!r}")
        momenta = tuple(float(m) for m in self.momenta)
        if not momenta:
            raise ValueError("momenta must list at least one value")
        for m in momenta:
            check_momentum(m)
        if len(set(momenta)) != len(momenta):
            raise ValueError(f"momenta must be distinct, got {list(momenta)}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Invalid learning rate: {self.lr} (lr must be a finite number > 0)")
        check_hyperparameters(self.lr, form=self.form)
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.target_accuracy <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1], got {self.target_accuracy}")
        object.__setattr__(self, "momenta", momenta)
        object.__setattr__(self, "seeds", seeds)
        baselines = tuple(str(b).strip() for b in self.baselines)
        for text in baselines:
            rules.parse(text)
        if len(set(baselines)) != len(baselines):
            raise ValueError(f"baselines must be distinct, got {list(baselines)}")
        object.__setattr__(self, "baselines", baselines)
        arms = tuple(str(a).strip() for a in self.momentum_schedules)
        for text in arms:
            schedules.parse_momentum(text, LONGEST, check=False)  # lengths once the data's is known
        if len(set(arms + baselines)) != len(arms) + len(baselines):
            raise ValueError(f"baselines and momentum schedules must be distinct, got {list(baselines + arms)}")
        object.__setattr__(self, "momentum_schedules", arms)
        if self.schedule is not None:
            object.__setattr__(self, "schedule", str(self.schedule).strip())
            self.lr_schedule(LONGEST, check=False)
            if self.hold == "effective-lr":
                raise ValueError("hold='effective-lr' trains each momentum at lr·(1 − β), a constant rate; it does "
                                 "not combine with a learning-rate schedule")
        if self.layers is not None:
            if self.model is not None:
                raise ValueError("layers and model are exclusive: layers shape inertia's MLP; a model of your own "
                                 "sets its own")
            object.__setattr__(self, "layers", tuple(check_layers(self.layers)))
        if self.model is not None and self.activation != "relu":
            raise ValueError(f"activation ({self.activation!r}) shapes inertia's MLP; a model of your own sets its "
                             "own")
