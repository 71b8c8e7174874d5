"""The interactive charts of the report pages, as Plotly figure specs (and the scripts that drive their sliders):
loss and accuracy curves with confidence bands, decision regions across epochs, the ball in the valley."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from inertia.plots import class_colors
from inertia.stats import by_epoch, mean_ci_rows
from inertia.views.page import PALETTE, rgba


def curve_chart(curves: pd.DataFrame, metric: str, label: str) -> dict:
    """Plotly figure: per momentum (and baseline optimizer, dashed), the mean over seeds and its 95 % band
    (one legend entry for both)."""
    traces = []
    if "optimizer" not in curves:
        curves = curves.assign(optimizer="momentum")
    groups = [(f"momentum {m:g}", g, "solid") for m, g in curves[curves["optimizer"] == "momentum"].groupby("momentum")]
    groups += [(name, g, "dash") for name, g in curves[curves["optimizer"] != "momentum"].groupby("optimizer")]
    for i, (name, group, dash) in enumerate(groups):
        color = PALETTE[i % len(PALETTE)]
        epoch_array, table = by_epoch(group, metric)
        mean, low, high, _ = mean_ci_rows(table)
        epochs, means = epoch_array.tolist(), mean.tolist()
        lows = np.where(np.isfinite(low), low, mean).tolist()
        highs = np.where(np.isfinite(high), high, mean).tolist()
        traces.append({"x": epochs + epochs[::-1], "y": highs + lows[::-1], "fill": "toself", "mode": "lines",
                       "line": {"width": 0}, "fillcolor": rgba(color, 0.18), "legendgroup": name,
                       "showlegend": False, "hoverinfo": "skip", "name": name + " 95 % CI"})
        traces.append({"x": epochs, "y": means, "mode": "lines", "name": name, "legendgroup": name,
                       "line": {"color": color, "width": 2, "dash": dash},
                       "hovertemplate": f"{html.escape(name)}<br>epoch %{{x}}<br>{metric} %{{y:.4f}}<extra></extra>"})
    layout = {"xaxis": {"title": {"text": "epoch"}}, "yaxis": {"title": {"text": label}},
              "margin": {"t": 30}, "height": 380, "legend": {"title": {"text": "click to hide"}}}
    if metric == "loss":
        layout["yaxis"]["type"] = "log"
    return {"data": traces, "layout": layout}


def line_chart(x: list, series: dict, x_label: str, y_label: str) -> dict:
    """Plotly figure: one line per entry of ``series`` (name → values over ``x``)."""
    traces = [{"x": x, "y": values, "mode": "lines", "name": name,
               "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
               "hovertemplate": f"{html.escape(name)}<br>{x_label} %{{x}}<br>{y_label} %{{y:.4g}}<extra></extra>"}
              for i, (name, values) in enumerate(series.items())]
    layout = {"xaxis": {"title": {"text": x_label}}, "yaxis": {"title": {"text": y_label}}, "margin": {"t": 30},
              "height": 320}
    return {"data": traces, "layout": layout}


def regions_block(regions: dict) -> tuple[str, dict, str]:
    """One heatmap per momentum with the data on top, and an epoch slider shared by all."""
    epochs = list(regions["classes"])
    momenta = list(regions["classes"][epochs[0]])
    labels = np.asarray(regions["points"]["label"])
    classes = int(labels.max()) + 1
    points, shades = class_colors(classes)
    scale = [[k / max(1, classes - 1), c] for k, c in enumerate(shades)] if classes > 1 else [[0, shades[0]],
                                                                                            [1, shades[0]]]
    charts = {}
    divs = []
    last = epochs[-1]
    for i, momentum in enumerate(momenta):
        chart_id = f"regions-{i}"
        data = [{"type": "heatmap", "x": regions["x"], "y": regions["y"], "z": regions["classes"][last][momentum],
                 "colorscale": scale, "zmin": 0, "zmax": max(1, classes - 1), "showscale": False,
                 "hovertemplate": "x₁ %{x}<br>x₂ %{y}<br>predicted class %{z}<extra></extra>"}]
        for k in range(classes):
            mask = labels == k
            data.append({"type": "scattergl", "mode": "markers", "name": f"class {k}",
                         "x": np.asarray(regions["points"]["x1"])[mask].tolist(),
                         "y": np.asarray(regions["points"]["x2"])[mask].tolist(),
                         "marker": {"size": 3, "color": points[k]}, "showlegend": i == 0})
        charts[chart_id] = {"data": data, "layout": {
            "title": {"text": f"momentum {momentum}"}, "height": 330, "margin": {"t": 40, "l": 40, "r": 10, "b": 40},
            "xaxis": {"title": {"text": "x₁"}}, "yaxis": {"title": {"text": "x₂"}, "scaleanchor": "x"}},
            "config": {"displayModeBar": False}}
        divs.append(f"<div id='{chart_id}' class='small-chart'></div>")
    body = (f"<p>Predicted class over the plane after each epoch shown; drag to move through training.</p>"
            f"<label>epoch <input type='range' id='regions-epoch' min='0' max='{len(epochs) - 1}' "
            f"value='{len(epochs) - 1}'> <span id='regions-epoch-label'>{last}</span></label>"
            f"<div class='grid'>{''.join(divs)}</div>")
    script = (f"const regionEpochs = {json.dumps(epochs)}; const regionMomenta = {json.dumps(momenta)};"
              f"const regionClasses = {json.dumps(regions['classes'])};"
              "document.getElementById('regions-epoch').addEventListener('input', (event) => {"
              " const epoch = regionEpochs[event.target.value];"
              " document.getElementById('regions-epoch-label').textContent = epoch;"
              " regionMomenta.forEach((m, i) => Plotly.restyle('regions-' + i, {z: [regionClasses[epoch][m]]}, [0]));"
              "});")
    return body, charts, script


def ball_block() -> tuple[str, dict, str]:
    """Seed 003's valley and the ball's path for momentum 0 to 0.95 (precomputed), chosen with a slider."""
    from inertia.studies import valley

    x, y = valley.bumpy_valley()
    betas = [round(0.05 * i, 2) for i in range(20)]
    paths = {}
    for beta in betas:
        run = valley.roll(beta, 50)
        paths[f"{beta:g}"] = {"x": [float(x[i]) for i in run.path], "y": [float(y[i]) for i in run.path],
                              "text": (f"β = {beta:g}: stops at index {run.final_index} after {run.steps} steps, "
                                       f"{'reaches the bottom' if run.reached_bottom else 'stuck before the bump'}")}
    start = "0.6"
    chart = {"ball": {"data": [
        {"x": x.tolist(), "y": y.tolist(), "mode": "lines", "name": "valley (bump at index 25)",
         "line": {"color": "#555"}},
        {"x": paths[start]["x"], "y": paths[start]["y"], "mode": "lines+markers", "name": "the ball's path",
         "marker": {"size": 6, "color": "#d62728"}},
    ], "layout": {"height": 360, "margin": {"t": 30}, "xaxis": {"title": {"text": "position X"}},
                  "yaxis": {"title": {"text": "height 0.2 (X − 0.5)² + bump"}}}}}
    body = ("<p>Plain descent stops at the bump; with enough momentum the ball rolls over it (seed 003: "
            "EMA velocity v ← βv + (1 − β)·slope, one step right while v &lt; 0, 51 epochs).</p>"
            f"<label>momentum β <input type='range' id='ball-beta' min='0' max='{len(betas) - 1}' "
            f"value='{betas.index(0.6)}'> <span id='ball-beta-label'>0.6</span></label>"
            f"<p id='ball-verdict'>{html.escape(paths[start]['text'])}</p><div id='ball' class='chart'></div>")
    script = (f"const ballBetas = {json.dumps([f'{b:g}' for b in betas])}; const ballPaths = {json.dumps(paths)};"
              "document.getElementById('ball-beta').addEventListener('input', (event) => {"
              " const beta = ballBetas[event.target.value]; const path = ballPaths[beta];"
              " document.getElementById('ball-beta-label').textContent = beta;"
              " document.getElementById('ball-verdict').textContent = path.text;"
              " Plotly.restyle('ball', {x: [path.x], y: [path.y]}, [1]);"
              "});")
    return body, chart, script
