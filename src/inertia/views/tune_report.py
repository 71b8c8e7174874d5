"""The page of ``inertia tune``, from the folder it wrote: what was searched and what won, with the winner trained
again from fresh seeds (each seed's result, the mean and its interval, against the winner's score in the tuning);
every member's score at each decision (halving's rungs and survivors); and for PBT the hyperparameter
trajectories it discovered, with the winner's schedule drawn over them, and its lineage: who took over whose run,
when."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from inertia.stats import format_interval
from inertia.views.page import PALETTE, page, rgba, save_page, section

FILES = ("tune.json", "members.csv")


def has_tuning(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def tune_page(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the page of a folder ``inertia tune`` wrote (``report.html`` in it unless ``out`` says otherwise)
    and return its path."""
    folder = Path(folder)
    if not has_tuning(folder):
        raise FileNotFoundError(f"{folder} holds no tuning (tune.json, members.csv); run `inertia tune SPEC --out "
                                f"{folder}`")
    summary = json.loads((folder / "tune.json").read_text())
    metric, method = summary["settings"]["metric"], summary["method"]
    names = [axis["name"] for axis in summary["space"]]
    charts = {"scores": _scores(summary, metric)}
    what = _what(summary, names, metric)
    if summary["retrained"] is not None:
        charts["retrained"] = _retrained(summary, metric)
        what += "<div id='retrained' class='chart'></div>"
    sections = [section("What was searched, and what won", what),
                section("Every member's score at each decision",
                        "<p>" + html.escape(_scores_note(method)) + "</p><div id='scores' class='chart'></div>")]
    if method == "pbt":
        trajectory = pd.read_csv(folder / "trajectory.csv")
        lineage = pd.read_csv(folder / "lineage.csv")
        for k, axis in enumerate(summary["space"]):
            charts[f"trajectory-{k}"] = _trajectory(trajectory, summary, axis)
        charts["lineage"] = _lineage(lineage, summary)
        sections.append(section("The hyperparameters PBT discovered",
                                "<p>Every member's value after each round (grey) and the schedule the winner "
                                "trained with, back through the runs it took over (bold).</p>" + "".join(
                                    f"<div id='trajectory-{k}' class='chart'></div>" for k in range(len(names)))))
        sections.append(section("Lineage: who took over whose run",
                                "<p>Each arrow is one exploit: at that epoch the member below copied the weights, "
                                "optimizer state and hyperparameters of the member it starts from. The winner's "
                                "line follows its run back to the member it began as.</p>"
                                "<div id='lineage' class='chart' style='min-height:480px'></div>"))
    return save_page(page(f"inertia tune: {method}", sections, charts, []), folder, out, kind="tune")


def _what(summary: dict, names: list[str], metric: str) -> str:
    s, best, again = summary["settings"], summary["best"], summary["retrained"]
    space = ", ".join(f"{a['name']} {_range(a)}" for a in summary["space"])
    text = (f"{summary['method']} over {space}: {summary['members']} members to start, {summary['member_epochs']:,} "
            f"member-epochs (budget {s['budget']:,}), seed {s['seed']}; {summary['seconds']['training']:.1f} s "
            f"training, {summary['seconds']['deciding']:.2f} s deciding.")
    rows = "".join(f"<tr><td>{r['start']}–{r['end']}</td>" + "".join(f"<td>{r[n]:.4g}</td>" for n in names) + "</tr>"
                   for r in summary["schedule"])
    table = ("<table><tr><th>epochs</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>" + rows
             + "</table>")
    result = f"<p>The winner (member {best['member']}) ended at {metric} {_number(best['score'])}; it trained with:</p>"
    if again is not None:
        estimate = format_interval(again, f"{metric}_mean", ".4g", f"{metric}_low", f"{metric}_high")
        result += (f"<p>Trained again from {again['seeds']} fresh seeds: {again['split']} {metric} {estimate} (mean, "
                   f"95 % CI), {again['diverged']} diverged.</p>")
    return f"<p>{html.escape(text)}</p>{result}{table}"


def _retrained(summary: dict, metric: str) -> dict:
    """Each fresh seed's result for the winner's configuration, their mean and 95 % interval, and the score the
    winner had in the tuning (chosen as the best of many: above what a new seed reaches, as a rule)."""
    again = summary["retrained"]
    values, seeds = again[metric], list(range(again["seeds"]))
    mean, low, high = again[f"{metric}_mean"], again[f"{metric}_low"], again[f"{metric}_high"]
    ends = [-0.5, len(seeds) - 0.5]
    data = [{"type": "scatter", "mode": "markers", "x": seeds, "y": values, "name": "a fresh seed",
             "marker": {"size": 9, "color": PALETTE[0]},
             "hovertemplate": "seed %{x}<br>" + metric + " %{y:.4g}<extra></extra>"}]
    if low is not None and high is not None:
        data.append({"type": "scatter", "mode": "lines", "x": [*ends, *ends[::-1]], "y": [low, low, high, high],
                     "fill": "toself", "fillcolor": rgba(PALETTE[0], 0.15), "line": {"width": 0},
                     "name": "95 % CI of the mean", "hoverinfo": "skip"})
    if mean is not None:
        data.append({"type": "scatter", "mode": "lines", "x": ends, "y": [mean, mean], "name": "mean",
                     "line": {"color": PALETTE[0], "width": 2}, "hoverinfo": "skip"})
    score = summary["best"]["score"]
    if score is not None:
        data.append({"type": "scatter", "mode": "lines", "x": ends, "y": [score, score],
                     "name": "the winner in the tuning", "line": {"color": PALETTE[3], "width": 2, "dash": "dash"},
                     "hoverinfo": "skip"})
    return {"data": data, "layout": {"height": 320, "margin": {"t": 40},
                                     "title": {"text": f"The winner trained again: {again['split']} {metric} per "
                                                       "fresh seed"},
                                     "xaxis": {"title": {"text": "fresh seed"}, "dtick": 1},
                                     "yaxis": {"title": {"text": f"{again['split']} {metric}"}},
                                     "legend": {"orientation": "h", "y": -0.3}}}


