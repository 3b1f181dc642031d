"""The dongle's HTTP routes: JSON API, Prometheus metrics, the live page and the settings page.

    GET  /                 live page (www/index.html.gz)
    GET  /settings         settings page (www/settings.html.gz)           Basic auth
    GET  /api/v1/reading   latest value of every key, and when each list last came (state.py)
    GET  /api/v1/status    uptime, heap, Wi-Fi, MQTT, frame and HTTP counters, version, board
    GET  /metrics          Prometheus text format (metrics.py)
    GET  /api/v1/config    the settings, secrets masked                   Basic auth
    POST /api/v1/config    change settings: all valid and saved, or none  Basic auth
    POST /api/v1/restart   restart to apply saved settings                Basic auth
In setup mode (portal.py) the phones' connectivity checks, and any request for a name that is not
ours, are redirected to the settings page. Why a module of its own: httpd.py knows HTTP, this
knows the dongle; the pages are static files compressed at build time (tools/gzwww.py), and the
browser draws everything from the JSON API.
"""

import asyncio
import json
import os

import config
import httpd
import jsonout
import log
import metrics
from compat import sleep_ms
from portal import PROBES
from version import VERSION

WWW_DIR = "www"  # on flash; the host launcher points it at firmware/www
MASK = "********"  # stands for a stored secret; sending it back keeps the secret unchanged
SECRETS = (("wifi", "password"), ("mqtt", "password"), ("http", "password"))
_RESTART_DELAY_MS = 1000
_JSON = "application/json"
_PAGES = {"/": "index.html.gz", "/settings": "settings.html.gz"}


def masked(cfg):
    """A copy of the settings with every non-empty secret replaced by MASK."""
    out = json.loads(json.dumps(cfg))
    for section, key in SECRETS:
        if out.get(section, {}).get(key):
            out[section][key] = MASK
    return out


def unmask(changes):
    """Drop secrets sent back as MASK, so saving the form unchanged keeps them."""
    for section, key in SECRETS:
        part = changes.get(section)
        if isinstance(part, dict) and part.get(key) == MASK:
            del part[key]


