#!/usr/bin/env python3
"""Score model completions on the unmask evaluation tasks, each in a sandboxed child process.

Input: tasks.jsonl (see README.md) and a JSONL file of {"id": ..., "completion": ...}
objects, where "completion" is the text the model wrote after the task prompt (the
function body, possibly followed by more code). Several completions per id are allowed.

How a completion is turned into a program (prepare_program):
  * the program is prompt + completion;
  * it is cut just before the first line of the completion that starts in column 0 and
    is not a comment (a `def`, `print(...)`, `if __name__ ...`, a stray test, ...),
    i.e. only the body of the prompted function is kept, provided the cut text parses;
    if it does not (e.g. the column-0 line is inside a multi-line string), the next
    column-0 line is tried, and finally the whole text;
  * "parses" in the report is whether that program passes ast.parse. A program that
    does not parse is reported as error "syntax" and is not run. Helper functions the
    model writes after the body are therefore dropped, like other trailing code.

How a program is run (Sandbox.run_job): one fresh `python3 -I -S -B -c HARNESS` child
per completion, with
  * resource limits set in a preexec_fn: CPU time 2 s (SIGXCPU, then SIGKILL at +1 s),
    address space 512 MiB, file size 0 (no byte can be written to a regular file),
    64 open files, no core dumps, and RLIMIT_NPROC 0 so that fork/clone fails;
  * when the scorer runs as root, the child runs as user `nobody` (root ignores
    RLIMIT_NPROC, and nobody cannot write the scorer's files or signal its processes);
  * a wall-clock timeout (5 s); on expiry the child's whole process group is killed;
  * an empty temporary working directory (mode 0500) and the environment
    {PATH, LANG} only;
  * program and tests arrive on stdin; the child's own stdout/stderr go to /dev/null and
    the harness reports through a duplicated descriptor, tagged with a random nonce;
  * by default an audit hook (sys.addaudithook) installed before the candidate is
    compiled refuses process creation, signals, sockets, ctypes, file writes/removal
    and rlimit changes with PermissionError.
This contains accidents and resource abuse by model output. It is not a security
boundary against deliberately malicious code: see README.md.

Error kinds: "syntax" (does not parse/compile), "timeout" (CPU or wall limit),
"exception" (an exception other than a failed test assert, at definition or in a test,
or the child died without reporting), "wrong_answer" (every failing test failed its
assert), or null when all tests pass.

CLI:
  python3 score.py --tasks tasks.jsonl --completions comps.jsonl [--json out.json]
  python3 score.py --self-test
"""

import argparse
import ast
import json
import math
import os
import pwd
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TASKS = os.path.join(HERE, "tasks.jsonl")
ERROR_KINDS = ("syntax", "exception", "timeout", "wrong_answer")
OUTPUT_CAP = 1 << 20  # bytes of harness output kept; more means the child misbehaves
MAX_CUTS = 64

