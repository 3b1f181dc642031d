"""COSEM date-time (12 bytes) to ISO 8601 text.

    year(2) month day weekday hour minute second hundredths deviation(2, signed) status
0xFF (0xFFFF for year) marks a field as not specified. The deviation is UTC minus local
time in minutes (0x8000 = not specified), so the ISO offset is its negation.
"""


def iso_datetime(buf, pos):
    """ISO 8601 text of the COSEM date-time at buf[pos:pos+12], or None when unspecified."""
    year = (buf[pos] << 8) | buf[pos + 1]
    month = buf[pos + 2]
    day = buf[pos + 3]
    hour = buf[pos + 5]
    minute = buf[pos + 6]
    second = buf[pos + 7]
    if year == 0xFFFF or month > 12 or day > 31 or hour > 23 or minute > 59:
        return None
    if month == 0 or day == 0:
        return None
    if second > 59:
        second = 0
    deviation = (buf[pos + 9] << 8) | buf[pos + 10]
    if deviation == 0x8000:
        return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(
            year, month, day, hour, minute, second
        )
    if deviation & 0x8000:
        deviation -= 0x10000
    offset = -deviation
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    if offset > 15 * 60:
        return None
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{:02d}:{:02d}".format(
        year, month, day, hour, minute, second, sign, offset // 60, offset % 60
    )
