"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py.

The app is imported inside the `try`, so even a MemoryError while importing it ends in a
restart after a pause (failsafe.py), not at the REPL without a watchdog.
"""

import failsafe

try:
    import app

    app.start()
except KeyboardInterrupt:  # Ctrl-C on the USB console: leave the REPL to the user
    raise
except Exception as exc:  # anything else restarts the dongle after a pause
    failsafe.restart(exc)
