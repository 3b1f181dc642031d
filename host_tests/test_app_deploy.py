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


def session_parts(cmds):
    """The one mpremote command's parts between `+`, after `mpremote connect PORT`."""
    sessions = [c for c in cmds if c[0].endswith("mpremote")]
    assert len(sessions) == 1, "deploy must be one mpremote session"
    parts, part = [], []
    for word in sessions[0][3:]:
        if word == "+":
            parts.append(part)
            part = []
        else:
            part.append(word)
    return parts + [part]


def test_deploy_compiles_every_module_for_the_boards_arch_and_copies_it():
    cmds = deploy.deploy_commands("/dev/ttyUSB0", "esp32c3-devkitm")
    compiled = [c for c in cmds if c[0].endswith("mpy-cross")]
    modules = [rel for _, rel in deploy.sources() if rel not in ("boot.py", "main.py")]
    assert len(compiled) == len(modules) and all("-march=rv32imc" in c for c in compiled)
    copied = [p[-1] for p in session_parts(cmds) if p[:2] == ["fs", "cp"]]
    assert ":main.py" in copied and ":boot.py" in copied and ":app.mpy" in copied
    assert ":hanport/reader.mpy" in copied
    assert ":boards/esp32c3-devkitc.json" not in copied
    assert ":boards/esp32c3-devkitm.json" in copied
    configs = [p for p in session_parts(cmds) if p[0] == "exec" and "config.update" in p[1]]
    assert len(configs) == 1 and "config.update({'board': 'esp32c3-devkitm'})" in configs[0][1]


def test_deploy_is_one_session_that_is_safe_to_interrupt_and_ends_in_reset():
    cmds = deploy.deploy_commands("/dev/ttyUSB0", "esp32-devkitc")
    assert all(not c[0].endswith("mpremote") for c in cmds[:-1])  # compile first, then copy
    parts = session_parts(cmds)
    names = [p[0] if p[0] != "exec" else p[1].split("\n")[-1] for p in parts]
    # 1. the marker main.py honours, and a watchdog stretched for the copy
    assert parts[0][0] == "exec" and "open('deploying', 'w')" in parts[0][1]
    assert "machine.WDT(timeout=600000)" in parts[0][1]
    # 2. main.py, which knows the marker, before anything else
    copies = [i for i, p in enumerate(parts) if p[:2] == ["fs", "cp"]]
    assert parts[copies[0]][-1] == ":main.py" and copies == list(range(1, len(copies) + 1))
    # 3. stale files go after the copies and before the board is selected (config.py imports)
    after = parts[copies[-1] + 1:]
    assert [p[0] for p in after] == ["exec", "exec", "exec", "reset"], names
    assert "def sweep" in after[0][1] and "config.update" in after[1][1]
    assert after[2][1] == "import os\nos.remove('deploying')"


def test_sweep_removes_files_that_are_no_longer_part_of_the_firmware(tmp_path):
    import mpunix

    interpreter = mpunix.require()
    files = {
        "app.mpy": True,
        "app.py": False,  # a stale source would be imported before the new .mpy
        "web.mpy": False,  # a module that became a package
        "boot.py": True,
        "config.json": True,
        "deploying": True,
        "hanport/reader.mpy": True,
        "hanport/old.mpy": False,
        "oldpkg/__init__.mpy": False,
        "www/index.html.gz": True,
        "www/index.html": False,
        "boards/esp32-devkitc.json": True,
        "boards/other.json": True,
        "lib/umqtt/simple.py": True,  # installed with mip: not ours
        "webrepl_cfg.py": True,  # the WebREPL password, written by webrepl_setup
    }
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    session = deploy.deploy_commands("/dev/null", "esp32-devkitc")[-1]
    sweep = [word for word in session if "def sweep" in word]
    keep = ["app.mpy", "boot.py", "hanport/reader.mpy", "www/index.html.gz",
            "boards/esp32-devkitc.json"]
    assert len(sweep) == 1 and all(repr(name) in sweep[0] for name in keep)
    for name in ("app.py", "web.mpy", "hanport/old.mpy"):
        sweep[0] = sweep[0].replace(repr(name), "None")  # pretend the firmware lost them
    subprocess.run([interpreter, "-c", sweep[0]], cwd=tmp_path, check=True, timeout=60)
    left = {rel for rel in files if (tmp_path / rel).exists()}
    assert left == {rel for rel, stays in files.items() if stays}
    assert not (tmp_path / "oldpkg").exists() and (tmp_path / "www").is_dir()


@pytest.mark.parametrize("marker", [True, False])
def test_main_starts_nothing_while_a_deploy_is_unfinished(tmp_path, marker):
    import mpunix

    interpreter = mpunix.require()
    (tmp_path / "app.py").write_text("def start():\n    print('app started')\n")
    (tmp_path / "main.py").write_text((ROOT / "firmware" / "main.py").read_text())
    (tmp_path / "failsafe.py").write_text((ROOT / "firmware" / "failsafe.py").read_text())
    (tmp_path / "swap.py").write_text((ROOT / "firmware" / "swap.py").read_text())
    if marker:
        (tmp_path / "deploying").write_text("")
    result = subprocess.run(
        [interpreter, "main.py"],
        cwd=tmp_path,
        env={"MICROPYPATH": ".frozen:" + str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert ("app started" in result.stdout) is not marker, result.stdout
    assert ("run make deploy again" in result.stdout) is marker


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
    assert "mpremote connect /dev/null exec" in result.stdout
    assert " + fs cp " in result.stdout and result.stdout.rstrip().endswith(" + reset")
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
            "HTTP_PASSWORD=my own pass",
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
    assert "'password': 'my own pass'" in result.stdout.replace("'\"'\"'", "'")


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
