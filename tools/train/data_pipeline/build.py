#!/usr/bin/env python3
"""Build the training data for unmask's code model: corpus, dedup, splits, tokenizer and examples.

    python3 tools/train/data_pipeline/build.py            # full build  -> tools/train/.cache/
    python3 tools/train/data_pipeline/build.py --small    # smoke build -> tools/train/.cache/small/

The script creates (once) and re-executes itself in the virtual environment tools/train/.cache/venv with the
exact versions of tools/train/requirements-data.txt; set UNMASK_DATA_NO_VENV=1 to use the current interpreter
as it is. Everything is deterministic: sorted inputs, hash-based splits, fixed seeds. See tools/train/DATA.md.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE_DIR, MANIFEST_PATH, REQUIREMENTS_PATH, SPLITS, TRAIN_DIR, log  # noqa: E402


def ensure_venv() -> None:
    """Re-execute inside .cache/venv, creating or updating it when requirements-data.txt changed."""
    if os.environ.get("UNMASK_DATA_NO_VENV") == "1":
        return
    venv = CACHE_DIR / "venv"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    py = venv / "bin" / "python"
    want = hashlib.sha256(REQUIREMENTS_PATH.read_bytes()).hexdigest()
    stamp = venv / ".requirements.sha256"
    if not py.exists() or not stamp.exists() or stamp.read_text().strip() != want:
        log(f"setting up {venv} from {REQUIREMENTS_PATH.name}")
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call(
            [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-r",
             str(REQUIREMENTS_PATH)]
        )
        stamp.write_text(want + "\n")
    os.execv(str(py), [str(py), str(Path(__file__).resolve())] + sys.argv[1:])


ensure_venv()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402

import bpe  # noqa: E402
import corpus  # noqa: E402
import dedup  # noqa: E402
import examples  # noqa: E402
import report  # noqa: E402
from common import sha256_file, stable_u64, write_json, write_jsonl  # noqa: E402

FULL_VOCAB_SWEEP = (2048, 4096, 8192)
SMALL_VOCAB_SWEEP = (384, 512)
SMALL_QUOTA = {"train": 16, "val": 2, "test": 2}
HIDDEN_FOR_COST = 256


def small_stdlib(stats: dict) -> tuple[list, dict]:
    """About 20 standard-library files, picked by a stable hash so that every split gets some."""
    root = corpus.stdlib_dir()
    cands = corpus.stdlib_paths()
    cands.sort(key=lambda r: stable_u64("small:" + r))
    need = dict(SMALL_QUOTA)
    files = []
    for rel in cands:
        split = corpus.split_of(f"{corpus.STDLIB_NAME}/{rel}")
        if need[split] == 0:
            continue
        raw = (root / rel).read_bytes()
        if len(raw) > 60_000:  # keep the smoke build fast
            continue
        rec = corpus._make_record(corpus.STDLIB_NAME, rel, raw, stats)
        if rec is not None:
            files.append(rec)
            need[split] -= 1
        if not any(need.values()):
            break
    files.sort(key=lambda r: r.path)
    entry = {"name": corpus.STDLIB_NAME, "version": sys.version.split()[0], "license": "PSF-2.0", "files": len(files),
             "bytes": sum(len(r.text.encode()) for r in files)}
    return files, entry


def collect_corpus(small: bool, stats: dict) -> tuple[list, list, dict]:
    """1. The source files (each assigned its split), their sources, and what was rejected."""
    cstats: dict = {}
    if small:
        files, std_entry = small_stdlib(cstats)
        entries = [std_entry]
    else:
        old_manifest = json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.exists() else {}
        std_files, std_entry = corpus.collect_stdlib(cstats)
        pkg_files, pkg_entries = corpus.collect_packages(cstats, old_manifest)
        files = std_files + pkg_files
        entries = [std_entry] + pkg_entries
    for r in files:
        r.split = corpus.split_of(r.key)
    stats["corpus_candidates"] = {"files": len(files), "bytes": sum(len(r.text.encode()) for r in files)}
    stats["rejected"] = cstats.get("rejected", {})
    log(f"corpus: {len(files)} files from {len(entries)} sources, rejected {stats['rejected']}")
    return files, entries, cstats


def train_first(files: list) -> list[int]:
    """File indices with the training split first, so that of two duplicates the training copy survives."""
    rank = {s: i for i, s in enumerate(SPLITS)}
    return sorted(range(len(files)), key=lambda i: (rank[files[i].split], i))


def dedup_files(files: list, seed: int, stats: dict) -> list:
    """2a. Files without exact and near duplicates, in source order."""
    prio = [files[i] for i in train_first(files)]
    keep_exact = dedup.exact_duplicates([dedup.normalized_file_key(r.text) for r in prio])
    after_exact = [r for r, k in zip(prio, keep_exact) if k]
    tid = dedup.TokenIds()
    keep_near, file_pairs = dedup.near_duplicates([tid(r.text) for r in after_exact], seed=seed)
    kept_set = {id(r) for r, k in zip(after_exact, keep_near) if k}
    removed_near_files = [r.key for r, k in zip(after_exact, keep_near) if not k]
    files = [r for r in files if id(r) in kept_set]  # back to source order
    stats["dedup_files"] = {
        "candidates": len(prio),
        "exact_duplicates_removed": int((~keep_exact).sum()),
        "near_duplicates_removed": int((~keep_near).sum()),
        "near_duplicate_pairs": file_pairs,
        "kept": len(files),
        "near_duplicates_removed_list": removed_near_files[:50],
    }
    log(f"file dedup: {stats['dedup_files']['exact_duplicates_removed']} exact, "
        f"{stats['dedup_files']['near_duplicates_removed']} near duplicates removed, {len(files)} kept")
    return files


def dedup_functions(files: list, seed: int, stats: dict) -> dict:
    """2b. Which functions survive exact and near deduplication: {(file index, function index): kept}."""
    funcs = [(fi, gi) for fi in train_first(files) for gi in range(len(files[fi].funcs))]
    keep_fx = dedup.exact_duplicates([files[fi].funcs[gi].key for fi, gi in funcs])
    funcs_x = [p for p, k in zip(funcs, keep_fx) if k]
    texts_lines = {}

    def func_text(fi: int, gi: int) -> str:
        if fi not in texts_lines:
            texts_lines[fi] = files[fi].text.split("\n")
        f = files[fi].funcs[gi]
        return "\n".join(texts_lines[fi][f.start - 1 : f.end])

    ftid = dedup.TokenIds()
    keep_fn, fn_pairs = dedup.near_duplicates([ftid(func_text(fi, gi)) for fi, gi in funcs_x], seed=seed)
    stats["dedup_functions"] = {
        "functions": len(funcs),
        "exact_duplicates_removed": int((~keep_fx).sum()),
        "near_duplicates_removed": int((~keep_fn).sum()),
        "near_duplicate_pairs": fn_pairs,
        "kept": int(keep_fn.sum()),
    }
    log(f"function dedup: {stats['dedup_functions']}")
    return {p: bool(k) for p, k in zip(funcs_x, keep_fn)}


def record_splits(files: list, stats: dict) -> None:
    """3. Files, bytes and sources per split."""
    split_stats = {}
    for s in SPLITS:
        rs = [r for r in files if r.split == s]
        split_stats[s] = {"files": len(rs), "bytes": sum(len(r.text.encode()) for r in rs),
                          "sources": len({r.source for r in rs})}
    stats["splits"] = split_stats


def build_tokenizer(files: list, fn_cands: dict, sweep: list, vocab: int, small: bool, out_dir: Path, seed: int,
                    stats: dict):
    """4. Byte-level BPE tokenizers of each size in `sweep`, trained on the training split only and measured on
    the validation split; the one of `vocab` entries is checked and saved."""
    train_texts = [r.text for r in files if r.split == "train"]
    val_texts = [r.text for r in files if r.split == "val"]
    val_bytes = sum(len(x.encode()) for x in val_texts)
    train_answers = [e["answer"] for e in fn_cands["train"]]
    table = []
    chosen = None
    tok_dir = out_dir / "tokenizers"
    tok_dir.mkdir(parents=True, exist_ok=True)
    for v in sweep:
        tk = bpe.train(train_texts, v)
        bpe.check_layout(tk, v)
        n_val = sum(examples.token_counts(tk, val_texts))
        ans = np.array(examples.token_counts(tk, train_answers) or [0])
        row = {"vocab": v, "val_tokens": n_val, "val_bytes_per_token": round(val_bytes / max(n_val, 1), 3),
               "function_answers_le_200_tokens": round(float((ans <= examples.MAX_ANSWER_TOKENS).mean()), 3),
               "function_answer_median_tokens": float(np.median(ans)),
               "embedding_params_h256": v * HIDDEN_FOR_COST, "embedding_plus_untied_head_h256": 2 * v * HIDDEN_FOR_COST}
        table.append(row)
        tk.save(str(tok_dir / f"tokenizer-{v}.json"))
        log(f"vocab {v}: {row['val_bytes_per_token']} bytes/token on val")
        if v == vocab:
            chosen = tk
    # the same size without indentation tokens, for comparison
    plain = bpe.train(train_texts, vocab, indent_tokens=False)
    n_plain = sum(examples.token_counts(plain, val_texts))
    stats["vocab_table"] = table
    stats["vocab_without_indent_tokens"] = {"vocab": vocab, "val_tokens": n_plain,
                                            "val_bytes_per_token": round(val_bytes / max(n_plain, 1), 3)}
    stats["vocab"] = vocab
    rng = random.Random(seed)
    sample = rng.sample(val_texts, min(len(val_texts), 200)) + rng.sample(train_texts, min(len(train_texts), 50))
    stats["tokenizer_checks"] = bpe.verify(chosen, sample)
    tok_path = out_dir / "tokenizer.json"
    chosen.save(str(tok_path))
    if not small:
        shutil.copyfile(tok_path, TRAIN_DIR / "tokenizer.json")
    stats["tokenizer_sha256"] = sha256_file(tok_path)
    return chosen


def write_examples(files: list, fn_cands: dict, inf_cands: dict, tokenizer, out_dir: Path, seed: int,
                   stats: dict) -> dict:
    """5. The training rows of each split, the test split's evaluation prompts, and each split's plain text."""
    rows, pools = examples.build(files, fn_cands, inf_cands, tokenizer, seed, stats)
    ex_dir = out_dir / "examples"
    counts = {}
    tokens = {}
    for s in SPLITS:
        examples.check_rows(rows[s])
        write_jsonl(ex_dir / f"{s}.jsonl", rows[s])
        c = {k: 0 for k in ("function", "infill", "chunk")}
        for r in rows[s]:
            c[r["kind"]] += 1
        counts[s] = c
        texts = [r["prompt"] + r["answer"] + r.get("suffix", "") for r in rows[s]]
        tokens[s] = sum(examples.token_counts(tokenizer, texts))
    evals = examples.eval_prompts(pools["test"], seed)
    examples.check_rows(evals)
    write_jsonl(ex_dir / "eval_prompts_test.jsonl", evals)
    stats["examples"] = counts
    stats["example_tokens"] = tokens
    stats["eval_prompts"] = {"function": sum(r["kind"] == "function" for r in evals),
                             "infill": sum(r["kind"] == "infill" for r in evals)}
    for s in SPLITS:  # plain corpus text per split, for language-model style use
        write_jsonl(out_dir / "corpus" / f"{s}.jsonl",
                    ({"source": r.key, "text": r.text} for r in files if r.split == s))
    return counts


def record_sources(files: list, entries: list, cstats: dict, small: bool, stats: dict) -> None:
    """6. Each source's files after dedup into the stats, and (full build) the manifest of sources."""
    kept_by_source: dict[str, list[int]] = {}
    for r in files:
        kb = kept_by_source.setdefault(r.source, [0, 0])
        kb[0] += 1
        kb[1] += len(r.text.encode())
    for e in entries:
        e["files_after_dedup"], e["bytes_after_dedup"] = kept_by_source.get(e["name"], [0, 0])
    stats["sources"] = [{k: e[k] for k in ("name", "version", "license", "files", "bytes", "files_after_dedup")}
                        for e in entries]
    if not small:
        from sources import BLOCKED_EXACT, BLOCKED_SUBSTRINGS, EXCLUDED_BY_LICENSE
        write_json(MANIFEST_PATH, {
            "generated_by": "tools/train/data_pipeline/build.py",
            "python": sys.version.split()[0],
            "sources": entries,
            "excluded_after_license_check": cstats.get("excluded_packages", []),
            "excluded_by_license": EXCLUDED_BY_LICENSE,
            "blocklist": {"exact": sorted(BLOCKED_EXACT), "substrings": list(BLOCKED_SUBSTRINGS)},
        })


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="tiny stdlib-only build into .cache/small (CI smoke test)")
    ap.add_argument("--vocab", type=int, default=None, help="vocabulary size to ship (default 4096; 512 with --small)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    small, seed = args.small, args.seed
    out_dir = CACHE_DIR / "small" if small else CACHE_DIR
    vocab = args.vocab or (512 if small else 4096)
    sweep = sorted(set((SMALL_VOCAB_SWEEP if small else FULL_VOCAB_SWEEP) + (vocab,)))
    stats: dict = {"mode": "small" if small else "full", "seed": seed, "python": sys.version.split()[0],
                   "tokenizers": tokenizers.__version__, "numpy": np.__version__}
    timings: dict[str, float] = {}
    started = time.monotonic()

    def timed(name: str, phase, *phase_args):
        t0 = time.monotonic()
        result = phase(*phase_args)
        timings[name] = round(time.monotonic() - t0, 2)
        return result

    files, entries, cstats = timed("corpus", collect_corpus, small, stats)
    t0 = time.monotonic()
    files = dedup_files(files, seed, stats)
    func_keep = dedup_functions(files, seed, stats)
    timings["dedup"] = round(time.monotonic() - t0, 2)
    record_splits(files, stats)
    t0 = time.monotonic()
    fn_cands, inf_cands = examples.collect(files, func_keep)
    tokenizer = build_tokenizer(files, fn_cands, sweep, vocab, small, out_dir, seed, stats)
    timings["tokenizer"] = round(time.monotonic() - t0, 2)
    counts = timed("examples", write_examples, files, fn_cands, inf_cands, tokenizer, out_dir, seed, stats)
    record_sources(files, entries, cstats, small, stats)
    timings["total"] = round(time.monotonic() - started, 2)
    stats["timings_s"] = timings
    stats["rejected_files"] = cstats.get("rejected_files", [])
    write_json(out_dir / "stats.json", stats)
    (out_dir / "stats.md").write_text(report.markdown(stats))
    log(f"examples: {counts}")
    log(f"done in {timings['total']} s -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
