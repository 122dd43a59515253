"""Evaluate a model directory on the held-out test split.

  python tools/train/evaluate.py --model models/unmask-coder --data tools/train/.cache/examples \
      --unmask target/release/unmask [--prompts 200] [--infill 100] [--out eval.json]

Likelihood metrics (JAX, from the exported weights): masked-token accuracy at mask ratios 0.15 / 0.5 / 0.9 and
the ELBO in bits per token, both over answer bodies (the answer's tokens plus its first end-of-text).
Generation metrics run the **Rust engine** (the `unmask` CLI) on held-out function prompts: the share whose
completion parses (`ast.parse(prompt + completion)`; the CLI cuts at the first end-of-text), the share that end
cleanly (an end-of-text inside the answer), the share that wrote anything at all (an empty body after a
docstring parses, so parse rate alone can flatter a model that only emits end-of-text), and exact match on single-line infilling (hole length = the true
line's token count), for several decoding configurations including the left-to-right baseline.
"""

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from data import EOS, encode_examples, load_jsonl  # noqa: E402
from model import Config  # noqa: E402
from objective import elbo_nats, masked_accuracy  # noqa: E402

# (name, CLI flags). The first is the headline configuration of MODEL_CARD.md.
DECODES = [
    ("entropy T=0.2", ["--algorithm", "dream", "--alg", "entropy", "--temperature", "0.2"]),
    ("entropy T=0.8", ["--algorithm", "dream", "--alg", "entropy", "--temperature", "0.8"]),
    ("maskgit_plus T=0.2", ["--algorithm", "dream", "--alg", "maskgit_plus", "--temperature", "0.2"]),
    ("maskgit_plus T=0.8", ["--algorithm", "dream", "--alg", "maskgit_plus", "--temperature", "0.8"]),
    ("left_to_right T=0.2", ["--algorithm", "left_to_right", "--temperature", "0.2"]),
]


