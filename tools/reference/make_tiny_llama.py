#!/usr/bin/env python3
"""Build the tiny Llama fixtures: a transformers model, its GGUF twin, a GGUF of every tensor type, and the
golden values the Rust tests compare against.

Writes (paths relative to the repository root):

  tests/fixtures/tiny-llama/                 tied float32 LlamaForCausalLM (no biases) + tokenizer.json
  tests/fixtures/tiny-llama-f16/             the same weights stored as float16
  tests/fixtures/tiny-llama/expected_logits.json
                                             logits under bidirectional, causal and block-causal (block 4) masks
  tests/fixtures/tiny-llama.gguf             the same architecture in llama.cpp's layout: Q/K rows permuted for
                                             interleaved RoPE, mixed tensor types, tokenizer.ggml.* metadata
  tests/fixtures/tiny-llama-gguf.json        its expected logits (causal) and tokenizations
  tests/fixtures/gguf-types.gguf             one small tensor of each type (F32 F16 BF16 Q8_0 Q4_0 Q4_1)
  tests/fixtures/gguf-types.json             their values as the gguf package dequantizes them

Every forward pass is called with an explicit additive 4-D float mask [batch, 1, seq, seq] (0 where a query may
see a key, float32-min elsewhere), which transformers passes through unchanged. The masks are built here from
their definitions: bidirectional (all keys), causal (keys <= query), block-causal with block b (keys in the
query's block or an earlier one).

The GGUF twin's expected logits come from transformers running a model whose weights are the gguf package's
dequantization of the stored tensors, with llama.cpp's Q/K permutation undone here, so both the reader and the
un-permutation are checked against code that is not ours. Deterministic: fixed seeds.
"""

import copy
import json
import os
import shutil

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter, TokenType
from gguf.quants import dequantize, quantize
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
DIR_F32 = "tests/fixtures/tiny-llama"
DIR_F16 = "tests/fixtures/tiny-llama-f16"
TOKENIZER = "tests/fixtures/tiny-qwen2/tokenizer.json"  # byte-level BPE, 512 tokens; 0 eos, 1 mask, 2 pad
EOS_ID, MASK_ID, PAD_ID = 0, 1, 2
HEADS, KV_HEADS, HIDDEN, FFN, LAYERS = 4, 2, 64, 128, 2
BLOCK = 4
CODE_TEXT = "def add(a, b):\n    return a + b\n"

# The GGUF twin's tensor types, per tensor, so that every type runs through a real forward pass.
TWIN_TYPES = {
    "token_embd": Q.Q8_0,
    "attn_q": Q.Q4_0,
    "attn_k": Q.Q4_1,
    "attn_v": Q.F16,
    "attn_output": Q.BF16,
    "ffn_gate": Q.Q8_0,
    "ffn_up": Q.Q4_0,
    "ffn_down": Q.F16,
}


def absdir(d):
    return os.path.join(ROOT, d)


def r6(x):
    return float("%.6g" % x)


def rows(t):
    return [[r6(v) for v in row] for row in t.tolist()]


# ----------------------------------------------------------------------------------------------- model


def make_model(vocab_size):
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=128,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        hidden_act="silu",
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        initializer_range=0.25,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    assert not any(n.endswith(".bias") for n, _ in model.named_parameters())
    return model


def save_model(model, outdir, dtype, extra):
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    copy.deepcopy(model).to(dtype).save_pretrained(outdir, safe_serialization=True)
    shutil.copyfile(absdir(TOKENIZER), os.path.join(outdir, "tokenizer.json"))
    path = os.path.join(outdir, "config.json")
    with open(path) as fh:
        cfg = json.load(fh)
    cfg.update(extra)
    with open(path, "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")
    gen = os.path.join(outdir, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)


def mask4(kind, seq):
    q = torch.arange(seq)[:, None]
    k = torch.arange(seq)[None, :]
    if kind == "bidirectional":
        allowed = torch.ones(seq, seq, dtype=torch.bool)
    elif kind == "causal":
        allowed = k <= q
    elif kind == "block_causal":
        allowed = (k // BLOCK) <= (q // BLOCK)
    else:
        raise ValueError(kind)
    neg = torch.finfo(torch.float32).min
    return torch.where(allowed, torch.tensor(0.0), torch.tensor(neg))[None, None].contiguous()


@torch.no_grad()
def forward(model, ids, kind):
    ids_t = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=ids_t, attention_mask=mask4(kind, len(ids)), use_cache=False).logits[0]


