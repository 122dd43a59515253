#!/usr/bin/env python3
"""Build the tiny test model, its tokenizer and the golden logits/tokenizer fixtures.

Writes (paths relative to the repository root):

  tests/fixtures/tiny-qwen2/             untied float32 Qwen2 (seed 0) + tokenizer.json
  tests/fixtures/tiny-qwen2-f16/         the same weights stored as float16
  tests/fixtures/tiny-qwen2-tied-bf16/   a second random model (seed 1), tied embeddings, bfloat16
  tests/fixtures/tiny-qwen2/expected_logits.json
  tests/fixtures/tokenizer_cases.json

Every forward pass here is *bidirectional*: the model is called with an explicit additive 4-D float attention
mask of shape [batch, 1, seq, seq] that is 0 everywhere except the key columns of padded positions, which hold
torch.finfo(float32).min. The script asserts that this really removes the causal mask.

Deterministic: fixed seeds, sorted training files. The tokenizer is trained on CPython standard-library sources,
so rerunning with a different Python version can yield a different tokenizer (and hence different fixtures).
"""

import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors import safe_open
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
DIR_F32 = "tests/fixtures/tiny-qwen2"
DIR_F16 = "tests/fixtures/tiny-qwen2-f16"
DIR_BF16 = "tests/fixtures/tiny-qwen2-tied-bf16"

SPECIAL_TOKENS = ["<|endoftext|>", "<|mask|>", "<|pad|>"]  # ids 0, 1, 2
EOS_ID, MASK_ID, PAD_ID = 0, 1, 2
VOCAB_SIZE = 512
N_TRAIN_FILES = 20
# Larger than the transformers default (0.02) so that the random model's output distributions are not nearly
# uniform: greedy choices and confidence rankings then have comfortable margins over float rounding.
INITIALIZER_RANGE = 0.25

CODE_TEXT = "def add(a, b):\n    return a + b\n"


def rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def absdir(d):
    return os.path.join(ROOT, d)


# ----------------------------------------------------------------------------------------------- tokenizer


def training_files():
    libdir = os.path.dirname(os.__file__)
    names = sorted(n for n in os.listdir(libdir) if n.endswith(".py"))[:N_TRAIN_FILES]
    return [os.path.join(libdir, n) for n in names]


def train_tokenizer():
    files = training_files()
    print("tokenizer training files (%s):" % sys.version.split()[0])
    for f in files:
        print("   ", os.path.basename(f))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = []
    for f in files:
        with open(f, "r", encoding="utf-8") as fh:
            texts.append(fh.read())
    tok.train_from_iterator(texts, trainer=trainer)
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


# ----------------------------------------------------------------------------------------------- model


def make_config(vocab_size, tied):
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        tie_word_embeddings=tied,
        initializer_range=INITIALIZER_RANGE,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
    )


def make_model(vocab_size, tied, seed):
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(make_config(vocab_size, tied))
    model.eval()
    # Non-trivial biases and norm weights, so that loading / applying them is actually exercised.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    return model


def count_params(model):
    # parameters() deduplicates shared tensors, so a tied model counts its embedding once.
    return sum(p.numel() for p in model.parameters())


def save_model(model, outdir, dtype, tokenizer_path):
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    m = copy.deepcopy(model).to(dtype)
    m.save_pretrained(outdir, safe_serialization=True)
    shutil.copyfile(tokenizer_path, os.path.join(outdir, "tokenizer.json"))
    cfg_path = os.path.join(outdir, "config.json")
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    cfg["mask_token_id"] = MASK_ID
    cfg["shift_logits"] = True
    with open(cfg_path, "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")
    # generation_config.json is not needed by the engine; keep the fixture directories minimal.
    gen = os.path.join(outdir, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    return cfg


def tensor_names(outdir):
    with safe_open(os.path.join(outdir, "model.safetensors"), framework="pt") as f:
        return {k: (str(f.get_slice(k).get_dtype()), list(f.get_slice(k).get_shape())) for k in f.keys()}


def load_f32(d):
    m = Qwen2ForCausalLM.from_pretrained(absdir(d), dtype=torch.float32)
    m.eval()
    return m


# ----------------------------------------------------------------------------------------------- forward


def additive_mask(attention_mask_2d):
    """[batch, seq] 0/1 -> [batch, 1, seq, seq] additive float mask: 0, or float32 min on padded key columns."""
    am = torch.as_tensor(attention_mask_2d, dtype=torch.long)
    b, s = am.shape
    neg = torch.finfo(torch.float32).min
    cols = torch.where(am[:, None, None, :] == 1, torch.tensor(0.0), torch.tensor(neg))
    return cols.expand(b, 1, s, s).to(torch.float32).contiguous()


@torch.no_grad()
def forward_bidir(model, ids, attention_mask=None):
    ids_t = torch.tensor([ids], dtype=torch.long)
    if attention_mask is None:
        attention_mask = [1] * len(ids)
    mask4 = additive_mask([attention_mask])
    return model(input_ids=ids_t, attention_mask=mask4, use_cache=False).logits[0]


@torch.no_grad()
def forward_default(model, ids):
    ids_t = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=ids_t, use_cache=False).logits[0]


