"""Runs first at power-on. Kept tiny so it can never fail: quiet the ESP-IDF log on the REPL UART
and leave the heap tidy for main.py. All application setup happens in app.py.
"""

import gc

try:
    import esp

    esp.osdebug(None)
except (ImportError, AttributeError):
    pass
gc.collect()
