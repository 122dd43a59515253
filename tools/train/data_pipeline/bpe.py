"""Byte-level BPE tokenizer (HF `tokenizers`) trained on the train split only.

Layout of the vocabulary (V = the chosen size):
  0, 1, 2          `<|endoftext|>`, `<|mask|>`, `<|pad|>` (special)
  3 .. 258         the 256 byte-level symbols
  259 .. V-13      BPE merges, in the order they were learned
  V-12 .. V-1      indentation tokens (added, not special): 4..24 spaces, and a newline followed by 4..24 spaces

The indentation tokens are matched before the ByteLevel pre-tokenizer runs (HF "added tokens"), so a Python
indent is always a single token and the word after it carries no leading space. The BPE is trained on exactly
the pieces that encoding produces (text split around the indentation tokens), so no merge is spent on
whitespace runs that can never reach the BPE model.
"""

from __future__ import annotations

import re

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<|endoftext|>", "<|mask|>", "<|pad|>"]
INDENT_LEVELS = 6
INDENT_TOKENS = [" " * (4 * k) for k in range(1, INDENT_LEVELS + 1)] + [
    "\n" + " " * (4 * k) for k in range(1, INDENT_LEVELS + 1)
]

# Leftmost-longest, like the added-token matcher of `tokenizers`: longer alternatives first.
_SPLIT_RE = re.compile("|".join(re.escape(t) for t in sorted(INDENT_TOKENS, key=len, reverse=True)))


def pieces(texts, batch: int = 2048):
    """The text the BPE model sees at encode time: everything between indentation tokens, in batches."""
    buf = []
    for text in texts:
        for p in _SPLIT_RE.split(text):
            if p:
                buf.append(p)
        if len(buf) >= batch:
            yield buf
            buf = []
    if buf:
        yield buf


def train(texts: list[str], vocab_size: int, indent_tokens: bool = True) -> Tokenizer:
    """Train the tokenizer with `vocab_size` entries in total (specials, bytes, merges and added tokens)."""
    n_added = len(INDENT_TOKENS) if indent_tokens else 0
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - n_added,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(pieces(texts) if indent_tokens else _batched(texts), trainer=trainer)
    if indent_tokens:
        tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in INDENT_TOKENS])
    return tok


def _batched(texts, batch: int = 64):
    for i in range(0, len(texts), batch):
        yield texts[i : i + batch]


def check_layout(tok: Tokenizer, vocab_size: int) -> None:
    assert tok.get_vocab_size(with_added_tokens=True) == vocab_size, tok.get_vocab_size(with_added_tokens=True)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))


ROUND_TRIP_EDGE_CASES = [
    "",
    "x",
    "def f(a, b):\n    return a + b\n",
    "\tif x:\n\t\tpass\n",
    "class A:\n    def m(self):\n        if self:\n            return  1   \n\n\n",
    "a\r\nb\rc\n",
    "s = 'h\u00e9llo \u2014 \u4e16\u754c \U0001f642'\n",
    "\x00\x01\x7f \u00a0\u2028end",
    "x = 1  # <|mask|> and <|endoftext|> written literally\n<|pad|>",
    "     \n" * 3 + " " * 37 + "y\n",
]


def verify(tok: Tokenizer, sample_texts: list[str]) -> dict:
    """Round trip decode(encode(x)) == x on the edge cases and a sample; every indent is one token."""
    texts = ROUND_TRIP_EDGE_CASES + list(sample_texts)
    encs = tok.encode_batch(texts, add_special_tokens=False)
    bad = 0
    for text, enc in zip(texts, encs):
        if tok.decode(enc.ids, skip_special_tokens=False) != text:
            bad += 1
    if bad:
        raise AssertionError(f"tokenizer round trip failed on {bad} of {len(texts)} texts")
    single = {}
    for t in INDENT_TOKENS:
        ids = tok.encode(t, add_special_tokens=False).ids
        single[t] = ids
        if len(ids) != 1:
            raise AssertionError(f"{t!r} is {len(ids)} tokens")
    ids = tok.encode("<|mask|><|mask|>", add_special_tokens=False).ids
    assert ids == [1, 1], ids
    return {"round_trip_texts": len(texts), "indent_token_ids": {repr(k): v[0] for k, v in single.items()}}
