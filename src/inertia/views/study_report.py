"""The HTML report of a batch-size study (:mod:`inertia.studies.batch_study`), side by side with the noisy quadratic
model's predictions (:mod:`inertia.studies.nqm`): steps to target against batch size, the best hyperparameters, the
critical batch sizes with their intervals, and the model's three claims checked on both. Self-contained (Plotly
inlined), like the other reports."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from inertia.studies import nqm
from inertia.views.page import PALETTE, bullets, page, rgba, save_page, section


def write_study_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for the study saved in ``folder``; returns its path."""
    folder = Path(folder)
    summary_file = folder / "batch_study.json"
    if not summary_file.exists():
        raise FileNotFoundError(f"{folder} has no batch_study.json; run `inertia batch-study --out {folder}`")
    return save_page(study_page(json.loads(summary_file.read_text())), folder, out, kind="batch-study")


def command_line(config: dict) -> str:
    """The ``inertia batch-study`` command that reproduces ``config``."""
    return " ".join([
        "inertia batch-study", f"--dataset {config['dataset']}", f"--layers {','.join(map(str, config['layers']))}",
        f"--activation {config['activation']}", f"--batch-sizes {','.join(map(str, config['batch_sizes']))}",
        f"--lrs {','.join(f'{v:g}' for v in config['learning_rates'])}",
        f"--momenta {','.join(f'{v:g}' for v in config['momenta'])}", f"--seeds {len(config['seeds'])}",
        f"--target {config['target']}={config['target_value']:g}", f"--max-steps {config['max_steps']}",
        f"--max-epochs {config['max_epochs']}"])


def study_page(summary: dict, model: nqm.BatchScaling | None = None) -> str:
    config, best = summary["config"], summary["best"]
    model = model or nqm.reference()
    model_claims = nqm.check_claims(model)
    charts = {"study": _steps_chart(best, f"{summary['dataset']}: steps to {summary['target']}"),
              "model": _steps_chart(_model_rows(model), f"noisy quadratic model: steps to expected loss "
                                                        f"{model.target:g}")}
    critical = summary["critical_batch_sizes"]
    sections = [
        section("What was run", f"<pre class='command'>{html.escape(command_line(config))}</pre>"
                 f"<p>{html.escape(summary['dataset'])} ({summary['samples']} training examples), layers "
                 f"{config['layers']}, {config['activation']}; per batch size {len(config['learning_rates'])} "
                 f"learning rates × (plain SGD and momentum {', '.join(f'{m:g}' for m in config['momenta'])}) × "
                 f"{len(config['seeds'])} seeds, reshuffled minibatches, at most {config['max_steps']:,} steps "
                 f"or {config['max_epochs']:,} epochs. Steps to target are counted at epoch ends (an upper bound "
                 "within one epoch); the best grid point per batch size is the one with the fewest mean steps "
                 "among those that reached the target in every seed, and its 95 % interval is a bootstrap over "
                 "seeds that redoes that choice.</p>"),
        section("Steps to target against batch size: this network beside the noisy quadratic model",
                 "<div class='grid2'><div id='study' class='chart'></div><div id='model' class='chart'></div></div>"
                 "<p>Dotted: perfect scaling (steps ∝ 1/B) from the smallest batch size. Where a line leaves it, "
                 "larger batches give diminishing returns; where it is flat, they give none.</p>"),
        section("The largest useful batch size",
                 bullets([f"{name}: critical batch size {_size(c['critical_batch_size'])}"
                        f"{' or more (the largest tried)' if c.get('at_least') else ''} (95 % bootstrap interval "
                        f"{_size(c['low'])} to {_size(c['high'])}): up to it, steps × B stays within 2× of its "
                        "value at the smallest batch size." for name, c in critical.items()])
                 + bullets([f"noisy quadratic model: SGD {_size(_critical(model, model.sgd_steps))}, momentum "
                          f"{_size(_critical(model, model.momentum_steps))}"])),
        section("The noisy quadratic model's predictions, checked on both", _claims_table(summary["claims"],
                                                                                          model_claims)),
        section("Best grid point per batch size", _best_table(best)),
    ]
    style = "<style>.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }</style>"
    return page(f"inertia batch-study: {summary['dataset']}", [style, *sections], charts, [])


