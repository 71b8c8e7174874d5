"""Every optimizer, written once, as the coefficients of the one generic update of :mod:`inertia.optim.update`.

An optimizer here (:class:`Momentum` in every form, :class:`QHM`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`)
is a frozen dataclass of hyperparameters (numbers, or arrays with one value per model) whose ``update(lr, t)``
gives the coefficients of its update ``t`` at learning rate ``lr``. Every engine applies them through
:func:`inertia.optim.update.apply` or its restatement in a compiled kernel: the torch optimizers
(:mod:`inertia.optim.torch_optimizers`), the NumPy network (through :func:`momentum_step`), the batched torch
engine on stacked members, and the compiled kernels, which read the coefficients as a table. :func:`parse` reads
an optimizer from text; :func:`stack` makes one rule over a population's members.

With ``g`` the gradient (negated when ``maximize``, plus ``weight_decay · p``, i.e. coupled L2 as in
``torch.optim.SGD``), ``m`` the momentum, ``d`` the dampening and ``lr`` the learning rate of this step, the
three forms of momentum are:

``pytorch`` (``torch.optim.SGD``)::

    b = g                      on the first step (no dampening then)
    b = m·b + (1 − d)·g        afterwards
    s = g + m·b  if nesterov  else  b
    p = p − lr·s

``polyak`` (heavy ball as Polyak and Sutskever write it; seeds 002 and 004), velocity from zero::

    v = m·v − lr·(1 − d)·g
    p = p + m·v − lr·(1 − d)·g   if nesterov   else   p + v

``ema`` (an exponential moving average of gradients; seed 003), from zero::

    v = m·v + (1 − m)·g
    s = (1 − m)·g + m·v  if nesterov  else  v
    p = p − lr·s

Where they agree: ``ema`` at (lr, m) equals ``pytorch`` at (lr·(1 − m), m) step for step under any
learning-rate schedule; ``polyak`` at (lr, m) equals ``pytorch`` at (lr, m) while lr is constant, and differs
once it changes, since the velocity keeps the old learning rates (see :mod:`inertia.optim.forms`).

When the momentum changes from one update to the next (a momentum schedule: m_t at update t, as torch's
``OneCycleLR`` sets ``momentum`` before each step), each form uses the current m_t where it writes m, and the
forms part ways: ``pytorch`` keeps the buffer and only weighs it by the new m_t (b = m_t·b + (1 − d)·g, the
step lr_t·b), as torch.optim.SGD does; ``ema`` makes v a moving average whose weights change (v = m_t·v +
(1 − m_t)·g), so a falling m_t moves v towards the newest gradient *and* scales that gradient up; ``polyak``'s
velocity carries every earlier step at the rate it was taken (v = m_t·v − lr_t·g). ``ema`` at (lr_t, m_t)
equals ``pytorch`` at (lr_t·(1 − m_t), m_t) only while m_t is constant. Adam's bias correction uses the
current β₁ (1 − β₁,ₜᵗ), as torch's Adam does under a scheduler that changes ``betas``.

Hyperparameter checks are :mod:`inertia.optim.checks`; learning-rate and momentum schedules
:mod:`inertia.optim.schedules`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from inertia.optim.checks import (
    FORMS,
    check_each,
    check_hyperparameters,
    check_lr,
    check_momentum,
    check_nonnegative,
    check_range,
)
from inertia.optim.update import Update, any_nonzero, apply, equal, is_zero, where, zeros_like


def momentum_step(param, grad, buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                  maximize=False, form="pytorch"):
    """One update of ``param`` from ``grad``; returns ``(new_param, new_buf)``.

    ``buf`` is the momentum buffer (``None`` before the first step) and comes back ``None`` when
    ``momentum == 0`` in the ``pytorch`` form, as in torch. Works on NumPy arrays and torch tensors alike;
    nothing is modified in place. ``lr``, ``momentum``, ``dampening`` and ``weight_decay`` may also be arrays
    that broadcast against ``param`` (one value per model of a stacked population); a zero momentum in such
    an array keeps a buffer, which equals torch's behaviour as long as dampening is 0 wherever momentum is.
    This is :class:`Momentum`'s :meth:`~Momentum.update` applied by :func:`apply`.
    """
    if form not in FORMS:
        raise ValueError(f"Invalid form: {form!r} (allowed: {', '.join(FORMS)})")
    if form == "pytorch" and is_zero(momentum):
        new, _ = apply(param, grad, {}, Momentum(lr, 0.0, 0.0, weight_decay, nesterov, maximize, form).update(lr, 0),
                       ())
        return new, None
    rule = Momentum(lr, momentum, dampening, weight_decay, nesterov, maximize, form)
    state = {"m": zeros_like(param) if buf is None else buf}
    new, state = apply(param, grad, state, rule.update(lr, 0 if buf is None else 1), ("m",))
    return new, state["m"]


# --- the optimizers ------------------------------------------------------------------------------------------
#
# Each is a frozen dataclass of hyperparameters (numbers, or arrays with one value per model: NumPy's, or
# torch's on a device) with ``slots``, ``m_after_den``, ``steady`` (whether every update after the first has
# the same coefficients at a constant lr), ``check()`` and ``update(lr, t)``: the coefficients of update ``t``
# (0, 1, ...) at learning rate ``lr`` (the schedule's value for that update; a number, or an array over models).


@dataclass(frozen=True)
class Momentum:
    """SGD with momentum in any of :data:`FORMS` (see the module docstring), with ``torch.optim.SGD``'s
    semantics in the ``pytorch`` form: the buffer starts at the first gradient, and at momentum 0 dampening
    is ignored."""

    lr: object = 0.1
    momentum: object = 0.0
    dampening: object = 0.0
    weight_decay: object = 0.0
    nesterov: bool = False
    maximize: bool = False
    form: str = "pytorch"
    kind = "momentum"
    m_after_den = False
    steady = True  # update(lr, t) is the same for every t >= 1

    @property
    def slots(self) -> tuple[str, ...]:
        return () if self.form == "pytorch" and not any_nonzero(self.momentum) else ("m",)

    def check(self) -> None:
        check_each(check_hyperparameters, self.lr, self.momentum, self.dampening, self.nesterov,
                    self.weight_decay, self.form)

    def invalid(self) -> np.ndarray:
        lr, mu, d, wd = _floats(self.lr, self.momentum, self.dampening, self.weight_decay)
        bad = ~(lr >= 0) | _outside(mu, 0, 1, upper_open=True) | ~(wd >= 0) | _outside(d, 0, 1)
        if self.nesterov:
            bad |= (mu <= 0) | (d != 0)
        if self.form == "ema":
            bad |= d != 0
        return bad | (self.form not in FORMS)

    def update(self, lr, t) -> Update:
        mu, nesterov = self.momentum, self.nesterov
        common = {"sign": -1.0 if self.maximize else 1.0, "decay": self.weight_decay}
        if self.form == "pytorch" and not self.slots:  # plain SGD: no buffer at all
            return Update(**common, g_coef=lr)
        if self.form == "pytorch":
            d = where(equal(mu, 0), 0.0, self.dampening)  # torch ignores dampening at momentum 0
            first = equal(t, 0)
            return Update(**common, m_keep=where(first, 0.0, mu), m_take=where(first, 1.0, 1 - d),
                          g_coef=lr if nesterov else 0.0, m_coef=lr * mu if nesterov else lr)
        if self.form == "polyak":
            push = lr * (1 - self.dampening)
            return Update(**common, m_keep=mu, m_take=-push, g_coef=push if nesterov else 0.0,
                          m_coef=-mu if nesterov else -1.0)
        return Update(**common, m_keep=mu, m_take=1 - mu, g_coef=lr * (1 - mu) if nesterov else 0.0,
                      m_coef=lr * mu if nesterov else lr)


@dataclass(frozen=True)
class QHM:
    """Quasi-hyperbolic momentum (Ma & Yarats, 2019): ``m = β·m + (1 − β)·g`` from zero, and the step averages
    the plain gradient with the momentum, ``x −= lr·((1 − ν)·g + ν·m)``. ν = 1 is momentum in the ``ema`` form
    (that is, ``torch.optim.SGD`` at lr·(1 − β)); ν = β is Nesterov's (:func:`inertia.optim.forms.qhm_to_sgd`).
    Weight decay is coupled (added to the gradient), as in the authors' ``qhoptim``."""

    lr: object = 0.1
    beta: object = 0.999
    nu: object = 0.7
    weight_decay: object = 0.0
    maximize: bool = False
    kind = "qhm"
    slots = ("m",)
    m_after_den = False
    steady = True

    def check(self) -> None:
        check_lr(self.lr)
        check_each(check_momentum, self.beta, name="beta")
        check_range(self.nu, "nu", 0.0, 1.0)
        check_nonnegative(self.weight_decay, "weight_decay")

    def invalid(self) -> np.ndarray:
        lr, beta, nu, wd = _floats(self.lr, self.beta, self.nu, self.weight_decay)
        return _bad_lr(lr) | _outside(beta, 0, 1, upper_open=True) | _outside(nu, 0, 1) | ~(wd >= 0)

    def update(self, lr, t) -> Update:
        return Update(sign=-1.0 if self.maximize else 1.0, decay=self.weight_decay, m_keep=self.beta,
                      m_take=1 - self.beta, g_coef=lr * (1 - self.nu), m_coef=lr * self.nu)


