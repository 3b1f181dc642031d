"""MicroPython script: config.load() each file named in argv; print "defaults" or what it got."""

import sys

import config

for path in sys.argv[1:]:
    cfg, problems = config.load(path)
    print("defaults" if cfg == config.DEFAULTS and problems else repr((cfg, problems)))
