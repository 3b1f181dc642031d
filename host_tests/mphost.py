"""The dongle in the real MicroPython interpreter, for the end-to-end tests: simulator -> TCP ->
main.py in `micropython -X heapsize=N` (staged by tools/run_mp.py, as `make deploy` lays out the
board's filesystem) -> real umqtt.simple -> mosquitto, and HTTP on 127.0.0.1.

Why a module: the MicroPython end-to-end, page and soak tests all need the same launcher, the
simulator's log, HTTP helpers (inherited from webhost.Dongle) and a clear skip when there is no
interpreter or no umqtt.simple at hand.
"""

import os
import subprocess
import threading
import time

import config
import pytest
import run_mp
from simproc import start_simulator
from webhost import PASSWORD, Dongle, free_port

_interp = []
RESET_EXIT = 86  # tools/hosttwin/machine.py: machine.reset() ends the process with this


def interpreter():
    """The MicroPython to test in (built once per session), or skip saying why there is none."""
    if not _interp:
        _interp.append(run_mp.interpreter(build=True))
    interp, why = _interp[0]
    if interp is None:
        pytest.skip(why)
    return interp


def need_umqtt(version):
    if run_mp.umqtt_dir(version) is None:
        pytest.skip(
            "umqtt.simple {} is not at hand ({} is missing)".format(version, run_mp.SHARED)
        )
    return version


def device_config(broker=None, http=True, client_id="mp-e2e", diagnostics_s=1, energy=True):
    cfg = config.defaults()
    cfg["energy"]["enabled"] = energy  # off on a new dongle; the e2e tests cover it too
    cfg["wifi"]["ssid"] = "host-twin"
    cfg["log"]["level"] = "info"
    cfg["health"]["safe_window_s"] = 0  # no 3 s wait for the setup button at every start
    cfg["publish"]["diagnostics_s"] = diagnostics_s
    cfg["mqtt"]["client_id"] = client_id
    cfg["energy"]["ntp_host"] = ""  # no NTP query leaves the machine; tests give 127.0.0.1
    if broker is not None:
        cfg["mqtt"]["host"] = broker.host
        cfg["mqtt"]["port"] = broker.port
    cfg["http"]["enabled"] = http
    cfg["http"]["password"] = PASSWORD
    cfg["http"]["port"] = free_port()
    return cfg


class MpDongle(Dongle):
    """A simulated meter and the firmware in MicroPython; `stop()` ends both.

    `link_down()`/`link_up()` take the twin WLAN's network away and back from outside.
    `uart_scheme` "line:tcp://" with the simulator's --baud/--parity/--invert: the twin UART
    samples the serial line at its own settings (tools/hosttwin/uartline.py).
    """

    def __init__(
        self,
        tmp_path,
        cfg,
        meter="aidon",
        speed=5,
        start="2024-03-01T12:59:59",
        umqtt=None,
        heap=run_mp.HEAP_DEFAULT,
        sim_args=(),
        uart_scheme="tcp://",
        reboot=False,
        stage_dir=None,
        files=None,
    ):
        interp = interpreter()
        self.interp = interp
        self.cfg = cfg
        self.log_path = tmp_path / "sim.jsonl"
        self.port = cfg["http"]["port"]
        self.down_file = str(tmp_path / "wlan-down")
        stage = stage_dir or run_mp.stage(str(tmp_path / "fs"), cfg)
        self.stage = stage
        for name, data in (files or {}).items():  # what an earlier run left on flash
            with open(os.path.join(stage, name), "wb") as f:
                f.write(data)
        self.sim, where = start_simulator(
            meter, self.log_path, start, speed, "--seed", "7", *sim_args
        )
        env = run_mp.environment(stage, umqtt, uart_scheme + where, self.down_file, interp)
        self.out_path = tmp_path / "mp.out"
        self._out = open(self.out_path, "w")  # noqa: SIM115 - closed in stop()
        self._run = (run_mp.command(interp, heap), stage, env)
        self.starts = 0
        self.app = self._start()
        self._stopping = False
        self._thread = None
        if reboot:  # machine.reset() (exit status 86) starts it again, as the board restarts
            self._thread = threading.Thread(target=self._rebooter, daemon=True)
            self._thread.start()
        if cfg["http"]["enabled"]:
            try:
                self._wait_listening(timeout=30)
            except RuntimeError as exc:
                self.stop()
                raise RuntimeError("{}; MicroPython said:\n{}".format(exc, self.output[-3000:]))

    def _start(self):
        cmd, stage, env = self._run
        self.starts += 1
        return subprocess.Popen(
            cmd, cwd=stage, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def _rebooter(self):
        while not self._stopping:
            code = self.app.wait()
            if self._stopping or code != RESET_EXIT:
                return
            self.app = self._start()

    def stop(self):
        self._stopping = True
        super().stop()
        if self._thread is not None:
            self._thread.join(30)
            if self.app.poll() is None:  # started just before the stop
                self.app.kill()
                self.app.wait()

    @property
    def output(self):
        return self.out_path.read_text(errors="replace")

    def link_down(self):
        open(self.down_file, "w").close()

    def link_up(self):
        os.remove(self.down_file)

    def wait_output(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            assert self.app.poll() is None, "MicroPython ended:\n" + self.output
            time.sleep(0.1)
        raise AssertionError("no {!r} in the output:\n{}".format(text, self.output))

    def assert_clean(self):
        out = self.output
        assert "MemoryError" not in out, out
        assert "Traceback" not in out, out
        assert self.app.poll() is None, "MicroPython ended:\n" + out
