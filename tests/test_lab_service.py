"""The live lab as a local service that a careless request or another web page cannot harm: a live server in a
process of its own, its data memory capped (RLIMIT_DATA), answers every hostile request below with a message,
keeps its memory, stops on Ctrl-C within about a second and frees its port at once."""

import json
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from lab_stream import read_events

MEMORY_CAP = 1536 << 20  # bytes of data memory the server may use: a model of 40,000 × 40,000 weights is 6.4 GB


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``inertia lab`` in a subprocess, with its page's token."""

    def __init__(self, port: int):
        self.port, self.base = port, f"http://127.0.0.1:{port}"

        def cap():
            resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_CAP, MEMORY_CAP))

        self.process = subprocess.Popen([sys.executable, "-m", "inertia", "lab", "--port", str(port), "--no-browser"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=cap)
        for _ in range(300):
            try:
                page = urllib.request.urlopen(f"{self.base}/", timeout=2).read().decode()
                break
            except OSError:
                assert self.process.poll() is None, self.process.communicate()
                time.sleep(0.1)
        self.token = re.search(r'name="inertia-token" content="([^"]+)"', page).group(1)

    def memory(self) -> dict[str, int]:
        """The server's resident memory now and at its peak, in MB."""
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        status = dict(line.split(":", 1) for line in lines)
        return {key: int(status[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM")}

    def events(self, query: str, timeout: float = 60) -> list[tuple[str, dict]]:
        return read_events(f"{self.base}/api/run?{query}&token={self.token}", timeout)

    def request(self, path: str, *, body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(f"{self.base}{path}", data=body, headers=headers or {},
                                         method="POST" if body is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stream(self, path: str, headers: dict, chunks, chunked: bool) -> dict:
        """POST ``chunks`` one after another (chunked transfer, or under a declared length); the server's JSON
        answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as connection:
            head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items())
            connection.sendall((head + ("Transfer-Encoding: chunked\r\n\r\n" if chunked else "\r\n")).encode())
            for chunk in chunks:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            if chunked:
                connection.sendall(b"0\r\n\r\n")
            answer = b""
            while not _complete(answer):
                part = connection.recv(65536)
                if not part:
                    break
                answer += part
        return json.loads(answer.split(b"\r\n\r\n", 1)[1])

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _complete(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole HTTP response (its headers and the body they declare)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    return bool(_) and length is not None and len(body) >= int(length.group(1))


@pytest.fixture(scope="module")
def server():
    lab = Server(free_port())
    assert lab.events("epochs=1&seeds=1")[-1][0] == "done"  # its libraries loaded: memory is measured from here
    yield lab
    lab.stop()


@pytest.mark.slow
def test_oversized_networks_are_refused_before_anything_is_built(server):
    before = server.memory()["VmHWM"]
    for layers, words in (("2,40000,40000,3", "layers of at most 4,096 units"),
                          ("2,300000,3", "layers of at most 4,096 units"),
                          ("2,4000,4000,3", "16,028,003 weights; the lab trains networks of at most 100,000")):
        started = time.perf_counter()
        got = server.events(f"layers={layers}&epochs=1&seeds=1&momenta=0")
        assert got[-1][0] == "error" and words in got[-1][1]["message"], got
        assert time.perf_counter() - started < 5
    assert server.memory()["VmHWM"] - before < 50
    assert server.events("epochs=2&seeds=2")[-1][0] == "done"


@pytest.mark.slow
def test_uploads_are_bounded_while_they_arrive_and_parsed_off_the_event_loop(server):
    headers = {"X-Filename": "big.csv", "X-Inertia-Token": server.token, "Content-Type": "text/csv"}
    before = server.memory()["VmHWM"]
    megabyte = b"1,2,0\n" * ((1 << 20) // 6)
    declared = server.stream("/api/upload", {**headers, "Content-Length": str(64 * len(megabyte))},
                             (megabyte for _ in range(64)), chunked=False)
    assert "larger than 20 MiB" in declared["error"]
    undeclared = server.stream("/api/upload", headers, (megabyte for _ in range(256)), chunked=True)
    assert "larger than 20 MiB" in undeclared["error"]
    assert server.memory()["VmHWM"] - before < 120  # the limit's 20 MB kept, not the 256 MB sent
    wide = (",".join(f"c{i}" for i in range(1_000_000)) + ",label\n").encode() + b"0," * 1_000_000 + b"1\n"
    answers = {}
    sender = threading.Thread(target=lambda: answers.update(wide=server.request("/api/upload", body=wide,
                                                                                  headers=headers)))
    sender.start()
    started = time.perf_counter()
    assert server.request("/")[0] == 200 and time.perf_counter() - started < 2  # the page answers meanwhile
    sender.join(60)
    assert b"1,000,001 columns; the lab takes at most 2,049" in answers["wide"][1]


@pytest.mark.slow
def test_a_large_upload_trains_and_the_page_gets_a_bounded_sample_of_it(server):
    rng = np.random.default_rng(0)
    rows = "".join(f"{a:.3f},{b:.3f},{int(a > b)}\n" for a, b in rng.standard_normal((200_000, 2)))
    status, body = server.request("/api/upload", body=("x1,x2,label\n" + rows).encode(),
                                  headers={"X-Filename": "many.csv", "X-Inertia-Token": server.token})
    answer = json.loads(body)
    assert status == 200 and answer["samples"] == 200_000, answer
    done = server.events(f"dataset=upload&upload={answer['id']}&epochs=1&seeds=1&momenta=0,0.5")[-1]
    assert done[0] == "done" and done[1]["regions"]["class_count"] == 2
    assert 1_000 < len(done[1]["regions"]["points"]["label"]) <= 3_000


@pytest.mark.slow
def test_other_hosts_and_other_origins_are_refused(server):
    evil = {"Host": "evil.example"}
    for path in ("/", f"/api/run?epochs=1&token={server.token}"):
        status, body = server.request(path, headers=evil)
        assert status == 403 and "this lab answers requests for" in json.loads(body)["error"]
    assert server.request("/", headers={"Host": f"localhost:{server.port}"})[0] == 200
    csv = b"x1,x2,label\n1,2,0\n3,4,1\n"
    status, body = server.request("/api/upload", body=csv, headers={"X-Filename": "a.csv"})  # no token: no-cors
    assert status == 403 and "did not come from the lab's page" in json.loads(body)["error"]
    status, body = server.request("/api/upload", body=csv, headers={"X-Filename": "a.csv", "Origin": "http://evil.example",
                                                                    "X-Inertia-Token": server.token})
    assert status == 403 and "requests from http://evil.example are not accepted" in json.loads(body)["error"]
    status, _ = server.request("/api/upload", body=csv, headers={"X-Filename": "a.csv", "X-Inertia-Token": server.token,
                                                                 "Origin": server.base})
    assert status == 200


@pytest.mark.slow
def test_abandoned_work_stops_and_the_next_change_does_not_wait(server):
    def leave_after(seconds):
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(f"GET /api/export?epochs=2000&seeds=5&token={server.token} HTTP/1.1\r\n"
                               f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode())
            time.sleep(seconds)

    leaving = [threading.Thread(target=leave_after, args=(1.0,)) for _ in range(3)]
    for thread in leaving:
        thread.start()
    for thread in leaving:
        thread.join()
    started = time.perf_counter()
    assert server.events("epochs=2&seeds=2")[-1][0] == "done"
    assert time.perf_counter() - started < 10  # it waited 40 s behind the abandoned exports


@pytest.mark.slow
def test_ctrl_c_stops_the_lab_within_a_second_and_frees_its_port():
    port = free_port()
    lab = Server(port)
    try:
        threading.Thread(target=lambda: lab.events("epochs=2000&seeds=5", timeout=120), daemon=True).start()
        time.sleep(2)
        stopped = time.perf_counter()
        lab.process.send_signal(signal.SIGINT)
        lab.process.wait(10)
        assert time.perf_counter() - stopped < 3
    finally:
        lab.stop()
    again = Server(port)  # at once: the old socket's TIME_WAIT does not block it
    try:
        assert again.events("epochs=2&seeds=2")[-1][0] == "done"
    finally:
        again.stop()
