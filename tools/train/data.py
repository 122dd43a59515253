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


def fitting_examples(tokenizer_path, examples, max_len):
    """(index, example, prompt ids, answer ids, suffix ids) of the examples a `max_len` row can hold: a prompt of
    at most half the row and an answer (function and chunk answers are cut to the row later; an infill item must
    fit whole). Prompt, answer and suffix are tokenized separately, as the product tokenizes text around holes."""
    tok = Tokenizer.from_file(tokenizer_path)
    enc = lambda texts: [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]  # noqa: E731
    prompts = enc([e["prompt"] for e in examples])
    answers = enc([e["answer"] for e in examples])
    suffixes = enc([e.get("suffix", "") for e in examples])
    for n, (example, p, a, s) in enumerate(zip(examples, prompts, answers, suffixes)):
        if len(p) > max_len // 2 or not a:
            continue
        if example["kind"] == "infill" and len(p) + len(a) + len(s) > max_len:
            continue
        yield n, example, p, a, s


def encode_examples(tokenizer_path, examples, seq_len):
    """Returns (ids [n, seq_len] int32, answer_mask [n, seq_len] bool, body_mask [n, seq_len] bool, kept indices).

    body_mask marks the answer's own tokens plus the first end-of-text (the decision to stop): metrics are
    computed there, so the easy run of trailing end-of-text tokens does not inflate them.
    """
    ids = np.full((len(examples), seq_len), EOS, np.int32)
    answer_mask = np.zeros((len(examples), seq_len), bool)
    body_mask = np.zeros((len(examples), seq_len), bool)
    kept = []
    for n, example, p, a, s in fitting_examples(tokenizer_path, examples, seq_len):
        row = len(kept)
        if example["kind"] == "infill":
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


def encode_bucketed(tokenizer_path, examples, max_len, bucket=64, full_share=0.2, extra_eos=48, seed=0):
    """Each example at its own length, rounded up to a multiple of `bucket`: the training layout.

    A 256-token row holding a 60-token body is mostly end-of-text filler, and the filler costs as much compute as
    code while teaching little. So a function row ends 1 to `extra_eos` end-of-text tokens after its body (rounded
    up to the bucket), except a `full_share` of them that run to `max_len`, so long filler runs (a user's long
    canvas) stay in the training distribution. Chunks fill their rows anyway; infill rows end after the suffix.
    Returns {length: (ids, answer_mask, body_mask, kinds)} with kinds a list of example kinds.
    """
    rng = np.random.default_rng(seed)
    rows = {}
    round_up = lambda n: min(max_len, -(-n // bucket) * bucket)  # noqa: E731
    for _, example, p, a, s in fitting_examples(tokenizer_path, examples, max_len):
        if example["kind"] == "infill":
            seq = p + a + s
            length = round_up(len(seq) + int(rng.integers(0, extra_eos + 1)))
            answer = (len(p), len(p) + len(a))
            body_end = len(p) + len(a)
        else:
            a = a[: max_len - len(p)]
            seq = p + a
            full = rng.random() < full_share
            length = max_len if full else round_up(len(seq) + 1 + int(rng.integers(0, extra_eos + 1)))
            answer = (len(p), length)
            body_end = min(len(seq) + 1, length)
        row = np.full(length, EOS, np.int32)
        row[: len(seq)] = seq
        answer_mask = np.zeros(length, bool)
        answer_mask[answer[0]: answer[1]] = True
        body_mask = np.zeros(length, bool)
        body_mask[len(p): body_end] = True
        rows.setdefault(length, []).append((row, answer_mask, body_mask, example["kind"]))
    return {length: (np.stack([r[0] for r in rs]), np.stack([r[1] for r in rs]), np.stack([r[2] for r in rs]),
                     [r[3] for r in rs])
            for length, rs in sorted(rows.items())}


class BatchSampler:
    """Draws batches of about `batch_tokens` tokens, every row of a batch the same length.

    `kind_weights` is each kind's share of the trained tokens (for example more function bodies than their share
    of the data): a draw picks a kind by weight, then a length with probability proportional to that kind's tokens
    there, then rows of that kind and length uniformly.
    """

    def __init__(self, buckets, batch_tokens, kind_weights):
        self.buckets, self.batch_tokens = buckets, batch_tokens
        self.by_kind = {}
        for length, (_, _, _, kinds) in buckets.items():
            kinds = np.asarray(kinds)
            for kind in kind_weights:
                idx = np.flatnonzero(kinds == kind)
                if len(idx):
                    self.by_kind.setdefault(kind, []).append((length, idx))
        present = [k for k in kind_weights if k in self.by_kind]
        total = sum(kind_weights[k] for k in present)
        self.kinds = present
        self.kind_p = np.array([kind_weights[k] / total for k in present])

    def draw(self, rng):
        """(ids, answer_mask) for one batch."""
        kind = self.kinds[rng.choice(len(self.kinds), p=self.kind_p)]
        options = self.by_kind[kind]
        tokens = np.array([length * len(idx) for length, idx in options], float)
        length, idx = options[rng.choice(len(options), p=tokens / tokens.sum())]
        rows = rng.choice(idx, size=max(1, self.batch_tokens // length), replace=len(idx) < self.batch_tokens // length)
        ids, answer_mask = self.buckets[length][0], self.buckets[length][1]
        return ids[rows], answer_mask[rows]
