"""Access to the shared capture corpus (../shared/han-corpus or $HAN_CORPUS).

The corpus is test data with mixed licences: it is read in place, never copied here.
Tests that need it skip with a clear message when it is absent.
"""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = Path(os.environ.get("HAN_CORPUS", ROOT.parent / "shared" / "han-corpus"))
NORWEGIAN_VENDORS = ("aidon", "kaifa", "kamstrup")
HDLC_FILES = ("aidon", "kaifa", "kamstrup", "landis_gyr", "other_hdlc", "encrypted")


def available():
    return (CORPUS_DIR / "aidon.jsonl").is_file()


def require():
    """Skip the calling test, or the whole module when called at import, without the corpus."""
    if not available():
        pytest.skip(
            "HAN capture corpus not found at %s (set HAN_CORPUS)" % CORPUS_DIR,
            allow_module_level=True,
        )


def records(*names):
    """Every record of the named corpus files (without .jsonl), in file order."""
    require()
    out = []
    for name in names:
        with open(CORPUS_DIR / (name + ".jsonl"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    record["file"] = name
                    out.append(record)
    return out


def is_good_hdlc(record):
    return record["format"] in ("hdlc", "hdlc-encrypted") and bool(record.get("fcs_ok")) and (
        record.get("hcs_ok") is not False
    )


def is_bad_hdlc(record):
    return record["format"].startswith("hdlc") and record.get("fcs_ok") is False


def good_frames(*names):
    """Good single-frame HDLC records (FCS and HCS verify) that carry plain DLMS."""
    return [
        r
        for r in records(*names)
        if r["format"] == "hdlc" and is_good_hdlc(r) and r.get("frames", 1) == 1
    ]


def ids(recs):
    return [r["id"] for r in recs]
