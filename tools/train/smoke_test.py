"""Smoke test of the training pipeline, run by CI (JAX on CPU, about a minute after install):

1. the JAX model reproduces Hugging Face `transformers` logits on the committed tiny tied-bf16 fixture
   (tests/fixtures/tiny-qwen2-tied-bf16; expected logits made by tools/reference/make_tiny_model.py);
2. a tiny corpus (data_pipeline/build.py --small) is laid out in rows as the trainer sees them (lengths,
   masks, end-of-text after each body, checked here) and trains for a few dozen steps; the loss falls;
3. the checkpoint exports to a model directory that the Rust CLI loads, and the Rust engine's greedy
   left-to-right decode equals the same decode computed here in JAX.

  python tools/train/smoke_test.py --unmask target/debug/unmask
"""

import argparse
import csv
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import jax.numpy as jnp
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from data import EOS, BatchSampler, encode_bucketed, load_jsonl  # noqa: E402
from export import export, load_checkpoint  # noqa: E402
from model import Config, forward, shift_logits  # noqa: E402
import train  # noqa: E402


def load_bf16_safetensors(path):
    raw = open(path, "rb").read()
    header_len = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + header_len])
    data = raw[8 + header_len:]
    params = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "BF16", info
        start, end = info["data_offsets"]
        bits = np.frombuffer(data[start:end], dtype=np.uint16).astype(np.uint32) << 16
        params[name] = jnp.asarray(bits.view(np.float32).reshape(info["shape"]))
    return params


def check_against_transformers():
    fixture = os.path.join(ROOT, "tests/fixtures/tiny-qwen2-tied-bf16")
    cfg = Config.from_hf(json.load(open(os.path.join(fixture, "config.json"))))
    params = load_bf16_safetensors(os.path.join(fixture, "model.safetensors"))
    expected = json.load(open(os.path.join(ROOT, "tests/fixtures/tiny-qwen2/expected_logits.json")))
    model = next(m for m in expected["models"] if m["model_dir"].endswith("tiny-qwen2-tied-bf16"))
    for case in model["cases"]:
        ids = jnp.asarray([case["input_ids"]])
        valid = np.asarray(case["attention_mask"]) == 1
        logits = np.asarray(forward(params, cfg, ids, jnp.asarray(valid)[None]))[0]
        diff = np.abs(logits[valid] - np.asarray(case["logits"])[valid]).max()
        assert diff < 1e-4, f"{case['name']}: JAX vs transformers max |diff| {diff}"
        if "shifted_logits" in case:
            shifted = np.asarray(shift_logits(jnp.asarray(logits[None])))[0]
            assert np.abs(shifted - np.asarray(case["shifted_logits"])).max() < 1e-4
        print(f"JAX vs transformers, {case['name']}: max |Δlogit| {diff:.2e}")


def check_training_rows(examples_dir, tokenizer):
    """The bucketed layout: every row a multiple of 64 long, prompts never in the answer, a function body
    followed by end-of-text, and batches of one length near the token budget."""
    examples = load_jsonl(os.path.join(examples_dir, "train.jsonl"))
    buckets = encode_bucketed(tokenizer, examples, 128)
    for length, (ids, answer_mask, body_mask, kinds) in buckets.items():
        assert length % 64 == 0 and ids.shape[1] == length, length
        for row, answer, body, kind in zip(ids, answer_mask, body_mask, kinds):
            start = int(np.argmax(answer))
            assert start > 0 and not answer[:start].any(), "the prompt is never masked"
            assert (body & ~answer).sum() == 0, "metrics count only answer positions"
            if kind == "function" and body[-1] == 0:
                end = len(body) - int(np.argmax(body[::-1]))
                assert row[end - 1] == EOS and (row[end:] == EOS).all(), "a body ends with end-of-text"
    sampler = BatchSampler(buckets, 1024, {"function": 0.5, "chunk": 0.5})
    ids, answer_mask = sampler.draw(np.random.default_rng(0))
    assert ids.shape == answer_mask.shape and ids.shape[0] == 1024 // ids.shape[1], ids.shape
    print(f"training rows: {', '.join(f'{n} x {len(b[0])}' for n, b in buckets.items())}")


