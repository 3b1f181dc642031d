"""Put the firmware on an ESP32: flash MicroPython, deploy the app, change settings.

Why: a new user needs three commands, not a page of mpremote/esptool incantations. Each command
is built as a list and either printed (`--dry-run`, what `make ... DRY_RUN=1` does, and what the
tests check) or run in order, stopping at the first failure.

    deploy --port P --board B   compile firmware/ to .mpy (mpy-cross, the board's -march) into
                                build/; then in one mpremote session copy it and boards/B.json,
                                remove stale files, select the board and reset
    config --port P --set wifi.ssid=home --set mqtt.host=10.0.0.2
                                validate on the host, then merge into the device's config.json
    flash  --port P --board B --firmware FILE.bin
                                erase and write stock MicroPython with esptool
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BUILD = os.path.join(ROOT, "build", "firmware")
sys.path.insert(0, FIRMWARE)

import board as boards  # noqa: E402
import config  # noqa: E402

_KEEP_SOURCE = ("boot.py", "main.py")  # MicroPython runs these by name, as .py
# Bytecode lives in the heap on a stock ESP32: -O3 leaves out the line-number tables (about 3 KB
# of heap for the whole firmware). The logs show exceptions by repr, never by line, and the
# firmware has no asserts for -O to drop.
MPY_OPT = "-O3"
_NOT_OURS = ("webrepl_cfg.py",)  # device files the sweep of stale firmware must leave alone
_BIN = os.path.dirname(sys.executable)


def tool(name):
    """The venv's copy of a tool when there is one, else the one on PATH."""
    path = os.path.join(_BIN, name)
    return path if os.path.exists(path) else name


def load_board(name):
    board, problems = boards.load(name, os.path.join(ROOT, "boards"))
    if problems:
        raise SystemExit("board {}: {}".format(name, "; ".join(problems)))
    return board


