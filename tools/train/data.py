"""Examples (JSON lines from data_pipeline/) → fixed-length token arrays for the masked-diffusion objective.

Layout of one sequence of `seq_len` tokens, exactly how the product decodes:
  function / chunk:  prompt | answer | <|endoftext|> … to seq_len          (answer region = everything after the prompt)
  infill:            prefix | answer | suffix | <|endoftext|> …           (answer region = the hole only)
The answer region is what may be masked; the end-of-text run after a body teaches the model where code ends.
Prompt and infill prefix/suffix are tokenized separately, as the CLI and the page tokenize text around holes.
"""

import json

import numpy as np
from tokenizers import Tokenizer

EOS, MASK, PAD = 0, 1, 2


def load_jsonl(path, limit=None):
    rows = []
    with open(path) as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def encode_examples(tokenizer_path, examples, seq_len):
    """Returns (ids [n, seq_len] int32, answer_mask [n, seq_len] bool, body_mask [n, seq_len] bool, kept indices).

    body_mask marks the answer's own tokens plus the first end-of-text (the decision to stop): metrics are
    computed there, so the easy run of trailing end-of-text tokens does not inflate them.
    """
    tok = Tokenizer.from_file(tokenizer_path)
    enc = lambda texts: [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]  # noqa: E731
    prompts = enc([e["prompt"] for e in examples])
    answers = enc([e["answer"] for e in examples])
    suffixes = enc([e.get("suffix", "") for e in examples])
    ids = np.full((len(examples), seq_len), EOS, np.int32)
    answer_mask = np.zeros((len(examples), seq_len), bool)
    body_mask = np.zeros((len(examples), seq_len), bool)
    kept = []
    for n, (example, p, a, s) in enumerate(zip(examples, prompts, answers, suffixes)):
        row = len(kept)
        if len(p) > seq_len // 2 or not a:
            continue
        if example["kind"] == "infill":
            if len(p) + len(a) + len(s) > seq_len:
                continue
            seq = p + a + s
            ids[row, : len(seq)] = seq
            answer_mask[row, len(p): len(p) + len(a)] = True
            body_mask[row, len(p): len(p) + len(a)] = True
        else:
            a = a[: seq_len - len(p)]
            ids[row, : len(p) + len(a)] = p + a
            answer_mask[row, len(p):] = True
            body_mask[row, len(p): min(len(p) + len(a) + 1, seq_len)] = True
        kept.append(n)
    n = len(kept)
    return ids[:n], answer_mask[:n], body_mask[:n], kept
