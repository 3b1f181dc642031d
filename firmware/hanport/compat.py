"""Small shims that let the same parser files run on MicroPython and CPython (cpython.py)."""

try:
    from time import ticks_diff, ticks_ms  # pyright: ignore

    from micropython import const  # pyright: ignore[reportAssignmentType]
except ImportError:  # CPython
    from .cpython import const, ticks_diff, ticks_ms  # noqa: F401
