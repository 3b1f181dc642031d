"""Slows password guessing down, per client address, without locking the owner out.

Why: without it a client on the home network could try about 2,300 passwords a second, each
logged. Loaded by the routes at the first wrong password, so a dongle nobody guesses at never
carries it. The server (httpd.py) keeps the one instance; the routes ask it before looking at a
password and tell it the outcome.
"""

import log
from compat import const, ticks_add, ticks_diff, ticks_ms

_PEERS = const(8)  # clients whose wrong passwords are remembered
_FREE = const(3)  # wrong passwords a client may send before it has to wait
_MAX_MS = const(30000)  # the longest wait between tries: 1, 2, 4, ... s up to this


class AuthGuard:
    """A client's first `_FREE` wrong passwords cost nothing; after that each try must wait
    1 s, then 2, 4, ... up to `_MAX_MS`, and tries before then are answered 429 without
    looking at the password. The right password forgets the client's failures, and a client on
    another address is never slowed down. At most `_PEERS` clients are remembered (the
    one that may try again soonest makes room). The log gets a line at the 1st, 2nd, 4th, 8th,
    ... wrong password of a client, not one per try."""

    def __init__(self, clock=ticks_ms):
        self._clock = clock
        self._peers = {}  # address -> [wrong passwords, ticks_ms when it may try again]
        self.wrong = 0  # wrong passwords
        self.throttled = 0  # tries turned away because the client had to wait

    def wait_s(self, peer):
        """Seconds peer must still wait before its password is looked at (0: go ahead)."""
        entry = self._peers.get(peer)
        if entry is None:
            return 0
        left = ticks_diff(entry[1], self._clock())
        if left <= 0:
            return 0
        self.throttled += 1
        return (left + 999) // 1000

    def failed(self, peer):
        self.wrong += 1
        now = self._clock()
        entry = self._peers.get(peer)
        if entry is None:
            if len(self._peers) >= _PEERS:
                soonest = None
                peers = self._peers
                for key in peers:
                    if soonest is None or ticks_diff(peers[key][1], peers[soonest][1]) < 0:
                        soonest = key
                del self._peers[soonest]
            entry = [0, now]
            self._peers[peer] = entry
        entry[0] += 1
        failures = entry[0]
        wait_ms = 0
        if failures > _FREE:
            wait_ms = min(1000 << min(failures - _FREE - 1, 5), _MAX_MS)
            entry[1] = ticks_add(now, wait_ms)
        if failures & (failures - 1) == 0:
            log.warning("http", "{} wrong password(s) from {}; next try allowed in {} s",
                        failures, peer, wait_ms // 1000)

    def passed(self, peer):
        self._peers.pop(peer, None)
