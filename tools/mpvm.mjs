// Run a Python script inside the MicroPython WebAssembly VM, as if it were a CPython script.
//
// Why: firmware code must run unchanged on MicroPython, and host tests need a MicroPython to prove
// it without an ESP32. The npm package's own CLI always exits 0, so tests could not see a failure;
// this runner gives the script a real argv, a real exit code and streamed stdout/stderr.
// It does not emulate hardware (no `machine`), and its heap grows on demand, so memory is measured
// with `gc.mem_alloc()` deltas inside the script, never with a heap limit.
//
// Usage: node tools/mpvm.mjs [--path DIR]... [--data PATH]... SCRIPT [ARGS...]
//   --path DIR   copy DIR into the VM's filesystem at the same absolute path and put it on
//                sys.path (repeatable; default: the repository's firmware/ folder).
//   --data PATH  copy a file or folder into the VM at the same absolute path, not on sys.path,
//                so the script can open() it by its host path (corpus files, fixtures).
// SCRIPT is copied in too; sys.path is [dir of SCRIPT, --path dirs..., ".frozen", "/lib"];
// the VM's working directory is the host's. Exit code: the script's (`sys.exit(n)` gives n,
// an uncaught exception gives 1 with its traceback on stderr). Output is flushed per line.
// Do not call micropython.heap_lock() in scripts: this port hangs there.
//
// Heap: this port's gc.collect() frees nothing while Python code is running; it only marks a
// collection that happens when control is back at the VM's top level. gc.mem_alloc() deltas
// (allocations) are exact anyway. To see the heap in use after a real collection, a script
// passes a generator to `mpvm.run_at_top_level(gen)` (module `mpvm` exists only in this VM):
// after the script body, the runner resumes it once per call in from JS, so each `yield` that
// follows a gc.collect() comes back to a collected heap.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = "usage: node tools/mpvm.mjs [--path DIR]... [--data PATH]... SCRIPT [ARGS...]";
const FLUSH_BYTES = 4096;
const SKIP_NAMES = new Set(["__pycache__", ".git", ".mypy_cache", ".pytest_cache"]);

function parseArgs(argv) {
  const paths = [];
  const data = [];
  let i = 0;
  while (i < argv.length && argv[i].startsWith("--")) {
    const opt = argv[i];
    if (opt === "--") {
      i += 1;
      break;
    }
    if ((opt !== "--path" && opt !== "--data") || i + 1 >= argv.length) {
      throw new Error(`bad option ${opt}\n${USAGE}`);
    }
    (opt === "--path" ? paths : data).push(path.resolve(argv[i + 1]));
    i += 2;
  }
  if (i >= argv.length) {
    throw new Error(USAGE);
  }
  if (paths.length === 0) {
    paths.push(path.join(REPO_ROOT, "firmware"));
  }
  return { paths, data, script: path.resolve(argv[i]), argv0: argv[i], args: argv.slice(i + 1) };
}

// Output of one stream: bytes collect here and go out synchronously at each newline, so a test
// reading the pipe sees lines while the (synchronous) VM is still running.
class Sink {
  constructor(fd) {
    this.fd = fd;
    this.buf = Buffer.alloc(FLUSH_BYTES);
    this.len = 0;
    this.closed = false;
  }

  put(bytes) {
    for (const b of bytes) {
      this.buf[this.len++] = b;
      if (b === 10 || this.len === FLUSH_BYTES) {
        this.flush();
      }
    }
  }

  flush() {
    let off = 0;
    while (off < this.len && !this.closed) {
      try {
        off += fs.writeSync(this.fd, this.buf, off, this.len - off);
      } catch (err) {
        if (err.code === "EPIPE") {
          this.closed = true; // the reader went away (`| head`): drop output, as CPython would
        } else if (err.code !== "EAGAIN") {
          throw err;
        }
      }
    }
    this.len = 0;
  }
}

// Standard input for the VM, one byte per call (null at end of input). Reads fd 0 directly:
// a pipe may be in non-blocking mode, so EAGAIN means "wait a little", not an error.
function stdinReader() {
  const buf = Buffer.alloc(FLUSH_BYTES);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let len = 0;
  let pos = 0;
  let ended = false;
  return () => {
    while (pos === len && !ended) {
      try {
        len = fs.readSync(0, buf, 0, buf.length, null);
        pos = 0;
        ended = len === 0;
      } catch (err) {
        if (err.code === "EAGAIN") {
          Atomics.wait(pause, 0, 0, 5);
        } else if (err.code === "EOF") {
          ended = true;
        } else {
          throw err;
        }
      }
    }
    return pos < len ? buf[pos++] : null;
  };
}

