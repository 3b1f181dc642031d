"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py.

The app is imported inside the `try`, so even a MemoryError while importing it ends in a
restart after a pause (failsafe.py), not at the REPL without a watchdog.

The file `deploying` marks a deploy that has not finished (tools/deploy.py writes it first and
removes it last): then nothing starts, so no watchdog is armed, the REPL stays free for the next
`make deploy`, and no mix of old and new modules runs.

Before the app, swap.py finishes or undoes an update over Wi-Fi that a restart (or a power cut)
interrupted, and counts the starts of a new firmware on trial; if the new app stops with an
exception while on trial, the old firmware is put back at once. swap.py leaves the heap before
the app is imported, and comes back only for that.
"""

import sys

import failsafe

deploying = failsafe.exists("deploying")

if deploying:
    print("main: a deploy did not finish (file deploying); run make deploy again")
else:
    # swap.STATE (or its temporary copy): an update over Wi-Fi has run; else no import at all
    if failsafe.exists("fwstate") or failsafe.exists("fwstate.tmp"):
        try:
            import swap

            swap.boot()
        except Exception as exc:  # a switch that cannot go on must not stop the boot
            print("E update: {!r}".format(exc))
        sys.modules.pop("swap", None)
        swap = None
    try:
        import app

        app.start()
    except KeyboardInterrupt:  # Ctrl-C on the USB console: leave the REPL to the user
        raise
    except Exception as exc:  # anything else restarts the dongle after a pause
        undone = False
        try:
            import swap

            undone = swap.crashed(exc)
        except Exception:  # no memory left even for that: the boot count undoes it later
            pass
        # After an undo the old firmware is back: no reason to wait before it starts.
        failsafe.restart(exc, pause_ms=1000 if undone else failsafe.RESTART_AFTER_MS)
