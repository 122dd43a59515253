# Runs one candidate program against examples and probe calls: in the child process `unmask solve` starts
# (crates/cli/src/sandbox.rs) and in the page's Pyodide worker (web/sandbox.js); the protocol is
# crates/solve/src/job.rs. Reads one JSON job on stdin, writes one JSON result on stdout.
# Everything the candidate could do to the host is limited here, before its code runs: resource limits (when
# the job has them; in the browser the worker is the limit, terminated at its deadline), then an audit hook
# that refuses writes, sockets, new processes and signals.
import ast, builtins, contextlib, io, json, sys

MARKER = "@@unmask-sandbox-result@@ "
job = json.loads(sys.stdin.read())
out = sys.stdout
limits = job["limits"]
if limits is not None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

BLOCKED = ("socket.", "subprocess.", "os.system", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn",
           "os.kill", "os.killpg", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
           "os.truncate", "os.symlink", "os.link", "shutil.", "ctypes.", "os.putenv", "os.unsetenv", "pty.")


def guard(event, args):
    if event == "open":
        mode = args[1] if len(args) > 1 else "r"
        flags = args[2] if len(args) > 2 else 0
        writing = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (isinstance(flags, int) and flags & 3)
        if writing:
            raise PermissionError("the sandbox refuses to write files")
    elif event.startswith(BLOCKED):
        raise PermissionError(f"the sandbox refuses {event}")


def display(value, printed):
    """What the interactive interpreter would show: printed text, then the value's repr unless it is None."""
    shown = printed
    if value is not None:
        shown += repr(value) + "\n"
    return shown.strip()


def run(source, scope):
    """Runs `source` (an expression or statements) in `scope`; returns (value, printed)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            code = compile(source, "<call>", "eval")
            value = eval(code, scope)
        except SyntaxError:
            exec(compile(source, "<call>", "exec"), scope)
            value = None
    return value, buffer.getvalue()


def describe(error):
    return f"raised {type(error).__name__}"


def main():
    result = {"parses": False, "error": None, "detail": None, "examples": [], "probes": []}
    program = job["program"]
    try:
        ast.parse(program)
        result["parses"] = True
    except SyntaxError as error:
        result.update(error="syntax", detail=f"line {error.lineno}: {error.msg}")
        return result
    sys.addaudithook(guard)
    scope = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        exec(compile(program, "<candidate>", "exec"), scope)
    except BaseException as error:  # noqa: BLE001 - anything the candidate raises is its failure
        result.update(error="exception", detail=f"defining the function {describe(error)}: {error}"[:300])
        return result
    for example in job["examples"]:
        local = dict(scope)
        try:
            for line in example["setup"]:
                run(line, local)
            value, printed = run(example["call"], local)
            if example["form"] == "doctest":
                got = display(value, printed)
                passed = got == example["expected"].strip()
            else:
                got = repr(value)
                try:
                    passed = value == eval(example["expected"], {})
                except Exception:  # noqa: BLE001 - an expected value we cannot evaluate: compare text
                    passed = got == example["expected"].strip()
        except BaseException as error:  # noqa: BLE001
            got, passed = f"{describe(error)}: {error}"[:300], False
            if result["error"] is None:
                result.update(error="exception", detail=f"{example['call']} {got}"[:300])
        result["examples"].append({"passed": passed, "got": got[:300]})
        if not passed and result["error"] is None:
            result.update(error="wrong_answer", detail=f"{example['call']} gave {got or 'nothing'}, expected {example['expected']}"[:300])
    for call in job["probes"]:
        try:
            value, printed = run(call, dict(scope))
            shown = display(value, printed)
        except BaseException as error:  # noqa: BLE001
            shown = describe(error)
        result["probes"].append(shown[:1000])
    return result


try:
    with contextlib.redirect_stdout(io.StringIO()):  # the candidate's own prints stay out of the answer
        answer = main()
except MemoryError:
    answer = {"parses": True, "error": "exception", "detail": "raised MemoryError", "examples": [], "probes": []}
# The answer is the last line carrying the marker: whatever the candidate wrote to the real stdout comes before.
out.write("\n" + MARKER + json.dumps(answer) + "\n")
out.flush()