def _is_ip(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


class Web:
    def __init__(self, app, config_path, portal=None, restart=None, port=None, www_dir=None):
        http_cfg = app.cfg["http"]
        self.app = app
        self.config_path = config_path
        self.portal = portal
        self.restart = restart
        self.port = http_cfg["port"] if port is None else port
        self.www_dir = www_dir or WWW_DIR
        self.user = http_cfg["user"]
        self.password = http_cfg["password"]
        self.server = httpd.Server(self.handle)
        self.auth_failures = 0
        self.config_saves = 0
        self.config_rejects = 0

    async def start(self):
        """Open the listening socket (inside the running loop)."""
        self.port = await self.server.start("0.0.0.0", self.port)
        return self.port

    def tasks(self):
        if self.portal is None:
            return []
        return [("setup", self.portal.step, 100)]

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
            await self._json(resp, 200, self.app.state.snapshot())
        elif path == "/api/v1/status" and not write:
            await self._json(resp, 200, self.status())
        elif path == "/metrics" and not write:
            await self._metrics(resp)
        elif path == "/api/v1/config":
            if not await self._auth(req, resp):
                return
            if write:
                await self._save_config(req, resp)
            else:
                await self._json(resp, 200, masked(config.load(self.config_path)[0]))
        elif path == "/api/v1/restart" and write:
            if await self._auth(req, resp):
                await self._restart(resp)
        elif path in _PAGES or path.startswith("/api/") or path == "/metrics":
            await resp.send(405, "method not allowed\n", headers=(("Allow", "GET"),))
        else:
            await resp.send(404, "not found\n")

    # --- the parts ---

    def status(self):
        app = self.app
        wifi = app.wifi
        pub = app.publisher
        frames = {"bytes_in": app.source.bytes_in, "reading_errors": app.reading_errors}
        frames.update(app.reader.stats.as_dict())
        ip = None
        if wifi.up:
            try:
                ip = wifi.wlan.ifconfig()[0]
            except OSError:
                pass
        info = app.health.snapshot()
        return {
            "firmware": VERSION,
            "board": app.board["name"],
            "uptime_s": info["uptime_s"],
            "mem_free": info["mem_free"],
            "task_errors": info["task_errors"],
            "wifi": {"connected": wifi.up, "ssid": wifi.ssid, "ip": ip, "rssi": wifi.rssi()},
            "mqtt": {
                "enabled": pub is not None,
                "connected": pub is not None and pub.connected,
                "connects": pub.connects if pub is not None else 0,
                "failures": pub.failures if pub is not None else 0,
                "published": pub.published if pub is not None else 0,
            },
            "meter": {
                "manufacturer": app.meter.manufacturer,
                "model": app.meter.model,
                "id": app.meter.id,
                "readings": app.meter.readings,
            },
            "frames": frames,
            "http": self.server.stats(),
            "setup": self.portal.info() if self.portal is not None else {"setup_mode": False},
        }

    async def _json(self, resp, status, obj):
        await resp.send(status, jsonout.dumps(obj), _JSON)

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
        app = self.app
        state = app.state
        pub = app.publisher
        counters = dict(app.reader.stats.as_dict())
        counters["bytes_in"] = app.source.bytes_in
        counters["reading_errors"] = app.reading_errors
        counters["readings"] = state.readings
        for key, value in self.server.stats().items():
            if key != "http_active":
                counters[key] = value
        if pub is not None:
            counters["mqtt_published"] = pub.published
            counters["mqtt_connects"] = pub.connects
            counters["mqtt_failures"] = pub.failures
        info = app.health.snapshot()
        gauges = {
            "uptime_seconds": info["uptime_s"],
            "mem_free_bytes": info["mem_free"],
            "wifi_rssi_dbm": app.wifi.rssi(),
            "wifi_connected": 1 if app.wifi.up else 0,
            "mqtt_connected": 1 if pub is not None and pub.connected else 0,
            "setup_mode": 1 if self.portal is not None and self.portal.open else 0,
        }
        await resp.start(200, "text/plain; version=0.0.4; charset=utf-8")
        for piece in metrics.lines(state.values, state.lists(), counters, gauges):
            await resp.write(piece)

    async def _auth(self, req, resp):
        """True when the request carries the right user and password; else answer 401."""
        if req.basic_auth() == (self.user, self.password):
            return True
        self.auth_failures += 1
        log.warning("http", "wrong or missing password from {}", req.peer)
        await resp.send(
            401,
            "password required\n",
            headers=(("WWW-Authenticate", 'Basic realm="hanport", charset="UTF-8"'),),
        )
        return False

    async def _save_config(self, req, resp):
        try:
            changes = json.loads(bytes(req.body).decode())
        except (ValueError, UnicodeError) as exc:
            self.config_rejects += 1
            await self._json(resp, 400, {"error": "the body is not valid JSON ({})".format(exc)})
            return
        if not isinstance(changes, dict):
            self.config_rejects += 1
            await self._json(resp, 400, {"error": "the settings must be a JSON object"})
            return
        unmask(changes)
        http_part = changes.get("http")
        if isinstance(http_part, dict) and http_part.get("password") == "":
            self.config_rejects += 1
            await self._json(resp, 400, {"error": "http.password must not be empty"})
            return
        try:
            cfg = config.update(changes, self.config_path)
        except ValueError as exc:
            self.config_rejects += 1
            await self._json(resp, 400, {"error": str(exc)})
            return
        except OSError as exc:
            self.config_rejects += 1
            await self._json(resp, 500, {"error": "could not save: {!r}".format(exc)})
            return
        self.config_saves += 1
        self.user = cfg["http"]["user"]
        self.password = cfg["http"]["password"]
        log.info("http", "settings saved from {}", req.peer)
        await self._json(
            resp, 200, {"saved": True, "restart_needed": True, "config": masked(cfg)}
        )

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

    def _captive(self, req):
        """In setup mode: is this a connectivity check, or a request for a name not ours?"""
        if req.path in PROBES:
            return True
        host = req.host.split(":")[0]
        return bool(host) and not _is_ip(host) and host != self.app.wifi.hostname

    async def _redirect(self, resp, ip):
        port = "" if self.port == 80 else ":{}".format(self.port)
        where = "http://{}{}/settings".format(ip, port)
        await resp.send(302, "setup: {}\n".format(where), headers=(("Location", where),))
