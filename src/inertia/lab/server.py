"""The live lab's web app (Starlette, served by uvicorn on 127.0.0.1 unless told otherwise).

Routes: ``/`` the page; ``/static/plotly.min.js`` Plotly from the installed ``plotly`` package (nothing comes from
the network); ``/api/run?<settings>&client=<id>`` the comparison as server-sent events; ``/api/upload`` a CSV
(the request body) checked by :func:`inertia.data.load_table`; ``/api/export?<settings>`` the ``report.html``
``inertia compare`` would write for the same settings; ``/api/functions?name=&beta=&lr=&noise=`` a test function's
contour and paths at that β; ``/api/landscape?<settings>&beta=`` the comparison's loss surface with its first
seed's runs and the run at that β on the same plane (:mod:`~inertia.lab.landscape_view`).

Each page (tab) sends its own ``client`` id: a new run from a client cancels that client's run in flight (it stops
after its current epoch), and a closed stream or a download whose client left cancels its run. Runs take turns on
the CPU kernel, one at a time, so tabs never mix results. A request is bounded before anything is allocated (the
network's size and the work, by :class:`~inertia.lab.settings.LabSettings`; an upload's bytes while they arrive
and its columns before it is parsed), parsing and training run off the event loop, and :class:`~inertia.lab.
guard.Guard` refuses other hosts, other origins and requests without the page's token. Ctrl-C stops the server
within about a second, and the port is free again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from inertia.lab.guard import LOOPBACK, Guard
from inertia.lab.session import Cancelled, train
from inertia.lab.settings import LabSettings, SettingsError
from inertia.views.page import TIDY
from inertia.views.report import write_report

UPLOAD_LIMIT = 20 * 1024 * 1024  # bytes of CSV
DRAIN_LIMIT = 4 << 30  # bytes of a too-large upload read (and dropped) before the connection is closed on it
UPLOAD_COLUMNS = 2_049  # columns of an uploaded CSV, label included: more is refused before parsing


class Lab:
    """The app's state: uploaded data sets, each client's run in flight, recent comparisons (for export)."""

    def __init__(self):
        self.uploads: OrderedDict[str, object] = OrderedDict()  # the 16 most recent
        self.running: dict[str, threading.Event] = {}
        self.finished: OrderedDict[str, object] = OrderedDict()
        self.landscapes: OrderedDict[str, object] = OrderedDict()  # the 4 most recent comparisons' surfaces
        self.turn = threading.Lock()  # one training at a time: the compiled kernel is not shared between threads
        self.lock = threading.Lock()
        self.working: set[threading.Event] = set()  # every run's cancellation, so that shutting down stops them

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

    def train(self, settings: LabSettings, dataset, emit, cancelled: threading.Event):
        """One comparison on the kernel, in turn with the others; ``cancelled`` stops it after its epoch."""
        self.working.add(cancelled)
        try:
            with self.turn:
                if cancelled.is_set():
                    raise Cancelled
                return train(settings, dataset, emit, cancelled)
        finally:
            self.working.discard(cancelled)

    def landscape(self, settings: LabSettings, beta: float) -> dict:
        """The comparison of ``settings`` (trained now unless it just was) drawn on its loss surface, with the
        first seed's run at ``beta`` on the same plane; the surface is kept for the next β."""
        from inertia.lab.landscape_view import GRID, comparison_view
        from inertia.studies.run_landscape import comparison_landscape

        key, dataset = settings.to_query(), self.dataset(settings)
        with self.lock:
            comparison, study = self.finished.get(key), self.landscapes.get(key)
        if comparison is None:
            comparison = self.train(settings, dataset, lambda event, payload: None, threading.Event())
            self.keep(settings, comparison)
        with self.turn:
            summary = comparison.summary()
            if study is None:
                study = comparison_landscape(summary, comparison.curves(), grid=GRID, dataset=dataset)
                with self.lock:
                    self.landscapes[key] = study
                    while len(self.landscapes) > 4:
                        self.landscapes.popitem(last=False)
            return comparison_view(study, summary, beta, dataset)

    def stop_all(self) -> None:
        for cancelled in list(self.working):
            cancelled.set()


