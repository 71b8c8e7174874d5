"""The HTML shell every report page shares: one self-contained file with Plotly inlined (it works offline and
sends no request), its style, its sections, the colours of the charts, and how a page is saved."""

from __future__ import annotations

import html
from pathlib import Path

from inertia import jsontext
from inertia.folders import writing, writing_file

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def bullets(items) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .3em .6em; }
th { background: #f5f5f5; } td.yes { color: #2a7a2a; font-weight: bold; } td.no { color: #b22; font-weight: bold; }
pre.command { background: #f5f5f5; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.chart { width: 100%; min-height: 340px; } .grid { display: grid; grid-template-columns: repeat(3, 1fr); }
.small-chart { min-height: 320px; } input[type=range] { width: 320px; vertical-align: middle; }
"""

# Every chart's title starts at the left and its toolbar keeps four buttons at the right, so the two never meet;
# small multiples (``config: {displayModeBar: false}``) have no toolbar at all.  The lab page shares this script.
TIDY = """
function tidy(layout) {
  const title = Object.assign({x: 0.01, xanchor: "left", xref: "container"}, layout.title || {});
  return Object.assign({}, layout, layout.title ? {title} : {});
}
function toolbar(config) {
  return Object.assign({displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]}, config || {});
}
"""


def page(title: str, sections: list[str], charts: dict, scripts: list[str]) -> str:
    from plotly.offline import get_plotlyjs

    data = jsontext.dumps(charts)
    boot = (TIDY + "const charts = " + data + ";"
            "for (const [id, figure] of Object.entries(charts)) {"
            " Plotly.newPlot(id, figure.data, tidy(figure.layout), toolbar(figure.config)); }")
    body = "\n".join(sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(title)}</h1>{body}"
            f"<script>{boot}\n{''.join(scripts)}</script></body></html>")


def save_page(text: str, folder: Path | None, out: str | Path | None, kind: str) -> Path:
    """Save a page: as ``report.html`` in the result ``folder`` of command ``kind``, joining its results as one
    unit (:func:`inertia.folders.writing`), when no other ``out`` is asked for; else as the file ``out``,
    written whole or not at all."""
    if folder is not None and (out is None or Path(out).resolve() == (folder / "report.html").resolve()):
        with writing(folder, kind=kind, add=True) as staged:
            (staged.path / "report.html").write_text(text)
        return staged.final / "report.html"
    out = Path(out)
    with writing_file(out) as temporary:
        temporary.write_text(text)
    return out
