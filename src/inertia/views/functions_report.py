"""The page of ``inertia functions``, from the folder it wrote: the function's contour with every optimizer's paths
at its tuned rate (hover for the step), the table of success rates and steps to ε with their 95 % intervals, and
each optimizer's success rate across the tuning grid."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from inertia.stats import format_interval
from inertia.studies import functions as F
from inertia.views.page import PALETTE, page, save_page, section

FILES = ("functions.json", "paths.json")


def has_functions(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def functions_page(folder: str | Path, out: str | Path | None = None, resolution: int = 160) -> Path:
    """Write the page of a folder ``inertia functions`` wrote (``report.html`` in it, joining its files as one
    unit, unless ``out`` says otherwise) and return its path."""
    folder = Path(folder)
    if not has_functions(folder):
        raise FileNotFoundError(f"{folder} holds no test-function study (functions.json, paths.json); run "
                                f"`inertia functions NAME --out {folder}`")
    summary = json.loads((folder / "functions.json").read_text())
    paths = json.loads((folder / "paths.json").read_text())
    f, config = F.function(summary["function"]), summary["config"]
    xs, ys, gap = F.contour(f, resolution)
    data = [{"type": "contour", "x": xs.round(5).tolist(), "y": ys.round(5).tolist(),
             "z": np.log10(np.maximum(gap, 1e-12)).round(3).tolist(), "colorscale": "Viridis", "ncontours": 30,
             "colorbar": {"title": {"text": "log₁₀ (f − f*)", "side": "right"}},
             "hovertemplate": "x %{x:.3f}<br>y %{y:.3f}<br>log₁₀ (f − f*) %{z:.2f}<extra></extra>"}]
    for i, (text, starts) in enumerate(paths.items()):
        name = f"{F.label(text)} (lr {summary['chosen'][text]:.2g})"
        for k, path in enumerate(starts):
            data.append({"type": "scatter", "mode": "lines", "name": name, "legendgroup": name,
                         "showlegend": k == 0, "x": [p and p[0] for p in path], "y": [p and p[1] for p in path],
                         "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.5},
                         "hovertemplate": f"{html.escape(name)}<br>step %{{pointNumber}}<extra></extra>"})
    data.append({"type": "scatter", "mode": "markers", "name": "global minima",
                 "x": [m[0] for m in summary["minima"]], "y": [m[1] for m in summary["minima"]],
                 "marker": {"symbol": "star", "size": 13, "color": "#ffd700", "line": {"color": "#000", "width": 1}}})
    charts = {"contour": {"data": data, "layout": {
        "height": 560, "margin": {"t": 30}, "xaxis": {"title": {"text": "x"}, "range": [xs[0], xs[-1]]},
        "yaxis": {"title": {"text": "y"}, "range": [ys[0], ys[-1]]}, "legend": {"orientation": "h", "y": -0.15}}}}
    rates = config["learning_rates"]
    charts["tuning"] = {"data": [
        {"x": rates, "y": success, "mode": "lines+markers", "name": F.label(text),
         "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
         "hovertemplate": f"{html.escape(F.label(text))}<br>lr %{{x:.3g}}<br>success %{{y:.3f}}<extra></extra>"}
        for i, (text, success) in enumerate(summary["tuning"].items())], "layout": {
        "height": 340, "margin": {"t": 30}, "xaxis": {"type": "log", "title": {"text": "learning rate"}},
        "yaxis": {"title": {"text": "success rate on the tuning starts × seeds"}, "range": [-0.02, 1.02]}}}
    head = ("<tr><th>optimizer</th><th>tuned lr</th><th>success (95 % CI)</th><th>steps to ε among the successes "
            "(95 % CI)</th><th>diverged</th></tr>")
    rows = "".join(f"<tr><td>{html.escape(F.label(r['optimizer']))}</td><td>{r['lr']:.3g}"
                   f"{' (grid edge)' if r['lr_at_edge'] else ''}</td>"
                   f"<td>{format_interval(r, 'success', '.3f', 'success_low', 'success_high')}</td>"
                   f"<td>{format_interval(r, 'steps_to_eps', '.0f', 'steps_low', 'steps_high')}</td>"
                   f"<td>{r['diverged']}/{r['runs']}</td></tr>" for r in summary["table"])
    what = (f"{len(config['optimizers'])} optimizers, each at the rate that reached ε = {config['tolerance']:g} most "
            f"often on one grid ({len(rates)} rates) from {config['starts']} starts × {config['seeds']} noise seeds "
            f"(gradient noise {config['noise']:g}, {config['steps']} steps), reported from fresh starts and seeds.")
    sections = [section("What was run", f"<p>{html.escape(what)}</p><table>{head}{rows}</table>"),
                section("The paths, at each optimizer's tuned rate",
                        "<p>From the first fresh starts under the first noise seed; hover for the step.</p>"
                        "<div id='contour' class='chart' style='min-height:560px'></div>"),
                section("Tuning: success rate across the grid", "<div id='tuning' class='chart'></div>")]
    return save_page(page(f"inertia functions: {f.name}", sections, charts, []), folder, out, kind="functions")
