"""JSON text of what the dongle sends, with numbers written as people read them.

json.dumps writes a float with repr, and MicroPython's repr prints up to 17 significant digits
(9.3 comes out as 9.300000000000001 on double-precision builds). Meter values have at most three
decimals (the finest scaler in the lists is 0.001), so floats are written with three decimals,
trailing zeros trimmed. Everything else is what json.dumps gives.
"""

import json


def number(value):
    """A float as short JSON text ("9.3", "232.0"); anything else as json.dumps writes it."""
    if not isinstance(value, float):
        return json.dumps(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    text = "{:.3f}".format(value).rstrip("0")
    if text.endswith("."):
        text += "0"
    return "0.0" if text == "-0.0" else text


class Merged:
    """Dicts written as one JSON object. The diagnostics have about 60 keys: one dict of them
    needs a table of 584 B in one piece, which a fragmented heap may not have; a few small
    dicts need a few small tables."""

    def __init__(self, *parts):
        self.parts = parts

    def as_dict(self):
        """One dict of every key (GET /metrics sorts them; tests)."""
        out = {}
        for part in self.parts:
            out.update(part)
        return out


_NESTED = (dict, list, tuple, Merged)


def pieces(obj):
    """The same text as dumps(obj), in small pieces: an HTTP answer is written out as they come,
    so no string the size of the whole answer is ever built. A plain value goes out with its
    key in one piece (no generator of its own): the fewer allocations, the less the heap
    fragments."""
    if isinstance(obj, (dict, Merged)):
        sep = "{"
        for part in obj.parts if isinstance(obj, Merged) else (obj,):
            for key in part:
                value = part[key]
                if isinstance(value, _NESTED):
                    yield "{}{}: ".format(sep, json.dumps(str(key)))
                    yield from pieces(value)
                else:
                    yield "{}{}: {}".format(sep, json.dumps(str(key)), number(value))
                sep = ", "
        yield "{}" if sep == "{" else "}"
    elif isinstance(obj, (list, tuple)):
        sep = "["
        for value in obj:
            if isinstance(value, _NESTED):
                yield sep
                yield from pieces(value)
            else:
                yield sep + number(value)
            sep = ", "
        yield "[]" if sep == "[" else "]"
    else:
        yield number(obj)


def into(buf, obj):
    """Write the JSON text of obj as UTF-8 into the bytearray buf; the number of bytes written,
    or -1 when it does not fit. A message built this way needs no heap of its size."""
    n = 0
    size = len(buf)
    for piece in pieces(obj):
        data = piece.encode()
        end = n + len(data)
        if end > size:
            return -1
        buf[n:end] = data
        n = end
    return n


def dumps(obj):
    """JSON text of dicts (and Merged), lists and plain values, floats through number(); joined
    once from pieces(), so building it holds the text only once besides its small pieces."""
    return "".join(pieces(obj))