@dataclass(frozen=True)
class Adam:
    """``torch.optim.Adam`` (no amsgrad): moments from zero, bias-corrected step
    ``x −= lr/(1 − β₁ᵗ) · m / (sqrt(v/(1 − β₂ᵗ)) + eps)``; weight decay coupled (added to the gradient)."""

    lr: object = 1e-3
    beta1: object = 0.9
    beta2: object = 0.999
    eps: object = 1e-8
    weight_decay: object = 0.0
    maximize: bool = False
    kind = "adam"
    slots = ("m", "v")
    m_after_den = False
    steady = False  # bias corrections change every step
    decoupled = False

    def check(self) -> None:
        check_lr(self.lr)
        check_range(self.beta1, "beta parameter at index 0", 0.0, 1.0, upper_open=True)
        check_range(self.beta2, "beta parameter at index 1", 0.0, 1.0, upper_open=True)
        check_nonnegative(self.eps, "epsilon value")
        check_nonnegative(self.weight_decay, "weight_decay value")

    def invalid(self) -> np.ndarray:
        lr, beta1, beta2, eps, wd = _floats(self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)
        return (_bad_lr(lr) | _outside(beta1, 0, 1, upper_open=True) | _outside(beta2, 0, 1, upper_open=True)
                | ~(eps >= 0) | ~(wd >= 0))

    def update(self, lr, t) -> Update:
        t = t + 1
        correction1, correction2 = 1 - self.beta1**t, 1 - self.beta2**t
        decay = {"keep": 1 - lr * self.weight_decay} if self.decoupled else {"decay": self.weight_decay}
        return Update(sign=-1.0 if self.maximize else 1.0, **decay, m_keep=self.beta1, m_take=1 - self.beta1,
                      v_keep=self.beta2, v_take=1 - self.beta2, v_scale=1 / correction2, eps=self.eps,
                      m_coef=lr / correction1)


