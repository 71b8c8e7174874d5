"""The momentum update math, written once, as pure functions over NumPy arrays or torch tensors.

Every engine in inertia (the torch optimizer, the NumPy network, the population trainer) calls
:func:`momentum_step` instead of restating the formulas. With ``g`` the gradient (negated when
``maximize``, plus ``weight_decay · p``, i.e. coupled L2 as in ``torch.optim.SGD``), ``m`` the momentum,
``d`` the dampening and ``lr`` the learning rate of this step, the three forms are:

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
once it changes, since the velocity keeps the old learning rates (see :mod:`inertia.forms`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

FORMS = ("pytorch", "polyak", "ema")


def check_momentum(momentum) -> None:
    """The one check of a momentum value, with one message, for every command and engine: 0 <= m < 1 (at
    m >= 1 no form forgets its past, and heavy ball converges on no quadratic)."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum} (allowed: 0 <= momentum < 1)")


def check_hyperparameters(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, form="pytorch"):
    """Raise ``ValueError`` with torch's wording for anything ``torch.optim.SGD`` would reject, and for
    what only inertia's forms can get wrong."""
    if not isinstance(lr, (int, float)) or not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    check_momentum(momentum)
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"Invalid dampening value: {dampening} (allowed: 0 <= dampening <= 1)")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    if form not in FORMS:
        raise ValueError(f"Invalid form: {form!r} (allowed: {', '.join(FORMS)})")
    if form == "ema" and dampening != 0:
        raise ValueError("form='ema' already weights the gradient by (1 - momentum); dampening must be 0")


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
    if form == "pytorch" and _is_zero(momentum):
        new, _ = apply(param, grad, {}, Momentum(lr, 0.0, 0.0, weight_decay, nesterov, maximize, form).update(lr, 0),
                       ())
        return new, None
    rule = Momentum(lr, momentum, dampening, weight_decay, nesterov, maximize, form)
    state = {"m": _zeros_like(param) if buf is None else buf}
    new, state = apply(param, grad, state, rule.update(lr, 0 if buf is None else 1), ("m",))
    return new, state["m"]


# --- the generic update --------------------------------------------------------------------------------------
#
# Every optimizer here is one instance of a single update over at most three state slots, each starting at
# zero: m (a momentum buffer, velocity or first moment), v (a second moment) and a (a mean gradient, for
# centered RMSprop). An optimizer is a function from its hyperparameters, the step's learning rate and the
# step's index to the coefficients of that update (:class:`Update`); every engine applies those coefficients
# the same way (:func:`apply` here; the compiled kernels restate only ``apply``, and the tests hold them to it).

SLOTS = ("m", "v", "a")


@dataclass(frozen=True)
class Update:
    """The coefficients of one step; each may be a number or an array over models. With ``x`` the parameter
    and ``grad`` its gradient::

        g   = sign·grad + decay·x                       coupled weight decay, maximize
        x   = keep·x                                    decoupled weight decay (AdamW)
        v   = v_keep·v + v_take·g²                      second moment          (slot v)
        a   = a_keep·a + a_take·g                       mean gradient          (slot a)
        den = sqrt(v_scale·v − a²) + eps                1 without slot v
        m   = m_keep·m + m_take·g                       first moment           (slot m)
        x   = x − (g_coef·g + m_coef·m) / den

    or, when ``m_after_den`` (RMSprop's momentum, which averages already-scaled steps),
    ``m = m_keep·m + m_take·g/den`` and ``x = x − m_coef·m``.
    """

    sign: object = 1.0
    decay: object = 0.0
    keep: object = 1.0
    m_keep: object = 0.0
    m_take: object = 0.0
    v_keep: object = 0.0
    v_take: object = 0.0
    a_keep: object = 0.0
    a_take: object = 0.0
    v_scale: object = 1.0
    eps: object = 0.0
    g_coef: object = 0.0
    m_coef: object = 0.0


    def broadcast(self, shape) -> Update:
        """The same coefficients with every array reshaped to ``shape`` (e.g. ``(-1, 1, 1)`` for one value per
        model against parameters stacked as (models, rows, columns))."""
        return Update(**{name: value.reshape(shape) if isinstance(value, np.ndarray) else value
                         for name, value in ((f.name, getattr(self, f.name)) for f in fields(self))})


    def table(self, shape, like=None):
        """Every coefficient broadcast to ``shape`` (e.g. updates × models) and stacked on a last axis, in
        :data:`UPDATE_FIELDS` order: what the compiled kernels read. NumPy, or with ``like`` (a tensor) torch
        on its device and in its dtype."""
        if like is None:
            return np.stack([np.broadcast_to(getattr(self, name), shape) for name in UPDATE_FIELDS], axis=-1)
        import torch

        columns = [torch.as_tensor(getattr(self, name), device=like.device, dtype=like.dtype).expand(shape)
                   for name in UPDATE_FIELDS]
        return torch.stack(columns, dim=-1).contiguous()


