"""The report page of a sweep store: what was run, each setting over seeds, conclusions, and the learning rate ×
momentum heatmaps (one per setting of the other axes) with the quadratic theory's stability edge."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.stats import format_estimate
from inertia.views.charts import ball_block
from inertia.views.page import bullets, page, section


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
        f"<td>{format_estimate(r, 'final_accuracy', '.3f')}</td></tr>" for r in summary.to_dict("records"))
    sections = [
        section("What was run", "".join(f"<pre class='command'>{html.escape(json.dumps(s, indent=1))}</pre>"
                                         for s in specs)),
        section(f"Summary: {len(results.runs)} runs, {len(summary)} settings (mean ± 95 % CI over seeds)",
                 f"<table><tr>{head}</tr>{rows}</table>"),
    ]
    best = results.best()
    sentences = [f"best {r['metric']}: {r['setting']} ({r['mean']:.4g}, n = {r['n']})" for r in best.to_dict("records")]
    if "momentum" in axes:
        paired = results.paired({"momentum": 0.0}) if (results.runs["momentum"] == 0).any() else pd.DataFrame()
        for r in paired.to_dict("records"):
            sentences.append(f"{describe(r, axes)}: final loss − momentum 0 = {r['difference']:+.3g}, 95 % CI "
                             f"[{r['low']:+.3g}, {r['high']:+.3g}], lower in {r['better_in']} of {r['pairs']} seeds")
    sections.append(section("Conclusions", bullets(sentences)))
    charts = {}
    heats = sweep_heatmaps(results, specs)
    if heats:
        edge = heats[0][1].pop("edge")
        divs = []
        for i, (selection, heat) in enumerate(heats):
            heat.pop("edge", None)
            charts[f"heatmap-{i}"] = heat
            divs.append(f"<h3>{html.escape(selection)}</h3>" * bool(selection) + f"<div id='heatmap-{i}' class='chart'>"
                        "</div>")
        panels = ("" if len(heats) == 1 else f"<p>One heatmap per setting of the other axes ({len(heats)}): a cell "
                  "never averages over an axis the figure does not show.</p>")
        sections.append(section("Final loss by learning rate and momentum",
                                "<p>Mean over seeds (diverged runs left out); × marks a setting where a run "
                                "diverged or failed, ○ one where a run made no progress. The "
                                "dashed line is the quadratic theory's edge lr = 2(1 + β)/λ_max, with λ_max "
                                f"the Hessian's top eigenvalue at initialization: {html.escape(edge)}.</p>"
                                + panels + "".join(divs)))
    ball_body, ball_chart, ball_script = ball_block()
    charts.update(ball_chart)
    sections.append(section("Why momentum helps: the ball in the bumpy valley", ball_body))
    return page(f"inertia sweep: {path.name}", sections, charts, [ball_script])


def sweep_heatmaps(results, specs) -> list[tuple[str, dict]]:
    """Final loss over learning rate × momentum, one Plotly heatmap per setting of every other axis that varies
    (:meth:`~inertia.sweeps.results.Results.panels`), each with the selection it shows; empty when the runs do
    not vary both lr and momentum. The theory's edge is drawn where the panels share their data and model."""
    from inertia.sweeps.results import describe

    if "lr" not in results.runs or "momentum" not in results.runs:
        return []
    out, top = [], None
    for selection, runs in results.panels():
        runs = runs[runs["momentum"].notna() & (runs["optimizer"] == "momentum")]
        if runs["lr"].nunique() < 2 or runs["momentum"].nunique() < 2:
            continue
        if {"data", "layers", "activation"} & set(selection):
            top = "not drawn: the panels differ in their data or model"
        elif top is None:
            top = _top_eigenvalue(specs)
        out.append((describe(selection, list(selection)), _heatmap(runs, top)))
    return out


def _heatmap(runs, top) -> dict:
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
    edge, description = _theory_edge(top, lrs, momenta) if not isinstance(top, str) else (None, top)
    if edge is not None:
        data.append(edge)
    layout = {"height": 420, "margin": {"t": 30},
              "xaxis": {"title": {"text": "learning rate"}, "tickvals": list(range(len(lrs))),
                        "ticktext": [f"{v:.3g}" for v in lrs], "range": [-0.5, len(lrs) - 0.5]},
              "yaxis": {"title": {"text": "momentum β"}, "tickvals": list(range(len(momenta))),
                        "ticktext": [f"{v:.3g}" for v in momenta], "range": [-0.5, len(momenta) - 0.5]},
              "legend": {"orientation": "h", "y": -0.2}, "showlegend": True}
    return {"data": data, "layout": layout, "edge": description}


def _top_eigenvalue(specs) -> float | str:
    """The Hessian's top eigenvalue at initialization for the first spec's data and model, or why not."""
    try:
        from inertia.models import MLP
        from inertia.studies import stability
        from inertia.sweeps.run import dataset_of
        from inertia.sweeps.spec import canonical

        spec = specs[0]
        dataset = dataset_of(canonical(spec["data"]))
        layers = spec.get("model", {}).get("layers") or [dataset.features, 50, dataset.classes]
        model = MLP(layers, spec.get("model", {}).get("activation", "relu"), seed=0)
        return stability.hessian_lambda_max(model, dataset, iterations=30)
    except (ValueError, RuntimeError, KeyError, TypeError, OSError):  # an extra: the report stands without it
        return "the stability edge could not be estimated for this data and model"


def _theory_edge(top: float, lrs, momenta):
    """The predicted largest stable lr per momentum, placed on the heatmap's lr axis."""
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