def verify_bidirectional(model, vocab_size):
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, vocab_size, (12,), generator=g).tolist()
    ids2 = list(ids)
    ids2[-1] = 3 + (ids[-1] - 3 + 100) % (vocab_size - 3)
    assert ids2[-1] != ids[-1]

    bi_a, bi_b = forward_bidir(model, ids), forward_bidir(model, ids2)
    ca_a, ca_b = forward_default(model, ids), forward_default(model, ids2)
    d_bi = (bi_a[0] - bi_b[0]).abs().max().item()
    d_ca = (ca_a[0] - ca_b[0]).abs().max().item()
    print("bidirectionality check: max |delta logits[0]| after changing the last token:")
    print("    all-zeros 4-D mask: %.6g   default (causal) call: %.6g" % (d_bi, d_ca))
    assert d_bi > 1e-3, "explicit zero mask did not make attention bidirectional"
    assert d_ca == 0.0, "default call is not causal"

    # Padding: with the last 3 key columns masked, what sits in those positions must not matter.
    am = [1] * 9 + [0] * 3
    ids3 = ids[:9] + [PAD_ID] * 3
    ids4 = ids[:9] + [5, 6, 7]
    pa, pb = forward_bidir(model, ids3, am), forward_bidir(model, ids4, am)
    d_pad = (pa[:9] - pb[:9]).abs().max().item()
    print("    padded key columns masked: max |delta| on valid rows when padding content changes: %.3g" % d_pad)
    assert d_pad < 1e-5
    # And the valid rows equal an unpadded run of the valid prefix.
    d_trunc = (pa[:9] - forward_bidir(model, ids[:9])).abs().max().item()
    print("    padded vs unpadded valid prefix: max |delta| %.3g" % d_trunc)
    assert d_trunc < 1e-4
    return {"delta_pos0_bidirectional": d_bi, "delta_pos0_causal": d_ca}


# ----------------------------------------------------------------------------------------------- fixtures


def r6(x):
    return float("%.6g" % x)


def rows(t):
    return [[r6(v) for v in row] for row in t.tolist()]


def logits_cases(d, tok, vocab_size, with_random):
    model = load_f32(d)
    out = []
    code_ids = tok.encode(CODE_TEXT, add_special_tokens=False).ids
    lg = forward_bidir(model, code_ids)
    shifted = lg[[max(q - 1, 0) for q in range(len(code_ids))]]
    out.append({
        "name": "code",
        "text": CODE_TEXT,
        "input_ids": code_ids,
        "attention_mask": [1] * len(code_ids),
        "logits": rows(lg),
        "shifted_logits": rows(shifted),
    })
    if with_random:
        g = torch.Generator().manual_seed(40)
        ids = torch.randint(0, vocab_size, (40,), generator=g).tolist()
        out.append({
            "name": "random40",
            "input_ids": ids,
            "attention_mask": [1] * 40,
            "logits": rows(forward_bidir(model, ids)),
        })
    g = torch.Generator().manual_seed(24)
    ids = torch.randint(3, vocab_size, (19,), generator=g).tolist() + [PAD_ID] * 5
    am = [1] * 19 + [0] * 5
    out.append({
        "name": "padded24",
        "input_ids": ids,
        "attention_mask": am,
        "note": "only rows whose attention_mask is 1 are meaningful",
        "logits": rows(forward_bidir(model, ids, am)),
    })
    return out


