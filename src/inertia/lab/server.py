"""The live lab's web app (Starlette, served by uvicorn on 127.0.0.1 unless told otherwise).

Routes: ``/`` the page; ``/static/plotly.min.js`` Plotly from the installed ``plotly`` package (nothing comes from
the network); ``/api/run?<settings>&client=<id>`` the comparison as server-sent events; ``/api/upload`` a CSV
(the request body) checked by :func:`inertia.data.load_table`; ``/api/export?<settings>`` the ``report.html``
``inertia compare`` would write for the same settings.

Each page (tab) sends its own ``client`` id: a new run from a client cancels that client's run in flight (it stops
after its current epoch), and a closed stream cancels its run. Runs of different tabs take turns on the CPU
kernel, one at a time, so tabs never mix results.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import uuid
from collections import OrderedDict
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inertia.lab.session import Cancelled, train
from inertia.lab.settings import LabSettings, SettingsError
from inertia.views.report import write_report

UPLOAD_LIMIT = 20 * 1024 * 1024  # bytes of CSV


class Lab:
    """The app's state: uploaded data sets, each client's run in flight, recent comparisons (for export)."""

    def __init__(self):
        self.uploads: OrderedDict[str, object] = OrderedDict()  # the 16 most recent
        self.running: dict[str, threading.Event] = {}
        self.finished: OrderedDict[str, object] = OrderedDict()
        self.turn = threading.Lock()  # one training at a time: the compiled kernel is not shared between threads
        self.lock = threading.Lock()

    def dataset(self, settings: LabSettings):
        from inertia import data

        if settings.dataset == "upload":
            if settings.upload not in self.uploads:
                raise SettingsError("the uploaded file is no longer on the server (it keeps them until it stops): "
                                    "upload it again")
            return self.uploads[settings.upload]
        return data.get(settings.dataset, seed=0)

    def start(self, client: str) -> threading.Event:
        cancelled = threading.Event()
        with self.lock:
            previous = self.running.get(client)
            if previous is not None:
                previous.set()
            self.running[client] = cancelled
        return cancelled

    def finish(self, client: str, cancelled: threading.Event) -> None:
        with self.lock:
            if self.running.get(client) is cancelled:
                del self.running[client]

    def add_upload(self, dataset) -> str:
        key = uuid.uuid4().hex[:12]
        with self.lock:
            self.uploads[key] = dataset
            while len(self.uploads) > 16:
                self.uploads.popitem(last=False)
        return key

    def keep(self, settings: LabSettings, comparison) -> None:
        with self.lock:
            self.finished[settings.to_query()] = comparison
            while len(self.finished) > 8:
                self.finished.popitem(last=False)


def create_app() -> Starlette:
    lab = Lab()
    page = resources.files("inertia.lab").joinpath("page.html").read_text()

    async def index(request: Request):
        return HTMLResponse(page)

    async def plotly_js(request: Request):
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    async def run(request: Request):
        query = dict(request.query_params)
        client = query.pop("client", "") or uuid.uuid4().hex
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        cancelled = lab.start(client)

        def emit(event: str, payload: dict) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (event, payload))

        def work():
            try:
                settings = LabSettings.from_query(query)
                dataset = lab.dataset(settings)
                with lab.turn:
                    if cancelled.is_set():
                        raise Cancelled
                    comparison = train(settings, dataset, emit, cancelled)
                lab.keep(settings, comparison)
            except Cancelled:
                emit("cancelled", {})
            except (ValueError, OSError) as exc:
                emit("error", {"message": str(exc)})
            except Exception as exc:  # the server keeps serving; the page says what happened
                emit("error", {"message": f"{type(exc).__name__}: {exc}"})
            finally:
                lab.finish(client, cancelled)
                emit("", {})

        threading.Thread(target=work, daemon=True, name=f"lab-{client[:8]}").start()

        async def stream():
            try:
                while True:
                    event, payload = await queue.get()
                    if not event:
                        return
                    yield f"event: {event}\ndata: {json.dumps(payload, allow_nan=False)}\n\n"
            finally:
                cancelled.set()  # the page went away or asked for something newer

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def upload(request: Request):
        from inertia import data

        body = await request.body()
        name = Path(request.headers.get("x-filename", "upload.csv")).name or "upload.csv"
        # A file the lab cannot use is an answer, not a failed request: {"error": ...} with status 200, so the page
        # shows it without the browser logging a failed load.
        if not body:
            return JSONResponse({"error": f"{name}: the file is empty"})
        if len(body) > UPLOAD_LIMIT:
            return JSONResponse({"error": f"{name}: the file is larger than {UPLOAD_LIMIT // 2**20} MiB"})
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (Path(name).stem + ".csv")
            path.write_bytes(body)
            try:
                dataset = data.load_table(path, label=request.query_params.get("label", "label"))
            except ValueError as exc:
                return JSONResponse({"error": str(exc).replace(str(path), name)})
        key = lab.add_upload(dataset)
        return JSONResponse({"id": key, "name": dataset.name, "samples": len(dataset), "features": dataset.features,
                             "classes": dataset.classes})

    async def export(request: Request):
        query = dict(request.query_params)
        query.pop("client", None)
        try:
            settings = LabSettings.from_query(query)
            comparison = lab.finished.get(settings.to_query())
            if comparison is None:
                dataset = lab.dataset(settings)

                def again():
                    with lab.turn:
                        return train(settings, dataset, lambda event, payload: None, threading.Event())

                comparison = await asyncio.to_thread(again)
                lab.keep(settings, comparison)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with tempfile.TemporaryDirectory() as folder:
            comparison.save(folder, plots=False)
            html = write_report(folder).read_text()
        return HTMLResponse(html, headers={"Content-Disposition": 'attachment; filename="report.html"'})

    return Starlette(routes=[
        Route("/", index), Route("/static/plotly.min.js", plotly_js), Route("/api/run", run),
        Route("/api/upload", upload, methods=["POST"]), Route("/api/export", export)])


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> None:
    """Run the lab until interrupted, opening it in the default browser once the server listens."""
    import socket
    import webbrowser

    import uvicorn

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port") from None
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    if open_browser:
        def opener():
            while not server.started:
                threading.Event().wait(0.05)
            webbrowser.open(url)

        threading.Thread(target=opener, daemon=True).start()
    print(f"inertia lab at {url} (Ctrl+C to stop)", flush=True)
    server.run()
