"""Module import graph of each crate (who names `crate::x` or `super::x`), and its cycles.

    python3 tools/dev/import_graph.py            # the graph of every crate, cycles marked
    python3 tools/dev/import_graph.py --cycles   # only the cycles; exit status 1 if there is one

A module is a file under `src/` (a directory's `mod.rs` names the directory). Test modules (`#[cfg(test)]` to the
end of the file, the convention here) are left out: a test may reach any sibling without making a cycle in the
code that ships.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")


def modules(src):
    """{module path: source text without its tests} for one crate's src directory."""
    out = {}
    for f in sorted(src.rglob("*.rs")):
        parts = list(f.relative_to(src).with_suffix("").parts)
        if parts[-1] in ("lib", "main", "mod"):
            parts = parts[:-1]
        text = f.read_text(encoding="utf-8")
        cut = text.find("#[cfg(test)]\nmod tests")
        if cut >= 0:
            text = text[:cut]
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        out["::".join(parts)] = text
    return out


def expand_groups(text):
    """`use crate::a::{b, c::d}` → `crate::a::b crate::a::c::d`, one level of braces at a time."""
    group = re.compile(r"\b((?:crate|super)(?:::\w+)*)::\{([^{}]*)\}")
    while True:
        new = group.sub(lambda m: " ".join(f"{m.group(1)}::{item.strip()}" for item in m.group(2).split(",")
                                          if item.strip()), text)
        if new == text:
            return text
        text = new


def edges(mods):
    graph = {m: set() for m in mods}
    for name, text in mods.items():
        here = name.split("::") if name else []
        for root, rest in PATH.findall(expand_groups(text)):
            parts = [p for p in rest.split("::") if p]
            base = [] if root == "crate" else here[:-1]
            while parts and parts[0] == "super":
                base, parts = base[:-1], parts[1:]
            target = base + parts
            # The longest prefix that is a module of this crate.
            while target and "::".join(target) not in mods:
                target = target[:-1]
            target = "::".join(target)
            if target and target != name and not name.startswith(target + "::") and not target.startswith(name + "::"):
                graph[name].add(target)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", action="store_true", help="print only the cycles")
    args = ap.parse_args()
    found = False
    for src in sorted(ROOT.glob("crates/*/src")) + sorted(ROOT.glob("xtask/src")) + sorted(ROOT.glob("web/src")):
        graph = edges(modules(src))
        comps = cycles(graph)
        found |= bool(comps)
        crate = src.parent.name
        if not args.cycles:
            print(f"{crate}:")
            for m in sorted(graph):
                if m:
                    print(f"  {m} → {', '.join(sorted(graph[m])) or '-'}")
        for comp in comps:
            print(f"{crate}: cycle among {', '.join(comp)}")
    sys.exit(1 if found and args.cycles else 0)


if __name__ == "__main__":
    main()