def _critical(model: nqm.BatchScaling, steps: np.ndarray) -> float:
    return nqm.critical_batch_size(model.batch_sizes, steps)


def _model_rows(model: nqm.BatchScaling) -> list[dict]:
    rows = []
    for name, steps, lr in (("sgd", model.sgd_steps, model.sgd_lr), ("momentum", model.momentum_steps,
                                                                      model.momentum_lr)):
        rows += [{"optimizer": name, "batch_size": float(b), "steps": float(s), "low": None, "high": None,
                  "lr": float(r)} for b, s, r in zip(model.batch_sizes, steps, lr)]
    return rows


def _steps_chart(rows: list[dict], title: str) -> dict:
    traces = []
    for i, name in enumerate(("sgd", "momentum")):
        color = PALETTE[i]
        mine = [r for r in rows if r["optimizer"] == name and r["steps"] is not None and np.isfinite(r["steps"])]
        if not mine:
            continue
        x = [r["batch_size"] for r in mine]
        y = [r["steps"] for r in mine]
        label = "SGD" if name == "sgd" else "momentum"
        if all(r.get("low") is not None for r in mine):
            traces.append({"x": x + x[::-1], "y": [r["high"] for r in mine] + [r["low"] for r in mine][::-1],
                           "fill": "toself", "mode": "lines", "line": {"width": 0}, "fillcolor": rgba(color, 0.18),
                           "legendgroup": label, "showlegend": False, "hoverinfo": "skip"})
        traces.append({"x": x, "y": y, "mode": "lines+markers", "name": label, "legendgroup": label,
                       "line": {"color": color}, "customdata": [r["lr"] for r in mine],
                       "hovertemplate": "B %{x}: %{y:,.0f} steps (lr %{customdata:.3g})<extra>" + label + "</extra>"})
        traces.append({"x": x, "y": [y[0] * x[0] / b for b in x], "mode": "lines", "name": f"{label}: perfect scaling",
                       "line": {"color": color, "dash": "dot", "width": 1}, "hoverinfo": "skip"})
    layout = {"title": {"text": title}, "xaxis": {"type": "log", "title": {"text": "batch size B (examples per step)"}},
              "yaxis": {"type": "log", "title": {"text": "steps to target"}}, "margin": {"t": 50},
              "legend": {"orientation": "h"}}
    return {"data": traces, "layout": layout}


def _claims_table(study: list[dict], model: list[nqm.Claim]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s['name'])}</td>{_verdict(m.holds)}<td>{html.escape(m.evidence)}</td>"
        f"{_verdict(s['holds'])}<td>{html.escape(s['evidence'])}</td></tr>" for s, m in zip(study, model))
    return ("<table><tr><th>prediction</th><th colspan='2'>noisy quadratic model</th><th colspan='2'>this network"
            f"</th></tr>{rows}</table>")


def _verdict(holds: bool) -> str:
    return f"<td class='{'yes' if holds else 'no'}'>{'holds' if holds else 'does not hold'}</td>"


def _best_table(best: list[dict]) -> str:
    head = ("<tr><th>batch size</th><th>optimizer</th><th>steps (95 % interval)</th><th>lr</th><th>β</th>"
            "<th>lr/(1 − β)</th><th>grid points reaching the target</th></tr>")
    rows = ""
    for r in sorted(best, key=lambda r: (r["batch_size"], r["optimizer"])):
        steps = "not reached" if r["steps"] is None else (
            f"{r['steps']:,.0f}" + ("" if r["low"] is None else f" ({r['low']:,.0f} – {r['high']:,.0f})"))
        edge = " (edge of the grid: widen it)" if r["lr_at_edge"] else ""
        lr = "—" if r["lr"] is None else f"{r['lr']:.3g}{edge}"
        momentum = "—" if r["momentum"] is None else f"{r['momentum']:g}"
        effective = "—" if r["effective_lr"] is None else f"{r['effective_lr']:.3g}"
        rows += (f"<tr><td>{r['batch_size']}</td><td>{'SGD' if r['optimizer'] == 'sgd' else 'momentum'}</td>"
                 f"<td>{steps}</td><td>{lr}</td><td>{momentum}</td><td>{effective}</td>"
                 f"<td>{r['reached']} of {r['grid_points']}</td></tr>")
    return f"<table>{head}{rows}</table>"


def _size(value) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:,.0f}"
