"""The dongle's optional HTTP side, imported only when `http.enabled` is on.

    httpd     a small bounded asyncio HTTP/1.1 server (listen.py opens it, refuse.py answers
              requests it cannot take)
    routes    the routes that are polled: the page, the JSON API, metrics
    admin     the rest (settings page, config, update, restart, passwords), per request
    settings  GET/POST /api/v1/config
    metrics   Prometheus text format
    state     the latest value of every reading key, for the API
    portal    when setup mode is due; setupmode opens the dongle's own access point (dnsd
              answers DNS while it is open)
Nothing here is imported by the meter reader or the MQTT side. What loads per use leaves again
through drop().
"""

import sys


def drop(name):
    """Forget submodule `web.<name>` after use, so its code leaves the heap at the next collect
    (the caller keeps no reference to it)."""
    sys.modules.pop("web." + name, None)
    globals().pop(name, None)
