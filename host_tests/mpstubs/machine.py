"""Import-only stand-in for `machine` in the unix port: lets hw.py load; any use fails loudly."""
