"""Deploy tooling, checked by dry run: the commands `make deploy/config/flash` would execute."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import deploy  # noqa: E402


def lines(*args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "deploy.py"), *args, "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout.splitlines(), result.stderr


def test_deploy_compiles_every_module_for_the_boards_arch_and_copies_it():
    cmds = deploy.deploy_commands("/dev/ttyUSB0", "esp32c3-devkitm")
    compiled = [c for c in cmds if c[0].endswith("mpy-cross")]
    modules = [rel for _, rel in deploy.sources() if rel not in ("boot.py", "main.py")]
    assert len(compiled) == len(modules) and all("-march=rv32imc" in c for c in compiled)
    copied = [c[-1] for c in cmds if c[:1] and c[0].endswith("mpremote") and "cp" in c]
    assert ":main.py" in copied and ":boot.py" in copied and ":app.mpy" in copied
    assert ":hanport/reader.mpy" in copied
    assert ":boards/esp32c3-devkitc.json" not in copied
    assert ":boards/esp32c3-devkitm.json" in copied
    assert "config.update({'board': 'esp32c3-devkitm'})" in cmds[-1][-1]


def test_deployed_modules_compile_with_mpy_cross(tmp_path):
    mpy_cross = deploy.tool("mpy-cross")
    for src, rel in deploy.sources():
        out = tmp_path / (rel.replace("/", "_") + ".mpy")
        subprocess.run([mpy_cross, "-march=xtensawin", "-o", str(out), src], check=True)


def test_make_deploy_dry_run_prints_commands_and_touches_no_device():
    result = subprocess.run(
        ["make", "-s", "deploy", "PORT=/dev/null", "BOARD=esp32s3-devkitc", "DRY_RUN=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mpremote connect /dev/null fs cp" in result.stdout
    assert "-march=xtensawin" in result.stdout


def test_config_validates_on_the_host_before_touching_the_device():
    code, out, err = lines("config", "--port", "/dev/ttyUSB0", "--set", "mqtt.port=0")
    assert code != 0 and "mqtt.port must be between 1 and 65535" in err and out == []
    code, out, err = lines("config", "--port", "/dev/ttyUSB0", "--set", "mqtt.hots=x")
    assert code != 0 and "unknown setting mqtt.hots" in err


def test_config_types_values_by_their_defaults():
    changes = deploy.parse_settings(
        [
            "wifi.ssid=home",
            "mqtt.port=1884",
            "mqtt.tls=true",
            "uart.invert_rx=null",
            "board=esp32s3-devkitc",
        ]
    )
    assert changes == {
        "wifi": {"ssid": "home"},
        "mqtt": {"port": 1884, "tls": True},
        "uart": {"invert_rx": None},
        "board": "esp32s3-devkitc",
    }


def test_make_config_passes_settings_through():
    result = subprocess.run(
        [
            "make",
            "-s",
            "config",
            "PORT=/dev/null",
            "WIFI_SSID=my net",
            "MQTT_HOST=10.0.0.2",
            "DRY_RUN=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "'ssid': 'my net'" in result.stdout.replace("'\"'\"'", "'")
    assert "'host': '10.0.0.2'" in result.stdout.replace("'\"'\"'", "'")


@pytest.mark.parametrize(
    "board, offset", [("esp32-devkitc", "0x1000"), ("esp32s3-devkitc", "0x0")]
)
def test_flash_erases_then_writes_at_the_chips_offset(board, offset):
    code, out, err = lines(
        "flash", "--port", "/dev/ttyUSB0", "--board", board, "--firmware", "fw.bin"
    )
    assert code == 0
    assert out[0].endswith("erase_flash")
    assert out[1].endswith("write_flash -z {} fw.bin".format(offset))


def test_flash_without_firmware_says_where_to_get_it():
    code, out, err = lines("flash", "--port", "/dev/ttyUSB0")
    assert code != 0 and "micropython.org" in err
