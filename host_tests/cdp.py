"""Drive Debian's headless chromium over the DevTools protocol on a pipe (no websocket, no npm).

Why: the live page must be checked as a browser runs it, in real time (it polls every 2 s),
which `--dump-dom` with virtual time cannot show. `--remote-debugging-pipe` makes chromium read
JSON commands on fd 3 and write answers and events on fd 4, each message ended by a NUL byte;
this is a minimal client for that: open a page with a phone-sized viewport, evaluate
JavaScript, take a screenshot. Chromium runs with a fresh profile and no network but 127.0.0.1
(the flags turn off its background traffic).
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-pipe",
)


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, width=390, height=844):
        path = chromium_path()
        if path is None:
            raise RuntimeError("chromium not installed: run `make test` (it installs it)")
        self.profile = tempfile.mkdtemp(prefix="hanport-chromium-")
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()

        def wire():  # in the child: our pipes become its fd 3 (commands) and fd 4 (answers)
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.proc = subprocess.Popen(
            [path, *FLAGS, "--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),
        )
        os.close(to_child)
        os.close(from_child)
        self._next = 0
        self._pending = b""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2,
            mobile=True,
        )

    def call(self, method, session=None, timeout=20, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError("{}: {}".format(method, answer["error"]))
                return answer.get("result", {})

    def send(self, method, **params):
        """A command to the page's session."""
        return self.call(method, session=self.session, **params)

    def _receive(self, deadline):
        while b"\0" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            data = os.read(self._in, 1 << 20)
            if not data:
                raise RuntimeError("chromium exited")
            self._pending += data
        message, _, self._pending = self._pending.partition(b"\0")
        return json.loads(message)

    def goto(self, url):
        self.send("Page.navigate", url=url)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError("page script failed: {}".format(result["exceptionDetails"]))
        return result["result"].get("value")

    def wait_for(self, expression, timeout=15):
        """Evaluate until the result is truthy; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("page never satisfied: " + expression)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._in)
        os.close(self._out)
        shutil.rmtree(self.profile, ignore_errors=True)
