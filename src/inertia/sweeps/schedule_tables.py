"""A sweep spec's ``[schedule]`` and ``[momentum_schedule]`` tables: the kinds and keys each allows, their checks,
and the schedules of :mod:`inertia.optim.schedules` they name for a training of a given length."""

from __future__ import annotations

WARM_UP = ("warmup", "warmup_factor")  # a linear warm-up in front of any schedule but one-cycle
SCHEDULES = {"constant": WARM_UP, "inverse_time": ("decay", *WARM_UP), "step": ("every", "gamma", *WARM_UP),
             "cosine": ("total", "floor", *WARM_UP),
             "onecycle": ("max_lr", "total_steps", "pct_start", "anneal_strategy", "cycle_momentum", "base_momentum",
                          "max_momentum", "div_factor", "final_div_factor", "three_phase")}
MOMENTUM_SCHEDULES = {"sutskever": ("mu_max", "every"), "demon": ("beta0", "total")}
LONGEST = 10**9  # the training length a schedule is checked with until the data set's own is known


def check_values(schedule: dict, momentum_schedule: dict, lr: float) -> None:
    """The values of the two tables (their kinds and keys already checked): a ValueError naming the table and
    field where a schedule of those values could not be made, or where the two would both set the momentum."""
    for name, make in (("schedule", lambda: schedule_of(schedule, lr, LONGEST, check=False)),
                       ("momentum_schedule", lambda: momentum_schedule_of(momentum_schedule, LONGEST, check=False))):
        try:
            made = make()
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if name == "schedule" and momentum_schedule and getattr(made, "cycle_momentum", False):
            raise ValueError("momentum_schedule: a one-cycle [schedule] cycles the momentum too; set its "
                             "cycle_momentum = false to follow the momentum schedule")


def schedule_of(table: dict, lr: float, updates: int, check: bool = True):
    """A ``[schedule]`` table's schedule (None: constant), by :func:`inertia.optim.schedules.build`."""
    from inertia.optim import schedules

    if table["kind"] == "constant" and not table.get("warmup"):
        return None
    return schedules.build(table["kind"], {k: v for k, v in table.items() if k != "kind"}, lr, updates, check)


def momentum_schedule_of(table: dict, updates: int, check: bool = True):
    """A ``[momentum_schedule]`` table's schedule (or None), by :func:`inertia.optim.schedules.build_momentum`."""
    from inertia.optim import schedules

    if not table:
        return None
    return schedules.build_momentum(table["kind"], {k: v for k, v in table.items() if k != "kind"}, updates, check)
