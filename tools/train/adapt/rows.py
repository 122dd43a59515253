"""Training rows for the adapted coder, tokenized with the teacher's own tokenizer.

A row is prompt → answer → end-of-text filler, the shape of the product's canvas: the prompt is never masked, the
answer and the filler after it are what the model learns to write. Function rows (signature and docstring →
body) end with 1 to 64 end-of-text tokens (rounded up to a whole block), so the model learns where code stops
and that the rest of a canvas stays empty; chunk rows (a file's text → what follows) fill their row. Infill rows
are left out: under block-causal attention the answer cannot see a suffix that comes after it.

Rows are cut to at most `max_len` tokens, their length a multiple of `block`, and cached as .npz per split.
"""

import hashlib
import json
import os
import random

import numpy as np
from tokenizers import Tokenizer


def encode_split(examples_path, tokenizer_path, eos, block, max_len, seed, limit=None):
    tok = Tokenizer.from_file(tokenizer_path)
    rng = random.Random(seed)
    ids, starts, kinds = [], [], []
    with open(examples_path, encoding="utf-8") as fh:
        for line in fh:
            ex = json.loads(line)
            if ex["kind"] not in ("function", "chunk"):
                continue
            prompt = tok.encode(ex["prompt"], add_special_tokens=False).ids
            answer = tok.encode(ex["answer"], add_special_tokens=False).ids
            if len(prompt) + 8 > max_len // 2:
                prompt = prompt[-(max_len // 2 - 8):]
            row = prompt + answer
            if ex["kind"] == "function":
                if len(row) + 1 > max_len:
                    continue  # a body cut short would teach the model to stop mid-function
                row = row + [eos] * rng.randint(1, 64)
            length = min(max_len, -(-len(row) // block) * block)
            row = (row + [eos] * length)[:length]
            ids.append(np.array(row, dtype=np.int32))
            starts.append(len(prompt))
            kinds.append(0 if ex["kind"] == "function" else 1)
            if limit and len(ids) >= limit:
                break
    return ids, np.array(starts, dtype=np.int32), np.array(kinds, dtype=np.int8)


def load(cache_dir, split, examples_dir, tokenizer_path, eos, block, max_len, seed=0, limit=None):
    """The rows of `split` (cached): a list of int32 arrays, the answer start of each and its kind. The cache is
    keyed by the tokenizer's bytes, so a model with a pruned vocabulary never reads another model's ids."""
    with open(tokenizer_path, "rb") as fh:
        tok = hashlib.sha256(fh.read()).hexdigest()[:12]
    path = os.path.join(cache_dir, f"rows-{split}-b{block}-l{max_len}-{tok}.npz")
    if not os.path.exists(path):
        ids, starts, kinds = encode_split(os.path.join(examples_dir, f"{split}.jsonl"), tokenizer_path, eos,
                                          block, max_len, seed, limit)
        lengths = np.array([len(r) for r in ids], dtype=np.int32)
        tmp = path + ".tmp.npz"
        np.savez(tmp, flat=np.concatenate(ids), lengths=lengths, starts=starts, kinds=kinds)
        os.replace(tmp, path)
    with np.load(path) as data:  # each data[...] reads the array anew: read each once
        flat, lengths, starts, kinds = data["flat"], data["lengths"], data["starts"], data["kinds"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [flat[bounds[i]:bounds[i + 1]] for i in range(len(lengths))], starts, kinds


def batches(rows, starts, batch_tokens, rng):
    """Endless batches of rows of one length: (ids [B, S], answer starts [B])."""
    by_length = {}
    for i, r in enumerate(rows):
        by_length.setdefault(len(r), []).append(i)
    lengths = sorted(by_length)
    weights = [len(by_length[n]) * n for n in lengths]  # each length in proportion to its tokens
    while True:
        n = rng.choices(lengths, weights)[0]
        pick = rng.sample(by_length[n], min(len(by_length[n]), max(1, batch_tokens // n)))
        yield np.stack([rows[i] for i in pick]), np.array([starts[i] for i in pick])