# The program run inside the child. It reads "<nonce>\n<json job>" from stdin, points
# fds 0-2 at /dev/null, then reports on a private duplicate of the original stdout.
HARNESS = r'''
import sys, os, json

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_BLOCKED = (
    "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "os.remove", "os.rmdir", "os.rename", "os.truncate",
    "os.chmod", "os.chown", "os.link", "os.symlink", "os.mkdir", "os.utime",
    "os.setxattr", "os.removexattr", "os.chflags", "os.chdir", "os.putenv",
    "os.unsetenv", "subprocess.", "_posixsubprocess", "pty.", "socket.", "ctypes.",
    "shutil.", "resource.setrlimit", "resource.prlimit", "signal.pthread_kill",
    "sqlite3.", "fcntl.", "urllib.", "http.", "ftplib.", "smtplib.", "imaplib.",
    "poplib.", "nntplib.", "telnetlib.", "webbrowser.", "msvcrt.", "winreg.", "_winapi.",
)


def _guard(event, args):
    if event == "open":
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        if (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")):
            raise PermissionError("sandbox: opening files for writing is not allowed")
    elif event == "sys.addaudithook":
        raise RuntimeError("sandbox: no further audit hooks")
    elif event.startswith(_BLOCKED):
        raise PermissionError("sandbox: %s is not allowed" % event)


def _main():
    nonce = sys.stdin.readline().strip()
    job = json.loads(sys.stdin.read())
    out_fd = os.dup(1)
    null_fd = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null_fd, fd)
    os.close(null_fd)
    prefix = ("\n@@" + nonce + " ").encode()
    dumps, write = json.dumps, os.write

    def emit(kind, payload):
        data = prefix + kind.encode() + b" " + dumps(payload).encode() + b"\n"
        while data:
            try:
                n = write(out_fd, data)
            except OSError:
                return
            data = data[n:]

    def describe(exc):
        try:
            text = str(exc)
        except BaseException:
            text = "<unprintable>"
        name = type(exc).__name__
        return (name + ": " + text[:300]) if text else name

    if job.get("audit"):
        sys.addaudithook(_guard)
    try:
        code = compile(job["program"], "<candidate>", "exec")
    except BaseException as e:
        emit("R", {"stage": "syntax", "detail": describe(e)})
        return
    g = {"__name__": "__candidate__", "__builtins__": __builtins__}
    try:
        exec(code, g)
    except BaseException as e:
        emit("R", {"stage": "definition", "detail": describe(e)})
        return
    statuses = []
    details = []
    for i, test in enumerate(job["tests"]):
        status, detail = "ok", None
        try:
            exec(compile(test, "<test>", "exec"), g)
        except AssertionError as e:
            tb = e.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None and tb.tb_frame.f_code.co_filename == "<test>":
                status = "fail"
            else:
                status, detail = "error", describe(e)
        except BaseException as e:
            status, detail = "error", describe(e)
        statuses.append(status)
        details.append(detail)
        emit("T", [i, status, detail])
    emit("R", {"stage": "done", "statuses": statuses, "details": details})


_main()
'''


# --------------------------------------------------------------------------- programs


def _parses(source):
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError, UnicodeError, MemoryError, RecursionError):
        return False


def prepare_program(prompt, completion):
    """Return (program, parses, truncated) for prompt + completion; see module docstring."""
    cuts = []
    offset = 0
    for line in completion.splitlines(keepends=True):
        if line.strip() and not line[0].isspace() and not line.lstrip().startswith("#"):
            cuts.append(offset)
            if len(cuts) >= MAX_CUTS:
                break
        offset += len(line)
    for cut in cuts:
        candidate = prompt + completion[:cut]
        if _parses(candidate):
            return candidate, True, True
    full = prompt + completion
    return full, _parses(full), False


# --------------------------------------------------------------------------- sandbox


class SandboxError(RuntimeError):
    pass


def _nobody_ids():
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