def greedy_left_to_right(params, cfg, prompt, new_tokens):
    canvas = list(prompt) + [cfg.mask_token_id] * new_tokens
    for q in range(len(prompt), len(canvas)):
        logits = np.asarray(shift_logits(forward(params, cfg, jnp.asarray([canvas]))))[0, q].astype(np.float64)
        logits[cfg.mask_token_id] = -np.inf
        canvas[q] = int(np.argmax(logits))
    return canvas


# Keys an exported config.json holds for transformers alone (unmask does not read them).
TRANSFORMERS_ONLY = {"architectures", "bos_token_id"}


def rust_config_keys():
    """The config.json keys the Rust loader reads: the fields of `RawConfig` in crates/model/src/config.rs."""
    with open(os.path.join(ROOT, "crates/model/src/config.rs"), encoding="utf-8") as fh:
        source = fh.read()
    body = source[source.index("struct RawConfig {"):]
    body = body[: body.index("\n}")]
    return set(re.findall(r"^    (\w+):", body, re.M))


def check_config_keys(model_dir):
    """The Python exporter and the Rust loader agree on config.json: every key written is one the loader reads
    (or one for transformers alone), so a renamed or misspelt key fails here instead of being ignored."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as fh:
        written = set(json.load(fh))
    read = rust_config_keys()
    assert {"model_type", "mask_token_id", "shift_logits"} <= read, f"RawConfig not found or changed: {read}"
    unknown = written - read - TRANSFORMERS_ONLY
    assert not unknown, f"config.json keys the Rust loader does not read: {sorted(unknown)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unmask", required=True, help="path to the built unmask binary")
    args = ap.parse_args()
    check_against_transformers()

    work = tempfile.mkdtemp(prefix="unmask-smoke-")
    # The small build (stdlib only) writes tools/train/.cache/small; this interpreter already has its packages.
    env = dict(os.environ, UNMASK_DATA_NO_VENV="1")
    subprocess.run([sys.executable, os.path.join(HERE, "data_pipeline/build.py"), "--small"], check=True, env=env)
    small = os.path.join(HERE, ".cache/small")
    tokenizer = os.path.join(small, "tokenizer.json")
    check_training_rows(os.path.join(small, "examples"), tokenizer)
    run = os.path.join(work, "run")
    train.main(["--data", os.path.join(small, "examples"), "--tokenizer", tokenizer, "--out", run, "--steps", "60",
                "--batch-tokens", "1024", "--seq-len", "128", "--hidden", "64", "--layers", "2", "--heads", "2", "--kv-heads", "1",
                "--intermediate", "128", "--lr", "3e-3", "--warmup", "10", "--val-every", "60", "--val-batches", "2"])
    with open(os.path.join(run, "log.csv")) as fh:
        losses = [float(row["train_loss"]) for row in csv.DictReader(fh)]
    assert losses[-1] < losses[0], f"training loss did not fall: {losses}"
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")

    model_dir = os.path.join(work, "model")
    export(run, tokenizer, model_dir, dtype="float32")
    check_config_keys(model_dir)
    cfg, params, _ = load_checkpoint(run)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    prompt_text = "def add(a, b):\n"
    trace_path = os.path.join(work, "trace.json")
    subprocess.run([args.unmask, "generate", "--model", model_dir, "--prompt", prompt_text, "--algorithm",
                    "left_to_right", "--temperature", "0", "--max-new-tokens", "12", "--trace", trace_path, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    trace = json.load(open(trace_path))
    prompt = trace["initial"][: trace["prompt_len"]]
    expected = greedy_left_to_right(params, cfg, prompt, 12)
    assert trace["tokens"] == expected, f"Rust {trace['tokens']} != JAX {expected}"
    print("Rust greedy decode of the exported model equals the JAX decode: smoke test passed")


if __name__ == "__main__":
    main()
