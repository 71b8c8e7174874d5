"""The loss landscape on a report page, from the files :func:`inertia.studies.landscape.save` wrote: the surface
as a contour with every run's projected path (hover for its epoch, loss and gap), how faithful each path is per
epoch, and the 1-D interpolations. A section of a comparison's report, or a page of its own."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.studies.run_landscape import faithful
from inertia.views.charts import line_chart
from inertia.views.page import PALETTE, bullets, page, save_page, section

FILES = ("landscape.json", "surface.npz", "trajectories.csv")


def has_landscape(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def landscape_block(folder: Path, prefix: str = "landscape") -> tuple[str, dict]:
    """The section's HTML and its charts (ids ``prefix-surface``, ``prefix-gaps``, ``prefix-lines``)."""
    from inertia.studies.landscape import axis_labels  # torch, which a page drawn without a landscape need not load

    summary = json.loads((folder / "landscape.json").read_text())
    with np.load(folder / "surface.npz") as saved:
        xs, ys, loss = saved["xs"], saved["ys"], saved["loss"]
    paths = pd.read_csv(folder / "trajectories.csv")
    config, explained = summary["config"], summary["explained"]
    labels = axis_labels(explained)
    data = [{"type": "contour", "x": xs.round(6).tolist(), "y": ys.round(6).tolist(),
             "z": np.log10(np.maximum(loss, 1e-12)).round(4).tolist(), "colorscale": "Viridis", "ncontours": 30,
             "colorbar": {"title": {"text": "log₁₀ full-data loss (nats)", "side": "right"}},
             "hovertemplate": "d₁ %{x:.3g}<br>d₂ %{y:.3g}<br>log₁₀ loss %{z:.3f}<extra></extra>"}]
    gaps, runs = {}, list(dict.fromkeys(paths["run"]))
    for i, name in enumerate(runs):
        path = paths[paths["run"] == name].sort_values("epoch")
        color = PALETTE[i % len(PALETTE)]
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": path["a"].tolist(),
                     "y": path["b"].tolist(), "line": {"color": color, "width": 2},
                     "marker": {"size": 4, "color": color},
                     "customdata": path[["epoch", "loss", "gap"]].to_numpy().tolist(),
                     "hovertemplate": f"{html.escape(name)}<br>epoch %{{customdata[0]}}<br>own loss "
                                      "%{customdata[1]:.4f}<br>off the surface by %{customdata[2]:.2g}<extra></extra>"})
        gaps[name] = np.maximum(path["gap"].to_numpy(), 1e-6).tolist()  # the centre itself has no gap at all
    charts = {f"{prefix}-surface": {"data": data, "layout": {
        "height": 560, "margin": {"t": 30}, "xaxis": {"title": {"text": labels[0]}},
        "yaxis": {"title": {"text": labels[1]}}, "legend": {"orientation": "h", "y": -0.15}}}}
    epochs = list(range(len(next(iter(gaps.values()))))) if gaps else []
    charts[f"{prefix}-gaps"] = line_chart(epochs, gaps, "epoch", "|L(θ_t) − L(projection of θ_t)| (nats)")
    charts[f"{prefix}-gaps"]["layout"]["yaxis"]["type"] = "log"
    lines = summary["lines"]
    alphas = next(iter(lines.values()))["alpha"] if lines else []
    charts[f"{prefix}-lines"] = line_chart(alphas, {name: line["loss"] for name, line in lines.items()},
                                           "α along the line (0: its start, 1: its end)", "full-data loss (nats)")
    charts[f"{prefix}-lines"]["layout"]["yaxis"]["type"] = "log"
    saved = "weights" in config  # a saved model: one point, no path
    notes = [] if saved else [f"{name}: the drawn path is off its own loss by {gap['median']:.3g} nats (median over "
                              f"epochs), at most {gap['max']:.3g}" for name, gap in summary["gaps"].items()]
    notes += faithful(config)
    notes += [f"{name} diverged and is not drawn" for name in config.get("left_out", [])]
    plane = ("the top two principal directions of every checkpoint minus the centre" if explained else
             "two filter-normalised random directions (Li et al. 2018)")
    where = ("The plane goes through the saved weights" if saved else "Every epoch's weights are projected by least "
             f"squares onto a plane through the final weights of {config.get('centre', 'the best run')}")
    caveat = "" if saved else (" A 2-D picture of a high-dimensional path is only as faithful as its gaps: how far "
                                 "each checkpoint's own loss is from the surface's at its projection.")
    body = (f"<p>{html.escape(_what(config))} {html.escape(where)}, spanned by {plane}; each of the "
            f"{summary['grid'][0]} × {summary['grid'][1]} grid points is a full-data evaluation.{caveat}</p>"
            f"<div id='{prefix}-surface' class='chart' style='min-height:560px'></div>{bullets(notes)}"
            + ("" if saved else f"<div id='{prefix}-gaps' class='chart'></div>")
            + f"<div id='{prefix}-lines' class='chart'></div>")
    if saved:
        del charts[f"{prefix}-gaps"]
    return body, charts


def _what(config: dict) -> str:
    network = config.get("model") or config.get("layers")
    if "weights" in config:
        return f"The saved model {config['weights']}: {config['dataset']}, {network}."
    if "run" in config:
        return (f"The first seed's ({config['seed']}) run of every momentum of this comparison, traced again "
                f"epoch by epoch: {config['dataset']}, {network}, lr {config['lr']:g}, {config['epochs']} epochs.")
    return (f"SGD, momentum {config['momentum']:g} and Nesterov from one initialisation (seed {config['seed']}): "
            f"{config['dataset']}, {network}, lr {config['lr']:g}, {config['epochs']} epochs.")


def landscape_section(folder: Path) -> tuple[str, dict]:
    body, charts = landscape_block(folder)
    return section("The loss landscape the runs travel", body), charts


def landscape_page(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the page of a folder :func:`inertia.studies.landscape.save` wrote (``report.html`` in it, joining
    its files as one unit, unless ``out`` says otherwise) and return its path."""
    folder = Path(folder)
    if not has_landscape(folder):
        raise FileNotFoundError(f"{folder} holds no landscape (landscape.json, surface.npz, trajectories.csv); run "
                                f"`inertia landscape --out {folder}`")
    text, charts = landscape_section(folder)
    config = json.loads((folder / "landscape.json").read_text())["config"]
    return save_page(page(f"inertia landscape: {config['dataset']}", [text], charts, []), folder, out,
                     kind="landscape")