@dataclass(frozen=True)
class AdamW(Adam):
    """``torch.optim.AdamW``: :class:`Adam` with decoupled weight decay, ``x = (1 − lr·weight_decay)·x`` before
    the step (default weight decay 0.01, as torch's)."""

    weight_decay: object = 1e-2
    kind = "adamw"
    decoupled = True


@dataclass(frozen=True)
class RMSprop:
    """``torch.optim.RMSprop``: ``v = α·v + (1 − α)·g²``; centered, ``a = α·a + (1 − α)·g`` and the
    denominator ``sqrt(v − a²) + eps``; with momentum μ, ``m = μ·m + g/den`` and ``x −= lr·m``, else
    ``x −= lr·g/den``. Weight decay coupled."""

    lr: object = 1e-2
    alpha: object = 0.99
    eps: object = 1e-8
    weight_decay: object = 0.0
    momentum: object = 0.0
    centered: object = False
    maximize: bool = False
    kind = "rmsprop"
    m_after_den = True
    steady = True

    @property
    def slots(self) -> tuple[str, ...]:
        return ("v", *(("a",) if any_nonzero(self.centered) else ()), "m")

    def check(self) -> None:
        check_lr(self.lr)
        check_range(self.alpha, "alpha value", 0.0, 1.0)
        check_nonnegative(self.eps, "epsilon value")
        check_nonnegative(self.weight_decay, "weight_decay value")
        check_each(check_momentum, self.momentum)

    def invalid(self) -> np.ndarray:
        lr, alpha, eps, wd, mu = _floats(self.lr, self.alpha, self.eps, self.weight_decay, self.momentum)
        return _bad_lr(lr) | _outside(alpha, 0, 1) | ~(eps >= 0) | ~(wd >= 0) | _outside(mu, 0, 1, upper_open=True)

    def update(self, lr, t) -> Update:
        centered = self.centered * 1.0  # a bool, or booleans over members, as 0.0 or 1.0
        return Update(sign=-1.0 if self.maximize else 1.0, decay=self.weight_decay, v_keep=self.alpha,
                      v_take=1 - self.alpha, a_keep=self.alpha, a_take=(1 - self.alpha) * centered, eps=self.eps,
                      m_keep=self.momentum, m_take=1.0, m_coef=lr)


OPTIMIZERS = {rule.kind: rule for rule in (Momentum, QHM, Adam, AdamW, RMSprop)}


