"""`make demo`: a simulated meter and the dongle application on this PC, wired over TCP.

Why: the main job needs no hardware to show. This starts `tools/simulate.py --tcp 0` in a child
process, reads the port it prints, and runs the firmware with its UART twin reading that port:
in the real MicroPython interpreter whenever one is at hand (tools/run_mp.py: the 32-bit build,
else the PyPI one; with the real umqtt.simple when --mqtt is given), else, or with
`--runtime cpython`, in CPython (tools/run_host.py). The first line says which. With --mqtt it
publishes to that broker; without, MicroPython logs each reading and CPython prints each message
it would send.

The simulated meter's clock starts 20 s before the next hour (Norwegian time), so the hourly
list 3 comes at once and the energy mode shows its clock, this hour and, an hour later, the
first closed hour: in the energy message (`<prefix>/<meter_id>/energy`), `/api/v1/energy`,
the live page's energy section and a log line per closed hour.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run_mp  # noqa: E402


def choose_runtime(wanted, mqtt):
    """'micropython' or 'cpython' (None when MicroPython was asked for and is not at hand),
    after printing the first line: which interpreter and which umqtt.simple the firmware uses."""
    if wanted != "cpython":
        interp, why = run_mp.interpreter()
        umqtt = run_mp.UMQTT_DEFAULT if mqtt else None
        if interp is not None and umqtt and run_mp.umqtt_dir(umqtt) is None:
            interp, why = None, "no umqtt.simple at hand ({} is missing)".format(run_mp.SHARED)
        if interp is not None:
            print("demo: firmware in " + run_mp.describe(interp, umqtt, run_mp.HEAP_DEFAULT))
            return "micropython"
        if wanted == "micropython":
            print("demo: " + why, file=sys.stderr)
            return None
        print("demo: firmware in CPython with the host twins ({}); {}".format(
            "umqtt.simple twin" if mqtt else "messages printed", why), flush=True)
        return "cpython"
    print("demo: firmware in CPython with the host twins ({})".format(
        "umqtt.simple twin from tools/hosttwin" if mqtt else "messages printed"), flush=True)
    return "cpython"


def meter_start(now=None):
    """Norwegian wall time 20 s before the next hour, as the simulator's --start takes it."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "firmware"))
    import osloclock

    wall = osloclock.local(int(time.time() if now is None else now) - 946684800)
    wall += 3600 - wall % 3600 - 20
    year, month, day = osloclock.civil_from_days(wall // 86400)
    secs = wall % 86400
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(
        year, month, day, secs // 3600, secs // 60 % 60, secs % 60
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meter", default="aidon", choices=("aidon", "kaifa", "kamstrup"))
    parser.add_argument("--speed", type=float, default=1.0, help="time acceleration")
    parser.add_argument("--phases", type=int, default=3, choices=(1, 3))
    parser.add_argument("--mqtt", metavar="HOST:PORT")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--runtime", default="auto", choices=("auto", "micropython", "cpython"))
    parser.add_argument("--start", help="meter clock at start (default: 20 s before the hour)")
    args, rest = parser.parse_known_args(argv)
    runtime = choose_runtime(args.runtime, args.mqtt)
    if runtime is None:
        return 2
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
            "--start",
            args.start or meter_start(),
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
        if runtime == "cpython":
            import run_host

            return run_host.main(host_args)
        return run_mp.main(host_args)
    finally:
        sim.terminate()
        sim.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
