"""Sample readings shared by host tests (the simulator's encoder turns them into frames)."""

AIDON_LIST2 = {
    "list_ver_id": "AIDON_V0001",
    "meter_id": "7359992890941742",
    "meter_type": "6525",
    "active_power_import": 1510,
    "active_power_export": 0,
    "reactive_power_import": 100,
    "reactive_power_export": 0,
    "current_l1": 2.5,
    "current_l2": 1.2,
    "current_l3": 0.9,
    "voltage_l1": 230.1,
    "voltage_l2": 231.0,
    "voltage_l3": 229.8,
}
