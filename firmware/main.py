"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py.

The file `deploying` marks a deploy that has not finished (tools/deploy.py writes it first and
removes it last): then nothing starts, so no watchdog is armed, the REPL stays free for the next
`make deploy`, and no mix of old and new modules runs.
"""

import os

try:
    os.stat("deploying")
    deploying = True
except OSError:
    deploying = False

if deploying:
    print("main: a deploy did not finish (file deploying); run make deploy again")
else:
    import app

    try:
        app.start()
    except KeyboardInterrupt:  # Ctrl-C on the USB console: leave the REPL to the user
        raise
    except Exception as exc:  # anything else restarts the dongle after a pause
        app.fail_safe(exc)
