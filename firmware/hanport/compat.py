"""Small shims that let the same parser files run on MicroPython and CPython."""

try:
    from micropython import const  # pyright: ignore[reportAssignmentType]
except ImportError:  # CPython

    def const(value):
        return value
