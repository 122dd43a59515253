"""The Llama and Qwen2 decoders of the Rust engine (crates/model/src/arch/) in PyTorch, for adapting a pretrained
model into a diffusion coder. Qwen2 is Llama with biases on the query, key and value projections.

Parameters use the Hugging Face names and [out, in] layout that `unmask convert --quant f32` writes, so a model
goes Rust → PyTorch → Rust without renaming. RoPE rotates halves (the import already undid GGUF's interleaved row
order), attention is grouped-query, the head is the embedding unless the model has its own (`lm_head.weight`),
and logits are shifted by one: position i is predicted from the hidden state at i − 1 (ARCHITECTURE.md,
contract 1).

Each projection can take a `delta(name, h)` added to its output (the mask-gated adapters of `gated.py`).

Attention takes an explicit boolean mask (True = may attend), so one model serves every attention kind and the
two-stream training pass of `objective.py`.
"""

import dataclasses
import json

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class Config:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rope_theta: float
    rms_norm_eps: float
    attention_bias: bool = False
    tie_word_embeddings: bool = True

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        fields = {f.name for f in dataclasses.fields(Config)}
        raw.setdefault("head_dim", raw["hidden_size"] // raw["num_attention_heads"])
        raw.setdefault("attention_bias", raw.get("model_type") == "qwen2")
        # As the Rust loader: transformers 5 keeps rope_theta in rope_parameters, older configs at the top level.
        if "rope_theta" not in raw and "rope_theta" in (raw.get("rope_parameters") or {}):
            raw["rope_theta"] = raw["rope_parameters"]["rope_theta"]
        return Config(**{k: raw[k] for k in fields if k in raw})


def rms_norm(x, weight, eps):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * weight


class Layer(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        q, kv = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
        self.q_proj = torch.nn.Linear(c.hidden_size, q, bias=c.attention_bias)
        self.k_proj = torch.nn.Linear(c.hidden_size, kv, bias=c.attention_bias)
        self.v_proj = torch.nn.Linear(c.hidden_size, kv, bias=c.attention_bias)
        self.o_proj = torch.nn.Linear(q, c.hidden_size, bias=False)
        self.gate_proj = torch.nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = torch.nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = torch.nn.Linear(c.intermediate_size, c.hidden_size, bias=False)
        self.input_layernorm = torch.nn.Parameter(torch.ones(c.hidden_size))
        self.post_attention_layernorm = torch.nn.Parameter(torch.ones(c.hidden_size))

    def forward(self, x, cos, sin, mask, past=None, delta=None):
        """x [B, S, D]; mask [S, S + P] (True = attend) over `past` keys/values [B, H_kv, P, d] then these.
        `delta(name, h)`, if given, is added to projection `name`'s output for input h.
        Returns the new x and this call's (k, v) so a later call can attend to them."""
        c, (b, s, _) = self.c, x.shape

        def proj(name, h):
            out = getattr(self, name)(h)
            return out if delta is None else out + delta(name, h)

        h = rms_norm(x, self.input_layernorm, c.rms_norm_eps)
        q = proj("q_proj", h).view(b, s, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = proj("k_proj", h).view(b, s, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = proj("v_proj", h).view(b, s, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        kv = (k, v)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        group = c.num_attention_heads // c.num_key_value_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + proj("o_proj", a.transpose(1, 2).reshape(b, s, -1))
        h = rms_norm(x, self.post_attention_layernorm, c.rms_norm_eps)
        return x + proj("down_proj", F.silu(proj("gate_proj", h)) * proj("up_proj", h)), kv


def rope_tables(c: Config, positions, dtype):
    """cos and sin for `positions` [S] (shared by a batch) or [B, S] (one row each, broadcast over heads)."""
    inv = c.rope_theta ** (-torch.arange(0, c.head_dim, 2, dtype=torch.float64) / c.head_dim)
    angle = positions.to(torch.float64)[..., None] * inv
    angle = torch.cat([angle, angle], dim=-1)
    if positions.dim() == 2:
        angle = angle[:, None]
    return angle.cos().to(dtype), angle.sin().to(dtype)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


class Decoder(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = torch.nn.Parameter(torch.ones(c.hidden_size))
        self.lm_head = None if c.tie_word_embeddings else torch.nn.Linear(c.hidden_size, c.vocab_size, bias=False)

    def hidden(self, ids, mask, positions=None, past=None, keep_kv=False, embedded=None, delta=None):
        """Final hidden states (after the last norm) of `ids` [B, S]; `past` is a list of per-layer (k, v) that
        the mask's first columns refer to. With keep_kv, also returns this pass's per-layer (k, v).
        `embedded` replaces the embedding lookup; `delta(layer, name, h)` is added to each projection."""
        if positions is None:
            positions = torch.arange(ids.shape[1])
        cos, sin = rope_tables(self.c, positions, torch.float32)
        x = self.embed_tokens(ids) if embedded is None else embedded
        kvs = []
        for i, layer in enumerate(self.layers):
            layer_delta = None if delta is None else (lambda name, h, i=i: delta(i, name, h))
            x, kv = layer(x, cos, sin, mask, None if past is None else past[i], layer_delta)
            if keep_kv:
                kvs.append(kv)
        x = rms_norm(x, self.norm, self.c.rms_norm_eps)
        return (x, kvs) if keep_kv else x

    def logits(self, hidden):
        return hidden @ (self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight).T

    # --- Hugging Face names, as the Rust engine reads and writes them ---------------------------------------
    def hf_state(self):
        out = {"model.embed_tokens.weight": self.embed_tokens.weight, "model.norm.weight": self.norm}
        if self.lm_head is not None:
            out["lm_head.weight"] = self.lm_head.weight
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}."
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + "self_attn." + name + ".weight"] = getattr(layer, name).weight
                if getattr(layer, name).bias is not None:
                    out[p + "self_attn." + name + ".bias"] = getattr(layer, name).bias
            for name in ("gate_proj", "up_proj", "down_proj"):
                out[p + "mlp." + name + ".weight"] = getattr(layer, name).weight
            out[p + "input_layernorm.weight"] = layer.input_layernorm
            out[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm
        return out

    def load_hf_state(self, tensors):
        own = self.hf_state()
        missing = sorted(set(own) - set(tensors))
        if missing:
            raise ValueError(f"the weights lack {len(missing)} tensors, first {missing[0]}")
        with torch.no_grad():
            for name, param in own.items():
                src = tensors[name]
                if tuple(src.shape) != tuple(param.shape):
                    raise ValueError(f"{name}: shape {tuple(src.shape)}, expected {tuple(param.shape)}")
                param.copy_(src.to(param.dtype))


def attention_mask(kind, block_size, seq):
    """[seq, seq] booleans for one stream: bidirectional, causal, or block-causal (a query sees its own block and
    every earlier one, blocks counted from position 0), the same rule as AttentionKind::key_end."""
    q = torch.arange(seq)[:, None]
    k = torch.arange(seq)[None, :]
    if kind == "bidirectional":
        return torch.ones(seq, seq, dtype=torch.bool)
    if kind == "causal":
        return k <= q
    if kind == "block_causal":
        return (k // block_size) <= (q // block_size)
    raise ValueError(f"unknown attention kind {kind}")


def evenly_spaced_layers(total, keep):
    """`keep` of `total` layer indices, evenly spread, the first and the last among them."""
    if not 1 <= keep <= total:
        raise ValueError(f"cannot keep {keep} of {total} layers")
    if keep == 1:
        return [0]
    return [round(i * (total - 1) / (keep - 1)) for i in range(keep)]


def keep_layers(model, indices):
    """Cuts `model` to the given layers, in order: a student initialised from its teacher's weights."""
    model.layers = torch.nn.ModuleList(model.layers[i] for i in indices)
    model.c = dataclasses.replace(model.c, num_hidden_layers=len(indices))
    return model


def load(model_dir, dtype=torch.float32):
    from safetensors.torch import load_file

    c = Config.load(f"{model_dir}/config.json")
    model = Decoder(c).to(dtype)
    model.load_hf_state(load_file(f"{model_dir}/model.safetensors"))
    return model


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


