"""The live lab's latency at the lab's defaults (5 momenta × 5 seeds × 100 epochs on the spiral = 2,500
model-epochs): from a changed control to the first redraw of the curves, and to the finished comparison.

Two measurements, each over ``--changes`` changes of the momentum slider (after one warm-up load):

* in headless Chromium (Debian's ``chromium`` driven by Playwright): the page's own clock, from the moment it
  sends the request for the change to the first drawn curves and to the last event drawn (the page's debounce
  of the slider, 120 ms, comes before that and is not counted);
* on the wire (no browser): from sending the request to the first ``epoch`` event and to ``done``.

    python benchmarks/lab.py [--json] [--changes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

TOKEN = [""]  # the page's token, which every API request carries


def serve():
    import uvicorn

    from inertia.lab.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    TOKEN[0] = app.token
    return f"http://127.0.0.1:{port}", server


def wire(base: str, momentum: float) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    url = f"{base}/api/run?momenta=0,0.1,0.2,0.4,{momentum}&client=bench&token={TOKEN[0]}"
    with urllib.request.urlopen(url) as response:
        for raw in response:
            line = raw.decode()
            if line.startswith("event: epoch") and first is None:
                first = time.perf_counter() - started
            if line.startswith("event: done"):
                return first, time.perf_counter() - started
    raise RuntimeError("the run did not finish")


def browser(base: str, changes: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = launched.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base + "/")
        page.wait_for_function("window.labTimings.length >= 1", timeout=60_000)
        for i in range(changes):
            page.fill("#beta", f"{0.6 + 0.03 * i:.2f}")
            page.dispatch_event("#beta", "input")
            page.wait_for_function(f"window.labTimings.length >= {i + 2}", timeout=60_000)
        timings = page.evaluate("window.labTimings.slice(1)")
        launched.close()
    return timings


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "max": max(values), "values": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    base, server = serve()
    wire(base, 0.5)  # warm-up: imports, the first kernel call
    on_wire = [wire(base, 0.6 + 0.03 * i) for i in range(args.changes)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable as a script
    from benchmarks.common import cpu_model

    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "model_epochs": 2500,
              "wire": {"first_epoch_s": summary([f for f, _ in on_wire]), "done_s": summary([d for _, d in on_wire])}}
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        timings = browser(base, args.changes)
        result["browser"] = {"first_redraw_s": summary([t["firstRedraw"] / 1000 for t in timings]),
                             "finished_s": summary([t["finished"] / 1000 for t in timings])}
    else:
        result["browser"] = "skipped: no chromium"
    server.should_exit = True
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"on the wire: first epoch {result['wire']['first_epoch_s']['median']:.3f} s, "
          f"done {result['wire']['done_s']['median']:.3f} s (medians of {args.changes})")
    if isinstance(result["browser"], dict):
        print(f"in Chromium: first redraw {result['browser']['first_redraw_s']['median']:.3f} s, "
              f"finished {result['browser']['finished_s']['median']:.3f} s")


if __name__ == "__main__":
    main()
