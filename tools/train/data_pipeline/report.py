"""Markdown tables from stats.json (written to .cache/stats.md; DATA.md quotes them)."""

from __future__ import annotations

SPLITS = ("train", "val", "test")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.2f}"


def markdown(st: dict) -> str:
    out = [f"# Data build ({st['mode']}), seed {st['seed']}, Python {st['python']}, tokenizers {st['tokenizers']}", ""]
    out += ["## Sources", "", "| source | version | license | files kept by filters | after dedup |", "|---|---|---|---:|---:|"]
    for s in st["sources"]:
        out.append(f"| {s['name']} | {s['version']} | {s['license']} | {s['files']} | {s['files_after_dedup']} |")
    lic: dict[str, int] = {}
    for s in st["sources"]:
        lic[s["license"]] = lic.get(s["license"], 0) + 1
    out += ["", "Licenses: " + ", ".join(f"{k} ({v})" for k, v in sorted(lic.items())), ""]
    out += ["## Filters and dedup", "", f"Rejected by the quality filters: {st['rejected']}", ""]
    df, dfn = st["dedup_files"], st["dedup_functions"]
    out += [
        "| level | candidates | exact dups removed | near dups removed | kept |",
        "|---|---:|---:|---:|---:|",
        f"| files | {df['candidates']} | {df['exact_duplicates_removed']} | {df['near_duplicates_removed']} | {df['kept']} |",
        f"| functions | {dfn['functions']} | {dfn['exact_duplicates_removed']} | {dfn['near_duplicates_removed']} | {dfn['kept']} |",
        "",
    ]
    out += ["## Splits", "", "| split | files | MiB | tokens | function | infill | chunk | example tokens |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in SPLITS:
        sp, ex = st["splits"][s], st["examples"][s]
        out.append(
            f"| {s} | {sp['files']} | {_mib(sp['bytes'])} | {st['corpus_tokens'][s]:,} | {ex['function']:,} | "
            f"{ex['infill']:,} | {ex['chunk']:,} | {st['example_tokens'][s]:,} |"
        )
    tot_f = sum(st["splits"][s]["files"] for s in SPLITS)
    tot_b = sum(st["splits"][s]["bytes"] for s in SPLITS)
    tot_t = sum(st["corpus_tokens"][s] for s in SPLITS)
    out += [f"| total | {tot_f} | {_mib(tot_b)} | {tot_t:,} | | | | |", ""]
    out += [f"Available before the kind mix: {st['available']}; dropped by length: {st['filtered']}", ""]
    out += ["## Vocabulary size", "",
            "| vocab | val bytes/token | val tokens | function answers <= 200 tokens | median answer tokens | "
            "embedding params (h=256) | embedding + untied head |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in st["vocab_table"]:
        out.append(
            f"| {r['vocab']} | {r['val_bytes_per_token']} | {r['val_tokens']:,} | "
            f"{100 * r['function_answers_le_200_tokens']:.1f}% | {r['function_answer_median_tokens']:.0f} | "
            f"{r['embedding_params_h256']:,} | {r['embedding_plus_untied_head_h256']:,} |"
        )
    w = st["vocab_without_indent_tokens"]
    out += ["", f"Same size ({w['vocab']}) without the indentation tokens: {w['val_bytes_per_token']} bytes/token "
            f"({w['val_tokens']:,} val tokens).", "",
            f"Shipped: vocab {st['vocab']}, tokenizer.json sha256 {st['tokenizer_sha256']}", ""]
    out += ["## Time", "", ", ".join(f"{k} {v} s" for k, v in st["timings_s"].items()), ""]
    return "\n".join(out)