@torch.no_grad()
def check_masks(model, vocab):
    """The explicit masks really change what a query sees: the default call is causal and equals ours."""
    g = torch.Generator().manual_seed(99)
    ids = torch.randint(3, vocab, (12,), generator=g).tolist()
    default = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    assert (default - forward(model, ids, "causal")).abs().max().item() < 1e-5
    changed = ids[:-1] + [3 + (ids[-1] + 50) % (vocab - 3)]
    d_bi = (forward(model, ids, "bidirectional")[0] - forward(model, changed, "bidirectional")[0]).abs().max()
    d_ca = (forward(model, ids, "causal")[:11] - forward(model, changed, "causal")[:11]).abs().max()
    d_bc_in = (forward(model, ids, "block_causal")[8] - forward(model, changed, "block_causal")[8]).abs().max()
    d_bc_out = (forward(model, ids, "block_causal")[:8] - forward(model, changed, "block_causal")[:8]).abs().max()
    print("mask checks: bidirectional %.3g, causal %.3g, block-causal same block %.3g, earlier blocks %.3g"
          % (d_bi, d_ca, d_bc_in, d_bc_out))
    assert d_bi > 1e-3 and d_ca == 0 and d_bc_in > 1e-3 and d_bc_out == 0


def expected_logits(dir_, tok, vocab):
    model = LlamaForCausalLM.from_pretrained(absdir(dir_), dtype=torch.float32).eval()
    code_ids = tok.encode(CODE_TEXT, add_special_tokens=False).ids
    g = torch.Generator().manual_seed(21)
    random_ids = torch.randint(0, vocab, (21,), generator=g).tolist()
    cases = []
    for kind in ("bidirectional", "causal", "block_causal"):
        for name, ids in (("code", code_ids), ("random21", random_ids)):
            cases.append({"name": name, "attention": kind, "block_size": BLOCK if kind == "block_causal" else None,
                          "input_ids": ids, "logits": rows(forward(model, ids, kind))})
    return {"model_dir": dir_, "cases": cases}


# ----------------------------------------------------------------------------------------------- GGUF


