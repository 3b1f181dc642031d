"""Drive the hanport parser over prepared frames and print JSON lines; runs on MicroPython too.

Why: the parser must behave the same on the dongle as under CPython, and stay within its RAM
budget there. This script is the one body both interpreters run (CPython directly, MicroPython
in the WebAssembly VM via tools/mpvm.mjs): the host tests and tools/bench.py compare or
tabulate its output. It only measures; the host side decides what passes.

Frames files are JSON lines {"id": ..., "hex": ...} written by the host (corpus selection is
the host's job). Modes:

    parser_probe.py decode FRAMES              decode_frame() and a fresh Reader, per frame
    parser_probe.py stream STREAM CHUNKS       feed the binary STREAM in the JSON list of
                                               chunk sizes CHUNKS; readings, then the stats
    parser_probe.py memory FRAMES N            gc.mem_alloc() deltas per frame, then the heap
                                               in use after 10 and after N frames, then the
                                               same with a leaking callback as a self-check
                                               (MicroPython only)
    parser_probe.py speed FRAMES SECONDS       feed the frames round-robin for about SECONDS
    parser_probe.py formats FRAMES             a fresh Reader per record, with the record's
                                               "key"/"auth_key" if any: readings, stats, error
    parser_probe.py cost FRAMES N              per record: heap allocated and time taken by a
                                               warmed Reader for one frame (N times), with the
                                               time and heap of the AES calls apart (on the
                                               host and in the VM AES is the plain-Python twin;
                                               the ESP32 does it in C)
    parser_probe.py imports                    heap kept by each part imported on first use
                                               (M-Bus, P1, Iskraemeco, GCM) and by a key's
                                               Decryptor, after a collection (MicroPython)
Ciphered records need `cryptolib`: on the host and in the VM, tools/hosttwin on sys.path.
"""

import gc
import json
import sys

# Run directly (`python tools/parser_probe.py`), the parser is in the repo's firmware/ folder
# and the twin of the device's cryptolib in tools/hosttwin; in the VM, tools/mpvm.mjs has put
# them on sys.path already.
sys.path.append(__file__.rsplit("/", 2)[0] + "/firmware")
sys.path.append(__file__.rsplit("/", 2)[0] + "/tools/hosttwin")  # cryptolib, for keyed records

import hanport  # noqa: E402

try:
    from time import ticks_diff, ticks_ms, ticks_us
except ImportError:  # CPython
    from time import perf_counter

    def ticks_ms():
        return int(perf_counter() * 1000)

    def ticks_us():
        return int(perf_counter() * 1000000)

    def ticks_diff(end, start):
        return end - start

try:
    _mem_alloc = gc.mem_alloc
except AttributeError:  # CPython: no heap figures

    def _mem_alloc():
        return 0


COLLECT_EVERY = 100
LEAKY_FRAMES = 200
_USAGE = (
    "usage: parser_probe.py decode F | stream S C | memory F N | speed F SEC | formats F"
    " | cost F N | imports"
)


