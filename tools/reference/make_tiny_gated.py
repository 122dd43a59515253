#!/usr/bin/env python3
"""Build the tiny mask-gated fixture: a random Qwen2 with mask-gated low-rank adapters, and its logits computed
by transformers with the gating added through forward hooks.

Writes (paths relative to the repository root):

  tests/fixtures/tiny-gated/config.json          Qwen2, untied head, `attention: masks_see_block` (block 4),
                                                 `adapter_rank` 3, mask id 1
  tests/fixtures/tiny-gated/model.safetensors    the base weights in Hugging Face names, plus
                                                 `model.layers.{i}.{self_attn|mlp}.{proj}.lora_a` [rank, in],
                                                 `.lora_b` [out, rank] (scale folded in), `model.mask_embedding`
  tests/fixtures/tiny-gated/tokenizer.json       tiny-qwen2's tokenizer
  tests/fixtures/tiny-gated/expected_logits.json canvases mixing tokens and masks, their logits (vocabulary 512, the tokenizer's)

The definition, built here from scratch on transformers' Qwen2ForCausalLM: a mask position reads the mask
embedding (inputs_embeds), every q/k/v/o/gate/up/down projection adds `B·A·x` on mask rows only (forward hooks
on transformers' Linear modules), and the attention mask lets a token position see keys 0..=q and a mask position
every key of its own block and the blocks before (an additive 4-D float mask). The training code
(tools/train/adapt/gated.py over model.py) is checked against the same logits here, so the trainer and the
engines agree on what a mask-gated model is. Deterministic: fixed seeds.
"""

import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny-gated")
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "tiny-qwen2", "tokenizer.json")
EOS_ID, MASK_ID = 0, 1
VOCAB, HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 512, 32, 48, 2, 4, 2
BLOCK, RANK = 4, 3
PROJECTIONS = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
               "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
M = MASK_ID
CANVASES = {
    # A prompt, then masks: the state at the start of an answer.
    "answer_start": [5, 9, 14, 3, 22, 7, M, M, M, M, M, M],
    # Tokens written out of order inside blocks, masks before and after them.
    "out_of_order": [5, 9, 14, 3, 22, M, 30, M, M, 41, M, 12, M, M],
    # No mask at all: every position must be the base model's.
    "no_masks": [5, 9, 14, 3, 22, 7, 30, 18],
}


def r6(x):
    return float("%.6g" % x)


def allowed(ids):
    is_mask = torch.tensor([t == MASK_ID for t in ids])
    q = torch.arange(len(ids))[:, None]
    k = torch.arange(len(ids))[None, :]
    return torch.where(is_mask[:, None], (k // BLOCK) <= (q // BLOCK), k <= q)


def make_model():
    torch.manual_seed(11)
    config = Qwen2Config(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
                         num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=64,
                         rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, initializer_range=0.2)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
    adapter = {}
    for i in range(LAYERS):
        for proj, group in PROJECTIONS.items():
            linear = getattr(getattr(model.model.layers[i], group), proj)
            prefix = f"model.layers.{i}.{group}.{proj}"
            adapter[prefix + ".lora_a"] = torch.randn(RANK, linear.in_features) * 0.3
            adapter[prefix + ".lora_b"] = torch.randn(linear.out_features, RANK) * 0.3
    adapter["model.mask_embedding"] = torch.randn(HIDDEN)
    return model, adapter


def gated_logits(model, adapter, ids):
    """transformers' forward with the gating added from outside: embeddings, hooks, mask."""
    is_mask = torch.tensor([t == MASK_ID for t in ids])[None, :, None]
    hooks = []
    for i in range(LAYERS):
        for proj, group in PROJECTIONS.items():
            linear = getattr(getattr(model.model.layers[i], group), proj)
            a, b = adapter[f"model.layers.{i}.{group}.{proj}.lora_a"], adapter[f"model.layers.{i}.{group}.{proj}.lora_b"]

            def hook(_module, inputs, output, a=a, b=b):
                return output + torch.where(is_mask, inputs[0] @ a.T @ b.T, torch.zeros(()))

            hooks.append(linear.register_forward_hook(hook))
    try:
        embeds = model.model.embed_tokens(torch.tensor([ids]))
        embeds = torch.where(is_mask, adapter["model.mask_embedding"], embeds)
        neg = torch.finfo(torch.float32).min
        mask = torch.where(allowed(ids), torch.tensor(0.0), torch.tensor(neg))[None, None]
        with torch.no_grad():
            return model(inputs_embeds=embeds, attention_mask=mask, use_cache=False).logits[0]
    finally:
        for h in hooks:
            h.remove()


def training_code_logits(state, adapter, ids):
    """The same canvas through the trainer's model.py and gated.py (one stream, the rule's mask)."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "train", "adapt"))
    import gated
    import model as M_

    c = M_.Config(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
                  num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HIDDEN // HEADS,
                  rope_theta=10000.0, rms_norm_eps=1e-6, attention_bias=True, tie_word_embeddings=False)
    m = M_.Decoder(c)
    m.load_hf_state(state)
    g = gated.GatedAdapters(m, RANK)
    with torch.no_grad():
        for key in g.a:
            layer, name = key.split("_", 1)
            prefix = f"model.layers.{layer}.{PROJECTIONS[name]}.{name}"
            g.a[key].copy_(adapter[prefix + ".lora_a"])
            g.b[key].copy_(adapter[prefix + ".lora_b"] / g.scale)
        g.mask_embedding.copy_(adapter["model.mask_embedding"])
        x = torch.tensor([ids])
        is_mask = x == MASK_ID
        hidden = m.hidden(x, allowed(ids), embedded=g.embed(m, x, is_mask), delta=g.delta(is_mask))
        return m.logits(hidden)[0]


def main():
    model, adapter = make_model()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file({**state, **{k: v.contiguous() for k, v in adapter.items()}}, os.path.join(OUT, "model.safetensors"))
    shutil.copyfile(TOKENIZER, os.path.join(OUT, "tokenizer.json"))
    config = json.loads(model.config.to_json_string())
    config.update({"attention": "masks_see_block", "block_size": BLOCK, "adapter_rank": RANK,
                   "mask_token_id": MASK_ID, "eos_token_id": EOS_ID, "torch_dtype": "float32"})
    with open(os.path.join(OUT, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
        fh.write("\n")
    cases = []
    for name, ids in CANVASES.items():
        logits = gated_logits(model, adapter, ids)
        trainer = training_code_logits(state, adapter, ids)
        err = float((logits - trainer).abs().max())
        assert err < 1e-4, f"{name}: the training code differs from transformers by {err}"
        if name == "no_masks":
            with torch.no_grad():
                plain = model(input_ids=torch.tensor([ids])).logits[0]
            assert float((plain - logits).abs().max()) < 1e-5, "no masks must be the base model"
        print(f"{name}: training code within {err:.1e} of transformers")
        cases.append({"name": name, "input_ids": ids, "logits": [[r6(v) for v in row] for row in logits.tolist()]})
    with open(os.path.join(OUT, "expected_logits.json"), "w") as fh:
        json.dump({"description": "tools/reference/make_tiny_gated.py: transformers "
                   f"{__import__('transformers').__version__} Qwen2ForCausalLM with the gating added by hooks; "
                   "float32, rounded to 6 significant digits", "cases": cases}, fh)
        fh.write("\n")


if __name__ == "__main__":
    main()
