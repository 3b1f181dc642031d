"""The meter simulator as a child process serving its byte stream on a local TCP port.

End-to-end tests run it exactly as `make demo` does; each logs what it sent to compare with
what arrives.
"""

import pathlib
import subprocess
import sys

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


def start_simulator(meter, log_path, start, speed, *extra):
    """Start tools/simulate.py; returns (process, "127.0.0.1:PORT"). It waits for a client."""
    sim = subprocess.Popen(
        [
            sys.executable,
            str(TOOLS / "simulate.py"),
            "--meter",
            meter,
            "--tcp",
            "0",
            "--wait-client",
            "--start",
            start,
            "--speed",
            str(speed),
            "--log",
            str(log_path),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    return sim, sim.stdout.readline().split()[1]
