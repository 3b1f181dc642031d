"""Real mosquitto brokers and subscribers for the host tests.

Why: the MQTT code is tested against a real broker on 127.0.0.1, not a mock, so the tests see
real CONNACK codes, retained messages, last wills and dropped connections. This module starts
`mosquitto` on a free port with a generated config (optionally with a password file), stops it
reliably, can stop and restart it on the same port, and pause (SIGSTOP) and resume it, for fault
tests. `Subscriber` collects what a `mosquitto_sub` process receives, so the code under test is
checked by an independent client. Installing mosquitto is left to `make debs`
(tools/ensure_debs.sh).

Fixtures (imported by conftest.py):
  mqtt_broker            a running anonymous broker (`Broker`), stopped after the test
  mqtt_broker_factory    make_broker(users=None, allow_anonymous=None, extra_conf="") -> Broker
  mqtt_subscriber        subscribe(broker, *topics, user=None, password=None) -> Subscriber
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import namedtuple

import pytest

HOST = "127.0.0.1"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
MESSAGES_MAX = 10000  # bound on what one Subscriber keeps; older messages are dropped and counted

Message = namedtuple("Message", "topic payload qos retain")

_MSG_MARK = "MSG\t"
# One line per message: mark, retain flag, qos, topic, payload as hex (payloads may be binary).
_SUB_FORMAT = _MSG_MARK + "%r\t%q\t%t\t%x"


def find_tool(name):
    """Path of a mosquitto program, or None. The broker lives in /usr/sbin, off a user's PATH."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def require_tool(name):
    path = find_tool(name)
    if path is None:
        pytest.skip(f"{name} is not installed: run `make debs` (Debian package mosquitto)")
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Broker:
    """One mosquitto process on HOST:port, configured from files in `workdir`.

    The port stays the same across stop()/start(), so clients can reconnect after a restart.
    """

    def __init__(self, workdir, users=None, allow_anonymous=None, extra_conf=""):
        self.host = HOST
        self.port = free_port()
        self.users = dict(users or {})
        self.workdir = str(workdir)
        self.conf_path = os.path.join(self.workdir, "mosquitto.conf")
        self.log_path = os.path.join(self.workdir, "mosquitto.log")
        self.starts = 0
        self._proc = None
        os.makedirs(self.workdir, exist_ok=True)
        if allow_anonymous is None:
            allow_anonymous = not self.users
        self._write_conf(allow_anonymous, extra_conf)

    def _write_conf(self, allow_anonymous, extra_conf):
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous {}".format("true" if allow_anonymous else "false"),
            "persistence false",
            # Running as root, mosquitto would switch to user "mosquitto", who cannot read
            # files in a private pytest tmp dir; ignored when not root.
            "user root",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if self.users:
            passwd_path = os.path.join(self.workdir, "passwd")
            open(passwd_path, "w").close()
            tool = require_tool("mosquitto_passwd")
            for user, password in self.users.items():
                subprocess.run([tool, "-b", passwd_path, user, password], check=True)
            lines.append(f"password_file {passwd_path}")
        if extra_conf:
            lines.append(extra_conf)
        with open(self.conf_path, "w") as conf:
            conf.write("\n".join(lines) + "\n")

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def log(self):
        """Everything mosquitto logged so far (all runs), for assertion messages."""
        try:
            with open(self.log_path) as log:
                return log.read()
        except OSError:
            return ""

    def start(self):
        """Start mosquitto and return once it accepts TCP connections."""
        assert not self.running, "broker already running"
        with open(self.log_path, "a") as log:  # the child keeps its own copy of the fd
            self._proc = subprocess.Popen(
                [require_tool("mosquitto"), "-c", self.conf_path],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError("mosquitto exited at start:\n" + self.log)
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto did not listen in time:\n" + self.log) from None
                time.sleep(0.02)

    def stop(self, kill=False):
        """Stop mosquitto (SIGTERM, or SIGKILL with kill=True) and wait until it has exited."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            if kill:
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        self._proc = None

    def pause(self):
        """Freeze mosquitto (SIGSTOP): the kernel still accepts connections and buffers data,
        but nothing is read or answered, like a hung broker or a path that died silently."""
        assert self.running, "broker not running"
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self):
        """Let a paused mosquitto go on (SIGCONT)."""
        self._proc.send_signal(signal.SIGCONT)

    def restart(self):
        """Stop and start again on the same port; connected clients see their socket close."""
        self.stop()
        return self.start()

    def __repr__(self):
        return f"Broker({self.host}:{self.port}, running={self.running})"


class Subscriber:
    """A `mosquitto_sub` process that records the messages on `topics` as `Message` tuples.

    Started by the mqtt_subscriber fixture, which returns only once the broker has granted the
    subscription, so anything published afterwards is seen. mosquitto_sub reconnects and
    subscribes again by itself after a broker restart.
    """

    def __init__(self, broker, topics, user=None, password=None, qos=0):
        self.broker = broker
        self.topics = topics
        self.messages = []
        self.dropped = 0
        self._lines = []  # debug lines, kept only until subscribed
        self._subscribed = threading.Event()
        self._cond = threading.Condition()
        # mosquitto_sub block-buffers a pipe; stdbuf (coreutils) makes it flush every line.
        argv = [shutil.which("stdbuf") or "stdbuf", "-oL", require_tool("mosquitto_sub"), "-d"]
        argv += ["-h", broker.host, "-p", str(broker.port)]
        argv += ["-q", str(qos), "-F", _SUB_FORMAT]
        for topic in topics:
            argv += ["-t", topic]
        if user is not None:
            argv += ["-u", user, "-P", password or ""]
        self._proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            if line.startswith(_MSG_MARK):
                _, retain, qos, topic, payload_hex = line.split("\t", 4)
                msg = Message(topic, bytes.fromhex(payload_hex), int(qos), retain == "1")
                with self._cond:
                    if len(self.messages) >= MESSAGES_MAX:
                        del self.messages[0]
                        self.dropped += 1
                    self.messages.append(msg)
                    self._cond.notify_all()
            elif line.endswith(" received SUBACK"):
                self._subscribed.set()
            elif not self._subscribed.is_set():
                self._lines.append(line)
        with self._cond:
            self._cond.notify_all()

    def wait_subscribed(self, timeout=START_TIMEOUT_S):
        if not self._subscribed.wait(timeout):
            self.close()
            raise RuntimeError("mosquitto_sub did not subscribe:\n" + "\n".join(self._lines))
        return self

    def wait_for(self, count=1, timeout=5.0, topic=None):
        """Wait until `count` messages (on `topic` if given) arrived; return them all.

        Returns early with fewer messages when the timeout expires, so tests assert on the result.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for m in self.messages if topic is None or m.topic == topic]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0 or self._proc.poll() is not None:
                    return got
                self._cond.wait(left)

    def close(self):
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT_S)
        self._reader.join(STOP_TIMEOUT_S)
        self._proc.stdout.close()


