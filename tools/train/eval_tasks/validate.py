#!/usr/bin/env python3
"""Validate tasks.jsonl: structure, doctest examples and hidden tests.

For every task this checks that
  * the fields exist with the right types and the id is unique snake_case;
  * the prompt is exactly one function header plus its docstring (4-space
    indentation), ends right after the closing triple quote and a newline,
    and names entry_point;
  * the docstring holds 1 to 3 doctest examples, each with an expected output;
  * there are at least 4 tests, each a single assert statement;
  * prompt + reference defines the function, its docstring examples pass
    under doctest, and every hidden test passes;
  * prompt + "pass" (a body that returns None) fails at least one test.

References are trusted project code, so they run in this process (with an
alarm per task as a guard against an accidental infinite loop).

Usage: python3 validate.py [--tasks tasks.jsonl] [-v]
Exit status 0 when every task is valid.
"""

import argparse
import ast
import doctest
import io
import json
import os
import re
import signal
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FIELDS = {"id": str, "prompt": str, "tests": list, "reference": str, "entry_point": str}


class TaskTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TaskTimeout("task took longer than 5 s")


def run_doctests(func, globs):
    """Run the doctest examples of func; return (attempted, failed, report)."""
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS)
    out = io.StringIO()
    attempted = failed = 0
    for test in finder.find(func, func.__name__, globs=dict(globs)):
        result = runner.run(test, out=out.write)
        attempted += result.attempted
        failed += result.failed
    return attempted, failed, out.getvalue()


def run_tests(code, entry_point, tests):
    """exec code, then every test; return list of (test, error or None)."""
    ns = {"__name__": "__task__"}
    exec(compile(code, "<task>", "exec"), ns)
    results = []
    for t in tests:
        try:
            exec(compile(t, "<test>", "exec"), ns)
            results.append((t, None))
        except Exception as e:  # noqa: BLE001 - report any failure
            results.append((t, f"{type(e).__name__}: {e}"))
    return ns, results


def check_task(task):
    """Return (list of problems, info dict) for one task."""
    problems = []
    info = {}
    for field, typ in FIELDS.items():
        if not isinstance(task.get(field), typ):
            problems.append(f"field {field!r} missing or not {typ.__name__}")
    if problems:
        return problems, info
    tid, prompt, ref, name, tests = (
        task["id"], task["prompt"], task["reference"], task["entry_point"], task["tests"])

    if not ID_RE.match(tid):
        problems.append("id is not snake_case")

    # --- prompt shape
    if not prompt.startswith("def "):
        problems.append("prompt does not start with 'def '")
    if not prompt.endswith('"""\n'):
        problems.append("prompt does not end with the closing docstring quotes and a newline")
    for line in prompt.splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            problems.append(f"prompt line not indented by 4 spaces: {line!r}")
            break
    if "\t" in prompt:
        problems.append("prompt contains a tab character")
    try:
        mod = ast.parse(prompt)
    except SyntaxError as e:
        return problems + [f"prompt does not parse: {e}"], info
    if len(mod.body) != 1 or not isinstance(mod.body[0], ast.FunctionDef):
        problems.append("prompt is not exactly one function definition")
        return problems, info
    fn = mod.body[0]
    if fn.name != name:
        problems.append(f"prompt defines {fn.name!r}, entry_point is {name!r}")
    docstring = ast.get_docstring(fn, clean=False)
    if len(fn.body) != 1 or docstring is None:
        problems.append("prompt body is not just a docstring")
        return problems, info
    if fn.end_lineno != len(prompt.splitlines()):
        problems.append("prompt does not end with the docstring")

    examples = doctest.DocTestParser().get_examples(docstring)
    info["examples"] = len(examples)
    if not 1 <= len(examples) <= 3:
        problems.append(f"docstring has {len(examples)} doctest examples (want 1-3)")
    for ex in examples:
        if not ex.want.strip():
            problems.append(f"doctest example without expected output: {ex.source.strip()!r}")

    # --- tests shape
    info["tests"] = len(tests)
    if len(tests) < 4:
        problems.append(f"only {len(tests)} tests (want >= 4)")
    for t in tests:
        try:
            tmod = ast.parse(t)
        except SyntaxError as e:
            problems.append(f"test does not parse: {t!r}: {e}")
            continue
        if len(tmod.body) != 1 or not isinstance(tmod.body[0], ast.Assert):
            problems.append(f"test is not a single assert statement: {t!r}")
    if len(set(tests)) != len(tests):
        problems.append("duplicate tests")

    # --- reference shape
    body_lines = [line for line in ref.splitlines() if line.strip()]
    info["body_lines"] = len(body_lines)
    if not body_lines:
        problems.append("empty reference")
    elif any(not line.startswith("    ") for line in body_lines):
        problems.append("reference line not indented by at least 4 spaces")
    if not ref.endswith("\n"):
        problems.append("reference does not end with a newline")
    code = prompt + ref
    try:
        ast.parse(code)
    except SyntaxError as e:
        return problems + [f"prompt + reference does not parse: {e}"], info
    if problems:
        return problems, info

    # --- behaviour
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(5)
    try:
        ns, results = run_tests(code, name, tests)
        func = ns.get(name)
        if not callable(func):
            problems.append(f"prompt + reference does not define {name}")
        else:
            attempted, failed, report = run_doctests(func, ns)
            if attempted != len(examples) or failed:
                problems.append(f"doctest: {failed} of {attempted} examples failed\n{report}")
        for t, err in results:
            if err is not None:
                problems.append(f"reference fails {t!r}: {err}")
        _, stub_results = run_tests(prompt + "    pass\n", name, tests)
        if all(err is None for _, err in stub_results):
            problems.append("a body of 'pass' passes every test; tests are too weak")
    except TaskTimeout as e:
        problems.append(str(e))
    except Exception as e:  # noqa: BLE001
        problems.append(f"error while running: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
    return problems, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=os.path.join(HERE, "tasks.jsonl"))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every problem in full")
    args = ap.parse_args(argv)

    tasks = []
    bad = []
    with open(args.tasks, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                tasks.append(json.loads(line))
            except json.JSONDecodeError as e:
                bad.append((f"line {lineno}", [f"invalid JSON: {e}"]))

    seen = {}
    for t in tasks:
        tid = t.get("id")
        if tid in seen:
            bad.append((tid, ["duplicate id"]))
        seen[tid] = True

    n_examples = n_tests = 0
    body_sizes = []
    for t in tasks:
        problems, info = check_task(t)
        n_examples += info.get("examples", 0)
        n_tests += info.get("tests", 0)
        if "body_lines" in info:
            body_sizes.append(info["body_lines"])
        if problems:
            bad.append((t.get("id"), problems))

    for tid, problems in bad:
        for p in problems:
            text = p if args.verbose else p.splitlines()[0]
            print(f"FAIL {tid}: {text}", file=sys.stderr)

    short = sum(1 for n in body_sizes if n <= 8)
    median = statistics.median(body_sizes) if body_sizes else 0
    status = "OK" if not bad else f"{len(bad)} FAILED"
    print(
        f"validate: {len(tasks)} tasks, {status}; {n_examples} doctest examples, "
        f"{n_tests} hidden tests; reference bodies: median {median} lines, "
        f"max {max(body_sizes, default=0)}, {short} of {len(body_sizes)} within 1-8 lines"
    )
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
