"""Guard a shipped model in CI: a small, fixed evaluation subset run through the Rust engine must reproduce the
numbers recorded when the model was shipped, and the Rust tokenizer must match Python `tokenizers` on held-out
files.

  python tools/train/ship_check.py --model models/NAME --unmask target/debug/unmask                  # check
  python tools/train/ship_check.py --model models/NAME --unmask target/release/unmask --write \
      --data tools/train/.cache [--functions 24 --infills 12]                                       # record

--write (at ship time, needs the built data) stores in the model directory `eval_subset.jsonl` (the first
held-out function prompts and infill items of the test split) and `eval_subset_results.json` (what the Rust
engine scores on them, and how it decoded), and writes tests/fixtures/NAME_tokenizer_cases.json (ids of 16
held-out test files, for tests/tokenizer_parity.rs). A model with a `generation_config.json` is decoded with
its recommended settings; one without, with Dream entropy ordering at T = 0.2. The check reruns the subset as
recorded and allows each count to differ by at most NOISE items: the decode is deterministic for a seed, so
only float ties between builds can move a result.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from data import load_jsonl  # noqa: E402
from evaluate import DECODES, generation_metrics, infill_exact_match  # noqa: E402

NOISE = 1
FUNCTIONS, INFILLS = 24, 12
MAX_NEW_TOKENS, STEPS = 96, 32


def decoding(model):
    """How a model is decoded for the subset: its recommended settings, else the first of DECODES."""
    path = os.path.join(model, "generation_config.json")
    if os.path.exists(path):
        recommended = json.load(open(path))
        return "recommended", recommended.get("max_new_tokens", MAX_NEW_TOKENS), recommended.get("steps", STEPS)
    return DECODES[0][0], MAX_NEW_TOKENS, STEPS


def run_subset(unmask, model, decode, max_new_tokens, steps):
    items = load_jsonl(os.path.join(model, "eval_subset.jsonl"))
    prompts = [e for e in items if e["kind"] == "function"]
    infills = [e for e in items if e["kind"] == "infill"]
    flags = [] if decode == "recommended" else dict(DECODES)[decode]
    generation = generation_metrics(unmask, model, prompts, flags, max_new_tokens, steps)
    infill = infill_exact_match(unmask, model, infills, os.path.join(model, "tokenizer.json"), steps)
    return {
        "decode": decode, "max_new_tokens": max_new_tokens, "steps": steps,
        "parsed": round(generation["parse_rate"] * len(prompts)),
        "clean_end": round(generation["clean_end_rate"] * len(prompts)),
        "nonempty": round(generation["nonempty_rate"] * len(prompts)),
        "prompts": len(prompts),
        "infill_exact": round(infill["exact_match"] * len(infills)),
        "infill_items": len(infills),
    }


def write_tokenizer_fixture(model, data):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    files = load_jsonl(os.path.join(data, "corpus", "test.jsonl"))[:16]
    cases = []
    for f in files:
        text = f["text"][:3000]
        cases.append({"source": f["source"], "text": text,
                      "ids": tok.encode(text, add_special_tokens=False).ids})
    fixture = {"tokenizer": os.path.relpath(os.path.join(model, "tokenizer.json"), ROOT), "cases": cases,
               "made_by": "tools/train/ship_check.py --write (Python tokenizers on held-out test-split files)"}
    name = os.path.basename(os.path.normpath(model)).replace("-", "_")
    with open(os.path.join(ROOT, f"tests/fixtures/{name}_tokenizer_cases.json"), "w") as fh:
        json.dump(fixture, fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--unmask", required=True)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--data", default=os.path.join(HERE, ".cache"))
    ap.add_argument("--functions", type=int, default=FUNCTIONS, help="function prompts in the subset (--write)")
    ap.add_argument("--infills", type=int, default=INFILLS, help="infill items in the subset (--write)")
    args = ap.parse_args()
    results_path = os.path.join(args.model, "eval_subset_results.json")
    if args.write:
        held_out = load_jsonl(os.path.join(args.data, "examples", "eval_prompts_test.jsonl"))
        subset = ([e for e in held_out if e["kind"] == "function"][:args.functions]
                  + [e for e in held_out if e["kind"] == "infill"][:args.infills])
        with open(os.path.join(args.model, "eval_subset.jsonl"), "w") as fh:
            fh.writelines(json.dumps(e) + "\n" for e in subset)
        write_tokenizer_fixture(args.model, args.data)
        results = run_subset(args.unmask, args.model, *decoding(args.model))
        with open(results_path, "w") as fh:
            json.dump(results, fh, indent=1)
        print("recorded", json.dumps(results))
        return
    expected = json.load(open(results_path))
    results = run_subset(args.unmask, args.model, expected["decode"], expected["max_new_tokens"], expected["steps"])
    print("expected", json.dumps(expected))
    print("measured", json.dumps(results))
    for key in ("parsed", "clean_end", "nonempty", "infill_exact"):
        if abs(results[key] - expected[key]) > NOISE:
            raise SystemExit(f"shipped model check failed: {key} {results[key]} vs recorded {expected[key]} (±{NOISE})")
    print("shipped model reproduces its recorded subset numbers")


if __name__ == "__main__":
    main()
