"""POST /api/v1/update/...: receive a firmware bundle in pieces, check it, hand it to swap.py.

    GET  /api/v1/update                    the state of the last update and the running version
    POST /api/v1/update/begin?bytes=N      a bundle of N bytes comes: check the free flash,
                                           empty the staging folder (fwnew/)
    POST /api/v1/update/piece?path=P&at=K  the body is the bytes of file P from offset K on;
                                           K must be what fwnew/P holds so far (409 says how
                                           much, so a sender can go on after a lost answer)
    POST /api/v1/update/commit             check fwnew/manifest and every file's size and
                                           SHA-256, then mark the switch and restart
Why pieces: the HTTP server keeps every request body within httpd.BODY_MAX, so a bundle of a
few hundred KB comes as many small requests, each written to flash as it arrives, while the
meter reader and MQTT go on. Nothing outside fwnew/ changes until every digest has matched:
a bad bundle is refused and its folder emptied. The renames that switch over happen at the
next start, in swap.py, so a power cut at any point leaves a firmware that boots.
Loaded on the first update request (web/routes.py) and kept out of the heap until then.
"""

import binascii
import gc
import hashlib
import os

import log
import swap
from compat import const, sleep_ms
from version import VERSION

_RESERVE = const(32768)  # flash left free after staging: settings, energy store, logs
_CHUNK = const(512)  # digest read size; the loop runs between two reads
_NAME_MAX = const(64)
_HEADER = "hanport-bundle"
_KINDS = {"www": ".gz", "boards": ".json"}  # what a bundle may hold where; elsewhere only .mpy


class Session:
    """One bundle on its way in: how many bytes were announced and have arrived."""

    def __init__(self, expected):
        self.expected = expected
        self.received = 0
        self.version = None


def _param(query, name):
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def _int_param(query, name):
    value = _param(query, name)
    return int(value) if value is not None and value.isdigit() else None


def bad_path(path):
    """Why `path` may not be a firmware file of a bundle, or None when it may."""
    if not path or len(path) > _NAME_MAX or path[0] == "/" or "\\" in path:
        return "bad file name"
    for part in path.split("/"):
        if not part or part == "." or part == ".." or part[0] == ".":
            return "bad file name"
    for c in path:
        if not (c.isalpha() or c.isdigit() or c in "_.-/"):  # needs no %-escape in a query
            return "bad file name"
    if path in swap.LOADER_FILES:
        return "{} is part of the loader; only make deploy replaces it".format(path)
    top = path.split("/")[0]
    if not path.endswith(_KINDS.get(top, ".mpy")) or top in (swap.NEW, swap.OLD, "lib"):
        return "{} is not a firmware file".format(path)  # config.json, data: never replaced
    return None


def free_bytes():
    """Free space of the file system, or None when the port cannot tell."""
    try:
        st = os.statvfs(".")
    except (AttributeError, OSError):
        return None
    return st[0] * st[4]  # f_bsize * f_bavail


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _list_files(out, folder):
    """Write "- 0 <path>" for each firmware file on flash now (what an update replaces), as
    deploy lays them out; written as found, so no list of them is built."""
    for name in os.listdir(folder or "."):
        path = folder + "/" + name if folder else name
        if os.stat(path)[0] & 0x4000:
            if folder or name not in ("lib", swap.NEW, swap.OLD):
                _list_files(out, path)
        elif path not in swap.LOADER_FILES and (
            name.endswith(".mpy") or name.endswith(".py") or folder in ("www", "boards")
        ):
            out.write("- 0 {}\n".format(path))


async def handle(web, req, resp, what):
    """Route one /api/v1/update request (the password was checked already)."""
    write = req.method in ("POST", "PUT")
    if what == "" and not write:
        await resp.send(200, status())
    elif what == "/begin" and write:
        await _begin(web, req, resp)
    elif what == "/piece" and write:
        await _piece(web, req, resp)
    elif what == "/commit" and write:
        await _commit(web, req, resp)
    else:
        await resp.send(404, "not found\n")


def status():
    st = swap.read()
    out = {"firmware": VERSION, "loader": swap.LOADER, "state": None, "version": None}
    if st is not None:
        out["state"], out["boots"], out["version"], out["reason"] = st
    return out


async def _refuse(web, resp, code, error):
    web.update_rejects += 1
    log.warning("update", "refused: {}", error)
    await resp.send(code, {"error": error})


