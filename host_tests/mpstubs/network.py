"""Import-only stand-in for `network` in the unix port: lets hw.py load; any use fails loudly."""
