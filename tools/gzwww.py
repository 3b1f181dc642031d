"""Compress the web pages in firmware/www/ to the .gz files the dongle serves.

Why: the pages are kept readable in the repository, but the dongle sends them gzip-compressed
straight from flash (about a third of the size, no compression on the device). The .gz files are
committed next to their sources and deployed with the firmware; host_tests/test_web_page.py
fails when one is missing or out of date. Output is byte-for-byte repeatable (no time stamp,
no file name in the header).

    python tools/gzwww.py           # rewrite every www/*.gz
    python tools/gzwww.py --check   # exit 1 and name the stale files, change nothing
"""

import argparse
import gzip
import os
import sys

WWW = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "www")
SUFFIXES = (".html", ".css", ".js", ".svg")


def compress(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def sources(www=WWW):
    return sorted(
        os.path.join(www, name) for name in os.listdir(www) if name.endswith(SUFFIXES)
    )


def stale(www=WWW):
    """Source files whose .gz is missing or does not hold exactly their bytes."""
    found = []
    for src in sources(www):
        try:
            with open(src + ".gz", "rb") as f:
                packed = f.read()
        except OSError:
            found.append(src)
            continue
        with open(src, "rb") as f:
            if gzip.decompress(packed) != f.read():
                found.append(src)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale .gz files")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for src in old:
            print("stale: {}.gz (run tools/gzwww.py)".format(os.path.relpath(src)))
        return 1 if old else 0
    for src in sources():
        with open(src, "rb") as f:
            raw = f.read()
        packed = compress(raw)
        with open(src + ".gz", "wb") as f:
            f.write(packed)
        print("{}: {} -> {} bytes".format(os.path.relpath(src), len(raw), len(packed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
