"""The dongle's HTTP routes: the ones a browser or a scraper polls stay here, the rest load per
request (admin.py).

    GET  /                 live page (www/index.html.gz)
    GET  /api/v1/reading   latest value of every key, and when each list last came (state.py)
    GET  /api/v1/energy    hours, today, the month's capacity figure and step (energymode.py)
    GET  /api/v1/status    uptime, heap, Wi-Fi, MQTT, frame and HTTP counters, version, board
    GET  /metrics          Prometheus text format (metrics.py, loaded on the first scrape)
    anything else under /api/, /settings, and a wrong method on these: admin.py
In setup mode (portal.py) the phones' connectivity checks, and any request for a name that is not
ours, are redirected to the settings page (setupmode.py). Why a module of its own: httpd.py knows
HTTP, this knows the dongle; the pages are static files compressed at build time
(tools/gzwww.py), and the browser draws everything from the JSON API. Why the split: a dongle
keeps this part in its heap all the time, while the settings, the update and the password checks
run a few times in its life.
"""

import os

import web
from web import httpd

WWW_DIR = "www"  # on flash; the host launcher points it at firmware/www


class Web(httpd.Server):
    """The HTTP server with the routes. They get only what they show: the reading store, the
    status and telemetry callables, the settings file, the setup portal and a way to
    restart."""

    def __init__(
        self, http_cfg, state, status, telemetry, config_path, portal=None, restart=None,
        heads=(),
    ):
        httpd.Server.__init__(self, self.handle, port=http_cfg["port"], heads=heads)
        self.state = state
        self.status = status
        self.telemetry = telemetry
        self.config_path = config_path
        self.portal = portal
        self.restart = restart
        self.hostname = ""
        self.energy = None  # a callable giving GET /api/v1/energy's answer, when the mode is on
        self.www_dir = WWW_DIR
        self.user = http_cfg["user"]
        self.password = http_cfg["password"]
        self.http_auth_failures = 0  # named as telemetry shows it: one name for both
        self.config_saves = 0
        self.config_rejects = 0
        self.update_session = None  # a bundle being received (web/update.py)
        self.update_commits = 0
        self.update_rejects = 0

    def tasks(self):
        return [] if self.portal is None else [("setup", self.portal.step, 100)]

    def add_counters(self, out):
        """This side's counters, for telemetry.py."""
        guard = self.guard
        out["http_requests"] = self.http_requests
        out["http_refused"] = self.http_refused
        out["http_bad_requests"] = self.http_bad_requests
        out["http_too_large"] = self.http_too_large
        out["http_timeouts"] = self.http_timeouts
        out["http_errors"] = self.http_errors
        out["http_accept_failures"] = self.http_accept_failures
        out["http_wrong_passwords"] = guard.wrong if guard else 0
        out["http_auth_throttled"] = guard.throttled if guard else 0
        out["http_auth_failures"] = self.http_auth_failures
        out["config_saves"] = self.config_saves
        out["config_rejects"] = self.config_rejects
        out["update_commits"] = self.update_commits
        out["update_rejects"] = self.update_rejects
        out["state_dropped_keys"] = self.state.dropped_keys
        out["readings"] = self.state.readings
        portal = self.portal
        if portal is not None:
            out["setup_opens"] = portal.opens
            out["dns_answered"] = portal.dns.answered if portal.dns is not None else 0

    def add_gauges(self, out):
        out["http_active"] = self.active
        out["setup_mode"] = 1 if self.portal is not None and self.portal.open else 0

    def setup_info(self):
        """Setup mode's part of GET /api/v1/status."""
        portal = self.portal
        if portal is None:
            return {"setup_mode": False}
        return {
            "setup_mode": portal.open,
            "setup_reason": portal.reason,
            "ap_ssid": portal.ssid if portal.open else None,
            "dns_answered": portal.dns.answered if portal.dns is not None else 0,
        }

    async def handle(self, req, resp):
        """Route one request."""
        path = req.path
        portal = self.portal
        if portal is not None and portal.open:
            from web import setupmode  # in the heap while setup mode is open

            if setupmode.captive(self, req):
                await setupmode.redirect(self, resp)
                return
        if req.method not in ("POST", "PUT"):
            if path == "/":
                await self.send_file(resp, "index.html.gz")
                return
            if path == "/api/v1/reading":
                await resp.send(200, self.state.snapshot())
                return
            if path == "/api/v1/status":
                await resp.send(200, self.status())
                return
            if path == "/api/v1/energy":
                if self.energy is None:
                    await resp.send(404, {"error": "energy accounting is off (energy.enabled)"})
                else:
                    await resp.send(200, self.energy())
                return
            if path == "/metrics":
                from web import metrics  # loads on the first scrape

                counters, gauges = self.telemetry()
                state = self.state
                lines = metrics.lines(state.values, state.lists(), counters, gauges)
                await resp.send(200, lines, "text/plain; version=0.0.4; charset=utf-8")
                return
            if path != "/settings" and not path.startswith("/api/"):
                await resp.send(404, "not found\n")
                return
        from web import admin  # per request, and dropped again

        try:
            await admin.handle(self, req, resp)
        finally:
            web.drop("admin")

    async def send_file(self, resp, name):
        """Answer with a page from `www_dir` (compressed at build time)."""
        path = "{}/{}".format(self.www_dir, name)
        try:
            size = os.stat(path)[6]
            f = open(path, "rb")
        except OSError:
            await resp.send(404, "{} is missing on the device\n".format(name))
            return
        try:
            headers = (("Content-Encoding", "gzip"),)
            await resp.send(200, f, "text/html; charset=utf-8", headers, size)
        finally:
            f.close()