def load_frames(path):
    frames = []
    with open(path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                frames.append((record["id"], bytes.fromhex(record["hex"])))
    return frames


def emit(obj):
    print(json.dumps(obj))


def decode(path):
    for frame_id, raw in load_frames(path):
        out = {"id": frame_id, "reading": None, "error": None}
        try:
            out["reading"] = hanport.decode_frame(raw)
        except ValueError as err:
            out["error"] = str(err)
        readings = []
        reader = hanport.Reader(readings.append)
        reader.feed(raw)
        out["readings"] = readings
        out["stats"] = reader.stats.as_dict()
        emit(out)


def stream(stream_path, chunks_path):
    with open(stream_path, "rb") as f:
        data = f.read()
    with open(chunks_path) as f:
        sizes = json.loads(f.read())
    reader = hanport.Reader(lambda reading: emit({"reading": reading}))
    view = memoryview(data)
    at = 0
    for size in sizes:
        chunk = view[at : at + size]
        reader.feed(chunk)
        at += len(chunk)
    emit({"fed": at, "stats": reader.stats.as_dict()})


def memory(path, leak_frames):
    frames = load_frames(path)
    held = [None]

    def keep(reading):
        held[0] = reading  # a slot write: the probe itself allocates nothing per reading

    noise = bytes(range(0x7F, 0x100)) * 4  # no flag byte: the framer only skips it
    for frame_id, raw in frames:
        reader = hanport.Reader(keep)
        view = memoryview(raw)
        head = view[: len(raw) - 1]
        tail = view[len(raw) - 1 :]
        singles = [view[i : i + 1] for i in range(len(raw) - 1)]
        reader.feed(view)  # warm up: steady state, as on a running dongle
        held[0] = None

        gc.collect()
        gc.disable()
        m0 = gc.mem_alloc()
        m1 = gc.mem_alloc()
        reader.feed(noise)
        m2 = gc.mem_alloc()
        reader.feed(head)
        m3 = gc.mem_alloc()
        reader.feed(tail)
        m4 = gc.mem_alloc()
        gc.enable()
        held[0] = None
        gc.collect()
        gc.disable()
        m5 = gc.mem_alloc()
        for piece in singles:
            reader.feed(piece)
        m6 = gc.mem_alloc()
        reader.feed(tail)
        m7 = gc.mem_alloc()
        gc.enable()
        frames_ok = reader.stats.frames_ok
        held[0] = None
        gc.collect()
        gc.disable()
        m8 = gc.mem_alloc()
        reading = hanport.decode_frame(view)
        m9 = gc.mem_alloc()
        gc.enable()
        emit(
            {
                "id": frame_id,
                "frame_len": len(raw),
                "keys": len(reading),
                "frames_ok": frames_ok,
                "empty_region": m1 - m0,
                "noise": m2 - m1,
                "partial_chunk": m3 - m2,
                "frame_chunked": m4 - m3,
                "partial_bytewise": m6 - m5,
                "frame_bytewise": m7 - m6,
                "decode_frame": m9 - m8,
            }
        )
        reading = None
    run_collected(leak_steps(frames, leak_frames))
    run_collected(leak_steps(frames, LEAKY_FRAMES, leaky=True))


def leak_steps(frames, leak_frames, leaky=False):
    """Heap in use after a collection, after 10 frames and after LEAK_FRAMES frames.

    The heap is collected every COLLECT_EVERY frames, as the device's GC does when its small
    heap fills; in the VM that needs the top level (a yield). Without it, garbage spreads over
    the whole growing heap and stale words in live buffers (frame bytes look like small
    addresses there) pin random dead objects, which a conservative GC cannot tell from a leak.
    LEAKY keeps every reading: a self-check that a real leak shows.
    """
    held = [None]
    kept = []

    def keep(reading):
        held[0] = reading
        if leaky:
            kept.append(reading)

    reader = hanport.Reader(keep)
    views = [memoryview(raw) for _, raw in frames]
    count = len(views)
    after = [0, 0]
    done = 0
    for slot, target in ((0, 10), (1, leak_frames)):
        while done < target:
            reader.feed(views[done % count])
            done += 1
            if done % COLLECT_EVERY == 0:
                gc.collect()
                yield
        held[0] = None
        gc.collect()
        yield  # the collection happens here in the VM (see run_collected)
        after[slot] = gc.mem_alloc()
    emit(
        {
            "leak_frames": leak_frames,
            "leaky": leaky,
            "frames_ok": reader.stats.frames_ok,
            "heap_after_10": after[0],
            "heap_after_n": after[1],
        }
    )


def run_collected(steps):
    """Run a generator whose yields must see a collected heap. In the WebAssembly VM,
    gc.collect() only takes effect back at the top level, which tools/mpvm.mjs reaches
    between steps; elsewhere gc.collect() is immediate and the steps just run."""
    try:
        import mpvm  # exists only in tools/mpvm.mjs's VM
    except ImportError:
        for _ in steps:
            pass
        return
    mpvm.run_at_top_level(steps)


def speed(path, seconds):
    frames = [memoryview(raw) for _, raw in load_frames(path)]
    count = len(frames)
    reader = hanport.Reader(lambda reading: None)
    total_bytes = 0
    done = 0
    budget_ms = int(seconds * 1000)
    start = ticks_ms()
    elapsed = 0
    while elapsed < budget_ms:
        for _ in range(count):  # check the clock once per round of frames
            frame = frames[done % count]
            reader.feed(frame)
            total_bytes += len(frame)
            done += 1
        elapsed = ticks_diff(ticks_ms(), start)
    emit(
        {
            "frames": done,
            "bytes": total_bytes,
            "elapsed_ms": elapsed,
            "frames_ok": reader.stats.frames_ok,
        }
    )


def load_records(path):
    records = []
    with open(path) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    return records


def formats(path):
    for record in load_records(path):
        readings = []
        reader = hanport.Reader(
            readings.append, key=record.get("key"), auth_key=record.get("auth_key")
        )
        reader.feed(bytes.fromhex(record["hex"]))
        reader.flush()
        error = reader.last_error
        emit(
            {
                "id": record["id"],
                "readings": readings,
                "stats": reader.stats.as_dict(),
                "error": None if error is None else str(error),
            }
        )


class _MeteredAES:
    """Wraps the cipher's AES object: adds up the time and heap its encrypt calls take."""

    def __init__(self, aes):
        self.aes = aes
        self.us = 0
        self.alloc = 0

    def encrypt(self, src, dst):
        m = _mem_alloc()
        t = ticks_us()
        self.aes.encrypt(src, dst)
        self.us += ticks_diff(ticks_us(), t)
        self.alloc += _mem_alloc() - m


def cost(path, repeats):
    held = [None]

    def keep(reading):
        held[0] = reading

    for record in load_records(path):
        raw = bytes.fromhex(record["hex"])
        reader = hanport.Reader(keep, key=record.get("key"), auth_key=record.get("auth_key"))
        metered = None
        if reader._cipher is not None:
            metered = _MeteredAES(reader._cipher._aes)
            reader._cipher._aes = metered
        reader.feed(raw)  # warm up: imports and first-use objects, as on a running dongle
        reader.flush()
        ok = reader.stats.frames_ok
        total_alloc = 0
        total_us = 0
        if metered is not None:
            metered.us = metered.alloc = 0
        for _ in range(repeats):
            held[0] = None
            gc.collect()
            gc.disable()
            m = _mem_alloc()
            t = ticks_us()
            reader.feed(raw)
            reader.flush()
            total_us += ticks_diff(ticks_us(), t)
            total_alloc += _mem_alloc() - m
            gc.enable()
        emit(
            {
                "id": record["id"],
                "frame_len": len(raw),
                "frames_ok": reader.stats.frames_ok - ok,
                "alloc_per_frame": total_alloc // repeats,
                "us_per_frame": total_us // repeats,
                "aes_alloc_per_frame": metered.alloc // repeats if metered else 0,
                "aes_us_per_frame": metered.us // repeats if metered else 0,
            }
        )


def import_steps():
    """Heap in use after each lazily imported part (a collection before each reading)."""
    import cryptolib  # the host twin: not part of the dongle's heap, so taken first

    gc.collect()
    yield
    used = gc.mem_alloc()
    out = {}
    keep = [cryptolib]
    for name in ("mbus", "p1", "iskra", "gcm"):
        keep.append(__import__("hanport." + name, None, None, [name]))
        gc.collect()
        yield
        out[name] = gc.mem_alloc() - used
        used = gc.mem_alloc()
    keep.append(keep[-1].Decryptor(bytes(16), bytes(16)))
    gc.collect()
    yield
    out["decryptor"] = gc.mem_alloc() - used
    emit(out)


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "decode" and len(argv) == 3:
        decode(argv[2])
    elif mode == "stream" and len(argv) == 4:
        stream(argv[2], argv[3])
    elif mode == "memory" and len(argv) == 4:
        memory(argv[2], int(argv[3]))
    elif mode == "speed" and len(argv) == 4:
        speed(argv[2], float(argv[3]))
    elif mode == "formats" and len(argv) == 3:
        formats(argv[2])
    elif mode == "cost" and len(argv) == 4:
        cost(argv[2], int(argv[3]))
    elif mode == "imports" and len(argv) == 2:
        if not hasattr(gc, "mem_alloc"):
            print("imports: MicroPython only (it reads gc.mem_alloc)", file=sys.stderr)
            sys.exit(2)
        run_collected(import_steps())
    else:
        print(_USAGE, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
