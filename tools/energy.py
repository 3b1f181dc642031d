#!/usr/bin/env python3
"""Hour-by-hour energy and the capacity figure of a recording, with the dongle's own module.

    tools/energy.py [--state FILE] [--config FILE] FRAMES

FRAMES has one frame per line: the arrival time in Unix seconds, a space, the whole HDLC frame
as hex (`tools/simulate.py --frames FILE` writes it; `-` reads stdin). `--config` is a JSON
file with the energy settings (the dongle's config file, whose "energy" object is used, or
that object alone). With `--state` the accounting starts from that state file and saves it at
the end, and appends the closed hours to FILE.hours (this month's and the last), so a recording
split in two runs gives what one run gives. Prints one JSON object:
{"hours": [...], "days": [...], "months": [...], "rejected": {"stale": n, "backwards": n}};
problems with the input go to stderr.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "firmware"))

import energy  # noqa: E402
import energystore  # noqa: E402
import hanport  # noqa: E402
import osloclock  # noqa: E402

UNIX_2000 = 946684800


def arrival(text):
    """(seconds since 2000, ms) of a Unix time given as decimal text, without float rounding."""
    whole, _, frac = text.partition(".")
    return int(whole) - UNIX_2000, int((frac + "000")[:3])


class Collector:
    """Closed periods and months as the module reports them; periods also to the hour log."""

    def __init__(self):
        self.hours = {}
        self.months = []
        self.log = None

    def period(self, p, wh, estimated):
        self.hours[p] = (tuple(wh), estimated)
        if self.log is not None:
            self.log.append(p, wh, estimated)

    def month(self, summary):
        self.months.append(summary)


def report(acc, col, period_s):
    if col.log is not None:  # the hours of earlier runs, this month and the last
        for p, wh, estimated in col.log.read():
            col.hours.setdefault(p, (wh, estimated))
    for p, wh, estimated in acc.hours():
        col.hours.setdefault(p, (wh, estimated))
    hours = [
        {
            "start": osloclock.iso(p * period_s),
            "import_kwh": wh[0] / 1000,
            "export_kwh": wh[1] / 1000,
            "estimated": estimated,
        }
        for p, (wh, estimated) in sorted(col.hours.items())
    ]
    months = list(col.months)
    if acc.capacity.month:
        months.append(acc.capacity.summary())
    days = []
    out_months = []
    for m in months:
        year, month = m["month"]
        first = osloclock.days_from_civil(year, month, 1)
        for mday, wh, p in m["days"]:
            days.append(
                {
                    "date": osloclock.date_iso(first + mday - 1),
                    "max_kwh": wh / 1000,
                    "max_start": osloclock.iso(p * period_s),
                }
            )
        out_months.append(
            {
                "month": "{:04d}-{:02d}".format(year, month),
                "method": m["method"],
                "capacity_kw": m["capacity_w"] / 1000,
                "step": list(m["step"]),
                "top": [
                    {"date": osloclock.date_iso(first + mday - 1), "kwh": wh / 1000}
                    for mday, wh, _ in m["top"]
                ],
            }
        )
    return {
        "hours": hours,
        "days": days,
        "months": out_months,
        "rejected": {"stale": acc.stale, "backwards": acc.backwards},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", metavar="FILE", help="load before and save after")
    parser.add_argument("--config", metavar="FILE", help="JSON energy settings")
    parser.add_argument("frames", metavar="FRAMES", help="'<unix seconds> <hex>' lines, - = stdin")
    args = parser.parse_args(argv)

    cfg = None
    try:
        if args.config:
            with open(args.config) as f:
                cfg = json.load(f)
            cfg = cfg.get("energy", cfg)
        col = Collector()
        acc = energy.Energy(cfg, on_period=col.period, on_month=col.month)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if args.state:
        problem = energystore.load(acc, args.state)
        if problem:
            print(problem, file=sys.stderr)
        saver = energystore.Saver(acc, args.state, args.state + ".hours")
        col.log = saver.log
    bad = 0
    stream = sys.stdin if args.frames == "-" else open(args.frames)  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                when, hex_text = line.split(None, 1)
                s2k, ms = arrival(when)
                reading = hanport.decode_frame(bytes.fromhex(hex_text.strip()))
            except ValueError as exc:
                bad += 1
                print("line {}: {}".format(number, exc), file=sys.stderr)
                continue
            acc.feed(reading, s2k, ms)
    if bad:
        print("{} line(s) skipped".format(bad), file=sys.stderr)
    if args.state:
        problem = saver.step(force=True)
        if problem:
            print(problem, file=sys.stderr)
    json.dump(report(acc, col, acc.period_s), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
