"""Shared pytest fixtures and settings for the host tests; each area keeps its logic in its own
module.

Property tests (hypothesis) run under one of two profiles, chosen by HYPOTHESIS_PROFILE:
  - "ci" (the default, what `make test` and CI run): derandomized, no example database, no
    deadline. The same commit draws the same examples on every machine, so a green commit stays
    green; what they cover grows only when a test or an @example is added.
  - "fuzz" (`make fuzz`): many more random examples from the seed make prints, for minutes. Every
    falsifying example it finds becomes an explicit @example of its test.
Tests give no max_examples of their own: the profile decides, so `make fuzz` searches wider.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

# Real mosquitto brokers and subscribers (see brokers.py for the fixture signatures).
from brokers import mqtt_broker, mqtt_broker_factory, mqtt_subscriber  # noqa: F401

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items):
    """Mark every hypothesis test `property`, so `make fuzz` can pick them out."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)


# Imported now, while firmware/ leads sys.path: some test modules put tools/ first, and
# tools/energy.py would then stand in for firmware/energy.py.
import energymode  # noqa: E402


@pytest.fixture(autouse=True)
def _energy_files_in_tmp(tmp_path, monkeypatch):
    """An App built in this process keeps its energy state in the test's folder, not in the
    working directory (the device writes energy.json next to config.json)."""
    monkeypatch.setattr(energymode, "STATE_PATH", str(tmp_path / "energy.json"))
    monkeypatch.setattr(energymode, "HOURS_PATH", str(tmp_path / "energy.hours"))