class Sandbox:
    """Runs one program + tests per child process under resource limits."""

    def __init__(self, python=None, cpu_s=2, wall_s=5.0, memory_mb=512, fsize_bytes=0,
                 nofile=64, audit_hook=True, drop_privileges=None):
        self.explicit_python = python
        self.python = python or sys.executable
        self.cpu_s = int(cpu_s)
        self.wall_s = float(wall_s)
        self.memory_bytes = int(memory_mb) * 1024 * 1024
        self.fsize_bytes = int(fsize_bytes)
        self.nofile = int(nofile)
        self.audit_hook = bool(audit_hook)
        if drop_privileges is None:
            drop_privileges = os.geteuid() == 0
        self.drop_privileges = bool(drop_privileges)
        self.uid, self.gid = _nobody_ids() if self.drop_privileges else (None, None)
        self.ready = False
        self.notes = []

    # -- limits applied in the child between fork and exec (after any setuid)
    def _preexec(self):
        cpu, mem, fsize, nofile = self.cpu_s, self.memory_bytes, self.fsize_bytes, self.nofile

        def apply_limits():
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))

        return apply_limits

    def describe(self):
        who = f"uid {self.uid} (nobody)" if self.drop_privileges else f"uid {os.geteuid()}"
        return (f"python={self.python} as {who}; cpu {self.cpu_s}s, wall {self.wall_s:g}s, "
                f"address space {self.memory_bytes >> 20} MiB, file size {self.fsize_bytes} B, "
                f"nproc 0, nofile {self.nofile}; audit hook {'on' if self.audit_hook else 'off'}")

    def prepare(self):
        """Find an interpreter that works inside the sandbox (probe with a tiny job)."""
        if self.ready:
            return self
        if self.explicit_python:
            candidates = [self.explicit_python]
        else:
            candidates = [sys.executable, os.path.realpath(sys.executable),
                          getattr(sys, "_base_executable", None), "/usr/bin/python3",
                          "/usr/local/bin/python3", shutil.which("python3")]
        seen = []
        for c in candidates:
            if c and c not in seen and os.path.isfile(c):
                seen.append(c)
        probe = {"program": "def probe():\n    return 41 + 1\n", "tests": ["assert probe() == 42"]}
        failures = []
        for exe in seen:
            self.python = exe
            res = self.run_job(probe["program"], probe["tests"])
            if res["passed"]:
                self.ready = True
                if exe != sys.executable:
                    self.notes.append(
                        f"note: using {exe} in the sandbox ({sys.executable} did not run there"
                        + (", probably not readable by 'nobody')" if self.drop_privileges else ")"))
                return self
            failures.append(f"{exe}: {res['error']} {res['detail']}")
        raise SandboxError(
            "no Python interpreter runs inside the sandbox; tried: " + "; ".join(failures)
            + ". As root the child runs as 'nobody', which needs read/execute access to the "
              "interpreter: pass --python PATH, or --no-drop-privileges (then RLIMIT_NPROC "
              "does not stop fork and only the audit hook does).")

    def run_job(self, program, tests):
        """Run program then tests in a child; return a result dict (see score_program)."""
        nonce = secrets.token_hex(16)
        job = {"program": program, "tests": list(tests), "audit": self.audit_hook}
        payload = (nonce + "\n" + json.dumps(job)).encode("ascii")
        workdir = tempfile.mkdtemp(prefix="unmask-sbx-")
        os.chmod(workdir, 0o500)
        argv = [self.python, "-I", "-S", "-B", "-c", HARNESS]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        kwargs = {}
        if self.drop_privileges:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        start = time.monotonic()
        timed_out = overflow = False
        test_lines = {}
        final = None
        buf = bytearray()
        proc = None
        try:
            with tempfile.TemporaryFile() as stdin_file:
                stdin_file.write(payload)
                stdin_file.seek(0)
                try:
                    proc = subprocess.Popen(
                        argv, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        cwd=workdir, env=env, start_new_session=True,
                        preexec_fn=self._preexec(), close_fds=True, **kwargs)
                except OSError as e:
                    return self._result(None, "exception", f"could not start child: {e}",
                                        0, len(tests), start)
            fd = proc.stdout.fileno()
            marker = b"@@" + nonce.encode() + b" "
            deadline = start + self.wall_s
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                while final is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        timed_out = True
                        break
                    if not sel.select(timeout=remaining):
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    buf += chunk
                    if len(buf) > OUTPUT_CAP:
                        overflow = True
                        break
                    *lines, rest = bytes(buf).split(b"\n")
                    buf = bytearray(rest)
                    for line in lines:
                        if not line.startswith(marker):
                            continue
                        kind, _, body = line[len(marker):].partition(b" ")
                        try:
                            data = json.loads(body)
                        except ValueError:
                            continue
                        if kind == b"T" and isinstance(data, list) and data:
                            test_lines[data[0]] = data
                        elif kind == b"R" and isinstance(data, dict):
                            final = data
            if final is None and not timed_out and not overflow:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            if proc is not None:
                self._kill_group(proc)
                proc.stdout.close()
            os.chmod(workdir, 0o700)
            shutil.rmtree(workdir, ignore_errors=True)

        total = len(tests)
        rc = proc.returncode
        if final is not None:
            stage = final.get("stage")
            if stage == "syntax":
                return self._result(proc, "syntax", final.get("detail"), 0, total, start)
            if stage == "definition":
                return self._result(proc, "exception", final.get("detail"), 0, total, start)
            statuses = list(final.get("statuses") or [])
            details = list(final.get("details") or [])
            passed = sum(1 for s in statuses if s == "ok")
            if len(statuses) == total and passed == total:
                return self._result(proc, None, None, passed, total, start)
            if "error" in statuses:
                i = statuses.index("error")
                detail = f"{details[i] if i < len(details) else 'error'} (in {tests[i]})"
                return self._result(proc, "exception", detail, passed, total, start)
            i = statuses.index("fail") if "fail" in statuses else 0
            return self._result(proc, "wrong_answer", f"failed: {tests[i]}", passed, total, start)
        passed = sum(1 for v in test_lines.values() if len(v) > 1 and v[1] == "ok")
        if overflow:
            return self._result(proc, "exception", "child wrote too much output", passed, total, start)
        cpu_signals = (-signal.SIGXCPU, -signal.SIGKILL)
        if timed_out or rc in cpu_signals:
            why = "wall-clock limit" if timed_out else "CPU-time limit"
            return self._result(proc, "timeout", why, passed, total, start)
        return self._result(proc, "exception", f"child exited with status {rc} without a result",
                            passed, total, start)

    @staticmethod
    def _kill_group(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    @staticmethod
    def _result(proc, error, detail, passed, total, start):
        return {
            "passed": error is None and passed == total,
            "tests_passed": passed,
            "tests_total": total,
            "error": error,
            "detail": (detail or None) and str(detail)[:500],
            "elapsed_s": round(time.monotonic() - start, 3),
            "pgid": proc.pid if proc is not None else None,
        }


# --------------------------------------------------------------------------- scoring


def load_tasks(path=DEFAULT_TASKS):
    tasks = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                tasks[t["id"]] = t
    return tasks


def load_completions(path):
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if not isinstance(obj.get("id"), str) or not isinstance(obj.get("completion"), str):
                raise ValueError(f"{path}:{lineno}: need string fields 'id' and 'completion'")
            items.append(obj)
    return items


def score_completion(task, completion, sandbox):
    """Score one completion for one task. Returns a dict with id, parses, truncated,
    passed, tests_passed, tests_total, error, detail, elapsed_s."""
    program, parses, truncated = prepare_program(task["prompt"], completion)
    base = {"id": task["id"], "parses": parses, "truncated": truncated}
    if not parses:
        res = {"passed": False, "tests_passed": 0, "tests_total": len(task["tests"]),
               "error": "syntax", "detail": "prompt + completion does not parse",
               "elapsed_s": 0.0, "pgid": None}
    else:
        res = sandbox.run_job(program, task["tests"])
    base.update(res)
    return base


def score_items(tasks, items, sandbox, jobs=1, progress=False):
    """Score a list of {"id", "completion"} dicts; returns results in the same order."""
    sandbox.prepare()

    def one(item):
        r = score_completion(tasks[item["id"]], item["completion"], sandbox)
        r.pop("pgid", None)
        return r

    results = []
    if jobs <= 1:
        for i, item in enumerate(items, 1):
            results.append(one(item))
            if progress and i % 100 == 0:
                print(f"  scored {i}/{len(items)}", file=sys.stderr)
    else:
        # preexec_fn in a threaded parent only calls setrlimit; see README on --jobs.
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(one, items))
    return results


