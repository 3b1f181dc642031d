"""The dongle's HTTP routes: JSON API, Prometheus metrics, the live page and the settings page.

    GET  /                 live page (www/index.html.gz)
    GET  /settings         settings page (www/settings.html.gz)           Basic auth
    GET  /api/v1/reading   latest value of every key, and when each list last came (state.py)
    GET  /api/v1/energy    hours, today, the month's capacity figure and step (energymode.py)
    GET  /api/v1/status    uptime, heap, Wi-Fi, MQTT, frame and HTTP counters, version, board
    GET  /metrics          Prometheus text format (metrics.py)
    GET  /api/v1/config    the settings, secrets masked                   Basic auth
    POST /api/v1/config    change settings: all valid and saved, or none  Basic auth
    POST /api/v1/restart   restart to apply saved settings                Basic auth
    GET, POST /api/v1/update[/begin|/piece|/commit]  update over Wi-Fi    Basic auth
Basic auth: the page's own password (http.password). Until the owner has chosen one, these
answer only in setup mode and only to clients of the dongle's own access point, where the
setup page asks for it first; in setup mode opened with the button (someone at the meter
cabinet), they answer there without one, so a forgotten password can be replaced.
In setup mode (portal.py) the phones' connectivity checks, and any request for a name that is not
ours, are redirected to the settings page. Why a module of its own: httpd.py knows HTTP, this
knows the dongle; the pages are static files compressed at build time (tools/gzwww.py), and the
browser draws everything from the JSON API.
"""

import asyncio
import os

import jsonout
import log
from compat import sleep_ms
from web import httpd
from web.portal import PROBES

WWW_DIR = "www"  # on flash; the host launcher points it at firmware/www
_RESTART_DELAY_MS = 1000
_JSON = "application/json"
_PAGES = {"/": "index.html.gz", "/settings": "settings.html.gz"}