TOKENIZER_STRINGS = [
    "def add(a, b):\n    return a + b\n",
    "",
    "class Foo(object):\n    def __init__(self):\n        self.x = {'a': [1, 2, 3]}\n\n\tif x:\n\t\tpass\n",
    "import os\nprint(os.path.join('a', 'b'))  # comment\n",
    "héllo wörld — naïve café ☕ 日本語のテキスト 🦀🐍",
    "x = <|mask|> + 1",
    "first<|endoftext|>second",
    "<|mask|><|mask|><|pad|>",
    "   leading spaces and trailing   \n\n\n",
    "s = \"\\u00e9\\n\" if a != b else r'\\d+'\r\n",
    "lambda: 0xFF ** 2 // 3 >>= 1",
]


def tokenizer_cases(tok):
    cases = []
    for s in TOKENIZER_STRINGS:
        enc = tok.encode(s, add_special_tokens=False)
        cases.append({
            "text": s,
            "ids": enc.ids,
            "tokens": enc.tokens,
            "decoded": tok.decode(enc.ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(enc.ids, skip_special_tokens=True),
        })
    return cases


def main():
    torch.set_num_threads(1)
    os.makedirs(FIX, exist_ok=True)

    tok = train_tokenizer()
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    print("tokenizer vocab size:", vocab_size)
    tmp_tok = os.path.join(FIX, ".tokenizer.json.tmp")
    tok.save(tmp_tok)

    # Untied float32 model (seed 0) and its float16 copy.
    m32 = make_model(vocab_size, tied=False, seed=0)
    print("untied model parameters:", count_params(m32))
    save_model(m32, absdir(DIR_F32), torch.float32, tmp_tok)
    save_model(m32, absdir(DIR_F16), torch.float16, tmp_tok)
    # Tied bfloat16 model (seed 1).
    mt = make_model(vocab_size, tied=True, seed=1)
    print("tied model parameters:", count_params(mt))
    save_model(mt, absdir(DIR_BF16), torch.bfloat16, tmp_tok)
    os.remove(tmp_tok)

    names = tensor_names(absdir(DIR_BF16))
    assert "lm_head.weight" not in names, "tied checkpoint must not store lm_head.weight"
    assert all(dt == "BF16" for dt, _ in names.values()), names
    assert "lm_head.weight" in tensor_names(absdir(DIR_F32))
    assert all(dt == "F16" for dt, _ in tensor_names(absdir(DIR_F16)).values())
    for d, want in ((DIR_F32, "float32"), (DIR_F16, "float16"), (DIR_BF16, "bfloat16")):
        with open(os.path.join(absdir(d), "config.json")) as fh:
            cfg = json.load(fh)
        got = cfg.get("dtype", cfg.get("torch_dtype"))
        assert got == want, (d, got)
        print("%s: %d tensors, config dtype %s" % (d, len(tensor_names(absdir(d))), got))

    # Tokenizer reloaded from disk, as every consumer will see it.
    tok = Tokenizer.from_file(os.path.join(absdir(DIR_F32), "tokenizer.json"))

    # Bidirectionality, checked on the reloaded f32 model.
    bidir = verify_bidirectional(load_f32(DIR_F32), vocab_size)

    expected = {
        "description": "Raw (unshifted) logits of a bidirectional forward pass: explicit additive 4-D float mask, "
                       "0 everywhere except float32-min on padded key columns. f16/bf16 checkpoints are upcast to "
                       "float32 and run in float32. shifted_logits row q = logits row max(q-1, 0). "
                       "Values rounded to 6 significant digits.",
        "mask_token_id": MASK_ID,
        "bidirectionality_check": bidir,
        "models": [],
    }
    for d, with_random in ((DIR_F32, True), (DIR_F16, False), (DIR_BF16, False)):
        expected["models"].append({"model_dir": d, "cases": logits_cases(d, tok, vocab_size, with_random)})
    path = os.path.join(absdir(DIR_F32), "expected_logits.json")
    with open(path, "w") as fh:
        json.dump(expected, fh, separators=(",", ":"))
        fh.write("\n")
    print("wrote", rel(path), os.path.getsize(path), "bytes")

    path = os.path.join(FIX, "tokenizer_cases.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"tokenizer": DIR_F32 + "/tokenizer.json", "add_special_tokens": False,
                   "cases": tokenizer_cases(tok)}, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("wrote", rel(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
