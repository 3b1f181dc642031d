"""The firmware's version, in one place: /api/v1/status and the web page report it."""

VERSION = "0.2.0"
