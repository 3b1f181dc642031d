#!/usr/bin/env python3
"""Decode HAN port captures on a PC with the dongle's own parser.

    tools/decode.py --hex FILE|-   one capture per line as hex (spaces allowed); one JSON line
                                   out per line in: {"readings": [...], "errors": [...]}
    tools/decode.py CAPTURE|-      raw bytes as read from the port; one JSON line per good
                                   frame, errors and a final stats summary on stderr
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "firmware"))

import hanport  # noqa: E402

_CHUNK = 4096
_ERROR_COUNTERS = ("hcs_errors", "fcs_errors", "oversized", "truncated", "bad_format")


def _new_errors(before, after, reader):
    """Messages for the counters that grew between two stats snapshots."""
    out = []
    for name in _ERROR_COUNTERS:
        grown = after[name] - before[name]
        if grown:
            out.append("%d frame(s) rejected: %s" % (grown, name.replace("_", " ")))
    grown = after["skipped_bytes"] - before["skipped_bytes"]
    if grown:
        out.append("%d byte(s) skipped outside frames" % grown)
    grown = after["undecodable"] - before["undecodable"]
    if grown:
        out.append("%d frame(s) undecodable: %s" % (grown, reader.last_error))
    grown = after["abandoned"] - before["abandoned"]
    if grown:
        out.append("%d push(es) of several frames given up: %s" % (grown, reader.last_abandoned))
    return out


def decode_hex_line(line):
    """One capture given as hex text to {"readings": [...], "errors": [...]}."""
    readings = []
    text = "".join(line.split())
    try:
        data = bytes.fromhex(text)
    except ValueError as err:
        return {"readings": [], "errors": ["not hex: %s" % err]}
    reader = hanport.Reader(readings.append)
    before = reader.stats.as_dict()
    reader.feed(data)
    errors = _new_errors(before, reader.stats.as_dict(), reader)
    if reader.push_pending:
        errors.append("a push of several frames is incomplete at the end of the input")
    elif reader.pending_bytes > 1 and not readings and not errors:
        errors.append("incomplete frame at end of input")
    if not data:
        errors.append("empty line")
    return {"readings": readings, "errors": errors}


def run_hex(stream, out):
    for line in stream:
        line = line.rstrip("\r\n")
        out.write(json.dumps(decode_hex_line(line)) + "\n")
        out.flush()


def run_raw(stream, out, err):
    def emit(reading):
        out.write(json.dumps(reading) + "\n")
        out.flush()

    reader = hanport.Reader(emit)
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        before = reader.stats.as_dict()
        reader.feed(chunk)
        for message in _new_errors(before, reader.stats.as_dict(), reader):
            err.write("error: %s\n" % message)
    err.write("stats: %s\n" % json.dumps(reader.stats.as_dict()))
    return reader.stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hex", action="store_true", help="input lines are hex captures")
    parser.add_argument("input", help="file to read, or - for standard input")
    args = parser.parse_args(argv)
    try:
        if args.hex:
            stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
            with stream:
                run_hex(stream, sys.stdout)
            return 0
        stream = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
        with stream:
            run_raw(stream, sys.stdout, sys.stderr)
        return 0
    except OSError as err:
        sys.stderr.write("decode.py: %s\n" % err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
