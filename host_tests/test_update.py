"""Updates over Wi-Fi in the real MicroPython: the switch under power cuts, refusals, rollback,
and `make update` end to end against the app.

The device folder is staged as `make deploy` lays it out (tools/run_mp.py); the bundles are
the firmware compiled as deploy compiles it, with version.mpy saying 9.9.9 (tools/bundle.py).
A power cut is the interpreter killed (SIGKILL) where mp_swap_probe.py waits before a chosen
file operation; the points are drawn from a fixed seed, so every run tries the same ones.
"""

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading

import pytest
from mphost import MpDongle, PASSWORD, device_config, interpreter, need_umqtt
from test_mp_soak import HEAP_HTTP
from webhost import AUTH, ROOT

sys.path[:0] = [str(ROOT / "tools")]
import bundle  # noqa: E402
import run_mp  # noqa: E402
import update as update_tool  # noqa: E402

sys.path.insert(0, str(ROOT / "firmware"))
from version import VERSION  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp_swap_probe.py")
NEW_VERSION = "9.9.9"
SEED = 20261130
# The app as shipped (energy mode off) with HTTP runs in the soak's heap with little to spare;
# an update needs its code (web/update.py and swap.py, 7.4 KB) and a few KB for the pieces and
# the check on top: 8k more ran clean 5 times of 5 (2026-11-30), and the test keeps 8k more as
# a margin.
UPDATE_HEAP = "{}k".format(int(HEAP_HTTP.rstrip("k")) + 16)
SKIP = ("fwnew", "fwold", "fwstate", "fwstate.tmp", "config.json")


def compile_text(tmp_path, name, text):
    src = tmp_path / (name + ".py")
    src.write_text(text)
    out = tmp_path / (name + ".mpy")
    subprocess.run(
        [run_mp._tool("mpy-cross"), "-O3", "-o", str(out), str(src)], check=True, timeout=60
    )
    return out.read_bytes()


def new_contents(tmp_path, app_text=None):
    """The firmware's bundle files, with version 9.9.9, one module more, and optionally app.py
    replaced."""
    contents = {}
    for rel, path in bundle.files():
        with open(path, "rb") as f:
            contents[rel] = f.read()
    contents["version.mpy"] = compile_text(tmp_path, "version", 'VERSION = "9.9.9"\n')
    contents["extra.mpy"] = compile_text(tmp_path, "extra", "X = 1\n")
    if app_text is not None:
        contents["app.mpy"] = compile_text(tmp_path, "app", app_text)
    return contents