def _scores(summary: dict, metric: str) -> dict:
    records = summary["records"]
    xs, ys, text, went_x, went_y = [], [], [], [], []
    for record in records:
        kept = set(record.get("kept", []))
        for member, score in zip(record["members"], record["scores"]):
            xs.append(record["epoch"])
            ys.append(score)
            text.append(f"member {member}")
            if member in kept:
                went_x.append(record["epoch"])
                went_y.append(score)
    data = [{"type": "scattergl", "mode": "markers", "x": xs, "y": ys, "text": text, "name": "a member",
             "marker": {"size": 5, "color": rgba(PALETTE[7], 0.45)},
             "hovertemplate": "%{text}<br>epoch %{x}<br>" + metric + " %{y:.4g}<extra></extra>"}]
    if went_x:
        data.append({"type": "scattergl", "mode": "markers", "x": went_x, "y": went_y, "name": "went on",
                     "marker": {"size": 6, "color": PALETTE[0]}, "hoverinfo": "skip"})
    return {"data": data, "layout": {"height": 380, "margin": {"t": 30},
                                     "xaxis": {"title": {"text": "epoch (a decision)"}},
                                     "yaxis": {"title": {"text": metric}, "type": "log" if metric == "loss" else "-"},
                                     "legend": {"orientation": "h", "y": -0.2}}}


def _trajectory(trajectory: pd.DataFrame, summary: dict, axis: dict) -> dict:
    name, end = axis["name"], summary["records"][-1]["epoch"]
    data = []
    for k, (_, rows) in enumerate(trajectory.groupby("member")):
        data.append({"type": "scattergl", "mode": "lines", "x": [*rows["epoch"], end], "y": [*rows[name],
                     rows[name].iloc[-1]], "line": {"shape": "hv", "color": "rgba(120,120,120,0.18)", "width": 1},
                     "showlegend": k == 0, "name": "a member", "hoverinfo": "skip"})
    schedule = summary["schedule"]
    data.append({"type": "scatter", "mode": "lines", "name": "the winner's schedule",
                 "x": [r["start"] for r in schedule] + [schedule[-1]["end"]],
                 "y": [r[name] for r in schedule] + [schedule[-1][name]],
                 "line": {"shape": "hv", "color": PALETTE[3], "width": 3},
                 "hovertemplate": "epoch %{x}<br>" + name + " %{y:.4g}<extra></extra>"})
    return {"data": data, "layout": {"height": 340, "margin": {"t": 30}, "title": {"text": name},
                                     "xaxis": {"title": {"text": "epoch"}},
                                     "yaxis": {"title": {"text": name},
                                               "type": "log" if axis["kind"] == "log_uniform" else "-"},
                                     "legend": {"orientation": "h", "y": -0.25}}}


def _lineage(lineage: pd.DataFrame, summary: dict) -> dict:
    xs, ys = [], []
    for row in lineage.itertuples():
        xs += [row.epoch, row.epoch, None]
        ys += [row.source, row.member, None]
    data = [{"type": "scattergl", "mode": "lines+markers", "x": xs, "y": ys, "name": "an exploit (source → member)",
             "line": {"color": rgba(PALETTE[0], 0.5), "width": 1}, "marker": {"size": 4, "symbol": "triangle-up"},
             "hoverinfo": "skip"}]
    xs, ys = [], []
    for stretch in summary["schedule"]:  # the row that held the winner's run, stretch by stretch
        xs += [stretch["start"], stretch["end"]]
        ys += [stretch["member"], stretch["member"]]
    data.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": "the winner's run",
                 "line": {"color": PALETTE[3], "width": 3},
                 "hovertemplate": "epoch %{x}<br>member %{y}<extra></extra>"})
    return {"data": data, "layout": {"height": 480, "margin": {"t": 30}, "xaxis": {"title": {"text": "epoch"}},
                                     "yaxis": {"title": {"text": "member (its row in the population)"}},
                                     "legend": {"orientation": "h", "y": -0.15}}}


def _scores_note(method: str) -> str:
    return {"halving": "At each rung the best members (blue) go on to the next; the others stop there.",
            "pbt": "Members keep their rows; after a round a row holds the run it took over.",
            "random": "Every member trained to the end; the best one wins."}[method]


def _range(axis: dict) -> str:
    if axis["kind"] == "choice":
        return "in {" + ", ".join(f"{v:g}" for v in axis["values"]) + "}"
    return f"{axis['kind'].replace('_', '-')} on [{axis['low']:g}, {axis['high']:g}]"


def _number(value) -> str:
    return "—" if value is None else f"{value:.4g}"
