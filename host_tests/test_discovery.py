"""Home Assistant discovery payloads: complete, valid JSON, right classes and units."""

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))

import discovery  # noqa: E402
from meter import Meter, topic_safe  # noqa: E402

# Every numeric key of the canonical vocabulary (HAN-REFERENCE.md) and its expected class/unit.
EXPECTED = {
    "active_power_import": ("power", "W", "measurement"),
    "active_power_export_l2": ("power", "W", "measurement"),
    "reactive_power_import": ("reactive_power", "var", "measurement"),
    "reactive_power_export_l3": ("reactive_power", "var", "measurement"),
    "current_l1": ("current", "A", "measurement"),
    "voltage_l3": ("voltage", "V", "measurement"),
    "power_factor": ("power_factor", None, "measurement"),
    "power_factor_l2": ("power_factor", None, "measurement"),
    "active_power_import_total": ("energy", "Wh", "total_increasing"),
    "active_power_export_total": ("energy", "Wh", "total_increasing"),
    "reactive_power_import_total": (None, "varh", "total_increasing"),
    "reactive_power_export_total": (None, "varh", "total_increasing"),
}
NOT_SENSORS = ["meter_id", "meter_type", "meter_manufacturer", "list_ver_id", "meter_datetime"]


def aidon():
    meter = Meter()
    meter.update(
        {"meter_id": "7359992890941742", "meter_manufacturer": "Aidon", "meter_type": "6525"}
    )
    return meter


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_sensor_kind_matches_home_assistant_classes(key):
    assert discovery.kind_of(key) == EXPECTED[key]


@pytest.mark.parametrize("key", NOT_SENSORS)
def test_identity_keys_are_not_sensors(key):
    assert discovery.kind_of(key) is None


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_config_payload_is_complete(key):
    payload = json.loads(discovery.config_payload(key, aidon(), "hanport"))
    device_class, unit, state_class = EXPECTED[key]
    assert payload["unique_id"] == "hanport_7359992890941742_" + key
    assert payload["state_topic"] == "hanport/7359992890941742/state"
    assert payload["availability_topic"] == "hanport/7359992890941742/status"
    assert payload["value_template"] == "{{ value_json.%s | default('') }}" % key
    assert payload["state_class"] == state_class
    assert payload.get("device_class") == device_class
    assert payload.get("unit_of_measurement") == unit
    assert payload["device"] == {
        "identifiers": ["hanport_7359992890941742"],
        "manufacturer": "Aidon",
        "model": "6525",
        "serial_number": "7359992890941742",
        "name": "Aidon meter 7359992890941742",
    }
    assert payload["name"][0].isupper()


def test_sensor_names_read_well():
    assert discovery.sensor_name("active_power_import_l1") == "Active power import L1"
    assert discovery.sensor_name("voltage_l3") == "Voltage L3"


def test_config_topic_layout():
    assert (
        discovery.config_topic("homeassistant", "123", "current_l1")
        == "homeassistant/sensor/hanport_123/current_l1/config"
    )


def test_sees_each_sensor_key_once_and_skips_identity():
    disc = discovery.Discovery()
    disc.see({"meter_id": "1", "active_power_import": 1, "current_l1": 1.0})
    disc.see({"active_power_import": 2})
    assert disc.due == ["active_power_import", "current_l1"]


def test_sensor_list_is_bounded(monkeypatch):
    import publisher
    import sensors

    keys = [row[0] + phase for row in sensors.rows() for phase in sensors.PHASES]
    assert len(keys) <= publisher._MAX_SENSORS  # the whole vocabulary fits the bound
    monkeypatch.setattr(publisher, "_MAX_SENSORS", 5)
    disc = discovery.Discovery()
    disc.see({key: 0 for key in keys})
    assert len(disc.known) == 5 and disc.overflows == len(keys) - 5


def test_only_home_assistant_online_birth_triggers_reannounce():
    disc = discovery.Discovery("ha")
    disc.see({"active_power_import": 1})
    disc.due = []
    assert not disc.on_message("ha/status", "offline")
    assert not disc.on_message("other/status", "online")
    assert disc.due == []
    assert disc.on_message("ha/status", "online")
    assert disc.due == ["active_power_import"]


def test_meter_id_made_topic_safe():
    assert topic_safe("7359992890941742") == "7359992890941742"
    assert topic_safe("A1/#+ x") == "A1____x"
    assert topic_safe("mé-ter_1") == "m_-ter_1"


def test_announcing_loads_no_metric_names_and_every_row_has_them():
    import metricnames
    import sensors

    assert len(metricnames.ROWS) == len(sensors._ROWS)  # the same rows, in the same order
    del sys.modules["metricnames"]
    discovery.config("voltage_l1", aidon(), "hanport")
    assert "metricnames" not in sys.modules  # only /metrics needs them
    rows = list(sensors.rows())
    assert [len(row) for row in rows] == [7] * len(rows) and "metricnames" not in sys.modules
    assert rows[5][:5] == ("voltage", "V", "voltage", "measurement", "hanport_voltage_volts")
