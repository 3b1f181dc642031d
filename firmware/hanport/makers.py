"""Manufacturer flag ids (three letters, registered with the DLMS UA / FLAG) to names.

A P1 telegram's header opens with one ("/KFM5..."), and so does the system title of a
ciphered DLMS push ("KFM" + serial), where the list itself may not name its maker (Austrian
Kaifa and Sagemcom meters). Imported only by the P1 and ciphered paths.
"""

_NAMES = {
    "KFM": "Kaifa",
    "KAM": "Kamstrup",
    "LGF": "Landis+Gyr",
    "LGZ": "Landis+Gyr",
    "XMX": "Landis+Gyr",
    "ISK": "Iskraemeco",
    "AID": "Aidon",
    "ADN": "Aidon",
    "SAG": "Sagemcom",
    "EST": "Sagemcom",
    "FLU": "Fluvius",
    "ESY": "EasyMeter",
    "ELL": "Elster",
    "EGM": "Elgama",
    "NES": "NES",
}


def name(buf, pos):
    """The maker named by the flag id at buf[pos:pos+3]; the three letters if unknown, None
    if they are not letters."""
    flag = bytes(buf[pos : pos + 3])
    for b in flag:
        if not (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A):
            return None
    flag = flag.decode()
    return _NAMES.get(flag.upper(), flag)