def load_model(model_dir):
    cfg = Config.from_hf(json.load(open(os.path.join(model_dir, "config.json"))))
    params = {k: jnp.asarray(v.astype(np.float32)) for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    return cfg, params


def likelihood_metrics(cfg, params, tokenizer, examples, seq_len, batch=16):
    ids, answer_mask, body_mask, _ = encode_examples(tokenizer, examples, seq_len)
    acc_fn = jax.jit(lambda p, i, a, b, r, k: masked_accuracy(p, cfg, i, a, b, r, k))
    elbo_fn = jax.jit(lambda p, i, a, b, t, k: elbo_nats(p, cfg, i, a, b, t, k))
    results = {}
    for ratio in (0.15, 0.5, 0.9):
        correct = counted = 0
        for start in range(0, len(ids), batch):
            sl = slice(start, start + batch)
            c, n = acc_fn(params, ids[sl], answer_mask[sl], body_mask[sl], ratio, jax.random.PRNGKey(start))
            correct, counted = correct + int(c), counted + int(n)
        results[f"masked_accuracy@{ratio}"] = correct / max(counted, 1)
    # ELBO: E_t[(1/t) * masked NLL], t on a stratified grid of 8 points in (0, 1).
    grid = [(j + 0.5) / 8 for j in range(8)]
    total_nats = 0.0
    for start in range(0, len(ids), batch):
        sl = slice(start, start + batch)
        terms = [elbo_fn(params, ids[sl], answer_mask[sl], body_mask[sl], t, jax.random.PRNGKey(start * 8 + j))
                 for j, t in enumerate(grid)]
        total_nats += float(np.mean([np.asarray(term) for term in terms], axis=0).sum())
    results["elbo_bits_per_token"] = total_nats / int(body_mask.sum()) / np.log(2)
    results["sequences"] = len(ids)
    return results


def run_cli(unmask, model_dir, prompt, flags, max_new_tokens, steps, seed):
    with tempfile.TemporaryDirectory() as tmp:
        trace_path = os.path.join(tmp, "trace.json")
        cmd = [unmask, "generate", "--model", model_dir, "--prompt", prompt, "--max-new-tokens", str(max_new_tokens),
               "--steps", str(steps), "--seed", str(seed), "--trace", trace_path, "--quiet", *flags]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.load(open(trace_path))


def parses(text):
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def generation_metrics(unmask, model_dir, prompts, flags, max_new_tokens, steps):
    parsed = clean = nonempty = parsed_nonempty = 0
    local, global_ = [], []
    started = time.time()
    # An answer ends cleanly with the model's own end token (SmolLM2's is 2), or with id 0 as ours do.
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as fh:
        ends = json.load(fh).get("eos_token_id", EOS)
    ends = {EOS, *(ends if isinstance(ends, list) else [ends])}
    for n, example in enumerate(prompts):
        trace = run_cli(unmask, model_dir, example["prompt"], flags, max_new_tokens, steps, seed=n)
        answer = trace["tokens"][trace["prompt_len"]:]
        clean += any(t in ends for t in answer)
        ok = parses(example["prompt"] + trace["completion"])
        # A body-less function after its docstring still parses: count completions that wrote something too.
        wrote = bool(trace["completion"].strip())
        parsed += ok
        nonempty += wrote
        parsed_nonempty += ok and wrote
        local.append(trace["ar_ness"]["local_1"])
        global_.append(trace["ar_ness"]["global_1"])
    return {"parse_rate": parsed / len(prompts), "clean_end_rate": clean / len(prompts),
            "nonempty_rate": nonempty / len(prompts), "parse_and_nonempty_rate": parsed_nonempty / len(prompts),
            "prompts": len(prompts),
            "local_ar_1": float(np.mean(local)), "global_ar_1": float(np.mean(global_)),
            "seconds": round(time.time() - started, 1)}


def infill_exact_match(unmask, model_dir, items, tokenizer_path, steps):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_path)
    hits = 0
    for n, item in enumerate(items):
        hole = len(tok.encode(item["answer"], add_special_tokens=False).ids)
        prompt = item["prompt"] + "<|mask|>" * hole + item["suffix"]
        trace = run_cli(unmask, model_dir, prompt, ["--algorithm", "dream", "--alg", "entropy", "--temperature", "0"],
                        0, min(steps, hole), seed=n)
        hits += trace["completion"] == item["prompt"] + item["answer"] + item["suffix"]
    return {"exact_match": hits / max(len(items), 1), "items": len(items)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with test.jsonl and eval_prompts_test.jsonl")
    ap.add_argument("--unmask", required=True)
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--infill", type=int, default=100)
    ap.add_argument("--sequences", type=int, default=512, help="test sequences for the likelihood metrics")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--steps", type=int, default=48)
    ap.add_argument("--decodes", default="all", help="'all' or comma-separated indices into the decode list")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    tokenizer = os.path.join(args.model, "tokenizer.json")
    cfg, params = load_model(args.model)
    test = [e for e in load_jsonl(os.path.join(args.data, "test.jsonl")) if e["kind"] == "function"][: args.sequences]
    report = {"model": args.model, "likelihood": likelihood_metrics(cfg, params, tokenizer, test, 256)}
    print(json.dumps(report["likelihood"]), flush=True)

    held_out = load_jsonl(os.path.join(args.data, "eval_prompts_test.jsonl"))
    prompts = [e for e in held_out if e["kind"] == "function"][: args.prompts]
    chosen = DECODES if args.decodes == "all" else [DECODES[int(i)] for i in args.decodes.split(",")]
    report["generation"] = {"max_new_tokens": args.max_new_tokens, "steps": args.steps, "results": {}}
    for name, flags in chosen:
        result = generation_metrics(args.unmask, args.model, prompts, flags, args.max_new_tokens, args.steps)
        report["generation"]["results"][name] = result
        print(name, json.dumps(result), flush=True)
    if args.infill > 0:
        items = [e for e in held_out if e["kind"] == "infill"][: args.infill]
        report["infill"] = infill_exact_match(args.unmask, args.model, items, tokenizer, args.steps)
        print("infill", json.dumps(report["infill"]), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
