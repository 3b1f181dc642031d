"""Settings in one JSON file on flash: defaults, validation with clear messages, atomic writes.

The device must never brick on a bad file. `load()` starts from the defaults, takes every valid
value from the file, and reports (never raises) what it had to ignore. `update()` is the strict
path used by `make config`: it refuses bad values with a message saying what to fix, and writes
the file atomically (temporary file + rename) so a power cut leaves the old or the new file.
Everything here is plain data; nothing touches hardware.
"""

import json
import os

from uartsrc import LINE_NAMES

PATH = "config.json"

DEFAULTS = {
    "board": "esp32-devkitc",
    "wifi": {"ssid": "", "password": "", "hostname": ""},
    "mqtt": {
        "host": "",
        "port": 1883,
        "user": "",
        "password": "",
        "tls": False,
        "client_id": "",
        "prefix": "hanport",
        "keepalive_s": 60,
    },
    # baud "auto": the dongle finds baud, parity and RX inversion itself (bits and stop unused)
    # and saves what it found in "found" (one of uartsrc.LINE_NAMES, or ""), where the next
    # boot starts
    "uart": {"baud": "auto", "bits": 8, "parity": "E", "stop": 1, "invert_rx": None, "found": ""},
    # AES-128 keys of meters that cipher their lists (32 hex digits; the grid company gives them)
    "meter": {"key": "", "auth_key": ""},
    "publish": {
        "state": True,
        "per_value_topics": False,
        "discovery": True,
        "discovery_prefix": "homeassistant",
        "diagnostics_s": 60,
    },
    # safe_window_s: after power-on the LED blinks fast this long; the setup button pressed
    # meanwhile keeps the app from starting (safe mode, the REPL stays free)
    "health": {"watchdog_s": 60, "safe_window_s": 3},
    # No shared default password: the owner chooses one in setup mode or with `make config`;
    # until then the settings answer only on the dongle's own access point (web/routes.py).
    "http": {"enabled": True, "port": 80, "user": "admin", "password": ""},
    "log": {"level": "info"},
    # Hour by hour energy and the capacity step (energymode.py); the accounting's settings are
    # checked by energy.settings(). ntp_host: the clock before the first list 3 ("": none).
    # Off by default: it needs about 24 KB more heap, which a plain ESP32 with HTTP on does not
    # have (README, "Memory"); boards with PSRAM turn it on in the settings or `make config`.
    "energy": {
        "enabled": False,
        "method": "TRE_DØGNMAX_MND",
        "days": 3,
        "ladder_kw": [0, 2, 5, 10, 15, 20, 25, 50, 75, 100, 150, 200],
        "windows": [],
        "resolution_min": 60,
        "ntp_host": "pool.ntp.org",
        "publish_s": 60,
    },
}

# Keys whose default is None take a bool or None ("use the board's value").
_NULLABLE_BOOL = ("uart.invert_rx",)
_FILE_MAX = 4096  # several times the largest valid file (about 700 B); a bigger one is not ours
_WATCHDOG_MIN_S = 30  # a shorter watchdog would reset a dongle that is working

_INT_RANGES = {
    "mqtt.port": (1, 65535),
    "mqtt.keepalive_s": (0, 65535),
    "uart.baud": (300, 1000000),
    "uart.bits": (7, 8),
    "uart.stop": (1, 2),
    "publish.diagnostics_s": (0, 86400),
    "health.watchdog_s": (0, 3600),  # and not 1.._WATCHDOG_MIN_S - 1
    "health.safe_window_s": (0, 30),
    "http.port": (1, 65535),
    "energy.publish_s": (5, 3600),
}
_CHOICES = {
    "uart.parity": ("E", "N", "O"),
    "uart.found": ("",) + LINE_NAMES,
    "log.level": ("debug", "info", "warning", "error"),
}
_ENERGY_RULES = ("energy.method", "energy.days", "energy.ladder_kw", "energy.windows",
                 "energy.resolution_min")
_TOPIC_PARTS = ("mqtt.prefix", "publish.discovery_prefix")
# The page's user and password are never set to empty: the settings page must never be left
# open. The password is empty only until the owner first chooses one (its default).
_NOT_EMPTY = ("http.user", "http.password")
# The password every dongle had before there was none by default: never accepted, so a dongle
# still on it is treated as having no password (setup mode sets one) rather than an open door.
_SHARED_PASSWORDS = ("hanport",)