def pass_at_k(n, c, k):
    """Unbiased pass@k estimator 1 - C(n-c, k) / C(n, k) (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def summarize(results, tasks, ks=(1, 5, 10)):
    per_task = {}
    for r in results:
        entry = per_task.setdefault(r["id"], {"n": 0, "c": 0})
        entry["n"] += 1
        entry["c"] += 1 if r["passed"] else 0
    for entry in per_task.values():
        entry["pass@1"] = entry["c"] / entry["n"]
    summary = {
        "tasks_total": len(tasks),
        "tasks_scored": len(per_task),
        "completions": len(results),
        "n_min": min((e["n"] for e in per_task.values()), default=0),
        "n_max": max((e["n"] for e in per_task.values()), default=0),
        "pass_at_k": {},
        "errors": {kind: sum(1 for r in results if r["error"] == kind) for kind in ERROR_KINDS},
        "parses": sum(1 for r in results if r["parses"]),
        "truncated": sum(1 for r in results if r["truncated"]),
    }
    for k in ks:
        eligible = [e for e in per_task.values() if e["n"] >= k]
        if not eligible or (k > 1 and summary["n_max"] < 2):
            continue
        value = sum(pass_at_k(e["n"], e["c"], k) for e in eligible) / len(eligible)
        summary["pass_at_k"][f"pass@{k}"] = {"value": value, "tasks": len(eligible)}
    return summary, per_task


def print_summary(summary):
    s = summary
    n_desc = f"{s['n_min']}" if s["n_min"] == s["n_max"] else f"{s['n_min']}-{s['n_max']}"
    print(f"scored {s['completions']} completions for {s['tasks_scored']} of {s['tasks_total']} "
          f"tasks (completions per task: {n_desc})")
    for name, v in s["pass_at_k"].items():
        print(f"{name:<8} {v['value']:.4f}   (mean over {v['tasks']} tasks)")
    total = max(1, s["completions"])
    errs = ", ".join(f"{k} {v}" for k, v in s["errors"].items())
    print(f"errors: {errs}; parses {s['parses'] / total:.1%}; "
          f"trailing code cut in {s['truncated']}")


# --------------------------------------------------------------------------- self-test


def _hostile_cases(target_file):
    return [
        # name, completion body, expected error kinds with audit hook, without audit hook
        ("infinite_loop", "    while True:\n        pass\n", {"timeout"}, {"timeout"}),
        ("sleep_forever", "    import time\n    time.sleep(600)\n", {"timeout"}, None),
        ("output_flood", "    while True:\n        print('x' * 10000)\n", {"timeout"}, None),
        ("memory_bomb", "    hog = []\n    while True:\n        hog.append(bytearray(64 * 1024 * 1024))\n",
         {"exception"}, {"exception"}),
        ("fork_bomb", "    import os\n    while True:\n        os.fork()\n", {"exception"}, {"exception"}),
        ("write_file", f"    with open({target_file!r}, 'w') as fh:\n        fh.write('x' * 4096)\n"
                       "    return None\n", {"exception"}, {"exception"}),
        ("open_socket", "    import socket\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                        "    s.bind(('127.0.0.1', 0))\n    s.listen(1)\n    s.close()\n    return None\n",
         {"exception"}, {"exception", "wrong_answer"}),
        ("hard_exit", "    import os\n    os._exit(0)\n", {"exception"}, {"exception"}),
        ("deep_recursion", "    def down(n):\n        return down(n + 1)\n    return down(0)\n",
         {"exception"}, None),
        ("syntax_error", "    return (\n", {"syntax"}, None),
    ]


def _group_gone(pgid):
    if pgid is None:
        return True
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def self_test(tasks_path, sandbox_kwargs, jobs=1):
    ok = True
    tasks = load_tasks(tasks_path)
    sandbox = Sandbox(**sandbox_kwargs).prepare()
    for note in sandbox.notes:
        print(note)
    print(f"sandbox: {sandbox.describe()}")

    t0 = time.monotonic()
    items = [{"id": tid, "completion": t["reference"]} for tid, t in tasks.items()]
    results = score_items(tasks, items, sandbox, jobs=jobs)
    bad = [r for r in results if not r["passed"]]
    ok &= not bad
    print(f"[{'ok' if not bad else 'FAIL'}] references: {len(results) - len(bad)}/{len(results)} pass "
          f"({time.monotonic() - t0:.1f}s)")
    for r in bad[:10]:
        print(f"       {r['id']}: {r['error']} {r['detail']}")

    # Trailing code after the body must be cut, not run.
    target = tasks.get("shout_words") or next(iter(tasks.values()))
    trailing = target["reference"] + "\n\nprint('extra')\nwhile True:\n    pass\n"
    r = score_completion(target, trailing, sandbox)
    good = r["passed"] and r["truncated"]
    ok &= good
    print(f"[{'ok' if good else 'FAIL'}] trailing top-level code is cut: passed={r['passed']} "
          f"truncated={r['truncated']}")

    host_dir = tempfile.mkdtemp(prefix="unmask-selftest-")
    os.chmod(host_dir, 0o777)  # writable by the sandbox user, so only the limits stop writes
    target_file = os.path.join(host_dir, "written_by_candidate.txt")
    configs = [("audit hook + rlimits", True), ("rlimits only", False)]
    nproc_effective = sandbox.drop_privileges or os.geteuid() != 0
    try:
        for label, audit in configs:
            sb = Sandbox(**dict(sandbox_kwargs, audit_hook=audit, python=sandbox.python)).prepare()
            print(f"hostile completions, {label}:")
            for name, body, expect_on, expect_off in _hostile_cases(target_file):
                expected = expect_on if audit else expect_off
                if expected is None:
                    continue
                if name == "fork_bomb" and not audit and not nproc_effective:
                    print(f"  [skip] {name}: running as root without privilege drop, "
                          "RLIMIT_NPROC is not enforced")
                    continue
                if os.path.exists(target_file):
                    os.unlink(target_file)
                res = score_completion(target, body, sb)
                checks = []
                if res["passed"] or res["error"] not in expected:
                    checks.append(f"error {res['error']!r}, expected one of {sorted(expected)}")
                limit = sb.wall_s + 2.0
                if res["elapsed_s"] > limit:
                    checks.append(f"took {res['elapsed_s']:.1f}s > {limit:.1f}s")
                if not _group_gone(res.get("pgid")):
                    checks.append("processes of the child's group survived")
                if name == "write_file" and os.path.exists(target_file) \
                        and os.path.getsize(target_file) > 0:
                    checks.append("bytes reached the host file system")
                note = ""
                if name == "write_file":
                    note = "file created empty" if os.path.exists(target_file) else "no file created"
                if name == "open_socket" and res["error"] == "wrong_answer":
                    note = "socket was created: no network isolation without the audit hook"
                ok &= not checks
                status = "ok" if not checks else "FAIL"
                print(f"  [{status}] {name:<15} {str(res['error']):<13} {res['elapsed_s']:5.2f}s  "
                      f"{res['detail'] or ''}"[:150] + (f"  ({note})" if note else ""))
                for c in checks:
                    print(f"         {c}")
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)

    print("self-test:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


# --------------------------------------------------------------------------- CLI


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Score completions on the unmask eval tasks in a sandboxed child process.")
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help="tasks JSONL (default: next to this file)")
    ap.add_argument("--completions", help="JSONL of {\"id\", \"completion\"}")
    ap.add_argument("--json", dest="json_out", help="write per-completion results and summary here")
    ap.add_argument("--self-test", action="store_true",
                    help="score the references and hostile completions; exit 1 on any problem")
    ap.add_argument("--jobs", type=int, default=1, help="children run in parallel (default 1)")
    ap.add_argument("--python", help="interpreter for the child (default: this one, if usable)")
    ap.add_argument("--cpu-seconds", type=int, default=2)
    ap.add_argument("--wall-seconds", type=float, default=5.0)
    ap.add_argument("--memory-mb", type=int, default=512)
    ap.add_argument("--no-audit-hook", action="store_true",
                    help="rely on rlimits only (sockets and file creation become possible)")
    ap.add_argument("--no-drop-privileges", action="store_true",
                    help="as root, keep the child as root (RLIMIT_NPROC is then not enforced)")
    args = ap.parse_args(argv)

    sandbox_kwargs = {
        "python": args.python,
        "cpu_s": args.cpu_seconds,
        "wall_s": args.wall_seconds,
        "memory_mb": args.memory_mb,
        "audit_hook": not args.no_audit_hook,
        "drop_privileges": False if args.no_drop_privileges else None,
    }
    try:
        if args.self_test:
            return self_test(args.tasks, sandbox_kwargs, jobs=args.jobs)
        if not args.completions:
            ap.error("--completions is required (or use --self-test)")
        tasks = load_tasks(args.tasks)
        items = load_completions(args.completions)
        unknown = sorted({it["id"] for it in items if it["id"] not in tasks})
        if unknown:
            print(f"warning: skipping completions for {len(unknown)} unknown ids, e.g. {unknown[:5]}",
                  file=sys.stderr)
            items = [it for it in items if it["id"] in tasks]
        sandbox = Sandbox(**sandbox_kwargs).prepare()
        for note in sandbox.notes:
            print(note, file=sys.stderr)
        results = score_items(tasks, items, sandbox, jobs=args.jobs, progress=True)
    except SandboxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary, per_task = summarize(results, tasks)
    print_summary(summary)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "per_task": per_task, "results": results,
                       "sandbox": sandbox.describe()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
