"""The MicroPython VM runner (tools/mpvm.mjs) keeps the contract of a CPython script run.

Every VM-based test trusts these properties: a failing script fails the test (exit code), the
script sees its own argv, its --path folders and --data files, and output arrives as it is made.
"""

import select
import subprocess
import textwrap

import mpvm


def write_script(tmp_path, body, name="script.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    return script


def test_runs_on_micropython_not_cpython(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        print(sys.implementation.name)
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "micropython\n"


def test_exit_code_is_the_scripts(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        sys.exit(int(sys.argv[1]))
        """,
    )
    for code in (0, 3, 42):
        assert mpvm.run(script, code).returncode == code


def test_exit_without_code_is_success_and_with_message_is_failure(tmp_path):
    quiet = write_script(tmp_path, "import sys\nsys.exit()\n", "quiet.py")
    assert mpvm.run(quiet).returncode == 0
    message = write_script(tmp_path, "import sys\nsys.exit('bad config')\n", "message.py")
    result = mpvm.run(message)
    assert result.returncode == 1
    assert result.stderr == "bad config\n"


def test_uncaught_exception_exits_1_with_traceback_on_stderr(tmp_path):
    script = write_script(
        tmp_path,
        """
        print("before")

        def fail():
            raise ValueError("boom")

        fail()
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 1
    assert result.stdout == "before\n"
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"
    assert '  File "%s", line 7, in <module>' % script in lines
    assert '  File "%s", line 5, in fail' % script in lines
    assert "<stdin>" not in result.stderr


def test_argv_is_passed_exactly(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        for arg in sys.argv:
            print("<%s>" % arg)
        """,
    )
    args = ["plain", "with space", "", "--path", "ø-unicode", "'quote\""]
    result = mpvm.run(script, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["<%s>" % a for a in [script] + args]


def test_default_path_is_firmware_and_script_dir_comes_first(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        print(sys.path[0])
        print(sys.path[1])
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(tmp_path), str(mpvm.FIRMWARE)]


def test_path_folders_are_copied_and_importable(tmp_path):
    lib_a = tmp_path / "lib_a" / "pkg"
    lib_a.mkdir(parents=True)
    (lib_a / "__init__.py").write_text("from pkg.inner import VALUE\n")
    (lib_a / "inner.py").write_text("VALUE = 41\n")
    lib_b = tmp_path / "lib_b"
    lib_b.mkdir()
    (lib_b / "other.py").write_text("import pkg\nVALUE = pkg.VALUE + 1\n")
    script = write_script(
        tmp_path,
        """
        import other
        print(other.VALUE, other.__file__)
        """,
    )
    result = mpvm.run(script, paths=[lib_a.parent, lib_b])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42 %s\n" % (lib_b / "other.py")


def test_folders_not_given_are_not_importable(tmp_path):
    script = write_script(tmp_path, "import hanport\n")
    (tmp_path / "empty").mkdir()
    result = mpvm.run(script, paths=[tmp_path / "empty"])
    assert result.returncode == 1
    assert "ImportError" in result.stderr


def test_data_files_are_readable_at_their_host_path(tmp_path):
    data = tmp_path / "data" / "frames.bin"
    data.parent.mkdir()
    data.write_bytes(bytes(range(256)))
    script = write_script(
        tmp_path,
        """
        import sys
        with open(sys.argv[1], "rb") as f:
            blob = f.read()
        print(len(blob), blob[0], blob[255])
        """,
    )
    result = mpvm.run(script, data, data=[data])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "256 0 255\n"


def test_stdout_and_stderr_stay_separate(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        print("to out")
        print("to err", file=sys.stderr)
        sys.stdout.write("no newline at end")
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "to out\nno newline at end"
    assert result.stderr == "to err\n"


def test_output_streams_while_the_script_runs(tmp_path):
    # The script blocks on stdin after its first line: if output were only written at exit,
    # the first line could never arrive and the read below would time out.
    script = write_script(
        tmp_path,
        """
        import sys
        print("first")
        line = sys.stdin.readline()
        print("second", line.strip())
        """,
    )
    proc = subprocess.Popen(
        mpvm.command(script),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no output from the VM within 60 s"
        assert proc.stdout.readline() == "first\n"
        assert proc.poll() is None
        out, err = proc.communicate("go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == "second go\n"


def test_missing_script_is_a_usage_error(tmp_path):
    result = mpvm.run(tmp_path / "absent.py")
    assert result.returncode == 2
    assert "absent.py" in result.stderr


def test_long_output_is_complete(tmp_path):
    script = write_script(
        tmp_path,
        """
        for i in range(20000):
            print(i)
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(i) for i in range(20000)]


def test_steps_run_at_top_level_see_a_collected_heap(tmp_path):
    # gc.collect() inside a call is only a request in this port; a yield from a step returns
    # to the top level, where the request is carried out.
    script = write_script(
        tmp_path,
        """
        import gc
        import mpvm

        def churn():
            for i in range(2000):
                garbage = [i] * 10

        def steps():
            gc.collect()
            yield
            base = gc.mem_alloc()
            churn()
            gc.collect()
            inside = gc.mem_alloc()
            yield
            print(inside - base > 20000, gc.mem_alloc() - base)

        mpvm.run_at_top_level(steps())
        print("body")
        """,
    )
    result = mpvm.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "body\nTrue 0\n"


def test_exit_and_exceptions_in_steps_count_like_the_body(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys
        import mpvm

        def steps(code):
            yield
            if code == "raise":
                raise RuntimeError("late")
            sys.exit(int(code))

        mpvm.run_at_top_level(steps(sys.argv[1]))
        """,
    )
    assert mpvm.run(script, 5).returncode == 5
    result = mpvm.run(script, "raise")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "RuntimeError: late"
    assert 'File "%s", line 8, in steps' % script in result.stderr
