"""Training examples shaped like the product's use: fill in a function body, fill a one-line hole, continue code.

function  prompt = relevant module imports + decorators + `def` line(s) + docstring; answer = the rest of the body.
infill    prompt = code before a one-line hole, suffix = code after it, answer = the removed line (with newline).
chunk     a window of a file (about CHUNK_TOKENS tokens, whole lines): prompt = its first 16-48 tokens' worth.

Methods (and functions under a class) are dedented so that their first line starts at column 0. All text is
taken by line ranges from the original file, so indentation, comments and blank lines are kept as written.
"""

from __future__ import annotations

import ast
import bisect
import random

from common import stable_u64

MAX_ANSWER_TOKENS = 200
MAX_PROMPT_TOKENS = 256
MAX_IMPORTS = 4
MAX_IMPORT_LINES = 3
INFILL_MAX_TOKENS = 384
INFILL_MAX_ANSWER_TOKENS = 64
INFILL_MIN_LINES = 4
CHUNK_TOKENS = 256
CHUNK_MIN_TOKENS = 64
CHUNK_PROMPT_TOKENS = (16, 48)
MIX = {"function": 10, "infill": 5, "chunk": 30}  # want = functions * share; every chunk is kept


def dedent(lines: list[str], indent: str) -> list[str] | None:
    if not indent:
        return list(lines)
    out = []
    for ln in lines:
        if ln.startswith(indent):
            out.append(ln[len(indent):])
        elif not ln.strip():
            out.append("")
        else:  # a line (inside a string literal) less indented than the def: cannot dedent safely
            return None
    return out


def import_header(rec, f, lines: list[str]) -> str:
    """Module-level imports that bind a name the function uses (at most MAX_IMPORTS, in file order)."""
    chosen = []
    for start, end, bound in rec.imports:
        if end - start + 1 > MAX_IMPORT_LINES or not (set(bound) & f.names):
            continue
        chosen.append("\n".join(lines[start - 1 : end]) + "\n")
        if len(chosen) == MAX_IMPORTS:
            break
    return "".join(chosen) + "\n\n" if chosen else ""


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def function_candidate(rec, f, lines: list[str]) -> dict | None:
    if not f.doc_end or f.trivial:
        return None
    seg = dedent(lines[f.start - 1 : f.end], f.indent)
    if seg is None:
        return None
    n_prompt = f.doc_end - f.start + 1
    body = "\n".join(seg[:n_prompt]) + "\n"
    answer = "\n".join(seg[n_prompt:]) + "\n"
    if not answer.strip() or not _parses(body + answer):
        return None
    return {
        "kind": "function",
        "prompt": import_header(rec, f, lines) + body,
        "answer": answer,
        "source": f"{rec.key}:{f.def_line}",
    }


def infill_candidate(rec, f, lines: list[str]) -> dict | None:
    holes = [ln for ln in f.hole_lines if f.start < ln <= f.end]
    if f.trivial or not holes or f.end - f.start + 1 < INFILL_MIN_LINES:
        return None
    seg = dedent(lines[f.start - 1 : f.end], f.indent)
    if seg is None or not _parses("\n".join(seg) + "\n"):
        return None
    rng = random.Random(stable_u64(f"infill:{rec.key}:{f.qualname}:{f.def_line}"))
    hole = rng.choice(holes)
    i = hole - f.start
    return {
        "kind": "infill",
        "prompt": import_header(rec, f, lines) + "".join(ln + "\n" for ln in seg[:i]),
        "answer": seg[i] + "\n",
        "suffix": "".join(ln + "\n" for ln in seg[i + 1 :]),
        "source": f"{rec.key}:{hole}",
    }


def chunk_candidates(rec, enc) -> list[dict]:
    """Whole-line windows of about CHUNK_TOKENS tokens covering the file, split into prompt and answer."""
    text = rec.text
    starts_tok = [o[0] for o in enc.offsets]
    n_tok = len(starts_tok)
    line_start = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            line_start.append(i + 1)
    # token index at which each line (and the end of the text) begins
    tok_at = [bisect.bisect_left(starts_tok, c) for c in line_start]
    tok_at[-1] = n_tok
    n_lines = len(line_start) - 1
    out = []
    rng = random.Random(stable_u64(f"chunk:{rec.key}"))
    i = 0
    while i < n_lines:
        j = i
        while j < n_lines and tok_at[j + 1] - tok_at[i] <= CHUNK_TOKENS:
            j += 1
        if j == i:  # a single line longer than a chunk: skip it
            i += 1
            continue
        n = tok_at[j] - tok_at[i]
        if n >= CHUNK_MIN_TOKENS:
            lo, hi = CHUNK_PROMPT_TOKENS
            target = rng.randint(lo, hi)
            best = None
            for k in range(i + 1, j):
                t = tok_at[k] - tok_at[i]
                if lo <= t <= hi and (best is None or abs(t - target) < abs(tok_at[best] - tok_at[i] - target)):
                    best = k
                if t > hi:
                    break
            cut = line_start[best] if best is not None else starts_tok[tok_at[i] + target]
            begin, end = line_start[i], line_start[j]
            if begin < cut < end:
                out.append(
                    {"kind": "chunk", "prompt": text[begin:cut], "answer": text[cut:end], "source": f"{rec.key}:{i + 1}"}
                )
        i = j
    return out