UPDATE_FIELDS = tuple(f.name for f in fields(Update))


def apply(param, grad, state: dict, u: Update, slots: tuple[str, ...], m_after_den: bool = False):
    """One step of the generic update; returns ``(new_param, new_state)`` (``state`` maps the ``slots`` in use
    to arrays; nothing is modified in place). Works on NumPy arrays and torch tensors alike."""
    g = grad if _is_one(u.sign) else u.sign * grad
    if not _is_zero(u.decay):
        g = g + u.decay * param
    x = param if _is_one(u.keep) else u.keep * param
    state = dict(state)
    den = None
    if "v" in slots:
        state["v"] = u.v_keep * state["v"] + u.v_take * g * g
        square = state["v"] if _is_one(u.v_scale) else u.v_scale * state["v"]
        if "a" in slots:
            state["a"] = u.a_keep * state["a"] + u.a_take * g
            square = square - state["a"] * state["a"]
        den = _sqrt(square) + u.eps
    if "m" in slots:
        take = g if den is None or not m_after_den else g / den
        state["m"] = u.m_keep * state["m"] + u.m_take * take
    if m_after_den:
        return x - u.m_coef * state["m"], state
    step = u.m_coef * state["m"] if "m" in slots else None
    if not _is_zero(u.g_coef) or step is None:
        step = u.g_coef * g if step is None else u.g_coef * g + step
    return (x - step if den is None else x - step / den), state


def initial_state(param, slots: tuple[str, ...]) -> dict:
    """Every slot at zero, shaped like ``param``."""
    return {slot: _zeros_like(param) for slot in slots}


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
        return () if self.form == "pytorch" and not _any(self.momentum) else ("m",)

    def check(self) -> None:
        _check_each(check_hyperparameters, self.lr, self.momentum, self.dampening, self.nesterov,
                    self.weight_decay, self.form)

    def update(self, lr, t) -> Update:
        mu, nesterov = self.momentum, self.nesterov
        common = {"sign": -1.0 if self.maximize else 1.0, "decay": self.weight_decay}
        if self.form == "pytorch" and not self.slots:  # plain SGD: no buffer at all
            return Update(**common, g_coef=lr)
        if self.form == "pytorch":
            d = _where(_equal(mu, 0), 0.0, self.dampening)  # torch ignores dampening at momentum 0
            first = _equal(t, 0)
            return Update(**common, m_keep=_where(first, 0.0, mu), m_take=_where(first, 1.0, 1 - d),
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
    (that is, ``torch.optim.SGD`` at lr·(1 − β)); ν = β is Nesterov's (:func:`inertia.forms.qhm_to_sgd`).
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
        _check_lr(self.lr)
        _check_each(check_momentum, self.beta, name="beta")
        _check_range(self.nu, "nu", 0.0, 1.0)
        _check_nonnegative(self.weight_decay, "weight_decay")

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
        _check_lr(self.lr)
        _check_range(self.beta1, "beta parameter at index 0", 0.0, 1.0, upper_open=True)
        _check_range(self.beta2, "beta parameter at index 1", 0.0, 1.0, upper_open=True)
        _check_nonnegative(self.eps, "epsilon value")
        _check_nonnegative(self.weight_decay, "weight_decay value")

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
        return ("v", *(("a",) if _any(self.centered) else ()), "m")

    def check(self) -> None:
        _check_lr(self.lr)
        _check_range(self.alpha, "alpha value", 0.0, 1.0)
        _check_nonnegative(self.eps, "epsilon value")
        _check_nonnegative(self.weight_decay, "weight_decay value")
        _check_each(check_momentum, self.momentum)

    def update(self, lr, t) -> Update:
        centered = self.centered * 1.0  # a bool, or booleans over members, as 0.0 or 1.0
        return Update(sign=-1.0 if self.maximize else 1.0, decay=self.weight_decay, v_keep=self.alpha,
                      v_take=1 - self.alpha, a_keep=self.alpha, a_take=(1 - self.alpha) * centered, eps=self.eps,
                      m_keep=self.momentum, m_take=1.0, m_coef=lr)


OPTIMIZERS = {rule.kind: rule for rule in (Momentum, QHM, Adam, AdamW, RMSprop)}


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


def convert(rule, to):
    """``rule`` with every array hyperparameter passed through ``to`` (e.g. into a tensor on a device)."""
    return type(rule)(**{f.name: to(getattr(rule, f.name)) if isinstance(getattr(rule, f.name), np.ndarray)
                         else getattr(rule, f.name) for f in fields(rule)})


def _check_each(check, *args, name=None):
    """Run a scalar ``check`` on every member's values (arrays are checked element by element)."""
    arrays = [np.asarray(a) for a in args]
    if all(a.ndim == 0 for a in arrays):
        check(*args)
        return
    for values in zip(*np.broadcast_arrays(*arrays)):
        check(*(v.item() for v in values))


def _check_lr(lr) -> None:
    for value in np.ravel(lr):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"Invalid learning rate: {value}")