# --- checks over members -----------------------------------------------------------------------------------
#
# Each rule's ``invalid()`` is its ``check()`` as vector operations: a boolean per member (the hyperparameters
# broadcast together), true exactly where that member's own ``check()`` raises (tests hold the two equal).


def _floats(*values) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _outside(values: np.ndarray, low: float, high: float, upper_open: bool = False) -> np.ndarray:
    return ~((values >= low) & ((values < high) if upper_open else (values <= high)))


def _bad_lr(lr: np.ndarray) -> np.ndarray:
    return ~(np.isfinite(lr) & (lr >= 0))


def row(rule, index: int):
    """Member ``index``'s own rule, with plain numbers, from a rule whose hyperparameters are arrays."""
    return convert(rule, lambda values: values[index].item() if values.ndim else values)


def check_rows(rule) -> None:
    """Check a rule whose hyperparameters are arrays over members in a few vector operations; the first member
    that fails raises its own :meth:`check`'s error, prefixed with ``member i:``."""
    for index in np.flatnonzero(rule.invalid()):
        try:
            row(rule, int(index)).check()
        except ValueError as exc:
            raise ValueError(f"member {index}: {exc}") from None


def parse(text: str):
    """A rule from text such as ``adam``, ``rmsprop:lr=0.003:centered=true`` or ``qhm:lr=0.5:nu=0.7``: a name of
    :data:`OPTIMIZERS` (or ``sgd``, momentum without momentum), then ``:field=value`` pairs; fields left out
    keep their defaults (torch.optim's, for Adam, AdamW and RMSprop). ``ValueError`` names what is wrong."""
    name, *pairs = (part.strip() for part in text.split(":"))
    kind = Momentum if name == "sgd" else OPTIMIZERS.get(name)
    if kind is None:
        raise ValueError(f"unknown optimizer {name!r} in {text!r} (allowed: sgd, {', '.join(OPTIMIZERS)})")
    allowed = {f.name: f for f in fields(kind)}
    values = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip()
        if key not in allowed or not value.strip():
            raise ValueError(f"{text!r}: expected {name}:field=value with a field of {', '.join(allowed)}; "
                             f"got {pair!r}")
        value = value.strip()
        if isinstance(allowed[key].default, bool) or value.lower() in ("true", "false"):
            if value.lower() not in ("true", "false"):
                raise ValueError(f"{text!r}: {key} must be true or false, got {value!r}")
            values[key] = value.lower() == "true"
        elif isinstance(allowed[key].default, str):
            values[key] = value
        else:
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"{text!r}: {key} must be a number, got {value!r}") from None
    rule = kind(**values)
    rule.check()
    return rule


def stack(rules) -> object:
    """One rule of the members' common kind whose hyperparameters are arrays over the members (what a
    population's engines evaluate at once). Every member must have the same kind, and the same values of what
    the kind shares (a momentum form, Nesterov, maximize)."""
    rules = list(rules)
    kinds = {type(r) for r in rules}
    if len(kinds) != 1:
        raise ValueError(f"a population has one optimizer kind; got {', '.join(sorted(k.kind for k in kinds))}")
    kind = kinds.pop()
    values = {}
    for f in fields(kind):
        column = [getattr(r, f.name) for r in rules]
        if isinstance(column[0], (bool, str)):
            if len(set(column)) != 1:
                if f.name == "centered":
                    values[f.name] = np.array(column, dtype=bool)
                    continue
                raise ValueError(f"every member of a population shares {f.name}; got {sorted(set(column))}")
            values[f.name] = column[0]
        else:
            values[f.name] = np.array(column, dtype=np.float64)
    return kind(**values)


MOMENTUM_FIELD = {"momentum": "momentum", "qhm": "beta", "adam": "beta1", "adamw": "beta1", "rmsprop": "momentum"}


def with_momentum(rule, momentum):
    """``rule`` with its momentum (β: Adam's β₁, QHM's β) replaced by ``momentum``, e.g. a (steps, members) table
    of a momentum schedule's values, which every formula of :meth:`update` broadcasts."""
    return replace(rule, **{MOMENTUM_FIELD[rule.kind]: momentum})


def convert(rule, to):
    """``rule`` with every array hyperparameter passed through ``to`` (e.g. into a tensor on a device); any
    frozen dataclass of hyperparameters, a schedule too."""
    return type(rule)(**{f.name: to(getattr(rule, f.name)) if isinstance(getattr(rule, f.name), np.ndarray)
                         else getattr(rule, f.name) for f in fields(rule)})
