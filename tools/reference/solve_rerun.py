"""Re-runs the samples of an `unmask solve --json` report independently of the CLI's sandbox: `ast` decides
whether the prompt (holes filled) + completion parses and Python's own `doctest` runs the docstring's examples; every sample's
`parses` and `examples_passed` must agree.

    python3 tools/reference/solve_rerun.py solve.json

Runs the candidates in this process, unsandboxed: only for reports of models you trust.
"""
import ast, doctest, json, sys
d = json.load(open(sys.argv[1]))
agree = 0
for s in d["samples"]:
    # An infilling prompt ran with its holes filled.
    src = s.get("filled_prompt", d["prompt"]) + s["ran"]
    try:
        ast.parse(src); parses = True
    except SyntaxError:
        parses = False
    passed = 0
    if parses:
        g = {}
        try:
            exec(src, g)
            name = [n for n in g if not n.startswith("__")][-1]
            t = doctest.DocTestFinder().find(g[name], globs=g)[0]
            r = doctest.DocTestRunner(verbose=False).run(t, out=lambda *_: None)
            passed = r.attempted - r.failed
        except Exception:
            passed = 0
    ok = parses == s["parses"] and passed == s["examples_passed"]
    agree += ok
    print(s["index"], parses, s["parses"], passed, s["examples_passed"], "agree" if ok else "DIFFER")
print(f"{agree}/{len(d['samples'])} agree")
sys.exit(0 if agree == len(d["samples"]) else 1)
