"""`make demo`: a simulated meter and the dongle application on this PC, wired over TCP.

Why: the main job needs no hardware to show. This starts `tools/simulate.py --tcp 0` in a child
process, reads the port it prints, and runs the firmware (tools/run_host.py) with its UART twin
reading that port. With --mqtt it publishes to that broker; without, it prints each message.
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run_host  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meter", default="aidon", choices=("aidon", "kaifa", "kamstrup"))
    parser.add_argument("--speed", type=float, default=1.0, help="time acceleration")
    parser.add_argument("--phases", type=int, default=3, choices=(1, 3))
    parser.add_argument("--mqtt", metavar="HOST:PORT")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args, rest = parser.parse_known_args(argv)
    sim = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "simulate.py"),
            "--meter",
            args.meter,
            "--speed",
            str(args.speed),
            "--phases",
            str(args.phases),
            "--tcp",
            "0",
            "--wait-client",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = sim.stdout.readline().split()
        if len(line) != 2 or line[0] != "tcp":
            print("demo: the simulator did not start", file=sys.stderr)
            return 1
        print(
            "demo: {} meter at {}x speed on tcp://{}; Ctrl-C stops".format(
                args.meter, args.speed, line[1]
            ),
            flush=True,
        )
        host_args = ["--uart", "tcp://" + line[1]] + rest
        if args.mqtt:
            host_args += ["--mqtt", args.mqtt]
        if args.duration:
            host_args += ["--duration", str(args.duration)]
        return run_host.main(host_args)
    finally:
        sim.terminate()
        sim.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