# Secrets: never sent back by the API, shown as MASK; sending MASK back keeps the stored one.
SECRETS = ("wifi.password", "mqtt.password", "http.password", "meter.key", "meter.auth_key")
_HEX_KEYS = ("meter.key", "meter.auth_key")
MASK = "********"


def defaults():
    """A fresh deep copy of the defaults (callers may change it)."""
    return json.loads(json.dumps(DEFAULTS))


def check_value(name, value, strict=True):
    """Return None when `value` is valid for setting `name` ("mqtt.port"), else the problem.

    The energy accounting's settings are checked by its own rules (energy.settings) only when
    `strict`; at boot only their type is, and energymode.py checks them when the mode starts, so
    booting does not load the accounting's code among the boot-only modules (a fragmented heap).
    """
    default = _default_of(name)
    if default is _MISSING:
        return "unknown setting {} (typo?)".format(name)
    if name in _ENERGY_RULES:
        if strict:
            return _check_energy(name, value)
        if type(value) is type(default):
            return None
        return "{} must be a {}, not {!r}".format(name, type(default).__name__, value)
    if name == "uart.baud":  # "auto" or a number
        if value == "auto":
            return None
        default = 2400
        if isinstance(value, str):
            return "uart.baud must be auto or a whole number, not {!r}".format(value)
    if name in _NULLABLE_BOOL:
        if value is None or isinstance(value, bool):
            return None
        return "{} must be true, false or null, not {!r}".format(name, value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return None
        return "{} must be true or false, not {!r}".format(name, value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return "{} must be a whole number, not {!r}".format(name, value)
        low, high = _INT_RANGES.get(name, (0, 1 << 30))
        if name == "health.watchdog_s" and 0 < value < _WATCHDOG_MIN_S:
            # The health task feeds it once a second, and TLS or MQTT connects block for seconds.
            return "health.watchdog_s must be 0 (off) or at least {} s, not {}".format(
                _WATCHDOG_MIN_S, value
            )
        if not low <= value <= high:
            return "{} must be between {} and {}, not {}".format(name, low, high, value)
        return None
    if not isinstance(value, str):
        return "{} must be a string, not {!r}".format(name, value)
    if len(value) > 128:
        return "{} is longer than 128 characters".format(name)
    choices = _CHOICES.get(name)
    if choices and value not in choices:
        return "{} must be one of {}, not {!r}".format(name, ", ".join(choices), value)
    if name in _HEX_KEYS and value and not _is_hex(value, 32):
        return "{} must be 32 hex digits (16 bytes) or empty".format(name)
    if name in _NOT_EMPTY and not value:
        return "{} must not be empty".format(name)
    if name == "http.password" and value in _SHARED_PASSWORDS:
        return "http.password {!r} was every dongle's default; choose your own".format(value)
    if name in _TOPIC_PARTS:
        if not value or "#" in value or "+" in value or value[0] == "/" or value[-1] == "/":
            return "{} must be a non-empty topic without #, + or leading/trailing /".format(name)
    return None


def _check_energy(name, value):
    """The accounting's own rules (energy.settings), for `make config` and the settings page."""
    import energy

    try:
        energy.settings({name[7:]: value})
        return None
    except (ValueError, TypeError) as exc:
        return str(exc)


def merge(cfg, changes, strict=True):
    """Apply `changes` (nested dict) onto `cfg` in place; return the list of problems found.

    Invalid or unknown values are skipped, so `cfg` stays valid whatever `changes` holds.
    """
    problems = []
    if not isinstance(changes, dict):
        return ["the settings must be a JSON object, not {}".format(type(changes).__name__)]
    for key, value in changes.items():
        target = cfg.get(key, _MISSING)
        if isinstance(target, dict):
            if not isinstance(value, dict):
                problems.append("{} must be an object of settings".format(key))
                continue
            for sub, subvalue in value.items():
                name = "{}.{}".format(key, sub)
                problem = check_value(name, subvalue, strict)
                if problem:
                    problems.append(problem)
                else:
                    target[sub] = subvalue
        else:
            problem = check_value(key, value, strict)
            if problem:
                problems.append(problem)
            else:
                cfg[key] = value
    return problems


def load(path=PATH):
    """Read the file; return (config, problems). Never raises: bad parts fall back to defaults."""
    cfg = defaults()
    notes = []
    try:
        data = _read(path)
    except OSError:
        try:
            # A power cut between remove and rename (FAT) leaves only the new file's copy.
            data = _read(path + ".tmp")
            notes.append("recovered settings from {}.tmp".format(path))
        except OSError:
            return cfg, ["no config file {}; using defaults".format(path)]
    if data is None:
        return cfg, ["config file {} is over {} bytes; using defaults".format(path, _FILE_MAX)]
    # Any content at all, not only bad JSON, must leave the dongle booting on defaults.
    try:
        text = data.decode()
    except Exception:  # UnicodeError; MemoryError on a nearly full heap
        return cfg, ["config file {} is not UTF-8 text; using defaults".format(path)]
    try:
        stored = json.loads(text)
    except Exception:  # ValueError; also RuntimeError or MemoryError for absurd nesting
        return cfg, ["config file {} is not valid JSON; using defaults".format(path)]
    try:
        _drop_unset_password(stored)
        problems = merge(cfg, stored, False)
    except Exception as exc:  # merge checks every type, but the boot must not depend on it
        return defaults(), ["config file {} could not be applied ({!r}); using defaults".format(
            path, exc)]
    return cfg, notes + ["{} (kept default)".format(p) for p in problems]


def _drop_unset_password(stored):
    """A saved file holds the page password as "" until the owner chooses one: that is the
    default, not a value to refuse."""
    http = stored.get("http") if isinstance(stored, dict) else None
    if isinstance(http, dict) and http.get("password") == "":
        del http["password"]


def _read(path):
    """The file's bytes, undecoded; None when it is over _FILE_MAX (asked of the file system,
    so a huge file costs no buffer: reading up to the bound would take 4 KB of heap at boot)."""
    if os.stat(path)[6] > _FILE_MAX:
        return None
    with open(path, "rb") as f:
        return f.read()


def save(cfg, path=PATH):
    """Write `cfg` atomically: a temporary file first, then a rename over the old file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT cannot rename over an existing file; littlefs and POSIX can.
        os.remove(path)
        os.rename(tmp, path)


def update(changes, path=PATH):
    """Validate `changes` strictly, merge them into the stored file and save; return the config.

    Raises ValueError listing every problem, and then writes nothing.
    """
    cfg, _ = load(path)
    problems = merge(cfg, changes)
    if problems:
        raise ValueError("; ".join(problems))
    save(cfg, path)
    return cfg


def _is_hex(text, digits):
    return len(text) == digits and all(c in "0123456789abcdefABCDEF" for c in text)


def parse(name, text):
    """The value of setting `name` from its text form ("mqtt.port", "1883" -> 1883), typed by
    its default; ValueError saying what to fix when the setting or the value is not valid."""
    default = _default_of(name)
    if default is _MISSING:
        raise ValueError("unknown setting {} (typo?)".format(name))
    value = text
    if isinstance(default, list):  # energy.ladder_kw, energy.windows: JSON text
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError("{} must be JSON, e.g. {}".format(name, json.dumps(default)))
    elif isinstance(default, bool) or default is None:
        value = {"true": True, "1": True, "false": False, "0": False, "null": None}.get(
            text.lower(), text
        )
    elif (isinstance(default, int) or name == "uart.baud") and text.lstrip("-").isdigit():
        value = int(text)
    problem = check_value(name, value)
    if problem:
        raise ValueError(problem)
    return value


def masked(cfg):
    """A copy of the settings with every non-empty secret replaced by MASK."""
    out = json.loads(json.dumps(cfg))
    for name in SECRETS:
        section, key = name.split(".")
        if out.get(section, {}).get(key):
            out[section][key] = MASK
    return out


def unmask(changes):
    """Drop secrets sent back as MASK from `changes`, so saving a form unchanged keeps them."""
    for name in SECRETS:
        section, key = name.split(".")
        part = changes.get(section)
        if isinstance(part, dict) and part.get(key) == MASK:
            del part[key]


_MISSING = object()


def _default_of(name):
    node = DEFAULTS
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    if isinstance(node, dict):
        return _MISSING
    return node
