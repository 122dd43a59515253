"""The Qwen2-style bidirectional transformer exactly as the Rust engine runs it, in JAX.

Parameters are a flat dict keyed by the Hugging Face tensor names, in PyTorch's [out, in] layout, so export is
a rename-free dump and the Rust loader (crates/model/src/arch/tensors.rs) reads it directly. Embeddings are tied (no
lm_head.weight); q/k/v carry biases; RMSNorm; rotate-half RoPE; grouped-query attention without a causal mask;
SwiGLU. Logits are shifted by one like Dream/DiffuCoder: position i is predicted from hidden state i - 1.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Config:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    eos_token_id: int = 0
    mask_token_id: int = 1
    pad_token_id: int = 2

    @classmethod
    def from_hf(cls, c):
        """From a config.json dict; accepts both spellings of rope_theta (top level, or in rope_parameters)."""
        theta = c.get("rope_theta") or c["rope_parameters"]["rope_theta"]
        return cls(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"],
                   num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
                   num_key_value_heads=c["num_key_value_heads"], max_position_embeddings=c["max_position_embeddings"],
                   rope_theta=theta, rms_norm_eps=c["rms_norm_eps"], mask_token_id=c["mask_token_id"])

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def hf_config(self, dtype="float16"):
        """config.json in the Hugging Face Qwen2 layout plus the diffusion fields the Rust loader reads."""
        return {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "hidden_act": "silu",
            "tie_word_embeddings": True,
            "bos_token_id": self.eos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "mask_token_id": self.mask_token_id,
            "shift_logits": True,
            "torch_dtype": dtype,
        }

    def parameter_count(self):
        h, i, v = self.hidden_size, self.intermediate_size, self.vocab_size
        q = self.num_attention_heads * self.head_dim
        kv = self.num_key_value_heads * self.head_dim
        layer = h * q + q + 2 * (h * kv + kv) + q * h + 3 * h * i + 2 * h
        return v * h + self.num_hidden_layers * layer + h


def layer_name(i, suffix):
    return f"model.layers.{i}.{suffix}"


def init_params(cfg, key):
    """Normal(0, 0.02) linear weights and embedding, zero biases, unit norms; scaled output projections."""
    h, i, v = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    q = cfg.num_attention_heads * cfg.head_dim
    kv = cfg.num_key_value_heads * cfg.head_dim
    shapes = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,)}
    for layer in range(cfg.num_hidden_layers):
        for suffix, shape in [
            ("input_layernorm.weight", (h,)),
            ("self_attn.q_proj.weight", (q, h)), ("self_attn.q_proj.bias", (q,)),
            ("self_attn.k_proj.weight", (kv, h)), ("self_attn.k_proj.bias", (kv,)),
            ("self_attn.v_proj.weight", (kv, h)), ("self_attn.v_proj.bias", (kv,)),
            ("self_attn.o_proj.weight", (h, q)),
            ("post_attention_layernorm.weight", (h,)),
            ("mlp.gate_proj.weight", (i, h)), ("mlp.up_proj.weight", (i, h)), ("mlp.down_proj.weight", (h, i)),
        ]:
            shapes[layer_name(layer, suffix)] = shape
    params = {}
    keys = jax.random.split(key, len(shapes))
    residual_scale = 1.0 / math.sqrt(2 * cfg.num_hidden_layers)
    for k, (name, shape) in zip(keys, sorted(shapes.items())):
        if name.endswith("norm.weight"):
            params[name] = jnp.ones(shape, jnp.float32)
        elif name.endswith(".bias"):
            params[name] = jnp.zeros(shape, jnp.float32)
        else:
            scale = 0.02 * (residual_scale if ("o_proj" in name or "down_proj" in name) else 1.0)
            params[name] = scale * jax.random.normal(k, shape, jnp.float32)
    return params


def rms_norm(x, weight, eps):
    variance = jnp.mean(x * x, axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(variance + eps) * weight


def rope(x, theta):
    """x: [batch, seq, heads, head_dim]; dimension j < d/2 pairs with j + d/2 (Qwen2's rotate-half)."""
    seq, d = x.shape[1], x.shape[-1]
    inv_freq = 1.0 / (theta ** (jnp.arange(0, d, 2, dtype=jnp.float32) / d))
    angles = jnp.arange(seq, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    cos, sin = jnp.cos(angles)[None, :, None, :], jnp.sin(angles)[None, :, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def linear(x, params, name, bias=False):
    y = x @ params[name + ".weight"].T
    return y + params[name + ".bias"] if bias else y


def forward(params, cfg, ids, key_valid=None):
    """Raw (unshifted) logits [batch, seq, vocab]. key_valid[b, j] = False hides position j (padding)."""
    b, s = ids.shape
    nh, nkv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    x = params["model.embed_tokens.weight"][ids]
    if key_valid is None:
        bias = jnp.zeros((b, 1, 1, s), jnp.float32)
    else:
        bias = jnp.where(key_valid, 0.0, -1e30)[:, None, None, :]
    for layer in range(cfg.num_hidden_layers):
        p = lambda suffix: layer_name(layer, suffix)  # noqa: E731
        h = rms_norm(x, params[p("input_layernorm.weight")], cfg.rms_norm_eps)
        q = linear(h, params, p("self_attn.q_proj"), bias=True).reshape(b, s, nh, d)
        k = linear(h, params, p("self_attn.k_proj"), bias=True).reshape(b, s, nkv, d)
        v = linear(h, params, p("self_attn.v_proj"), bias=True).reshape(b, s, nkv, d)
        q, k = rope(q, cfg.rope_theta), rope(k, cfg.rope_theta)
        group = nh // nkv
        k, v = jnp.repeat(k, group, axis=2), jnp.repeat(v, group, axis=2)  # head h reads kv head h // group
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d) + bias
        attended = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v).reshape(b, s, nh * d)
        x = x + linear(attended, params, p("self_attn.o_proj"))
        h = rms_norm(x, params[p("post_attention_layernorm.weight")], cfg.rms_norm_eps)
        gate = linear(h, params, p("mlp.gate_proj"))
        x = x + linear(jax.nn.silu(gate) * linear(h, params, p("mlp.up_proj")), params, p("mlp.down_proj"))
    x = rms_norm(x, params["model.norm.weight"], cfg.rms_norm_eps)
    return x @ params["model.embed_tokens.weight"].T


def shift_logits(logits):
    """Row i of the result predicts position i: it is row max(i - 1, 0) of the forward pass."""
    return jnp.concatenate([logits[:, :1], logits[:, :-1]], axis=1)
