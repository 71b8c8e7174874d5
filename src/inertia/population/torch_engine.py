"""The batched-tensor engine: any depth, any device, every optimizer through :func:`inertia.optim.update.apply`."""

from __future__ import annotations

import numpy as np
import torch

from inertia.optim.update import UPDATE_FIELDS, Update, apply, initial_state
from inertia.population.chunk import Chunk
from inertia.population.evaluate import activate, activation_grad, initial_losses
from inertia.shuffle import orders as shuffle_orders


class TorchChunk(Chunk):
    """The batched-tensor engine (any device): weights ``W[l]`` (P, in, out), biases (P, 1, out), and the
    members' rule applied once to each stacked tensor by :func:`inertia.optim.update.apply`."""

    def __init__(self, members, task, *, device, dtype, eval_chunk, start=None):
        super().__init__(members, task, start)
        self.device, self.dtype, self.eval_chunk = device, dtype, eval_chunk
        self.params = []
        for weight, bias in self.initial:
            self.params += [weight.transpose(1, 2).to(dtype).contiguous(), bias[:, None, :].to(dtype, copy=True)]
        if self.initial_loss is None:
            self.initial_loss = initial_losses(self.params, self.activation, self.x, self.y)
        self.slots = self.rule.slots
        self.state = [initial_state(p, self.slots) for p in self.params]
        for slot in self.slots if self.start is not None else ():
            for layer, (weight, bias) in enumerate(self.start.slot(slot)):
                self.state[2 * layer][slot] = weight.transpose(1, 2).to(device, dtype).contiguous()
                self.state[2 * layer + 1][slot] = bias[:, None, :].to(device, dtype)
        self.active = torch.ones(self.size, dtype=torch.bool, device=device)
        self.kept = {}

    def forward(self, a: torch.Tensor, params: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Activations of every layer (inputs first, logits last), with ``params`` (default: all members')."""
        params = self.params if params is None else params
        outputs = [a]
        last = len(params) // 2 - 1
        for layer in range(last + 1):
            a = torch.baddbmm(params[2 * layer + 1], a, params[2 * layer])
            if layer < last:
                a = activate(self.activation, a)
            outputs.append(a)
        return outputs

    def gradients(self, outputs: list[torch.Tensor], y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-member mean cross-entropy of a minibatch and its gradients, by backpropagation."""
        logp = torch.log_softmax(outputs[-1], dim=-1)
        loss = -logp.gather(-1, y[..., None]).squeeze(-1).mean(dim=1)
        d = logp.exp()
        d.scatter_add_(-1, y[..., None], torch.full(y[..., None].shape, -1.0, device=d.device, dtype=d.dtype))
        d /= y.shape[1]
        grads = [None] * len(self.params)
        for layer in range(len(self.params) // 2 - 1, -1, -1):
            a = outputs[layer]
            grads[2 * layer] = torch.bmm(a.transpose(1, 2), d)
            grads[2 * layer + 1] = d.sum(dim=1, keepdim=True)
            if layer > 0:
                d = activation_grad(self.activation, torch.bmm(d, self.params[2 * layer].transpose(1, 2)), a)
        return loss, grads

    def update(self, grads: list[torch.Tensor], coefficients: torch.Tensor) -> None:
        """:func:`inertia.optim.update.apply` on every stacked tensor, with one step's coefficients (P, fields)."""
        update = Update(*coefficients.T.reshape(len(UPDATE_FIELDS), -1, 1, 1))
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            self.params[i], self.state[i] = apply(param, grad, self.state[i], update, self.slots,
                                                        self.rule.m_after_den)

    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-data loss and correct predictions of every member, ``eval_chunk`` members at a time."""
        x, y = self.x, self.y
        losses, correct = [], []
        members = self.size
        for lo in range(0, members, self.eval_chunk):
            hi = min(lo + self.eval_chunk, members)
            logits = self.forward(x.expand(hi - lo, *x.shape), [p[lo:hi] for p in self.params])[-1]
            logp = torch.log_softmax(logits, dim=-1)
            losses.append(-logp.gather(-1, y.expand(hi - lo, -1)[..., None]).squeeze(-1).mean(dim=1))
            correct.append((logits.argmax(dim=-1) == y).sum(dim=1))
        return torch.cat(losses), torch.cat(correct)

    def epoch(self, epoch, steps):
        n, members = len(self.y), self.size
        table = torch.as_tensor(self.coefficients(steps), device=self.device, dtype=self.dtype)
        if self.shuffle:
            order = torch.from_numpy(shuffle_orders(self.seeds, epoch, n)).to(self.device)
        else:
            order = torch.arange(n, device=self.device).expand(members, n)
        total = torch.zeros(members, dtype=torch.float64, device=self.device)
        for step, lo in enumerate(range(0, n, self.batch_size)):
            index = order[:, lo : lo + self.batch_size]
            loss, grads = self.gradients(self.forward(self.x[index]), self.y[index])
            self.update(grads, table[step])
            total += loss.double()
        full_loss, correct = self.evaluate()
        self.updates += len(steps)
        steps = -(-n // self.batch_size)
        return ((total / steps).cpu().numpy(), loss.double().cpu().numpy(), full_loss.double().cpu().numpy(),
                correct.cpu().numpy())

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members: their weights as they diverged are kept aside (what :meth:`weights` returns for
        them, as ``fit`` leaves its model), then zeroed with their state (finite, so nothing NaN is computed
        further); what they compute from then on is never read (no operation mixes members)."""
        for i in np.flatnonzero(diverged):
            self.kept[int(i)] = [(w[i].T.cpu(), b[i, 0].cpu()) for w, b in zip(self.params[::2], self.params[1::2])]
        self.active &= ~torch.from_numpy(diverged).to(self.device)
        keep = self.active.reshape(-1, 1, 1)
        self.params = [torch.where(keep, p, 0) for p in self.params]
        self.state = [{slot: torch.where(keep, value, 0) for slot, value in state.items()} for state in self.state]

    def slot_state(self) -> dict:
        """The optimizer's state, per slot and layer (weight (P, out, in), bias (P, out)) on the CPU (zero for a
        frozen member, whose state no one reads)."""
        return {slot: [(w[slot].transpose(1, 2).to("cpu", copy=True), b[slot][:, 0].to("cpu", copy=True))
                       for w, b in zip(self.state[::2], self.state[1::2])] for slot in self.slots}

    def finite_weights(self) -> np.ndarray:
        finite = torch.stack([p.isfinite().flatten(1).all(dim=1) for p in self.params]).all(dim=0)
        return finite.cpu().numpy()

    def stacked(self) -> list[torch.Tensor]:
        return self.params

    def weights(self, copy=False):
        out = [(w.transpose(1, 2).to("cpu", copy=copy), b[:, 0].to("cpu", copy=copy))
               for w, b in zip(self.params[::2], self.params[1::2])]
        if self.kept:  # diverged members as they diverged, over a copy of the rest
            out = [(w, b) if copy else (w.clone(), b.clone()) for w, b in out]
            for i, layers in self.kept.items():
                for (w, b), (weight, bias) in zip(out, layers):
                    w[i], b[i] = weight, bias
        return out
