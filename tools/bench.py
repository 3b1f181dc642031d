"""Speed and memory figures of the hanport parser, for `make bench` (printed, never asserted).

Why: the dongle has a slow CPU and about 100 KB of heap, so we want to see what a change costs.
One run measures, on the same real Norwegian frames from the shared corpus:
  1. frames/s of our Reader under CPython, and of amshan (the established Python parser:
     HdlcFrameReader + AutoDecoder) under CPython, and their ratio;
  2. frames/s and bytes/s of our Reader in the MicroPython WebAssembly VM (tools/mpvm.mjs);
  3. per meter and list, the bytes one frame allocates in the VM (gc.mem_alloc deltas), and
     the heap in use after 10 and after many frames.
The VM is not an ESP32: its figures compare changes, they do not predict the device.

Usage: python tools/bench.py [--seconds S] [--leak-frames N] [--json]
"""

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "firmware"))

import hanport  # noqa: E402

CORPUS_DIR = Path(os.environ.get("HAN_CORPUS", ROOT.parent / "shared" / "han-corpus"))
VENDORS = ("aidon", "kaifa", "kamstrup")
PROBE = ROOT / "tools" / "parser_probe.py"
RUNNER = ROOT / "tools" / "mpvm.mjs"


def norwegian_frames():
    """Good single HDLC frames of Norwegian lists 1/2/3 (Aidon, Kaifa, Kamstrup)."""
    out = []
    for vendor in VENDORS:
        with open(CORPUS_DIR / (vendor + ".jsonl"), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                if (
                    r["format"] == "hdlc"
                    and r.get("fcs_ok") is True
                    and r.get("hcs_ok") is True
                    and r.get("frames", 1) == 1
                    and r.get("country") == "NO"
                    and r.get("list") in ("1", "2", "3")
                ):
                    out.append(
                        {"id": r["id"], "vendor": vendor, "list": r["list"], "hex": r["hex"]}
                    )
    return out


def timed_rounds(frames, one_round, seconds):
    """Run one_round() over all frames until SECONDS pass; (frames, bytes, elapsed_s, ok)."""
    size = sum(len(f) for f in frames)
    rounds = 0
    ok = 0
    start = time.perf_counter()
    while True:
        ok += one_round()
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return rounds * len(frames), rounds * size, elapsed, ok


def ours_cpython(frames, seconds):
    count = [0]

    def on_reading(reading):
        count[0] += 1

    reader = hanport.Reader(on_reading)

    def one_round():
        before = count[0]
        for frame in frames:
            reader.feed(frame)
        return count[0] - before

    return timed_rounds(frames, one_round, seconds)


def amshan_cpython(frames, seconds):
    from han import autodecoder, hdlc  # only the benchmark needs amshan

    logging.getLogger("han").setLevel(logging.WARNING)
    reader = hdlc.HdlcFrameReader(False)
    decoder = autodecoder.AutoDecoder()

    def one_round():
        ok = 0
        for frame in frames:
            for got in reader.read(frame):
                if got.is_good_ffc and decoder.decode_message_payload(got.payload):
                    ok += 1
        return ok

    return timed_rounds(frames, one_round, seconds)


def run_vm(args, data):
    cmd = ["node", str(RUNNER)]
    for path in data:
        cmd += ["--data", str(path)]
    cmd += [str(PROBE)] + [str(a) for a in args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit("bench: VM run failed (run `make setup`?):\n" + result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def rate(n, seconds):
    return n / seconds if seconds > 0 else 0.0


def measure(seconds, leak_frames):
    records = norwegian_frames()
    frames = [bytes.fromhex(r["hex"]) for r in records]
    figures = {"frames_in_corpus_set": len(frames), "seconds_per_run": seconds}

    n, size, elapsed, ok = ours_cpython(frames, seconds)
    figures["ours_cpython"] = {
        "frames_per_s": rate(n, elapsed),
        "bytes_per_s": rate(size, elapsed),
        "decoded": ok,
        "fed": n,
    }
    n, size, elapsed, ok = amshan_cpython(frames, seconds)
    figures["amshan_cpython"] = {
        "frames_per_s": rate(n, elapsed),
        "bytes_per_s": rate(size, elapsed),
        "decoded": ok,
        "fed": n,
    }
    figures["ours_vs_amshan"] = rate(
        figures["ours_cpython"]["frames_per_s"], figures["amshan_cpython"]["frames_per_s"]
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps({"id": r["id"], "hex": r["hex"]}) + "\n")
        (speed,) = run_vm(["speed", path, seconds], [path])
        memory = run_vm(["memory", path, leak_frames], [path])
    elapsed = speed["elapsed_ms"] / 1000
    figures["ours_micropython_vm"] = {
        "frames_per_s": rate(speed["frames"], elapsed),
        "bytes_per_s": rate(speed["bytes"], elapsed),
        "decoded": speed["frames_ok"],
        "fed": speed["frames"],
    }

    by_id = {r["id"]: r for r in records}
    groups = collections.defaultdict(list)
    for line in memory:
        if "id" in line:
            r = by_id[line["id"]]
            groups[(r["vendor"], r["list"])].append(line)
    figures["memory_per_meter_list"] = [
        {
            "meter": vendor,
            "list": lst,
            "frames": len(lines),
            "frame_bytes_max": max(x["frame_len"] for x in lines),
            "alloc_per_frame_max": max(x["frame_chunked"] for x in lines),
            "alloc_per_frame_mean": sum(x["frame_chunked"] for x in lines) / len(lines),
            "decode_frame_alloc_max": max(x["decode_frame"] for x in lines),
            "alloc_incomplete_max": max(
                max(x["noise"], x["partial_chunk"], x["partial_bytewise"]) for x in lines
            ),
        }
        for (vendor, lst), lines in sorted(groups.items())
    ]
    leak = [line for line in memory if line.get("leaky") is False][0]
    figures["heap_in_use"] = {
        "after_10_frames": leak["heap_after_10"],
        "after_n_frames": leak["heap_after_n"],
        "n": leak["leak_frames"],
    }
    return figures


def print_table(fig):
    print("hanport benchmark: %d Norwegian list 1/2/3 corpus frames" % fig["frames_in_corpus_set"])
    print()
    print("%-32s %12s %14s %15s" % ("parser", "frames/s", "bytes/s", "decoded"))
    rows = (
        ("ours, CPython %d.%d" % sys.version_info[:2], fig["ours_cpython"]),
        ("amshan 2.1.1, CPython", fig["amshan_cpython"]),
        ("ours, MicroPython 1.27 (wasm VM)", fig["ours_micropython_vm"]),
    )
    for name, row in rows:
        decoded = "%d/%d" % (row["decoded"], row["fed"])
        print(
            "%-32s %12.0f %14.0f %15s" % (name, row["frames_per_s"], row["bytes_per_s"], decoded)
        )
    print("ours / amshan on CPython: %.1fx" % fig["ours_vs_amshan"])
    print()
    print("Heap allocated per frame in the VM (bytes; budget 1536):")
    print(
        "%-9s %4s %6s %10s %10s %10s %13s %11s"
        % (
            "meter",
            "list",
            "frames",
            "frame len",
            "alloc max",
            "alloc mean",
            "decode_frame",
            "incomplete",
        )
    )
    for m in fig["memory_per_meter_list"]:
        print(
            "%-9s %4s %6d %10d %10d %10.0f %13d %11d"
            % (
                m["meter"],
                m["list"],
                m["frames"],
                m["frame_bytes_max"],
                m["alloc_per_frame_max"],
                m["alloc_per_frame_mean"],
                m["decode_frame_alloc_max"],
                m["alloc_incomplete_max"],
            )
        )
    heap = fig["heap_in_use"]
    print()
    print(
        "Heap in use after a collection: %d B after 10 frames, %d B after %d frames"
        % (heap["after_10_frames"], heap["after_n_frames"], heap["n"])
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per speed run")
    parser.add_argument("--leak-frames", type=int, default=10000, help="frames for the heap check")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not (CORPUS_DIR / "aidon.jsonl").is_file():
        sys.exit("bench: HAN capture corpus not found at %s (set HAN_CORPUS)" % CORPUS_DIR)
    figures = measure(args.seconds, args.leak_frames)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
