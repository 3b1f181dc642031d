"""The HTTP routes a dongle answers a few times in its life, imported per request by routes.py
and dropped after it, so their code is in the heap only while one runs.

    GET  /settings         settings page (www/settings.html.gz)           Basic auth
    GET  /api/v1/config    the settings, secrets masked (settings.py)     Basic auth
    POST /api/v1/config    change settings: all valid and saved, or none  Basic auth
    POST /api/v1/restart   restart to apply saved settings                Basic auth
    GET, POST /api/v1/update[/begin|/piece|/commit]  update over Wi-Fi    Basic auth
    a wrong method on a route: 405; any other path: 404
Basic auth: the page's own password (http.password). Until the owner has chosen one, these
answer only in setup mode and only to clients of the dongle's own access point, where the
setup page asks for it first; in setup mode opened with the button (someone at the meter
cabinet), they answer there without one, so a forgotten password can be replaced. Wrong
passwords slow the client down (authguard.py, kept by httpd.py once one came).
"""

import asyncio
import binascii
import sys

import log
import web
from compat import sleep_ms

_RESTART_DELAY_MS = 1000


async def handle(w, req, resp):
    """Route one request that routes.py does not answer itself; `w` is its Web. The modules it
    imports (settings.py with config.py, update.py with swap.py, ...) leave again after it,
    but for an update's while its bundle comes in."""
    before = set(sys.modules)
    try:
        await _route(w, req, resp)
    finally:
        if w.update_session is None:
            web.drop("settings")
            web.drop("update")
            sys.modules.pop("swap", None)  # update.py's, kept while its bundle came in
            for name in [n for n in sys.modules if n not in before and n[:4] != "web."]:
                sys.modules.pop(name, None)  # config.py, ... (the app dropped them after boot)


async def _route(w, req, resp):
    path = req.path
    write = req.method in ("POST", "PUT")
    if path == "/settings" and not write:
        if await auth(w, req, resp):
            await w.send_file(resp, "settings.html.gz")
    elif path == "/api/v1/config":
        if await auth(w, req, resp):
            from web import settings  # a few times in a dongle's life

            if write:
                await settings.save(w, req, resp)
            else:
                await settings.show(w, resp)
    elif path.startswith("/api/v1/update"):
        if await auth(w, req, resp):
            from web import update  # in the heap while a bundle comes in

            await update.handle(w, req, resp, path[len("/api/v1/update"):])
    elif path == "/api/v1/restart" and write:
        if await auth(w, req, resp):
            await restart(w, resp)
    elif path in ("/", "/settings", "/metrics") or path.startswith("/api/"):
        await resp.send(405, "method not allowed\n", headers=(("Allow", "GET"),))
    else:
        await resp.send(404, "not found\n")


async def auth(w, req, resp):
    """True when the request carries the right user and password, or comes through the
    setup access point while no password is set (or setup mode came from the button);
    else answer 401, 403 while no password is set, or 429 while the client must wait after
    wrong passwords (web/authguard.py)."""
    if setup_client(w, req):
        return True
    if not w.password:
        await resp.send(
            403,
            "no password set for this page yet: choose one in setup mode (the dongle's "
            "own Wi-Fi) or with make config\n",
        )
        return False
    guard = w.guard
    wait_s = guard.wait_s(req.peer) if guard is not None else 0
    if wait_s:
        await resp.send(
            429,
            "too many wrong passwords: try again in {} s\n".format(wait_s),
            headers=(("Retry-After", wait_s),),
        )
        return False
    given = basic_auth(req)
    if given == (w.user, w.password):
        if guard is not None:
            guard.passed(req.peer)
        return True
    w.http_auth_failures += 1
    if given is not None:  # a browser asks first without a password: no failure
        if guard is None:  # the first wrong password
            from web.authguard import AuthGuard

            guard = w.guard = AuthGuard()
        guard.failed(req.peer)
    await resp.send(
        401,
        "password required\n",
        headers=(("WWW-Authenticate", 'Basic realm="hanport", charset="UTF-8"'),),
    )
    return False


def basic_auth(req):
    """(user, password) from an `Authorization: Basic` header, or None."""
    kind, _, token = req.authorization.partition(" ")
    if kind.lower() != "basic" or not token:
        return None
    try:
        user, sep, password = binascii.a2b_base64(token.strip()).decode().partition(":")
    except (ValueError, UnicodeError):
        return None
    return (user, password) if sep else None


def setup_client(w, req):
    """Is setup mode open without a password, and `req` from the access point's network?"""
    portal = w.portal
    if portal is None or not portal.open or (w.password and portal.reason != "button"):
        return False
    return same_net(req.peer, portal.ip, portal.netmask)


def same_net(peer, ip, netmask):
    """Whether address `peer` is on the network of `ip` with `netmask` (dotted quads); False
    for a peer given otherwise (None, or a raw sockaddr)."""
    if not isinstance(peer, str):
        return False
    try:
        a, b, m = [[int(x) for x in s.split(".")] for s in (peer, ip, netmask)]
    except (AttributeError, ValueError):
        return False
    return len(a) == len(b) == len(m) == 4 and all(
        (a[i] & m[i]) == (b[i] & m[i]) for i in range(4)
    )


async def restart(w, resp):
    """Answer, then restart a moment later (new settings, or an update's switch)."""
    if w.restart is None:
        await resp.send(501, {"error": "restart is not available here"})
        return
    await resp.send(200, {"restarting": True, "in_ms": _RESTART_DELAY_MS})
    asyncio.create_task(_restart_later(w.restart))


async def _restart_later(restart):
    await sleep_ms(_RESTART_DELAY_MS)  # let the answer reach the browser first
    log.warning("http", "restarting as asked (new settings or an update)")
    restart()