function copyIn(FS, hostPath) {
  const st = fs.statSync(hostPath);
  if (st.isDirectory()) {
    FS.mkdirTree(hostPath);
    for (const name of fs.readdirSync(hostPath)) {
      if (!SKIP_NAMES.has(name)) {
        copyIn(FS, path.join(hostPath, name));
      }
    }
  } else if (st.isFile()) {
    FS.mkdirTree(path.dirname(hostPath));
    FS.writeFile(hostPath, fs.readFileSync(hostPath));
  }
}

// A module only the VM has: scripts that must see the heap really collected hand a generator
// to run_at_top_level(); the runner drives it after the script body, one `next()` per call in
// from JS. Between calls the VM is at its top level, where this port performs a gc.collect()
// that was requested (inside a call it only marks one as pending, since it cannot scan the
// WebAssembly stack for roots).
const HOOK_MODULE = `"""Hooks of tools/mpvm.mjs (exists only in its VM)."""

steps = []


def run_at_top_level(gen):
    """Run generator GEN after the script; each yield returns to the VM's top level, where a
    gc.collect() requested before it really frees the heap."""
    steps.append(gen)
`;
const HOOK_DIR = "/mpvm_hooks";

// Runs in __main__ of the VM. The script gets its own globals; only SystemExit is caught here,
// every other exception goes out to JS, which prints the traceback without this driver's frames.
function driver(opts) {
  const sysPath = [path.dirname(opts.script), ...opts.paths, ".frozen", "/lib", HOOK_DIR];
  return `
import sys
sys.argv[:] = ${JSON.stringify([opts.argv0, ...opts.args])}
sys.path[:] = ${JSON.stringify(sysPath)}
import mpvm
__mpvm_rc = None
def __mpvm_exit(e):
    global __mpvm_rc
    code = e.args[0] if e.args else None
    if code is None:
        __mpvm_rc = 0
    elif isinstance(code, int):
        __mpvm_rc = code
    else:
        print(code, file=sys.stderr)
        __mpvm_rc = 1
def __mpvm_run(p):
    with open(p) as f:
        src = f.read()
    try:
        exec(compile(src, p, "exec"), {"__name__": "__main__", "__file__": p})
    except SystemExit as e:
        __mpvm_exit(e)
__mpvm_more = True
def __mpvm_step():
    global __mpvm_more
    try:
        next(mpvm.steps[0])
    except StopIteration:
        mpvm.steps.pop(0)
    except SystemExit as e:
        __mpvm_exit(e)
    __mpvm_more = __mpvm_rc is None and len(mpvm.steps) > 0
__mpvm_run(${JSON.stringify(opts.script)})
`;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
    for (const p of [...opts.paths, ...opts.data, opts.script]) {
      if (!fs.existsSync(p)) {
        throw new Error(`mpvm: no such file or folder: ${p}`);
      }
    }
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  let loadMicroPython;
  try {
    ({ loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript"));
  } catch (err) {
    process.stderr.write(`mpvm: MicroPython VM package missing (run \`make setup\`): ${err}\n`);
    return 2;
  }
  const out = new Sink(1);
  const errOut = new Sink(2);
  const mp = await loadMicroPython({
    stdin: stdinReader(),
    stdout: (bytes) => out.put(bytes),
    stderr: (bytes) => errOut.put(bytes),
    linebuffer: false,
  });
  for (const p of [...opts.paths, ...opts.data, opts.script]) {
    copyIn(mp.FS, p);
  }
  mp.FS.mkdirTree(HOOK_DIR);
  mp.FS.writeFile(`${HOOK_DIR}/mpvm.py`, HOOK_MODULE);
  mp.FS.mkdirTree(process.cwd());
  mp.FS.chdir(process.cwd());
  let rc;
  try {
    mp.runPython(driver(opts));
    // Each step is its own call in from JS, so the VM passes its top level in between.
    mp.runPython("__mpvm_more = __mpvm_rc is None and len(mpvm.steps) > 0");
    while (mp.globals.get("__mpvm_more")) {
      mp.runPython("__mpvm_step()");
    }
    rc = mp.globals.get("__mpvm_rc") ?? 0;
  } catch (err) {
    out.flush();
    if (err.name === "PythonError") {
      // Drop the driver's own frames; keep the script's traceback as CPython would print it.
      const lines = err.message.split("\n").filter((l) => !l.startsWith('  File "<stdin>"'));
      errOut.put(Buffer.from(lines.join("\n")));
    } else {
      errOut.put(Buffer.from(`mpvm: VM failure: ${err && err.stack ? err.stack : err}\n`));
    }
    rc = 1;
  }
  out.flush();
  errOut.flush();
  return rc & 0xff;
}

process.exitCode = await main();
