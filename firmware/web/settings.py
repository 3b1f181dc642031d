"""GET and POST /api/v1/config: the settings, secrets masked, and changes saved as a whole.

Loaded on the first request for it (web/routes.py) and kept out of the heap until then: a
dongle's settings change a few times in its life. Validation, masking and the atomic write are
config.py's; this only speaks HTTP.
"""

import json

import config
import log

_JSON = "application/json"


async def show(web, resp):
    await resp.send(200, config.masked(config.load(web.config_path)[0]))


async def save(web, req, resp):
    try:
        changes = json.loads(bytes(req.body).decode())
    except (ValueError, UnicodeError) as exc:
        await _refuse(web, resp, 400, "the body is not valid JSON ({})".format(exc))
        return
    if not isinstance(changes, dict):
        await _refuse(web, resp, 400, "the settings must be a JSON object")
        return
    config.unmask(changes)
    if not web.password and not _password_in(changes):
        # Setup mode on a dongle without a password: the page's password comes first.
        await _refuse(web, resp, 400, "choose a password for this page (http.password) first")
        return
    try:
        cfg = config.update(changes, web.config_path)
    except ValueError as exc:
        await _refuse(web, resp, 400, str(exc))
        return
    except OSError as exc:
        await _refuse(web, resp, 500, "could not save: {!r}".format(exc))
        return
    web.config_saves += 1
    web.user = cfg["http"]["user"]
    web.password = cfg["http"]["password"]
    log.info("http", "settings saved from {}", req.peer)
    answer = {"saved": True, "restart_needed": True, "config": config.masked(cfg)}
    await resp.send(200, answer)


def _password_in(changes):
    http = changes.get("http")
    return isinstance(http, dict) and bool(http.get("password"))


async def _refuse(web, resp, status, error):
    web.config_rejects += 1
    await resp.send(status, {"error": error})