@pytest.fixture
def mqtt_broker_factory(tmp_path):
    """make_broker(users=None, allow_anonymous=None, extra_conf="") -> a started `Broker`.

    users maps user name to password; with users, anonymous clients are refused unless
    allow_anonymous=True. Every broker made is stopped after the test.
    """
    require_tool("mosquitto")
    made = []

    def make_broker(users=None, allow_anonymous=None, extra_conf=""):
        broker = Broker(tmp_path / f"broker{len(made)}", users, allow_anonymous, extra_conf)
        made.append(broker)
        return broker.start()

    yield make_broker
    for broker in made:
        broker.stop()


@pytest.fixture
def mqtt_broker(mqtt_broker_factory):
    """A running anonymous mosquitto on 127.0.0.1:<free port>: use .host, .port, .restart()."""
    return mqtt_broker_factory()


@pytest.fixture
def mqtt_subscriber():
    """subscribe(broker, *topics, user=None, password=None, qos=0) -> a subscribed `Subscriber`.

    Use .wait_for(count, timeout, topic=None) -> [Message(topic, payload, qos, retain)].
    """
    require_tool("mosquitto_sub")
    made = []

    def subscribe(broker, *topics, user=None, password=None, qos=0):
        sub = Subscriber(broker, topics or ("#",), user, password, qos)
        made.append(sub)
        return sub.wait_subscribed()

    yield subscribe
    for sub in made:
        sub.close()