def _is_ip(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _same_net(peer, ip, netmask):
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


class Web:
    """The routes. They get only what they show: the reading store, the status and telemetry
    callables, the settings file, the setup portal and a way to restart."""

    def __init__(
        self, http_cfg, state, status, telemetry, config_path, portal=None, restart=None
    ):
        self.state = state
        self.status = status
        self.telemetry = telemetry
        self.config_path = config_path
        self.portal = portal
        self.restart = restart
        self.hostname = ""
        self.energy = None  # a callable giving GET /api/v1/energy's answer, when the mode is on
        self.port = http_cfg["port"]
        self.www_dir = WWW_DIR
        self.user = http_cfg["user"]
        self.password = http_cfg["password"]
        self.server = httpd.Server(self.handle)
        self.auth_failures = 0
        self.config_saves = 0
        self.config_rejects = 0
        self.update_session = None  # a bundle being received (web/update.py)
        self.update_commits = 0
        self.update_rejects = 0

    async def start(self):
        """Open the listening socket (inside the running loop)."""
        self.port = await self.server.start("0.0.0.0", self.port)
        return self.port

    def tasks(self):
        if self.portal is None:
            return []
        return [("setup", self.portal.step, 100)]

    def add_counters(self, out):
        """This side's counters, for telemetry.py."""
        for key, value in self.server.stats().items():
            if key != "http_active":
                out[key] = value
        out["http_auth_failures"] = self.auth_failures
        out["config_saves"] = self.config_saves
        out["config_rejects"] = self.config_rejects
        out["update_commits"] = self.update_commits
        out["update_rejects"] = self.update_rejects
        out["state_dropped_keys"] = self.state.dropped_keys
        out["readings"] = self.state.readings
        if self.portal is not None:
            out["setup_opens"] = self.portal.opens
            out["dns_answered"] = self.portal.dns.answered if self.portal.dns is not None else 0

    def add_gauges(self, out):
        out["http_active"] = self.server.active
        out["setup_mode"] = 1 if self.portal is not None and self.portal.open else 0

    def setup_info(self):
        if self.portal is None:
            return {"setup_mode": False}
        return self.portal.info()

    async def handle(self, req, resp):
        """Route one request."""
        path = req.path
        portal = self.portal
        if portal is not None and portal.open and self._captive(req):
            await self._redirect(resp, portal.ip)
            return
        write = req.method in ("POST", "PUT")
        if path in _PAGES and not write:
            if path == "/settings" and not await self._auth(req, resp):
                return
            await self._file(resp, _PAGES[path], "text/html; charset=utf-8")
        elif path == "/api/v1/reading" and not write:
            await self._json(resp, 200, self.state.snapshot())
        elif path == "/api/v1/energy" and not write:
            if self.energy is None:
                await self._json(resp, 404, {"error": "energy accounting is off (energy.enabled)"})
            else:
                await self._json(resp, 200, self.energy())
        elif path == "/api/v1/status" and not write:
            await self._json(resp, 200, self.status())
        elif path == "/metrics" and not write:
            await self._metrics(resp)
        elif path == "/api/v1/config":
            if await self._auth(req, resp):
                from web import settings  # the settings code loads only when it is used

                if write:
                    await settings.save(self, req, resp)
                else:
                    await settings.show(self, resp)
        elif path.startswith("/api/v1/update"):
            if await self._auth(req, resp):
                from web import update  # the update code loads only when an update comes

                await update.handle(self, req, resp, path[len("/api/v1/update"):])
        elif path == "/api/v1/restart" and write:
            if await self._auth(req, resp):
                await self._restart(resp)
        elif path in _PAGES or path.startswith("/api/") or path == "/metrics":
            await resp.send(405, "method not allowed\n", headers=(("Allow", "GET"),))
        else:
            await resp.send(404, "not found\n")

    # --- the parts ---

    async def _json(self, resp, status, obj):
        # Written in pieces without a Content-Length (every answer ends with the connection).
        await resp.start(status, _JSON)
        for piece in jsonout.pieces(obj):
            await resp.write(piece)

    async def _file(self, resp, name, content_type):
        path = "{}/{}".format(self.www_dir, name)
        try:
            size = os.stat(path)[6]
            f = open(path, "rb")
        except OSError:
            await resp.send(404, "{} is missing on the device\n".format(name))
            return
        try:
            await resp.start(200, content_type, size, (("Content-Encoding", "gzip"),))
            await resp.write_file(f)
        finally:
            f.close()

    async def _metrics(self, resp):
        from web import metrics  # loads on the first scrape

        counters, gauges = self.telemetry()
        state = self.state
        await resp.start(200, "text/plain; version=0.0.4; charset=utf-8")
        for piece in metrics.lines(state.values, state.lists(), counters, gauges):
            await resp.write(piece)

    async def _auth(self, req, resp):
        """True when the request carries the right user and password, or comes through the
        setup access point while no password is set (or setup mode came from the button);
        else answer 401, 403 while no password is set, or 429 while the client must wait after
        wrong passwords (web/authguard.py)."""
        if self._setup_client(req):
            return True
        if not self.password:
            await resp.send(
                403,
                "no password set for this page yet: choose one in setup mode (the dongle's "
                "own Wi-Fi) or with make config\n",
            )
            return False
        guard = self.server.guard
        wait_s = guard.wait_s(req.peer) if guard is not None else 0
        if wait_s:
            await resp.send(
                429,
                "too many wrong passwords: try again in {} s\n".format(wait_s),
                headers=(("Retry-After", wait_s),),
            )
            return False
        given = req.basic_auth()
        if given == (self.user, self.password):
            if guard is not None:
                guard.passed(req.peer)
            return True
        self.auth_failures += 1
        if given is not None:  # a browser asks first without a password: no failure
            self.server.auth_guard().failed(req.peer)
        await resp.send(
            401,
            "password required\n",
            headers=(("WWW-Authenticate", 'Basic realm="hanport", charset="UTF-8"'),),
        )
        return False

    async def _restart(self, resp):
        if self.restart is None:
            await self._json(resp, 501, {"error": "restart is not available here"})
            return
        await self._json(resp, 200, {"restarting": True, "in_ms": _RESTART_DELAY_MS})
        asyncio.create_task(self._restart_later())

    async def _restart_later(self):
        await sleep_ms(_RESTART_DELAY_MS)  # let the answer reach the browser first
        log.warning("http", "restarting to apply the settings")
        self.restart()

    def _setup_client(self, req):
        """Is setup mode open without a password, and `req` from the access point's network?"""
        portal = self.portal
        if portal is None or not portal.open or (self.password and portal.reason != "button"):
            return False
        return _same_net(req.peer, portal.ip, portal.netmask)

    def _captive(self, req):
        """In setup mode: is this a connectivity check, or a request for a name not ours?"""
        if req.path in PROBES:
            return True
        host = req.host.split(":")[0]
        return bool(host) and not _is_ip(host) and host != self.hostname

    async def _redirect(self, resp, ip):
        port = "" if self.port == 80 else ":{}".format(self.port)
        where = "http://{}{}/settings".format(ip, port)
        await resp.send(302, "setup: {}\n".format(where), headers=(("Location", where),))
