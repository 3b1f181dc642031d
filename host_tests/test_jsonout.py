"""JSON output with readable numbers, the same on CPython and in the MicroPython VM."""

import json

import pytest

import jsonout
import mpvm

CASES = [
    ({"current_l1": 93 / 10}, '{"current_l1": 9.3}'),
    ({"voltage_l1": 232.0, "power": 1743}, '{"voltage_l1": 232.0, "power": 1743}'),
    ({"current_l2": 10533 / 1000, "x": -0.0001}, '{"current_l2": 10.533, "x": 0.0}'),
    ({"id": "7359992890941742", "ok": True, "none": None}, None),
    ({"nested": {"list": [1, 2.5, "a\"b"]}}, '{"nested": {"list": [1, 2.5, "a\\"b"]}}'),
    ({"nan": float("nan")}, '{"nan": null}'),
]


@pytest.mark.parametrize("obj, text", CASES)
def test_dumps_is_valid_json_with_short_numbers(obj, text):
    out = jsonout.dumps(obj)
    if text is not None:
        assert out == text
    parsed = json.loads(out)
    for key, value in obj.items():
        if isinstance(value, float) and value == value:
            assert parsed[key] == pytest.approx(value, abs=0.0005)


def test_vm_writes_the_same_text(tmp_path):
    script = tmp_path / "dump.py"
    script.write_text(
        "import jsonout\n"
        "for value in (93 / 10, 2435 / 10, 1743, 564 / 100, 16377725 * 10, [0.1 + 0.2]):\n"
        "    print(jsonout.dumps({'v': value}))\n"
    )
    result = mpvm.run(script, paths=[mpvm.FIRMWARE])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"v": 9.3}',
        '{"v": 243.5}',
        '{"v": 1743}',
        '{"v": 5.64}',
        '{"v": 163777250}',
        '{"v": [0.3]}',
    ]


def test_pieces_are_the_json_text_in_parts():
    samples = [{}, [], {"a": [], "b": {}}, {"x": 1.5, "y": [1, 2.25, "s", None, True, {"z": {}}]},
               "text", 3, [{}], {"reading": {"voltage_l1": 230.1, "meter_id": "7359"}}]
    for obj in samples:
        text = "".join(jsonout.pieces(obj))
        assert json.loads(text) == json.loads(json.dumps(obj))
    assert "".join(jsonout.pieces({"a": [1, {}], "b": 9.3})) == '{"a": [1, {}], "b": 9.3}'
    assert max(len(p) for p in jsonout.pieces({"k{}".format(i): i for i in range(50)})) < 16


def test_into_writes_the_utf8_text_into_a_buffer_or_says_it_does_not_fit():
    buf = bytearray(64)
    obj = {"prefix": "hjem/måler", "power": 9.3}
    n = jsonout.into(buf, obj)
    assert bytes(buf[:n]) == jsonout.dumps(obj).encode()
    assert jsonout.into(bytearray(10), obj) == -1


def test_merged_dicts_are_written_as_one_object():
    # The diagnostics: a few small dicts (a table each) instead of one with every key.
    merged = jsonout.Merged({"frames_ok": 3}, {}, {"mem_free": 9.5, "notes": {"hint": None}})
    text = '{"frames_ok": 3, "mem_free": 9.5, "notes": {"hint": null}}'
    assert jsonout.dumps(merged) == text
    assert jsonout.dumps({"counters": merged, "empty": jsonout.Merged()}) == (
        '{"counters": ' + text + ', "empty": {}}'
    )
    buf = bytearray(100)
    n = jsonout.into(buf, merged)
    assert json.loads(bytes(buf[:n])) == merged.as_dict() == json.loads(text)
