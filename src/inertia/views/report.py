"""One self-contained HTML report of a comparison, a batch study or a sweep, written from what they saved:
tables, conclusions backed by statistics, interactive charts (Plotly, inlined: the file makes no network
request), decision regions across momenta and epochs, the ball in the valley with a momentum slider, and what
produced it.

``write_report(path)`` takes a folder written by :meth:`~inertia.studies.comparison.Comparison.save` (``summary.json``,
``curves.csv``, ``regions.json``) or by :meth:`~inertia.studies.batch_study.BatchStudy.save`, or a sweep store
(``.db``). The comparison's page is here; the others are :mod:`~inertia.views.study_report` and
:mod:`~inertia.views.sweep_report`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from inertia.stats import format_estimate
from inertia.views.charts import ball_block, curve_chart, line_chart, regions_block
from inertia.views.conclusions import baseline_conclusions, conclusions, effective_lr_sentences
from inertia.views.functions_report import functions_page, has_functions
from inertia.views.landscape_report import has_landscape, landscape_page, landscape_section
from inertia.views.page import bullets, page, save_page, section
from inertia.views.study_report import write_study_report
from inertia.views.sweep_report import sweep_report
from inertia.views.tune_report import has_tuning, tune_page


def write_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``path`` (a compare or batch-study folder, or a sweep store) to ``out`` (default:
    ``report.html`` in the folder, or ``<store>.html`` beside the store) and return its path. A folder's report
    joins the folder's results as one unit (:func:`inertia.folders.writing`); any other file is written whole
    or not at all."""
    path = Path(path)
    if path.is_dir() and (path / "batch_study.json").exists():
        return write_study_report(path, out)
    if path.is_dir() and has_landscape(path):
        return landscape_page(path, out)
    if path.is_dir() and has_functions(path):
        return functions_page(path, out)
    if path.is_dir() and has_tuning(path):
        return tune_page(path, out)
    if path.is_dir():
        return save_page(compare_report(path), path, out, kind="compare")
    return save_page(sweep_report(path), None, out or default_output(path), kind="sweep")


def default_output(path: str | Path) -> Path:
    """Where :func:`write_report` writes by default: ``report.html`` in a compare folder, ``<store>.html``
    beside a store. ``FileNotFoundError`` for anything else."""
    path = Path(path)
    if path.is_dir():
        return path / "report.html"
    if path.suffix == ".db" and path.is_file():
        return path.with_suffix(".html")
    raise FileNotFoundError(f"{path} is neither a compare output folder nor a sweep store (.db)")


def compare_report(folder: Path, landscape: Path | None = None) -> str:
    """The page of the comparison saved in ``folder``, with the section of its landscape when ``landscape`` (by
    default the folder's ``landscape`` folder, which ``inertia landscape FOLDER`` writes) holds one."""
    summary_file, curves_file = folder / "summary.json", folder / "curves.csv"
    if not summary_file.exists() or not curves_file.exists():
        raise FileNotFoundError(f"{folder} has no summary.json and curves.csv; run `inertia compare --out {folder}`")
    summary = json.loads(summary_file.read_text())
    curves = pd.read_csv(curves_file)
    config = summary["config"]
    momenta = config["momenta"]
    sections = [
        section("What was run", f"<pre class='command'>{html.escape(command_line(config))}</pre>"
                 f"<p>{len(config['seeds'])} seeds × {len(momenta)} momenta on <b>{html.escape(summary['dataset'])}"
                 f"</b>, {network(config)}, lr {config['lr']:g}, batch {config['batch_size']}, "
                 f"{config['epochs']} epochs, {'shuffled' if config['shuffle'] else 'unshuffled'} minibatches, "
                 f"form {config['form']}. Within a seed every momentum starts from the same weights and sees "
                 f"the same minibatches, so differences are paired.</p>"),
        section("Summary (mean ± 95 % CI over seeds)",
                 _compare_table(summary["table"] + summary.get("baselines", []), config)),
        section("Conclusions", bullets(conclusions(curves, baseline=0.0 if 0.0 in momenta else momenta[0])
                                      + baseline_conclusions(summary.get("paired", [])))),
    ]
    if "effective_lr" in summary:
        held = summary["effective_lr"]
        sections.append(section(
            "Is it momentum, or the larger step? (equal effective learning rate lr/(1 − β))",
            "<p>Every momentum β was also trained at lr·(1 − β), so that its effective step lr/(1 − β) equals plain "
            "SGD's lr, over the same seeds. A gain that survives is momentum's own; one that vanishes was the "
            "larger step.</p>" + _compare_table(held["table"], config)
            + bullets(effective_lr_sentences(pd.DataFrame(held["gains"])))))
    claims = _claims(curves)
    if claims is not None:
        sections.append(section("Do the seed notebook's conclusions hold?", claims))
    charts = {"loss": curve_chart(curves, "loss", "full-data loss (cross-entropy, nats)"),
              "accuracy": curve_chart(curves, "accuracy", "full-data accuracy")}
    sections.append(section("Loss and accuracy per epoch",
                             "<p>Mean over seeds with a 95 % band; hover for values, click a legend entry to "
                             "hide a momentum.</p><div id='loss' class='chart'></div>"
                             "<div id='accuracy' class='chart'></div>"))
    if "schedules" in summary:
        steps = summary["schedules"]
        charts["lr"] = line_chart(steps["update"], {"momenta": steps["lr"]}, "update", "learning rate")
        charts["beta"] = line_chart(steps["update"], steps["momentum"], "update", "momentum β")
        sections.append(section("Learning rate and momentum per update",
                                 "<p>What every arm trained with, update by update (the baselines keep their own "
                                 "constant settings).</p><div id='lr' class='chart'></div>"
                                 "<div id='beta' class='chart'></div>"))
    scripts = []
    regions_file = folder / "regions.json"
    if regions_file.exists():
        regions = json.loads(regions_file.read_text())
        body, chart_specs, script = regions_block(regions)
        charts.update(chart_specs)
        scripts.append(script)
        sections.append(section(f"Decision regions (seed {regions['seed']})", body))
    landscape = folder / "landscape" if landscape is None else landscape
    if has_landscape(landscape):
        body, landscape_charts = landscape_section(landscape)
        charts.update(landscape_charts)
        sections.append(body)
    ball_body, ball_chart, ball_script = ball_block()
    charts.update(ball_chart)
    scripts.append(ball_script)
    sections.append(section("Why momentum helps: the ball in the bumpy valley", ball_body))
    return page("inertia compare: momentum on " + summary["dataset"], sections, charts, scripts)


