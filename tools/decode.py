#!/usr/bin/env python3
"""Decode HAN port captures on a PC with the dongle's own parser.

    tools/decode.py --hex FILE|-   one capture per line as hex (spaces allowed); one JSON line
                                   out per line in: {"readings": [...], "errors": [...]}
    tools/decode.py CAPTURE|-      raw bytes as read from the port; one JSON line per good
                                   frame, errors and a final stats summary on stderr

HDLC frames, M-Bus long frames and P1 telegrams are all read, from the same input. Ciphered
APDUs (general-glo-ciphering) need the meter's key: --key HEX (32 hex digits), and
--auth-key HEX to check their authentication tags.
"""

import argparse
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# The dongle's parser, and the host twin of its `cryptolib` (AES) for ciphered frames.
sys.path[:0] = [os.path.join(_HERE, "..", "firmware"), os.path.join(_HERE, "hosttwin")]

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


def decode_hex_line(line, keys=None):
    """One capture given as hex text to {"readings": [...], "errors": [...]}."""
    readings = []
    text = "".join(line.split())
    try:
        data = bytes.fromhex(text)
    except ValueError as err:
        return {"readings": [], "errors": ["not hex: %s" % err]}
    reader = hanport.Reader(readings.append, **(keys or {}))
    before = reader.stats.as_dict()
    reader.feed(data)
    reader.flush()
    errors = _new_errors(before, reader.stats.as_dict(), reader)
    if reader.push_pending:
        errors.append("a push of several frames is incomplete at the end of the input")
    elif reader.pending_bytes > 1 and not readings and not errors:
        errors.append("incomplete frame at end of input")
    if not data:
        errors.append("empty line")
    return {"readings": readings, "errors": errors}


def run_hex(stream, out, keys=None):
    for line in stream:
        line = line.rstrip("\r\n")
        out.write(json.dumps(decode_hex_line(line, keys)) + "\n")
        out.flush()


def run_raw(stream, out, err, keys=None):
    def emit(reading):
        out.write(json.dumps(reading) + "\n")
        out.flush()

    reader = hanport.Reader(emit, **(keys or {}))
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        before = reader.stats.as_dict()
        reader.feed(chunk)
        for message in _new_errors(before, reader.stats.as_dict(), reader):
            err.write("error: %s\n" % message)
    before = reader.stats.as_dict()
    reader.flush()
    for message in _new_errors(before, reader.stats.as_dict(), reader):
        err.write("error: %s\n" % message)
    err.write("stats: %s\n" % json.dumps(reader.stats.as_dict()))
    return reader.stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hex", action="store_true", help="input lines are hex captures")
    parser.add_argument("--key", help="AES-128 encryption key of a meter that ciphers (hex)")
    parser.add_argument("--auth-key", help="its authentication key (hex): tags are checked")
    parser.add_argument("input", help="file to read, or - for standard input")
    args = parser.parse_args(argv)
    keys = {}
    if args.key:
        keys["key"] = args.key
        keys["auth_key"] = args.auth_key
    elif args.auth_key:
        parser.error("--auth-key needs --key")
    try:
        if keys:
            hanport.Reader(lambda r: None, **keys)  # a bad key is a usage error, said once
    except ValueError as err:
        parser.error("bad key: %s" % err)
    try:
        if args.hex:
            stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
            with stream:
                run_hex(stream, sys.stdout, keys)
            return 0
        stream = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
        with stream:
            run_raw(stream, sys.stdout, sys.stderr, keys)
        return 0
    except OSError as err:
        sys.stderr.write("decode.py: %s\n" % err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
