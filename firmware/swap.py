"""The boot-time half of an update over Wi-Fi: finish a switch of firmware files, or undo it.

Why at boot and nowhere else: a power cut can stop a switch at any file, so the only code that
renames firmware files is this, run by main.py before the app is imported, and every step is
written so that running it again from any point ends in the same place. An update never
replaces this module, main.py, boot.py or failsafe.py (the loader, `LOADER`): the bundle leaves
them out and web/update.py refuses a bundle that lists them, so the code that switches is never
itself half old and half new. A new loader comes only with `make deploy`.

Files on flash (all at the root, next to the firmware):
    fwstate         one line: "<state> <boots> <version> <reason>", written atomically
    fwnew/          the received bundle: fwnew/manifest and, until moved, the new files
    fwold/          the replaced files while the new firmware is on trial, fwold/manifest
States:
    forward   the new files are checked; move them in (old ones to fwold/), then "trial"
    trial     the new firmware runs; each boot counts, and after MAX_BOOTS boots that never
              reached a healthy state (trial.py confirms one) the switch is undone
    back      undo: put the old files back, then "failed"
    ok        the last update was confirmed healthy (reported, nothing to do)
    failed    the last update was undone (reported, nothing to do)
The manifest lists one file per line, "<sha256> <size> <path>", after a header line and before
a line "end" (tools/bundle.py writes it; fwold/manifest has "-" for the digest).
"""

import os

from failsafe import exists

LOADER = 1  # bundles built for a newer loader are refused until `make deploy` brings it
LOADER_FILES = ("boot.py", "main.py", "failsafe.py", "failsafe.mpy", "swap.py", "swap.mpy")
STATE = "fwstate"
NEW = "fwnew"
OLD = "fwold"
MANIFEST = "manifest"
MAX_BOOTS = 3


def read():
    """(state, boots, version, reason), or None when no update ever ran."""
    for path in (STATE, STATE + ".tmp"):  # .tmp: a cut between remove and rename (FAT)
        try:
            with open(path) as f:
                parts = f.readline().strip().split(" ", 3)
        except OSError:
            continue
        while len(parts) < 4:
            parts.append("")
        try:
            boots = int(parts[1])
        except ValueError:
            boots = 0
        return parts[0], boots, parts[2], parts[3]
    return None


def write(state, boots=0, version="-", reason=""):
    """Replace the state line atomically (a temporary file, then a rename over the old one)."""
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        f.write("{} {} {} {}\n".format(state, boots, version or "-", reason.replace("\n", " ")))
    try:
        os.rename(tmp, STATE)
    except OSError:  # FAT cannot rename over a file; littlefs and POSIX can
        os.remove(STATE)
        os.rename(tmp, STATE)


def paths(manifest):
    """The file paths a manifest lists, in order."""
    out = []
    with open(manifest) as f:
        f.readline()  # the header
        for line in f:
            line = line.strip()
            if line == "end":
                break
            if line:
                out.append(line.split(" ", 2)[2])
    return out


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def makedirs(path):
    """Make the folders above `path` (a file path)."""
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass


def move(src, dst):
    makedirs(dst)
    os.rename(src, dst)


def forward():
    """Move every new file in and every replaced or dropped file to fwold/; safe to repeat."""
    new = paths(NEW + "/" + MANIFEST)
    for path in new:
        staged = NEW + "/" + path
        if exists(staged):
            old = OLD + "/" + path
            if exists(path):
                if exists(old):  # kept already: this one is a leftover of a cut
                    os.remove(path)
                else:
                    move(path, old)
            move(staged, path)
    listed = set(new)
    for path in paths(OLD + "/" + MANIFEST):
        if path not in listed and exists(path):
            move(path, OLD + "/" + path)


def backward():
    """Put the old firmware back from fwold/; safe to repeat."""
    old = paths(OLD + "/" + MANIFEST)
    kept = set(old)
    for path in paths(NEW + "/" + MANIFEST):
        if path not in kept:
            remove(path)
    for path in old:
        saved = OLD + "/" + path
        if exists(saved):
            remove(path)
            move(saved, path)


def clear(folder):
    """Remove a folder tree (best effort: what is left is cleared before the next update)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = folder + "/" + name
        if os.stat(path)[0] & 0x4000:
            clear(path)
        else:
            remove(path)
    try:
        os.rmdir(folder)
    except OSError:
        pass


def undo(version, reason):
    """Switch back to the old firmware and record why."""
    write("back", 0, version, reason)
    try:
        backward()
    except OSError as exc:  # a manifest gone: nothing more can be put back; say so and stop
        reason = "{}; undo incomplete: {!r}".format(reason, exc)
    write("failed", 0, version, reason)
    print("W update: {} rolled back: {}".format(version, reason))
    clear(NEW)
    clear(OLD)


def boot():
    """At power-on, before the app: finish a switch, count a trial boot, or finish an undo."""
    st = read()
    if st is None:
        return None
    state, boots, version, reason = st
    if state == "forward":
        try:
            forward()
        except OSError as exc:  # a manifest gone, the flash failing: back to what was there
            undo(version, "switch failed: {!r}".format(exc))
            return "failed"
        write("trial", 1, version)
        print("I update: switched to {}; on trial".format(version))
        return "trial"
    if state == "trial":
        if boots >= MAX_BOOTS:
            undo(version, "not healthy after {} starts".format(boots))
            return "failed"
        write("trial", boots + 1, version)
    elif state == "back":
        undo(version, reason)
        return "failed"
    return state


def crashed(exc):
    """The app stopped with `exc`: on trial, undo the switch now; True when it was undone."""
    st = read()
    if st is None or st[0] != "trial":
        return False
    undo(st[2], "stopped: {!r}".format(exc)[:100])
    return True
