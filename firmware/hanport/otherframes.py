"""The reader's side of M-Bus, P1 and bare ciphered frames.

Loaded by hanport.Reader when the HDLC framer first stops at a byte that may open another kind
of frame between HDLC frames (68: M-Bus, "/": P1, with a key DB: a ciphered APDU without a
frame). A dongle whose meter sends HDLC only never loads it. From then on every feed comes
here: the framer of the frame in progress takes the bytes until its frame ends or turns out not
to be one, and the HDLC framer takes the rest.
"""

from .compat import const

_MBUS_START = const(0x68)
_GLO_CIPHERING = const(0xDB)


def feed(reader, data, i):
    """Reader.feed from data[i:] once other frames are in play (the HDLC framer, fed from
    data[i] again, stops at once where it stopped before)."""
    framer = reader._framer
    mbus = reader._mbus
    if mbus is not None and mbus.push_pending():
        mbus.expire()
    end = len(data)
    other = reader._other
    while i < end:
        if other is not None:
            i = other.feed(data, i, end)
            if other.active:
                break
            if other is mbus and mbus.replayed:
                _replay(framer, mbus)
            other = reader._other = None
            continue
        if mbus is not None and mbus.push_pending():
            # The push's data sits at the front of the buffer, where the HDLC framer puts
            # a flag it meets: a lone flag is put back, a frame gives the push up.
            before = _hdlc_outcomes(reader)
            first = framer._buf[0]
            i = framer.feed(data, i)
            if framer._n or _hdlc_outcomes(reader) != before:
                mbus.abandon("an HDLC frame broke into an M-Bus push")
            else:
                framer._buf[0] = first
        else:
            i = framer.feed(data, i)
        if i < end:
            other = reader._other = _framer_for(reader, data[i])
            mbus = reader._mbus
            other.begin()


def flush(reader):
    """Reader.flush, with a frame of another kind in progress."""
    p1 = reader._p1
    if p1 is not None and reader._other is p1:
        p1.flush()
        if not p1.active:
            reader._other = None


def _framer_for(reader, start):
    """The M-Bus or P1 framer for a frame that starts with this byte, made on first use
    (their code is imported only by a dongle whose meter sends such frames)."""
    if start == _MBUS_START:
        if reader._mbus is None:
            from . import mbus

            reader._mbus = mbus.Framer(
                reader._framer, reader._on_info, reader._on_reject, reader._clock
            )
        return reader._mbus
    if reader._mbus is not None and reader._mbus.push_pending():
        reader._mbus.abandon("another frame broke into an M-Bus push")
    if start == _GLO_CIPHERING:
        if reader._bare is None:
            from . import gcm

            reader._bare = gcm.Framer(
                reader._framer, lambda buf, start, end: _on_bare(reader, buf, start, end)
            )
        return reader._bare
    if reader._p1 is None:
        from . import p1

        reader._p1 = p1.Framer(
            reader._framer, lambda buf, start, end: _on_telegram(reader, buf, start, end)
        )
    return reader._p1


def _replay(framer, mbus):
    """Scan the bytes an M-Bus false start took (68 L L: L may be an HDLC flag) as HDLC."""
    framer.watch = False
    framer.feed(memoryview(mbus.replay)[: mbus.replayed])
    framer.watch = True
    mbus.replayed = 0


def _hdlc_outcomes(reader):
    stats = reader.stats  # the HDLC framer's counters
    return (
        stats.frames_ok + stats.hcs_errors + stats.fcs_errors + stats.oversized + stats.truncated
        + stats.bad_format + stats.undecodable + stats.push_frames + stats.abandoned
    )


def _on_bare(reader, buf, start, end):
    """A ciphered APDU that came without a frame: its plaintext is a P1 telegram (Smarty)
    or a DLMS APDU."""
    try:
        start, end = reader._cipher.open(buf, start, end)
    except ValueError as err:
        reader.stats.undecodable += 1
        reader.last_error = err
        return
    if end > start and buf[start] == 0x2F:  # "/"
        _on_telegram(reader, buf, start, end)
    else:
        reader._on_info(buf, start, end)


def _on_telegram(reader, buf, start, end):
    from . import p1  # imported already, unless the telegram came ciphered (Smarty)

    try:
        bang = p1.check(buf, start, end)
    except ValueError as err:
        reader.stats.fcs_errors += 1  # a P1 CRC error counts as an FCS error
        reader.last_error = err
        return
    try:
        reading = p1.decode_checked(buf, start, end, bang)
    except Exception as err:  # any text, however malformed, is only counted
        reader.stats.undecodable += 1
        reader.last_error = err
        return
    reader.stats.frames_ok += 1
    reader._on_reading(reading)