def sources():
    """(source path, device path) for every firmware file, packages included."""
    found = []
    for folder, dirs, files in os.walk(FIRMWARE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found.append((path, os.path.relpath(path, FIRMWARE).replace(os.sep, "/")))
    return found


# While this file exists main.py leaves the REPL alone and starts nothing, so no watchdog:
# a dongle reset half way through a deploy waits for the next one instead of running a mix.
MARKER = "deploying"
_WDT_STRETCH_MS = 600000  # room for a slow copy; the `reset` at the end clears it


def deploy_commands(port, board_name):
    """Host commands that compile, then ONE mpremote session that installs and resets.

    Every separate mpremote command interrupts the app, and the ESP32 watchdog survives that,
    so the session first leaves the marker main.py honours and stretches the running watchdog
    (on MicroPython v1.22+ WDT() reconfigures it), then copies main.py (which knows the marker)
    before everything else, removes files no longer part of the firmware (a stale .py would
    be imported before the new .mpy), selects the board, removes the marker and resets.
    """
    board = load_board(board_name)
    cmds = []
    copies = []
    made = set()
    for src, rel in sources():
        if os.path.basename(rel) in _KEEP_SOURCE:
            copies.append((src, rel))
            continue
        out = os.path.join(BUILD, rel[:-3] + ".mpy")
        if os.path.dirname(out) not in made:
            made.add(os.path.dirname(out))
            cmds.append(["mkdir", "-p", os.path.dirname(out)])
        # -s: the file's name on the device, not the PC's path (each module keeps it as a name
        # in the heap for tracebacks; a long path costs about 30 bytes per module).
        cmds.append([tool("mpy-cross"), MPY_OPT, "-march=" + board["march"], "-s", rel, "-o", out,
                     src])
        copies.append((out, rel[:-3] + ".mpy"))
    # The web pages go as the gzip files the dongle serves (made by tools/gzwww.py).
    www = os.path.join(FIRMWARE, "www")
    for name in sorted(os.listdir(www)) if os.path.isdir(www) else ():
        if name.endswith(".gz"):
            copies.append((os.path.join(www, name), "www/" + name))
    board_file = "boards/{}.json".format(board_name)
    copies.append((os.path.join(ROOT, board_file), board_file))
    copies.sort(key=lambda copy: copy[1] != "main.py")  # main.py first, the rest in order
    dirs = sorted({os.path.dirname(rel) for _, rel in copies if "/" in rel})
    start = (
        "import os, machine\n"
        "open({!r}, 'w').close()\n"
        "try: machine.WDT(timeout={})\n"
        "except Exception: pass\n"
        "for d in {!r}:\n try: os.mkdir(d)\n except OSError: pass\n"
        # A deploy replaces whatever an update over Wi-Fi left: no switch or undo may follow.
        "for f in ('fwstate', 'fwstate.tmp'):\n try: os.remove(f)\n except OSError: pass"
    ).format(MARKER, _WDT_STRETCH_MS, dirs)
    session = [tool("mpremote"), "connect", port, "exec", start]
    for src, rel in copies:
        session += ["+", "fs", "cp", src, ":" + rel]
    session += ["+", "exec", sweep_code([rel for _, rel in copies] + list(_NOT_OURS))]
    session += ["+", "exec", config_code({"board": board_name})]
    session += ["+", "exec", "import os\nos.remove({!r})".format(MARKER)]
    session += ["+", "reset"]
    cmds.append(session)
    return cmds


def sweep_code(keep):
    """Device code that removes firmware files (.py, .mpy, www/*) not in `keep`, and the
    folders that leaves empty. It leaves lib/ (mip installs there), boards/ and data alone."""
    return (
        "import os\n"
        "keep = {!r}\n"
        "def sweep(d):\n"
        " for e in list(os.ilistdir(d or '.')):\n"
        "  path = d + '/' + e[0] if d else e[0]\n"
        "  if e[1] == 0x4000:\n"
        "   if path not in ('lib', 'boards'):\n"
        "    sweep(path)\n"
        "    try: os.rmdir(path)\n"
        "    except OSError: pass\n"
        "  elif path not in keep and (path[-3:] == '.py' or path[-4:] == '.mpy' or d == 'www'):\n"
        "   os.remove(path)\n"
        "   print('removed stale', path)\n"
        "sweep('')"
    ).format(sorted(keep))


def parse_settings(pairs):
    """['wifi.ssid=home', 'mqtt.port=1883'] -> nested dict, typed by the defaults."""
    changes = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit("--set wants NAME=VALUE, got {!r}".format(pair))
        try:
            value = config.parse(name, text)
        except ValueError as exc:
            raise SystemExit(str(exc))
        section, _, key = name.partition(".")
        if key:
            changes.setdefault(section, {})[key] = value
        else:
            changes[section] = value
    return changes


def config_code(changes):
    """Device code that merges `changes` into config.json (validated again on the device)."""
    return "import config\nconfig.update({!r})\nprint('config updated')".format(
        json.loads(json.dumps(changes))
    )


def config_command(port, changes):
    """One mpremote session: update the settings, then reset so the app runs with them."""
    return [tool("mpremote"), "connect", port, "exec", config_code(changes), "+", "reset"]


def flash_commands(port, board_name, firmware):
    board = load_board(board_name)
    esptool = [sys.executable, "-m", "esptool", "--chip", board["chip"], "--port", port]
    return [
        esptool + ["erase_flash"],
        esptool + ["--baud", "460800", "write_flash", "-z", board["flash_offset"], firmware],
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("deploy", "config", "flash"))
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    parser.add_argument("--board", default="esp32-devkitc")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--firmware", help="MicroPython .bin for `flash`")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        cmds = deploy_commands(args.port, args.board)
    elif args.command == "config":
        changes = parse_settings(args.set)
        if not changes:
            raise SystemExit("nothing to set: give NAME=VALUE settings")
        cmds = [config_command(args.port, changes)]
    else:
        if not args.firmware:
            raise SystemExit(
                "flash needs FIRMWARE=path/to/micropython.bin: download the ESP32 build for "
                "chip {} from micropython.org/download".format(load_board(args.board)["chip"])
            )
        cmds = flash_commands(args.port, args.board, args.firmware)
    for cmd in cmds:
        print(" ".join(shlex.quote(part) for part in cmd), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
