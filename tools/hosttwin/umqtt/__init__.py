"""Host twin of MicroPython's `umqtt` package; see `umqtt.simple` for why it exists."""
