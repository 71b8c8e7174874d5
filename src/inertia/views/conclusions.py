"""Conclusions in plain words, each with the statistic behind it: momenta against a baseline momentum, other
optimizers against the momenta, and whether a momentum's gain survives at equal effective step. The pages, the
terminal and the live lab say them the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd

from inertia.stats import paired_difference


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