def create_app(host: str = "127.0.0.1", token: str | None = None) -> Guard:
    """The lab's app behind its :class:`~inertia.lab.guard.Guard`: it answers for ``host`` (and the loopback
    names when ``host`` is one of them; any name when it is 0.0.0.0 or ::). ``.token`` is the page's token."""
    lab = Lab()
    guard_hosts = None if host in ("0.0.0.0", "::") else (*LOOPBACK, host) if host in LOOPBACK else (host,)
    guard = Guard(None, guard_hosts, token)
    page = (resources.files("inertia.lab").joinpath("page.html").read_text()
            .replace("{{token}}", guard.token).replace("/*{{tidy}}*/", TIDY))

    async def index(request: Request):
        return HTMLResponse(page)

    async def plotly_js(request: Request):
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    async def run(request: Request):
        query = _settings_query(request)
        client = query.pop("client", "") or uuid.uuid4().hex
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        cancelled = lab.start(client)

        def emit(event: str, payload: dict) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (event, payload))

        def work():
            try:
                settings = LabSettings.from_query(query)
                comparison = lab.train(settings, lab.dataset(settings), emit, cancelled)
                lab.keep(settings, comparison)
            except Cancelled:
                emit("cancelled", {})
            except (ValueError, OSError, MemoryError) as exc:
                emit("error", {"message": str(exc) or type(exc).__name__})
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
        # A file the lab cannot use is an answer, not a failed request: {"error": ...} with status 200, so the page
        # shows it without the browser logging a failed load.
        name = Path(request.headers.get("x-filename", "upload.csv")).name or "upload.csv"
        body, received = bytearray(), 0
        async for chunk in request.stream():  # the limit holds while the bytes arrive, whatever was declared
            received += len(chunk)
            if received <= UPLOAD_LIMIT:
                body += chunk
            elif received > DRAIN_LIMIT:
                break
        if received > UPLOAD_LIMIT:  # the rest was read and dropped, so that the sender hears this answer
            return JSONResponse({"error": f"{name}: the file is larger than {UPLOAD_LIMIT // 2**20} MiB"},
                                headers={"Connection": "close"})
        if not body:
            return JSONResponse({"error": f"{name}: the file is empty"})
        columns = bytes(body[: body.find(b"\n") if b"\n" in body else len(body)]).count(b",") + 1
        if columns > UPLOAD_COLUMNS:
            return JSONResponse({"error": f"{name}: {columns:,} columns; the lab takes at most {UPLOAD_COLUMNS:,} "
                                          "(features and the label)"})
        try:
            dataset = await _in_thread(_load, bytes(body), name, request.query_params.get("label", "label"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)})
        key = lab.add_upload(dataset)
        return JSONResponse({"id": key, "name": dataset.name, "samples": len(dataset), "features": dataset.features,
                             "classes": dataset.classes})

    async def export(request: Request):
        query = _settings_query(request)
        query.pop("client", None)
        try:
            settings = LabSettings.from_query(query)
            comparison = lab.finished.get(settings.to_query())
            if comparison is None:
                dataset = lab.dataset(settings)
                cancelled = threading.Event()
                work = asyncio.ensure_future(_in_thread(lab.train, settings, dataset, lambda e, p: None, cancelled))
                while not work.done():  # a client that leaves takes its training with it
                    if await request.is_disconnected():
                        cancelled.set()
                        return Response(status_code=499)
                    await asyncio.wait([work], timeout=0.25)
                comparison = work.result()
                lab.keep(settings, comparison)
            html = await _in_thread(_report, comparison)
        except Cancelled:
            return Response(status_code=499)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return HTMLResponse(html, headers={"Content-Disposition": 'attachment; filename="report.html"'})

    async def functions(request: Request):
        from inertia.lab.landscape_view import function_view

        query = request.query_params
        try:
            view = await _in_thread(function_view, query.get("name", "rosenbrock"), _number(query, "beta", 0.9),
                                    _number(query, "lr", None), _number(query, "noise", 0.0))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)})
        return JSONResponse(view)

    async def landscape(request: Request):
        query = _settings_query(request)
        query.pop("client", None)
        try:
            beta = _number(query, "beta", 0.9)
            query.pop("beta", None)
            settings = LabSettings.from_query(query)
            view = await _in_thread(lab.landscape, settings, beta)
        except (ValueError, Cancelled) as exc:
            return JSONResponse({"error": str(exc) or "cancelled"})
        return JSONResponse(view)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        lab.stop_all()

    guard.app = Starlette(routes=[
        Route("/", index), Route("/static/plotly.min.js", plotly_js), Route("/api/run", run),
        Route("/api/upload", upload, methods=["POST"]), Route("/api/export", export),
        Route("/api/functions", functions), Route("/api/landscape", landscape)], lifespan=lifespan)
    return guard


def _number(query, name: str, default: float | None) -> float | None:
    """The query's number ``name`` (``default`` when absent or empty); a ValueError naming it otherwise."""
    text = str(query.get(name, "")).strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be a number; got {text!r}") from None


def _settings_query(request: Request) -> dict:
    query = dict(request.query_params)
    query.pop("token", None)
    return query


async def _in_thread(function, *args):
    """``function(*args)`` in a daemon thread of its own (the event loop keeps serving, and a process that is
    stopping does not wait for it, as it would for asyncio's pool)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def work():
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting request
            loop.call_soon_threadsafe(lambda error=exc: future.done() or future.set_exception(error))
        else:
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

    threading.Thread(target=work, daemon=True).start()
    return await future


def _load(body: bytes, name: str, label: str):
    from inertia import data

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).stem + ".csv")
        path.write_bytes(body)
        try:
            return data.load_table(path, label=label)
        except ValueError as exc:
            raise ValueError(str(exc).replace(str(path), name)) from None


def _report(comparison) -> str:
    with tempfile.TemporaryDirectory() as folder:
        comparison.save(folder, plots=False)
        return write_report(folder).read_text()


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> None:
    """Run the lab until interrupted, opening it in the default browser once the server listens."""
    import socket
    import webbrowser

    import uvicorn

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a port in TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port") from None
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    config = uvicorn.Config(create_app(host), host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    if open_browser:
        def opener():
            while not server.started:
                threading.Event().wait(0.05)
            webbrowser.open(url)

        threading.Thread(target=opener, daemon=True).start()
    print(f"inertia lab at {url} (Ctrl+C to stop)", flush=True)
    server.run()
