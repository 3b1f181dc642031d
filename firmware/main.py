"""Device entry point: MicroPython runs this after boot.py. Everything lives in app.py."""

import app

app.start()