def collect(files, func_keep: dict) -> tuple[dict, dict]:
    """Function and infill candidates per split (before any token-length filter)."""
    fn: dict[str, list] = {s: [] for s in ("train", "val", "test")}
    inf: dict[str, list] = {s: [] for s in ("train", "val", "test")}
    for fi, rec in enumerate(files):
        lines = rec.text.split("\n")
        for gi, f in enumerate(rec.funcs):
            if not func_keep.get((fi, gi), False):
                continue
            ex = function_candidate(rec, f, lines)
            if ex is not None:
                fn[rec.split].append(ex)
            ex = infill_candidate(rec, f, lines)
            if ex is not None:
                inf[rec.split].append(ex)
    return fn, inf


def token_counts(tok, texts: list[str]) -> list[int]:
    return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]


def build(files, fn: dict, inf: dict, tok, seed: int, stats: dict) -> dict[str, list[dict]]:
    """Length filters, chunking and the kind mix; rows per split in a seeded shuffled order."""
    filtered = {"function_answer_too_long": 0, "function_prompt_too_long": 0, "infill_too_long": 0}
    available = {}
    pools = {}
    out: dict[str, list[dict]] = {}
    for si, split in enumerate(("train", "val", "test")):
        exs = fn[split]
        pl, al = token_counts(tok, [e["prompt"] for e in exs]), token_counts(tok, [e["answer"] for e in exs])
        fn_rows = []
        for e, p, a in zip(exs, pl, al):
            if a > MAX_ANSWER_TOKENS:
                filtered["function_answer_too_long"] += 1
            elif p > MAX_PROMPT_TOKENS:
                filtered["function_prompt_too_long"] += 1
            else:
                fn_rows.append(e)

        exs = inf[split]
        pl, al = token_counts(tok, [e["prompt"] for e in exs]), token_counts(tok, [e["answer"] for e in exs])
        sl = token_counts(tok, [e["suffix"] for e in exs])
        inf_rows = []
        for e, p, a, s in zip(exs, pl, al, sl):
            if a <= INFILL_MAX_ANSWER_TOKENS and p + a + s <= INFILL_MAX_TOKENS:
                inf_rows.append(e)
            else:
                filtered["infill_too_long"] += 1

        recs = [r for r in files if r.split == split]
        encs = tok.encode_batch([r.text for r in recs], add_special_tokens=False)
        stats.setdefault("corpus_tokens", {})[split] = sum(len(e.ids) for e in encs)
        ch_rows = []
        for r, e in zip(recs, encs):
            ch_rows.extend(chunk_candidates(r, e))

        available[split] = {"function": len(fn_rows), "infill": len(inf_rows), "chunk": len(ch_rows)}
        pools[split] = {"function": fn_rows, "infill": inf_rows}
        rng = random.Random(seed * 1000 + si)
        want_inf = round(len(fn_rows) * MIX["infill"] / MIX["function"])
        want_ch = round(len(fn_rows) * MIX["chunk"] / MIX["function"])
        rows = fn_rows + _sample(inf_rows, want_inf, rng) + _sample(ch_rows, want_ch, rng)
        rng.shuffle(rows)
        out[split] = rows
    stats["filtered"] = filtered
    stats["available"] = available
    return out, pools


def check_rows(rows: list[dict]) -> None:
    """Every function / infill example is valid Python once the answer is put back; answers end a line."""
    for r in rows:
        if r["kind"] == "chunk":
            assert r["prompt"] and r["answer"], r["source"]
            continue
        assert r["answer"].endswith("\n") and r["answer"].strip(), r["source"]
        code = r["prompt"] + r["answer"] + r.get("suffix", "")
        if not _parses(code):
            raise AssertionError(f"{r['kind']} example from {r['source']} does not parse")


def _sample(items: list, k: int, rng: random.Random) -> list:
    if k >= len(items):
        return list(items)
    idx = sorted(rng.sample(range(len(items)), k))
    return [items[i] for i in idx]


def eval_prompts(test_pool: dict, seed: int, n_function: int = 200, n_infill: int = 100) -> list[dict]:
    """A fixed sample of held-out test-split items (all length-filtered candidates, not only the mixed rows)."""
    rng = random.Random(seed * 1000 + 7)
    fns = sorted(test_pool["function"], key=lambda r: r["source"])
    infs = sorted(test_pool["infill"], key=lambda r: r["source"])
    return _sample(fns, n_function, rng) + _sample(infs, n_infill, rng)
