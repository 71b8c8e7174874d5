"""Torch optimizers over :mod:`inertia.optim.rules`: ``Momentum`` (every form; equals ``torch.optim.SGD`` in the
``pytorch`` form) and ``QHM`` (quasi-hyperbolic momentum). Adam, AdamW and RMSprop are ``torch.optim``'s own,
which :mod:`inertia.optim.rules` is tested against."""

from __future__ import annotations

import torch

from inertia.optim import rules
from inertia.optim.checks import check_hyperparameters
from inertia.optim.update import apply

HYPERPARAMETERS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "form")


class _RuleOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose update is a rule of :mod:`inertia.optim.rules` applied by
    :func:`inertia.optim.update.apply`; a subclass says which rule a param group's settings make (``_rule``).
    The rule's slot m is kept in ``state[p]["momentum_buffer"]``, as ``torch.optim.SGD`` keeps its buffer
    (absent when the rule has none)."""

    def _rule(self, group: dict):
        raise NotImplementedError

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._rule(self.param_groups[-1]).check()

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            rule = self._rule(group)
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                started = "momentum_buffer" in state
                slots = {"m": state["momentum_buffer"] if started else torch.zeros_like(param)} if rule.slots else {}
                update = rule.update(group["lr"], 1 if started else 0)
                new_param, slots = apply(param, param.grad, slots, update, rule.slots, rule.m_after_den)
                param.copy_(new_param)
                if rule.slots:
                    state["momentum_buffer"] = slots["m"]
        return loss


class Momentum(_RuleOptimizer):
    """SGD with momentum in a chosen ``form`` (:class:`inertia.optim.rules.Momentum`); with ``form="pytorch"`` (the
    default) it equals ``torch.optim.SGD`` with the same arguments.

    - ``"pytorch"``: ``b = m·b + (1−d)·g`` (``b = g`` on the first step), ``p −= lr·b`` (Nesterov: ``lr·(g + m·b)``)
    - ``"polyak"``: ``v = m·v − lr·(1−d)·g``, ``p += v`` — the textbook heavy ball (Polyak, Sutskever)
    - ``"ema"``: ``v = m·v + (1−m)·g``, ``p −= lr·v`` — momentum as a moving average of gradients

    ``g`` includes coupled weight decay (``g + weight_decay·p``) and is negated when ``maximize``. The arguments
    are ``torch.optim.SGD``'s, in its order (``form`` added), so it drops in for it: param groups,
    ``state_dict``/``load_state_dict`` (a ``torch.optim.SGD`` state dict loads as the ``pytorch`` form, its
    buffers and all), a tensor ``lr`` and torch's learning-rate schedulers work as with SGD; the buffer is kept
    in ``state[p]["momentum_buffer"]`` and each step reads the group's current ``lr``. ``foreach`` and ``fused``
    choose among torch's implementations of the same update and are accepted for compatibility: this one
    applies the update one tensor at a time whatever they say. ``differentiable=True`` (autograd through the
    step) is refused: the step runs under ``torch.no_grad()``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 form: str = "pytorch"):
        check_hyperparameters(lr, momentum, dampening, nesterov, weight_decay, form)
        if differentiable:
            raise ValueError("differentiable=True is not supported: Momentum's step runs under torch.no_grad() "
                             "(use torch.optim.SGD(differentiable=True) to differentiate through it)")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=False, fused=fused,
                        form=form)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # a torch.optim.SGD state dict has no form: its buffers are pytorch's
            group.setdefault("form", "pytorch")
            group.setdefault("maximize", False)

    def _rule(self, group: dict) -> rules.Momentum:
        return rules.Momentum(group["lr"], group["momentum"], group["dampening"], group["weight_decay"],
                              group["nesterov"], group["maximize"], group["form"])


class QHM(_RuleOptimizer):
    """Quasi-hyperbolic momentum (Ma & Yarats, 2019): ``m = β·m + (1 − β)·g`` from zero and
    ``p −= lr·((1 − ν)·g + ν·m)``, with coupled weight decay (:class:`inertia.optim.rules.QHM`). The defaults are the
    paper's recommendation, β = 0.999 and ν = 0.7. The buffer is ``state[p]["momentum_buffer"]``."""

    def __init__(self, params, lr: float = 1e-3, beta: float = 0.999, nu: float = 0.7, weight_decay: float = 0.0,
                 *, maximize: bool = False):
        rules.QHM(lr, beta, nu, weight_decay, maximize).check()
        super().__init__(params, dict(lr=lr, beta=beta, nu=nu, weight_decay=weight_decay, maximize=maximize))

    def _rule(self, group: dict) -> rules.QHM:
        return rules.QHM(group["lr"], group["beta"], group["nu"], group["weight_decay"], group["maximize"])


def for_rule(rule, params) -> torch.optim.Optimizer:
    """The torch optimizer that trains like ``rule`` (an :mod:`inertia.optim.rules` optimizer): :class:`Momentum`,
    :class:`QHM`, or ``torch.optim``'s Adam, AdamW and RMSprop, which the rules are tested against."""
    if isinstance(rule, rules.Momentum):
        return Momentum(params, lr=rule.lr, momentum=rule.momentum, dampening=rule.dampening,
                        nesterov=rule.nesterov, weight_decay=rule.weight_decay, maximize=rule.maximize, form=rule.form)
    if isinstance(rule, rules.QHM):
        return QHM(params, lr=rule.lr, beta=rule.beta, nu=rule.nu, weight_decay=rule.weight_decay,
                   maximize=rule.maximize)
    if isinstance(rule, rules.RMSprop):
        return torch.optim.RMSprop(params, lr=rule.lr, alpha=rule.alpha, eps=rule.eps, weight_decay=rule.weight_decay,
                                   momentum=rule.momentum, centered=bool(rule.centered), maximize=rule.maximize)
    adam = torch.optim.AdamW if isinstance(rule, rules.AdamW) else torch.optim.Adam
    return adam(params, lr=rule.lr, betas=(rule.beta1, rule.beta2), eps=rule.eps, weight_decay=rule.weight_decay,
                maximize=rule.maximize)