def _check_nonnegative(values, what: str) -> None:
    for value in np.ravel(values):
        if not value >= 0:
            raise ValueError(f"Invalid {what}: {value}")


def _check_range(values, what: str, low: float, high: float, upper_open: bool = False) -> None:
    for value in np.ravel(values):
        if not (low <= value < high if upper_open else low <= value <= high):
            raise ValueError(f"Invalid {what}: {value} (allowed: {low:g} <= {what.split()[0]} "
                             f"{'<' if upper_open else '<='} {high:g})")


def _any(value) -> bool:
    """Whether any of a number, a NumPy array or a torch tensor is nonzero."""
    return bool(value.any()) if hasattr(value, "any") else bool(value)


def _equal(value, target):
    return np.equal(value, target) if isinstance(value, np.ndarray) else value == target


def _where(condition, a, b):
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    if hasattr(condition, "logical_not"):  # a torch tensor: hyperparameters on a device
        import torch

        return torch.where(condition, a, b)
    return a if condition else b


def _sqrt(x):
    return x.sqrt() if hasattr(x, "sqrt") else np.sqrt(x)


def _zeros_like(x):
    return x.new_zeros(x.shape) if hasattr(x, "new_zeros") else np.zeros_like(x)


def _is_zero(value) -> bool:
    """True for a plain number equal to 0; arrays of per-model values always take the general path."""
    return isinstance(value, (int, float)) and value == 0


def _is_one(value) -> bool:
    return isinstance(value, (int, float)) and value == 1


# Learning-rate schedules: pure functions of the step index t = 0, 1, 2, ... (the update being made). Their
# fields may be arrays (one value per model) and t an array of steps: the formulas broadcast.


@dataclass(frozen=True)
class Constant:
    """``lr_t = lr``."""

    lr: float

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class InverseTime:
    """``lr_t = lr / (1 + decay·t)`` (seed 004's ``Optimizer_SGD(decay=...)``)."""

    lr: float
    decay: float

    def __call__(self, t: int) -> float:
        return self.lr * (1.0 / (1.0 + self.decay * t))


@dataclass(frozen=True)
class Step:
    """``lr_t = lr · gamma^⌊t / every⌋``."""

    lr: float
    every: int
    gamma: float = 0.1

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (t // self.every)


@dataclass(frozen=True)
class Cosine:
    """``lr_t = floor + (lr − floor)·(1 + cos(π·min(t, total)/total))/2``: from lr down to ``floor`` at ``total``."""

    lr: float
    total: int
    floor: float = 0.0

    def __call__(self, t: int) -> float:
        progress = np.minimum(t, self.total) / self.total
        return self.floor + (self.lr - self.floor) * (1 + np.cos(np.pi * progress)) / 2


def schedule(kind: str, lr: float, **params) -> Constant | InverseTime | Step | Cosine:
    """A schedule by name: ``constant``, ``inverse_time`` (decay), ``step`` (every, gamma), ``cosine`` (total)."""
    kinds = {"constant": Constant, "inverse_time": InverseTime, "step": Step, "cosine": Cosine}
    if kind not in kinds:
        raise ValueError(f"Invalid schedule: {kind!r} (allowed: {', '.join(kinds)})")
    try:
        return kinds[kind](lr, **params)
    except TypeError as exc:
        raise ValueError(f"schedule {kind!r}: {exc}") from None