async def _begin(web, req, resp):
    st = swap.read()
    if st is not None and st[0] in ("forward", "trial", "back"):
        await _refuse(web, resp, 409, "an update is still {} ({})".format(st[0], st[2]))
        return
    expected = _int_param(req.query, "bytes")
    if not expected:
        await _refuse(web, resp, 400, "say the bundle's size: begin?bytes=N")
        return
    free = free_bytes()
    if free is not None and expected + _RESERVE > free:
        await _refuse(
            web, resp, 507, "{} bytes do not fit: {} bytes free".format(expected, free - _RESERVE)
        )
        return
    swap.clear(swap.NEW)
    swap.clear(swap.OLD)
    try:
        os.mkdir(swap.NEW)
    except OSError:  # left over from an update whose folder could not be cleared: written over
        pass
    web.update_session = Session(expected)
    log.info("update", "receiving a bundle of {} bytes from {}", expected, req.peer)
    await resp.send(200, {"ready": True, "free_bytes": free})


async def _piece(web, req, resp):
    session = web.update_session
    if session is None:
        await _refuse(web, resp, 409, "no update begun")
        return
    path = _param(req.query, "path") or ""
    problem = None if path == swap.MANIFEST else bad_path(path)
    at = _int_param(req.query, "at")
    if problem or at is None:
        await _refuse(web, resp, 400, problem or "say where the piece goes: at=K")
        return
    staged = swap.NEW + "/" + path
    have = _size(staged)
    if at != have:
        await resp.send(409, {"error": "{} holds {} bytes".format(path, have), "size": have})
        return
    body = req.body
    if session.received + len(body) > session.expected:
        await _refuse(web, resp, 413, "more bytes than the {} announced".format(session.expected))
        return
    try:
        swap.makedirs(staged)
        with open(staged, "ab") as f:
            f.write(body)
    except OSError as exc:  # the flash is full after all, or failing: the bundle cannot come
        web.update_session = None
        swap.clear(swap.NEW)
        await _refuse(web, resp, 507, "cannot write {}: {!r}".format(path, exc))
        return
    session.received += len(body)
    await resp.send(200, {"size": have + len(body)})


async def _commit(web, req, resp):
    session = web.update_session
    if session is None:
        await _refuse(web, resp, 409, "no update begun")
        return
    gc.collect()  # the check reads 100 KB or more in small pieces: start from a tidy heap
    try:
        version = await verify(session.expected)
    except ValueError as exc:
        web.update_session = None
        swap.clear(swap.NEW)
        await _refuse(web, resp, 400, str(exc))
        return
    # Any other failure up to the mark (a MemoryError, say) answers 500 and leaves the session,
    # so the commit can be sent again; the mark is the one write that starts the switch.
    _write_old_manifest()
    swap.write("forward", 0, version)
    web.update_session = None
    log.warning("update", "{} received and checked: restarting to switch", version)
    web.update_commits += 1
    from web.admin import restart  # admin.py routed this request here

    await restart(web, resp)


async def verify(expected):
    """Check fwnew/ against its manifest; the bundle's version, or ValueError saying what is
    wrong. Reads in small pieces and lets the loop run between them."""
    manifest = swap.NEW + "/" + swap.MANIFEST
    try:
        f = open(manifest)
    except OSError:
        raise ValueError("the bundle has no manifest")
    files = 0
    total = _size(manifest)
    buf = bytearray(_CHUNK)
    with f:
        head = f.readline().split()
        if len(head) != 4 or head[0] != _HEADER or head[1] != "1":
            raise ValueError("not a hanport bundle (manifest header)")
        version = head[2]
        if not head[3].isdigit() or int(head[3]) > swap.LOADER:
            raise ValueError("the bundle needs loader {}; this dongle has {}: make deploy".format(
                head[3], swap.LOADER))
        ended = False
        for line in f:
            line = line.strip()
            if line == "end":
                ended = True
                break
            parts = line.split(" ")
            if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) != 64:
                raise ValueError("bad manifest line {!r}".format(line[:80]))
            digest, size, path = parts[0], int(parts[1]), parts[2]
            problem = bad_path(path)
            if problem:
                raise ValueError(problem)
            staged = swap.NEW + "/" + path
            if _size(staged) != size:
                raise ValueError("{}: {} bytes, not {}".format(path, _size(staged), size))
            gc.collect()  # one file's check leaves little: keep blocks free for the other tasks
            if await _digest(staged, buf) != digest:
                raise ValueError("{}: SHA-256 does not match".format(path))
            files += 1
            total += size
        if not ended or not files:
            raise ValueError("the manifest is incomplete")
    if total > expected:
        raise ValueError("the bundle holds more than the {} bytes announced".format(expected))
    return version


async def _digest(path, buf):
    h = hashlib.sha256()
    view = memoryview(buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            await sleep_ms(0)
    return binascii.hexlify(h.digest()).decode()


def _write_old_manifest():
    """List the firmware files now on flash: what swap.py keeps in fwold/ and puts back."""
    try:
        os.mkdir(swap.OLD)
    except OSError:
        pass
    with open(swap.OLD + "/" + swap.MANIFEST, "w") as f:
        f.write("{} 1 {} {}\n".format(_HEADER, VERSION, swap.LOADER))
        _list_files(f, "")
        f.write("end\n")
