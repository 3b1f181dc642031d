"""A tiny levelled logger: the app picks the level and where lines go; libraries never print.

Messages are `format()` templates and are only formatted when the level is enabled, so a debug
line in a hot path costs one integer compare on the device.
"""

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
NAMES = ("debug", "info", "warning", "error")  # the levels in order, 10 apart

level = INFO
sink = print  # the app may replace this, e.g. with a ring buffer or a file writer


def set_level(name):
    """Set the level by name ("debug", "info", "warning", "error")."""
    global level
    level = (NAMES.index(name) + 1) * 10  # ValueError for a name that is not a level


def _emit(lvl, where, msg, args):
    if lvl < level:
        return
    if args:
        try:
            msg = msg.format(*args)
        except Exception:  # a bad template must not take the caller down
            msg = "{} {}".format(msg, args)
    sink("{} {}: {}".format("DIWE"[lvl // 10 - 1], where, msg))


def debug(where, msg, *args):
    _emit(DEBUG, where, msg, args)


def info(where, msg, *args):
    _emit(INFO, where, msg, args)


def warning(where, msg, *args):
    _emit(WARNING, where, msg, args)


def error(where, msg, *args):
    _emit(ERROR, where, msg, args)
