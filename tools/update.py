"""Send a firmware bundle to a running dongle over Wi-Fi (`make update HOST=hanport-xxxx.local`).

The dongle takes it in pieces within its HTTP body limit (firmware/web/update.py):
begin (it checks the free flash), every file in pieces, commit (it checks every SHA-256 and
restarts into the new firmware, on trial until it is healthy). A piece whose answer is lost is
sent again from where the dongle says its file ends. Afterwards this waits for the dongle to
come back and says which version runs and whether the update stuck or was rolled back.

    python tools/update.py --host hanport-1a2b3c.local [--user admin] [--password P]
                           [--port 80] [build/hanport-0.3.0.bundle]
The password comes from --password, $HANPORT_PASSWORD, or a prompt.
"""

import argparse
import base64
import getpass
import http.client
import json
import os
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware")]

import bundle  # noqa: E402
from web.httpd import BODY_MAX  # noqa: E402

_TRIES = 8
# Each piece is one request whose body the dongle's HTTP server holds in one block while it
# writes it to flash: half its limit (httpd.BODY_MAX) finds a free block more easily in a
# fragmented heap; a refused or reset piece is sent again after a pause.
PIECE = BODY_MAX // 2


class Dongle:
    def __init__(self, host, port, user, password, timeout=30):
        self.host = host
        self.port = port
        self.timeout = timeout
        token = base64.b64encode("{}:{}".format(user, password).encode()).decode()
        self.auth = "Basic " + token

    def call(self, method, path, body=b""):
        """(status, JSON answer or text) for one request; OSError when the dongle is away."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            headers = {"Authorization": self.auth, "Content-Type": "application/octet-stream"}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data.decode(errors="replace").strip()

    def call_retrying(self, method, path, body=b""):
        """call(), again after a pause while the dongle is busy (503), short of memory (500)
        or away; every step of an update may be repeated."""
        for attempt in range(_TRIES):
            try:
                status, answer = self.call(method, path, body)
                if status not in (500, 503) or attempt == _TRIES - 1:
                    return status, answer
            except (OSError, http.client.HTTPException) as exc:
                if attempt == _TRIES - 1:
                    raise SystemExit("update: the dongle does not answer: {}".format(exc))
            time.sleep(1 + attempt)
        raise AssertionError("unreachable")


def _fail(step, status, answer):
    error = answer.get("error") if isinstance(answer, dict) else answer
    raise SystemExit("update: {} refused ({}): {}".format(step, status, error))


def send_file(dongle, path, data, piece=PIECE):
    at = 0
    while at < len(data):
        query = urllib.parse.urlencode({"path": path, "at": at}, safe="/")
        status, answer = dongle.call_retrying(
            "POST", "/api/v1/update/piece?" + query, data[at : at + piece]
        )
        if status == 409 and isinstance(answer, dict) and "size" in answer:
            at = answer["size"]  # an answer was lost: go on from where the dongle is
            continue
        if status != 200:
            _fail("piece of " + path, status, answer)
        at = answer["size"]


def send(dongle, data, say=print):
    """Send a bundle's bytes; returns the version it carries. Exits saying why on a refusal."""
    manifest, version, files = bundle.parse(data)
    status, answer = dongle.call_retrying("POST", "/api/v1/update/begin?bytes={}".format(len(data)))
    if status != 200:
        _fail("begin", status, answer)
    say("update: sending {} ({} files, {} bytes)".format(version, len(files), len(data)))
    send_file(dongle, "manifest", manifest)
    for path, content, _ in files:
        send_file(dongle, path, content)
    say("update: sent; the dongle checks every file")
    try:
        status, answer = dongle.call("POST", "/api/v1/update/commit")
        if status == 500:  # short of memory while checking: nothing was switched, try again
            time.sleep(2)
            status, answer = dongle.call("POST", "/api/v1/update/commit")
    except (OSError, http.client.HTTPException) as exc:  # it may restart before answering
        say("update: no answer to commit ({}); checking".format(exc))
        return version
    if status != 200:
        _fail("commit", status, answer)
    say("update: checked; the dongle restarts into {}".format(version))
    return version


def wait_for(dongle, version, timeout, say=print):
    """Poll the status until the dongle runs `version` or has rolled it back; True when it runs
    it (on trial or confirmed)."""
    deadline = time.monotonic() + timeout
    time.sleep(2)
    last = None
    while time.monotonic() < deadline:
        try:
            status, answer = dongle.call("GET", "/api/v1/status")
        except (OSError, http.client.HTTPException):
            time.sleep(1)
            continue
        if status == 200 and isinstance(answer, dict):
            note = (answer.get("notes") or {}).get("update")
            if note != last:
                say("update: dongle runs {}: {}".format(answer.get("firmware"), note))
                last = note
            if note and "rolled back" in note and version in note:
                return False
            if answer.get("firmware") == version and note and "updated to" in note:
                return True
        time.sleep(1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default=os.environ.get("HANPORT_PASSWORD"))
    parser.add_argument("--wait", type=float, default=420, metavar="S",
                        help="wait this long for the update to be confirmed (0: do not wait)")
    args = parser.parse_args(argv)
    path = args.bundle
    if path is None:
        from version import VERSION

        path = os.path.join(ROOT, "build", "hanport-{}.bundle".format(VERSION))
    with open(path, "rb") as f:
        data = f.read()
    password = args.password
    if password is None:
        password = getpass.getpass("page password for {}@{}: ".format(args.user, args.host))
    dongle = Dongle(args.host, args.port, args.user, password)
    version = send(dongle, data)
    if not args.wait:
        return 0
    result = wait_for(dongle, version, args.wait)
    if result:
        print("update: {} runs and is healthy".format(version))
        return 0
    if result is False:
        print("update: {} was rolled back (see the note above)".format(version))
        return 1
    print("update: {} not confirmed within {} s; see /api/v1/status".format(version, args.wait))
    return 1


if __name__ == "__main__":
    sys.exit(main())