def permute_for_interleaved_rope(w, heads):
    """llama.cpp's convert script: rows of each head reordered from rotate-half to interleaved pairs."""
    rows_, cols = w.shape
    return w.reshape(heads, 2, rows_ // heads // 2, cols).swapaxes(1, 2).reshape(rows_, cols)


def unpermute(w, heads):
    rows_, cols = w.shape
    return w.reshape(heads, rows_ // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows_, cols)


def stored(w, qtype):
    """(bytes as the writer wants them, the gguf package's dequantization of those bytes)."""
    data = quantize(np.ascontiguousarray(w, dtype=np.float32), qtype)
    return data, dequantize(data, qtype).reshape(w.shape).astype(np.float32)


def add_tokenizer(writer, tok_json):
    vocab = tok_json["model"]["vocab"]
    tokens = [None] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    types = [TokenType.NORMAL] * len(tokens)
    for added in tok_json["added_tokens"]:
        types[added["id"]] = TokenType.CONTROL
    merges = [" ".join(m) if isinstance(m, list) else m for m in tok_json["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(EOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_pad_token_id(PAD_ID)


def write_gguf_twin(model, tok, path):
    """The model in llama.cpp's layout; returns a float32 model holding exactly what a reader should see."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    seen = LlamaForCausalLM(model.config).eval()
    seen_sd = {}
    writer = GGUFWriter(path, "llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_uint32("unmask.mask_token_id", MASK_ID)
    with open(absdir(TOKENIZER)) as fh:
        add_tokenizer(writer, json.load(fh))

    def put(gguf_name, hf_name, qtype, heads=None):
        w = sd[hf_name]
        if heads is not None:
            w = permute_for_interleaved_rope(w, heads)
        data, back = stored(w, qtype)
        if heads is not None:
            back = unpermute(back, heads)
        seen_sd[hf_name] = torch.from_numpy(back)
        if qtype in (Q.F32, Q.F16):
            writer.add_tensor(gguf_name, data)
        else:
            writer.add_tensor(gguf_name, data, raw_shape=data.shape, raw_dtype=qtype)

    put("token_embd.weight", "model.embed_tokens.weight", TWIN_TYPES["token_embd"])
    put("output_norm.weight", "model.norm.weight", Q.F32)
    for i in range(LAYERS):
        p = "model.layers.%d." % i
        b = "blk.%d." % i
        put(b + "attn_norm.weight", p + "input_layernorm.weight", Q.F32)
        put(b + "ffn_norm.weight", p + "post_attention_layernorm.weight", Q.F32)
        put(b + "attn_q.weight", p + "self_attn.q_proj.weight", TWIN_TYPES["attn_q"], HEADS)
        put(b + "attn_k.weight", p + "self_attn.k_proj.weight", TWIN_TYPES["attn_k"], KV_HEADS)
        put(b + "attn_v.weight", p + "self_attn.v_proj.weight", TWIN_TYPES["attn_v"])
        put(b + "attn_output.weight", p + "self_attn.o_proj.weight", TWIN_TYPES["attn_output"])
        put(b + "ffn_gate.weight", p + "mlp.gate_proj.weight", TWIN_TYPES["ffn_gate"])
        put(b + "ffn_up.weight", p + "mlp.up_proj.weight", TWIN_TYPES["ffn_up"])
        put(b + "ffn_down.weight", p + "mlp.down_proj.weight", TWIN_TYPES["ffn_down"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    seen_sd["lm_head.weight"] = seen_sd["model.embed_tokens.weight"]
    missing, unexpected = seen.load_state_dict(seen_sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    return seen


def check_reader_agrees(path, seen):
    """The gguf package reads back what was written (shapes in llama.cpp's order: columns first)."""
    reader = GGUFReader(path)
    by_name = {t.name: t for t in reader.tensors}
    t = by_name["blk.0.attn_v.weight"]
    assert list(t.shape) == [HIDDEN, KV_HEADS * HIDDEN // HEADS], t.shape
    back = dequantize(t.data, t.tensor_type).reshape(KV_HEADS * HIDDEN // HEADS, HIDDEN)
    assert np.array_equal(back, seen.state_dict()["model.layers.0.self_attn.v_proj.weight"].numpy())


def write_types_file(path):
    """Small tensors of every supported type; values through the gguf package's dequantization."""
    rng = np.random.default_rng(5)
    writer = GGUFWriter(path, "llama")
    cases = []
    for i, qtype in enumerate((Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1)):
        rows_, cols = 3, 64
        w = (rng.standard_normal((rows_, cols)) * (i + 1)).astype(np.float32)
        w[0, :32] = 0.0  # an all-zero group: scale 0
        w[1, 5] = 40.0  # an outlier
        data = quantize(w, qtype)
        name = "t_%s" % qtype.name.lower()
        if qtype in (Q.F32, Q.F16):
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
        cases.append((name, qtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = GGUFReader(path)
    out = []
    for t in reader.tensors:
        values = dequantize(t.data, t.tensor_type).reshape(-1)
        out.append({"name": t.name, "type": t.tensor_type.name, "shape": [int(s) for s in t.shape],
                    "values": [float(v) for v in values]})
    assert [o["name"] for o in out] == [c[0] for c in cases]
    return out


def main():
    torch.set_num_threads(1)
    tok = Tokenizer.from_file(absdir(TOKENIZER))
    vocab = tok.get_vocab_size(with_added_tokens=True)
    model = make_model(vocab)
    print("tiny llama parameters:", sum(p.numel() for p in model.parameters()))
    check_masks(model, vocab)
    extra = {"mask_token_id": MASK_ID, "shift_logits": True, "attention": "causal"}
    save_model(model, absdir(DIR_F32), torch.float32, extra)
    save_model(model, absdir(DIR_F16), torch.float16, extra)

    expected = {
        "description": "Raw (unshifted) logits of LlamaForCausalLM called with an explicit additive 4-D mask for "
                       "each attention kind; block_causal uses block_size. f16 weights are upcast and run in "
                       "float32. Values rounded to 6 significant digits.",
        "models": [expected_logits(d, tok, vocab) for d in (DIR_F32, DIR_F16)],
    }
    path = os.path.join(absdir(DIR_F32), "expected_logits.json")
    with open(path, "w") as fh:
        json.dump(expected, fh, separators=(",", ":"))
        fh.write("\n")
    print("wrote", path)

    gguf_path = os.path.join(FIX, "tiny-llama.gguf")
    seen = write_gguf_twin(model, tok, gguf_path)
    check_reader_agrees(gguf_path, seen)
    code_ids = tok.encode(CODE_TEXT, add_special_tokens=False).ids
    twin = {
        "description": "tiny-llama.gguf: logits (causal, unshifted, 6 significant digits) of transformers on the "
                       "gguf package's dequantization of the stored tensors, Q/K permutation undone; and how "
                       "the tokenizer the GGUF came from encodes some strings.",
        "tensor_types": {k: v.name for k, v in TWIN_TYPES.items()},
        "mask_token_id": MASK_ID,
        "input_ids": code_ids,
        "logits": rows(forward(seen, code_ids, "causal")),
        "tokenizations": [{"text": s, "ids": tok.encode(s, add_special_tokens=False).ids}
                          for s in (CODE_TEXT, "x = <|mask|> + 1\t# héllo ☕\n", "  12345 67\r\n", "")],
    }
    with open(os.path.join(FIX, "tiny-llama-gguf.json"), "w") as fh:
        json.dump(twin, fh, separators=(",", ":"), ensure_ascii=False)
        fh.write("\n")

    types_path = os.path.join(FIX, "gguf-types.gguf")
    with open(os.path.join(FIX, "gguf-types.json"), "w") as fh:
        json.dump({"description": "gguf-types.gguf: each tensor's values as gguf.quants.dequantize gives them, "
                                  "row-major, shape in GGUF order (columns first).",
                   "tensors": write_types_file(types_path)}, fh, separators=(",", ":"))
        fh.write("\n")
    for p in (gguf_path, types_path):
        print("wrote", p, os.path.getsize(p), "bytes")


if __name__ == "__main__":
    main()