def snapshot(folder):
    """{path: sha256} of the device folder, leaving out the update's own files and settings."""
    out = {}
    for top, dirs, files in os.walk(folder):
        rel_top = os.path.relpath(top, folder)
        dirs[:] = [d for d in dirs if not (rel_top == "." and d in SKIP)]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_top, name)).replace(os.sep, "/")
            if rel in SKIP:
                continue
            with open(os.path.join(top, name), "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def state_of(folder):
    try:
        with open(os.path.join(folder, "fwstate")) as f:
            return f.read().split()[0]
    except OSError:
        return None


def probe(stage, what, cut=0, version="-"):
    """Run one step in MicroPython; kill it at the cut. Returns its output."""
    interp = interpreter()
    env = run_mp.environment(stage, interp=interp)
    proc = subprocess.Popen(
        [interp.path, PROBE, what, version, str(cut)],
        cwd=stage,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    timer = threading.Timer(120, proc.kill)  # a hang fails the test instead of the run
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("CUT"):
                proc.kill()  # the power goes
                break
        proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    out = "".join(lines)
    assert "Traceback" not in out, out
    return out


def ops_of(out):
    return int(out.split("OPS ")[1].split()[0])


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """A staged device folder with a new bundle received into fwnew/, and the two trees
    (old, new) a cut may leave."""
    interpreter()
    tmp = tmp_path_factory.mktemp("update")
    stage = run_mp.stage(str(tmp / "fs"), device_config())
    with open(os.path.join(stage, "stale.mpy"), "wb") as f:
        f.write(b"M")  # a module the new firmware no longer has
    old = snapshot(stage)
    contents = new_contents(tmp)
    new = {p: h for p, h in old.items() if p != "stale.mpy"}
    new.update({p: hashlib.sha256(d).hexdigest() for p, d in contents.items()})
    manifest = bundle.build(str(tmp / "new.bundle"), NEW_VERSION, contents=contents)
    for rel, data in contents.items():
        os.makedirs(os.path.dirname(os.path.join(stage, "fwnew", rel)), exist_ok=True)
        with open(os.path.join(stage, "fwnew", rel), "wb") as f:
            f.write(data)
    with open(os.path.join(stage, "fwnew", "manifest"), "w") as f:
        f.write(manifest)
    return {"tmp": tmp, "stage": stage, "old": old, "new": new}


def fresh(device, name):
    case = str(device["tmp"] / name)
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(device["stage"], case)
    return case


def test_switch_runs_forward_without_a_cut(device):
    case = fresh(device, "whole")
    out = probe(case, "commit", 0, NEW_VERSION)
    assert "STATE trial" in out
    assert snapshot(case) == device["new"]
    assert state_of(case) == "trial"


def test_a_power_cut_anywhere_in_the_switch_leaves_the_old_or_the_new_firmware(device):
    total = ops_of(probe(fresh(device, "count"), "commit", 0, NEW_VERSION))
    rng = random.Random(SEED)
    cuts = sorted({1, total} | set(rng.sample(range(1, total + 1), 12)))
    seen = set()
    for cut in cuts:
        case = fresh(device, "cut{}".format(cut))
        probe(case, "commit", cut, NEW_VERSION)
        # The next start is cut too, somewhere in its own work; the one after runs to the end.
        probe(case, "boot", rng.randint(1, 40))
        probe(case, "boot")
        tree = snapshot(case)
        if tree == device["old"]:
            seen.add("old")
            assert state_of(case) is None, cut  # the switch was never marked: nothing moved
        else:
            assert tree == device["new"], "cut before operation {} of {}".format(cut, total)
            assert state_of(case) == "trial", cut
            seen.add("new")
    assert seen == {"old", "new"}  # the cuts fell on both sides of the mark


def test_a_power_cut_while_rolling_back_still_ends_in_a_firmware(device):
    trial = fresh(device, "trial")
    probe(trial, "commit", 0, NEW_VERSION)
    undo = fresh_from(trial, device["tmp"] / "undo-count")
    total = ops_of(probe(undo, "crash"))
    assert snapshot(undo) == device["old"] and state_of(undo) == "failed"
    rng = random.Random(SEED + 1)
    for cut in sorted(set(rng.sample(range(1, total + 1), 8)) | {1, total}):
        case = fresh_from(trial, device["tmp"] / "undo{}".format(cut))
        probe(case, "crash", cut)
        probe(case, "boot")
        if state_of(case) == "trial":  # cut before the undo was marked: the new one stays
            assert snapshot(case) == device["new"], cut
        else:
            assert state_of(case) == "failed" and snapshot(case) == device["old"], cut


def fresh_from(folder, dest):
    shutil.rmtree(str(dest), ignore_errors=True)
    shutil.copytree(folder, str(dest))
    return str(dest)


@pytest.mark.parametrize("side", ["old", "new"])
def test_the_app_starts_after_a_cut(device, side, tmp_path):
    """The whole app, started by main.py after a cut, runs the version its files say."""
    case = fresh(device, "boot-" + side)
    probe(case, "commit", 1 if side == "old" else 40, NEW_VERSION)
    cfg = device_config()
    with open(os.path.join(case, "config.json"), "w") as f:
        json.dump(cfg, f)
    d = MpDongle(tmp_path, cfg, stage_dir=case)
    try:
        d.wait_for(lambda: d.frames_ok() > 0, timeout=60, what="frames")
        status = d.json("/api/v1/status")
        assert status["firmware"] == (VERSION if side == "old" else NEW_VERSION)
        if side == "new":
            note = status["notes"]["update"]  # on trial, or confirmed once frames came
            assert note == "updated to 9.9.9" or note.startswith("update to 9.9.9 on trial")
        d.assert_clean()
    finally:
        d.stop()


# --- over HTTP, against the app in MicroPython ---


def tool_dongle(d):
    return update_tool.Dongle("127.0.0.1", d.port, "admin", PASSWORD)


def test_a_bundle_with_a_bad_digest_is_refused_and_nothing_changes(tmp_path):
    cfg = device_config()
    d = MpDongle(tmp_path, cfg)
    try:
        before = snapshot(d.stage)
        contents = new_contents(tmp_path)
        path = str(tmp_path / "bad.bundle")
        bundle.build(path, NEW_VERSION, contents=contents)
        data = bytearray(open(path, "rb").read())
        data[-10] ^= 0xFF  # one byte of the last file, after its digest was taken
        with pytest.raises(SystemExit, match="SHA-256 does not match"):
            update_tool.send(tool_dongle(d), bytes(data), say=lambda *_: None)
        assert snapshot(d.stage) == before
        assert state_of(d.stage) is None
        assert not os.path.exists(os.path.join(d.stage, "fwnew"))
        status = d.json("/api/v1/status")
        assert status["firmware"] == VERSION and status["counters"]["update_rejects"] == 1
        d.assert_clean()
    finally:
        d.stop()


def test_update_refusals(tmp_path):
    """The password, the free flash, the loader, and file names outside the firmware."""
    d = MpDongle(tmp_path, device_config())
    quiet = lambda *_: None  # noqa: E731
    try:
        assert d.get("/api/v1/update/begin?bytes=10", method="POST", body=b"")[0] == 401
        status, _, body = d.get("/api/v1/update", headers={"Authorization": AUTH})
        assert status == 200 and json.loads(body)["firmware"] == VERSION
        dongle = tool_dongle(d)
        status, answer = dongle.call("POST", "/api/v1/update/begin?bytes={}".format(1 << 40))
        assert status == 507 and "do not fit" in answer["error"]  # os.statvfs said so
        before = snapshot(d.stage)
        cases = [
            ({"swap.mpy": b"x"}, 9, "part of the loader"),
            ({"config.json": b"{}"}, 9, "not a firmware file"),
            ({"../escape.mpy": b"x"}, 9, "bad file name"),
            ({"app.mpy": b"x"}, 2, "needs loader 2"),
        ]
        for contents, loader, why in cases:
            path = str(tmp_path / "refused.bundle")
            bundle.build(path, NEW_VERSION, loader=1 if loader == 9 else loader, contents=contents)
            with pytest.raises(SystemExit, match=why):
                update_tool.send(dongle, open(path, "rb").read(), say=quiet)
        assert snapshot(d.stage) == before and state_of(d.stage) is None
        d.assert_clean()
    finally:
        d.stop()


def test_a_bundle_whose_app_crashes_at_import_is_rolled_back(tmp_path):
    d = MpDongle(tmp_path, device_config(), reboot=True)
    try:
        contents = new_contents(tmp_path, app_text="raise RuntimeError('broken build')\n")
        path = str(tmp_path / "crash.bundle")
        bundle.build(path, NEW_VERSION, contents=contents)
        update_tool.send(tool_dongle(d), open(path, "rb").read(), say=lambda *_: None)

        def rolled_back():
            try:
                note = d.json("/api/v1/status")["notes"]["update"]
            except (OSError, ValueError, AssertionError):  # restarting
                return False
            return note is not None and "rolled back" in note

        d.wait_for(rolled_back, timeout=120, what="the update rolled back")
        status = d.json("/api/v1/status")
        assert status["firmware"] == VERSION
        assert "broken build" in status["notes"]["update"]
        assert "rolled back" in d.output and d.starts >= 3
        assert state_of(d.stage) == "failed"
    finally:
        d.stop()


def test_make_update_end_to_end_version_in_status_diagnostics_and_page(
    tmp_path, mqtt_broker, mqtt_subscriber
):
    from cdp import Browser

    need_umqtt("1.8.0")
    sub = mqtt_subscriber(mqtt_broker, "hanport/#")
    d = MpDongle(
        tmp_path, device_config(mqtt_broker, energy=False), umqtt="1.8.0", reboot=True,
        heap=UPDATE_HEAP,
    )
    browser = None
    try:
        path = str(tmp_path / "good.bundle")
        bundle.build(path, NEW_VERSION, contents=new_contents(tmp_path))
        code = update_tool.main(
            [path, "--host", "127.0.0.1", "--port", str(d.port), "--password", PASSWORD,
             "--wait", "180"]
        )
        assert code == 0, d.output
        status = d.json("/api/v1/status")
        assert status["firmware"] == NEW_VERSION
        assert status["notes"]["update"] == "updated to 9.9.9"
        assert state_of(d.stage) == "ok"
        assert not os.path.exists(os.path.join(d.stage, "fwold"))

        def confirmed_in_diagnostics():
            for m in list(sub.messages):
                if m.topic.endswith("/diagnostics"):
                    diag = json.loads(m.payload)
                    if diag.get("firmware") == NEW_VERSION and diag["update"] == "updated to 9.9.9":
                        return True
            return False

        d.wait_for(confirmed_in_diagnostics, timeout=30, what="diagnostics with the new version")
        browser = Browser(390, 844)
        browser.goto("http://127.0.0.1:{}/".format(d.port))
        browser.wait_for(
            "document.getElementById('fw').textContent.indexOf('9.9.9') >= 0", timeout=30
        )
        d.assert_clean()
    finally:
        if browser is not None:
            browser.close()
        d.stop()


def test_bundle_lists_every_firmware_file_but_the_loader():
    files = dict(bundle.files())
    assert "app.mpy" in files and "web/update.mpy" in files and "www/index.html.gz" in files
    for loader in ("swap.mpy", "failsafe.mpy", "main.py", "boot.py"):
        assert loader not in files


def test_no_module_an_update_replaces_imports_failsafe():
    # An update over Wi-Fi replaces every module but the loader's (swap.LOADER_FILES), and the
    # dongle keeps the failsafe.py it was deployed with: a name added to failsafe.py later would
    # be missing there, and the new firmware would fail at boot and be undone.
    firmware = ROOT / "firmware"
    for path in sorted(firmware.rglob("*.py")):
        rel = path.relative_to(firmware).as_posix()
        if rel in ("main.py", "boot.py", "swap.py", "failsafe.py"):
            continue
        text = path.read_text()
        assert "import failsafe" not in text and "from failsafe" not in text, rel


# --- the trial under CPython: starts counted, health confirmed, time limit ---


def test_a_new_firmware_that_never_gets_healthy_is_undone_after_a_few_starts(tmp_path, monkeypatch):
    import swap

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.mpy").write_bytes(b"old")
    os.makedirs("fwnew")
    (tmp_path / "fwnew" / "app.mpy").write_bytes(b"new")
    (tmp_path / "fwnew" / "manifest").write_text("hanport-bundle 1 9.9.9 1\n- 3 app.mpy\nend\n")
    os.makedirs("fwold")
    (tmp_path / "fwold" / "manifest").write_text("hanport-bundle 1 0.2.0 1\n- 0 app.mpy\nend\n")
    swap.write("forward", 0, "9.9.9")
    assert swap.boot() == "trial"  # the start that switches is the first on trial
    for _ in range(swap.MAX_BOOTS - 1):
        assert (tmp_path / "app.mpy").read_bytes() == b"new"
        assert swap.boot() == "trial"
    assert swap.boot() == "failed"
    assert (tmp_path / "app.mpy").read_bytes() == b"old"
    state, _, version, reason = swap.read()
    assert (state, version) == ("failed", "9.9.9") and "3 starts" in reason
    assert not os.path.exists("fwold") and not os.path.exists("fwnew")


class _Stats:
    frames_ok = 0


class _App:
    def __init__(self):
        self.reader = type("R", (), {"stats": _Stats()})()
        self.publisher = type("P", (), {"connected": False})()
        self.update_note = None


def test_trial_confirms_a_healthy_firmware_and_gives_up_on_time(tmp_path, monkeypatch):
    import swap
    import trial

    monkeypatch.chdir(tmp_path)
    now = [0]
    resets = []
    app = _App()
    swap.write("trial", 1, "9.9.9")
    t = trial.Trial(app, "9.9.9", clock=lambda: now[0], reset=lambda: resets.append(1))
    t.step()
    app.reader.stats.frames_ok = 5  # frames, but MQTT is set and not connected: not yet
    now[0] = trial.TRIAL_MS - 1
    t.step()
    assert swap.read()[0] == "trial" and not resets
    app.publisher.connected = True
    t.step()
    assert swap.read()[0] == "ok" and app.update_note == "updated to 9.9.9" and not resets

    swap.write("trial", 1, "9.9.9")
    app.publisher.connected = False
    late = trial.Trial(app, "9.9.9", clock=lambda: now[0], reset=lambda: resets.append(1))
    now[0] += trial.TRIAL_MS
    late.step()
    assert resets == [1]
    state, _, _, reason = swap.read()
    assert state == "back" and "not healthy within 300 s" in reason


def test_the_settings_page_form_sends_a_bundle(tmp_path):
    """The form on the settings page, in headless chromium: a good bundle is sent in pieces and
    the dongle restarts into it."""
    from cdp import Browser

    d = MpDongle(tmp_path, device_config(), reboot=True)
    browser = Browser(390, 844)
    try:
        good = str(tmp_path / "good.bundle")
        bundle.build(good, NEW_VERSION, contents=new_contents(tmp_path))
        browser.send("Network.enable")
        browser.send("Network.setExtraHTTPHeaders", headers={"Authorization": AUTH})
        browser.goto("http://127.0.0.1:{}/settings".format(d.port))
        browser.wait_for("document.getElementById('fw').textContent === '{}'".format(VERSION))
        node = browser.send("Runtime.evaluate", expression="document.getElementById('bundle')")
        browser.send("DOM.setFileInputFiles", files=[good], objectId=node["result"]["objectId"])
        browser.evaluate("document.querySelector('#upd button').click()")
        browser.wait_for(
            "document.getElementById('updmsg').textContent.indexOf('restarts into 9.9.9') >= 0",
            timeout=120,
        )

        def runs_new():
            try:
                return d.json("/api/v1/status")["firmware"] == NEW_VERSION
            except (OSError, ValueError, AssertionError):  # restarting
                return False

        d.wait_for(runs_new, timeout=60, what="the new version running")
        d.assert_clean()
    finally:
        browser.close()
        d.stop()


def test_make_update_sends_the_firmware_bundle(tmp_path):
    """`make update` as a user types it (it builds the bundle of this firmware first)."""
    d = MpDongle(tmp_path, device_config(energy=False), reboot=True, heap=UPDATE_HEAP)
    try:
        result = subprocess.run(
            ["make", "-s", "update", "HOST=127.0.0.1", "HTTP_PORT={}".format(d.port),
             "HTTP_PASSWORD=" + PASSWORD],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr + d.output
        assert "update: {} runs and is healthy".format(VERSION) in result.stdout
        assert os.path.exists(ROOT / "build" / "hanport-{}.bundle".format(VERSION))
        assert state_of(d.stage) == "ok" and d.starts == 2
        d.assert_clean()
    finally:
        d.stop()
