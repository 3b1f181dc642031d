"""The dongle's web side on real parts, for the HTTP tests: simulator -> TCP -> run_host, HTTP on
127.0.0.1, exactly as `make demo` runs them, plus small HTTP client helpers.

Why a module: test_web_api.py, test_web_page.py and test_portal.py all need a running dongle
with a known HTTP port, the simulator's log of what it sent, and raw-socket requests.
"""

import base64
import http.client
import json
import pathlib
import socket
import subprocess
import sys
import time

from simproc import start_simulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
PASSWORD = "demo-only"  # tools/run_host.py DEMO_PASSWORD
AUTH = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dongle:
    """A simulated meter and the application with HTTP; `stop()` ends both."""

    def __init__(
        self, tmp_path, meter="aidon", speed=5, extra=(), config=None, start="2024-03-01T12:59:59"
    ):
        self.log_path = tmp_path / "sim.jsonl"
        self.port = free_port()
        self.sim, where = start_simulator(meter, self.log_path, start, speed, "--seed", "7")
        args = [
            sys.executable,
            str(TOOLS / "run_host.py"),
            "--uart",
            "tcp://" + where,
            "--http-port",
            str(self.port),
            "--diagnostics",
            "0",
            "--log-level",
            "warning",
            *extra,
        ]
        if config is not None:
            args += ["--config", str(config)]
        self.out_path = tmp_path / "app.out"
        self._out = open(self.out_path, "w")  # noqa: SIM115 - closed in stop()
        self.app = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, text=True)
        self._wait_listening()

    def _wait_listening(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.app.poll() is not None:
                raise RuntimeError("run_host ended:\n" + self.out_path.read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("no HTTP server on port {}".format(self.port))

    def sent(self):
        """What the simulator encoded so far: one dict per frame (t, wall, list, values). A last
        line without its newline is still being written: it is left for the next call."""
        lines = self.log_path.read_text().split("\n")[:-1]
        return [json.loads(line) for line in lines if line]

    def get(self, path, headers=None, method="GET", body=None, timeout=10):
        """(status, headers dict with lower-case names, body bytes) over http.client."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, path, **kwargs):
        status, _, body = self.get(path, **kwargs)
        assert status == 200, (status, body)
        return json.loads(body)

    def raw(self, data, timeout=10, read=True):
        """Send raw bytes on a fresh connection; return everything the server sent back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            return read_all(s) if read else b""

    def frames_ok(self):
        return self.json("/api/v1/status")["counters"]["frames_ok"]

    def wait_for(self, predicate, timeout=15, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)

    def stop(self):
        for proc in (self.app, self.sim):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.sim.stdout.close()
        self._out.close()


def read_all(sock):
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def status_of(answer):
    """The status code of a raw HTTP answer (0 when there is none)."""
    first = answer.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else 0
