"""Regenerate every figure of the README (``docs/images``) from the commands the README shows.

Each image is what the named command writes, copied; ``report.png`` and ``lab.png`` are the compare report and
the live lab in headless Chromium (Debian's ``chromium``, driven by Playwright). The two batch studies take the
longest (minutes); ``--skip-studies`` keeps their images as they are.

    python tools/readme_images.py [--skip-studies] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
STUDIES = {
    "spiral": ["batch-study"],
    "mnist1d": ["batch-study", "--dataset", "mnist1d", "--layers", "40,100,10", "--batch-sizes",
                "8,16,32,64,128,256,512,1024,2048", "--lrs", "0.01,0.02,0.04,0.08,0.16,0.32,0.64,1.28,2.56,5.12",
                "--seeds", "2", "--target", "loss=0.5", "--max-steps", "20000", "--max-epochs", "1000"],
}


def inertia(*arguments: str, cwd: Path) -> None:
    print("inertia", *arguments, file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "inertia", *arguments], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("the screenshots need Debian's chromium (apt-get install chromium)")
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])


def report_screenshot(report: Path, out: Path) -> None:
    playwright, chromium = browser()
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.goto(report.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8")
    page.wait_for_timeout(500)
    # from the loss chart to the end of the decision regions: the charts, their toolbars and the class colours
    top = page.evaluate("document.getElementById('loss').getBoundingClientRect().top + window.scrollY - 10")
    bottom = page.evaluate("document.getElementById('regions-4').getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": top, "width": 1200, "height": bottom - top})
    chromium.close()
    playwright.stop()


def lab_screenshot(out: Path) -> None:
    import uvicorn

    from inertia.lab.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    playwright, chromium = browser()
    page = chromium.new_page(viewport={"width": 1400, "height": 1050})
    page.goto(f"http://127.0.0.1:{port}/?momenta=0,0.5,0.9&lr=0.05")
    page.wait_for_function("() => window.labTimings.length >= 1", timeout=120_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out))
    chromium.close()
    playwright.stop()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-studies", action="store_true", help="keep the batch-study images as they are")
    parser.add_argument("--work", type=Path, help="folder for the commands' output (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inertia-images-"))
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples", work / "examples", dirs_exist_ok=True)
    inertia("compare", "--out", "compare", cwd=work)
    for name in ("decision_regions.png", "loss.png"):
        shutil.copy(work / "compare" / name, IMAGES / name)
    inertia("sweep", "examples/momentum_vs_lr.toml", "--store", "sweep.db", cwd=work)
    inertia("results", "sweep.db", "--out", "results", cwd=work)
    shutil.copy(work / "results" / "heatmap_lr_momentum.png", IMAGES / "heatmap.png")
    inertia("reproduce", "nqm", "--out", "nqm", cwd=work)
    shutil.copy(work / "nqm" / "nqm.png", IMAGES / "nqm.png")
    inertia("theory", "--lambda-min", "1", "--lambda-max", "100", "--out", "theory", cwd=work)
    shutil.copy(work / "theory" / "rate.png", IMAGES / "rate.png")
    if not args.skip_studies:
        for name, arguments in STUDIES.items():
            inertia(*arguments, "--out", f"study-{name}", cwd=work)
            shutil.copy(work / f"study-{name}" / "batch_study.png", IMAGES / f"batch_study_{name}.png")
    report_screenshot(work / "compare" / "report.html", IMAGES / "report.png")
    lab_screenshot(IMAGES / "lab.png")
    print(f"docs/images regenerated; the commands' output is in {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
