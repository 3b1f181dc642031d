"""Build a firmware bundle for an update over Wi-Fi (`make bundle`; `make update` sends it).

The bundle is one file, build/hanport-<version>.bundle: a text manifest, then the files' bytes
one after another in the manifest's order:

    hanport-bundle 1 <version> <loader>
    <sha256> <size> <path>          one line per file
    end

The files are the firmware compiled to .mpy as `make deploy` compiles it (tools/run_mp.py
compile_firmware: mpy-cross -O3, bytecode only, so one bundle serves every chip), the gzip
pages (www/*.gz) and the board files (boards/*.json). The loader (boot.py, main.py,
failsafe.py, swap.py) is left out: an update never replaces the code that switches it in
(firmware/swap.py). <loader> is the loader version the firmware needs.

    python tools/bundle.py [--out PATH]
"""

import argparse
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
sys.path[:0] = [HERE, FIRMWARE]

import run_mp  # noqa: E402
import swap  # noqa: E402
from version import VERSION  # noqa: E402

HEADER = "hanport-bundle"


def files():
    """(device path, host path) of every file a bundle carries, in a fixed order."""
    mpy = run_mp.compile_firmware()
    out = []
    for folder, dirs, names in os.walk(mpy):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, mpy).replace(os.sep, "/")
            if name.endswith(".mpy") and rel not in swap.LOADER_FILES:
                out.append((rel, path))
    for sub, ext in (("www", ".gz"), ("boards", ".json")):
        top = os.path.join(FIRMWARE if sub == "www" else ROOT, sub)
        for name in sorted(os.listdir(top)):
            if name.endswith(ext):
                out.append(("{}/{}".format(sub, name), os.path.join(top, name)))
    return out


def build(out_path, version=VERSION, loader=swap.LOADER, contents=None):
    """Write a bundle; `contents` ({device path: bytes}) replaces the firmware's files (tests).
    Returns the manifest's text."""
    if contents is None:
        contents = {}
        for rel, path in files():
            with open(path, "rb") as f:
                contents[rel] = f.read()
    lines = ["{} 1 {} {}".format(HEADER, version, loader)]
    for rel, data in contents.items():
        lines.append("{} {} {}".format(hashlib.sha256(data).hexdigest(), len(data), rel))
    lines.append("end")
    manifest = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "wb") as f:
        f.write(manifest.encode())
        for data in contents.values():
            f.write(data)
    return manifest


def parse(data):
    """(manifest bytes, version, [(path, bytes, sha256)]) from a bundle's bytes; ValueError when
    it is not one."""
    end = data.find(b"\nend\n")
    if not data.startswith(HEADER.encode()) or end < 0:
        raise ValueError("not a hanport bundle")
    manifest = data[: end + 5]
    lines = manifest.decode().splitlines()
    version = lines[0].split()[2]
    at = len(manifest)
    out = []
    for line in lines[1:-1]:
        digest, size, path = line.split(" ", 2)
        out.append((path, data[at : at + int(size)], digest))
        at += int(size)
    if at != len(data):
        raise ValueError("the bundle's size does not match its manifest")
    return manifest, version, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "hanport-{}.bundle".format(
        VERSION)))
    args = parser.parse_args(argv)
    manifest = build(args.out)
    count = len(manifest.splitlines()) - 2
    print("bundle: {} ({} files, {} bytes, version {})".format(
        os.path.relpath(args.out), count, os.path.getsize(args.out), VERSION))
    return 0


if __name__ == "__main__":
    sys.exit(main())