def network(config: dict) -> str:
    """The network a comparison trained, in words (HTML)."""
    if config.get("model"):
        return f"model <code>{html.escape(config['model'])}</code> (your own)"
    return f"layers {config['layers']}"


def command_line(config: dict) -> str:
    """The ``inertia compare`` command that reproduces ``config``."""
    parts = ["inertia compare", f"--momenta {','.join(f'{m:g}' for m in config['momenta'])}",
             f"--lr {config['lr']:g}",
             *([f"--model {config['model']}"] if config.get("model") else
               [f"--layers {','.join(map(str, config['layers']))}", f"--activation {config['activation']}"]),
             f"--batch-size {config['batch_size']}",
             f"--epochs {config['epochs']}", f"--seeds {len(config['seeds'])}", f"--dataset {config['dataset']}",
             "--shuffle" if config["shuffle"] else "--no-shuffle", f"--form {config['form']}"]
    if config.get("baselines"):
        parts.append(f"--baselines {','.join(config['baselines'])}")
    if config.get("schedule"):
        parts.append(f"--schedule {config['schedule']}")
    if config.get("momentum_schedules"):
        parts.append(f"--momentum-schedules {','.join(config['momentum_schedules'])}")
    if config.get("nesterov"):
        parts.append("--nesterov")
    if config.get("hold", "lr") != "lr":
        parts.append(f"--hold {config['hold']}")
    return " ".join(parts)


def _claims(curves: pd.DataFrame) -> str | None:
    """The notebook's conclusions under this comparison's protocol, when it ran the lab's momenta."""
    from inertia.studies.reproduce import LAB_MOMENTA, check_claims

    if not set(LAB_MOMENTA) <= set(curves["momentum"].unique()) or curves["seed"].nunique() < 2:
        return None
    table = check_claims(None, curves[curves["momentum"].isin(LAB_MOMENTA)])
    rows = "".join(f"<tr><td>{html.escape(r.iloc[0])}</td><td>{html.escape(r.iloc[2])}</td>"
                   f"<td class='{'yes' if r.iloc[3] else 'no'}'>{'holds' if r.iloc[3] else 'does not hold'}</td></tr>"
                   for _, r in table.iterrows())
    return ("<p>The notebook drew these from one run and the loss of its last minibatch. Here: several seeds, "
            "full-data loss (<code>inertia reproduce lab</code> shows the notebook's own numbers beside them).</p>"
            f"<table><tr><th>the notebook says</th><th>evidence here</th><th>verdict</th></tr>{rows}</table>")


def _compare_table(records: list[dict], config: dict) -> str:
    target = config.get("target_accuracy", 0.9)
    head = ("<tr><th>momentum</th><th>final loss</th><th>best loss</th><th>final accuracy</th>"
            f"<th>epochs to {target:.0%} accuracy</th><th>reached</th><th>diverged</th><th>no progress</th></tr>")
    cells = (("final_loss", ".4f"), ("best_loss", ".4f"), ("final_accuracy", ".3f"), ("epochs_to_target", ".1f"))
    rows = "".join(
        f"<tr><td>{html.escape(r['optimizer']) if 'optimizer' in r else format(r['momentum'], 'g')}</td>"
        + "".join(f"<td>{format_estimate(r, n, f)}</td>" for n, f in cells)
        + f"<td>{r['reached_target']}/{r['runs']}</td><td>{r['diverged']}</td><td>{r.get('no_progress', 0)}</td></tr>"
        for r in records)
    note = ("<p>Means and intervals are over the runs that did not diverge (a diverged run has no final loss); "
            "runs that made no progress (ended no better than their initial loss) are results and count.</p>")
    return f"<table>{head}{rows}</table>{note}"
