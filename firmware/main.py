"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py."""

import app

try:
    app.start()
except KeyboardInterrupt:  # Ctrl-C on the USB console: leave the REPL to the user
    raise
except Exception as exc:  # anything else restarts the dongle after a pause
    app.fail_safe(exc)
