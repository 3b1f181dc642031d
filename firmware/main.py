"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py.

The app is imported inside the `try`, so even a MemoryError while importing it ends in a
restart after a pause (failsafe.py), not at the REPL without a watchdog.

The file `deploying` marks a deploy that has not finished (tools/deploy.py writes it first and
removes it last): then nothing starts, so no watchdog is armed, the REPL stays free for the next
`make deploy`, and no mix of old and new modules runs.
"""

import os

import failsafe

try:
    os.stat("deploying")
    deploying = True
except OSError:
    deploying = False

if deploying:
    print("main: a deploy did not finish (file deploying); run make deploy again")
else:
    try:
        import app

        app.start()
    except KeyboardInterrupt:  # Ctrl-C on the USB console: leave the REPL to the user
        raise
    except Exception as exc:  # anything else restarts the dongle after a pause
        failsafe.restart(exc)
