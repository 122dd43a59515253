"""Mask-gated adapters: a diffusion coder on top of a frozen autoregressive model, which it never gets worse than.

The pretrained model stays exactly as it is for every position that holds a token. Only mask positions change:
they read a learned mask embedding, every projection adds a low-rank update `B·A·h` on their rows alone, and
they attend differently. The attention rule (`masks_see_block` in config.json), with blocks of `block` positions
counted from position 0:

- a token position attends causally (keys 0..=q), as the pretrained model did;
- a mask position attends to every key before its block and to its whole block, so it can use tokens already
  written to its right.

With the logit shift (position i predicted from the hidden state at i − 1), the leftmost mask of a canvas whose
earlier positions all hold tokens is predicted from a token position's hidden state: the pretrained model's own
next-token prediction. A sampler that commits at least the leftmost mask each step therefore reproduces the
pretrained model's greedy answer token for token when it commits nothing else (the AR floor); every further
token it commits in a step, where the masks are sure, is speed.

Training (`gated_loss`) reproduces the decoding state for every block of a row at once: the clean row runs
causally with no gradient (it is the pretrained model; it supplies the keys and values of finished blocks), then
`samples` noisy copies of the answer's blocks attend to those keys and to their own block by the rule above.
A block is masked at ratio t ~ U(t_min, 1), half of the blocks after a clean prefix of random length (the state
a left-to-right-leaning decode leaves). Every masked token predicted from a noisy row's hidden state is trained
with cross-entropy against the teacher's own answer; a block's first token, predicted from the clean row, is the
pretrained model's guess and is scored only.
"""

import math

import torch
import torch.nn.functional as F

import model as M

GATED, BLOCK = "masks_see_block", "block_causal"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class GatedAdapters(torch.nn.Module):
    """Low-rank updates of every projection, applied on mask rows only, and the mask's input embedding."""

    def __init__(self, model, rank, alpha=None, mask_embedding=None):
        super().__init__()
        self.rank = rank
        self.scale = (alpha or rank) / rank
        self.a = torch.nn.ParameterDict()
        self.b = torch.nn.ParameterDict()
        for i, layer in enumerate(model.layers):
            for name in PROJECTIONS:
                linear = getattr(layer, name)
                a = torch.empty(rank, linear.in_features)
                torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
                self.a[f"{i}_{name}"] = torch.nn.Parameter(a)
                self.b[f"{i}_{name}"] = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
        if mask_embedding is None:
            mask_embedding = model.embed_tokens.weight.detach().mean(0)
        self.mask_embedding = torch.nn.Parameter(mask_embedding.detach().clone().float())

    def embed(self, model, ids, is_mask):
        x = model.embed_tokens(ids)
        return torch.where(is_mask[..., None], self.mask_embedding.to(x.dtype), x)

    def delta(self, is_mask):
        gate = is_mask[..., None]

        def apply(layer, name, h):
            key = f"{layer}_{name}"
            low = (h @ self.a[key].T.to(h.dtype)) @ self.b[key].T.to(h.dtype)
            return torch.where(gate, low * self.scale, torch.zeros((), dtype=low.dtype))

        return apply

    def tensors(self):
        """The adapter in the Rust engine's names: `model.layers.{i}.{self_attn|mlp}.{proj}.lora_a` [rank, in]
        and `.lora_b` [out, rank] (the scale folded into B), and `model.mask_embedding` [hidden]."""
        out = {"model.mask_embedding": self.mask_embedding.detach()}
        for key, a in self.a.items():
            layer, name = key.split("_", 1)
            group = "self_attn" if name in PROJECTIONS[:4] else "mlp"
            prefix = f"model.layers.{layer}.{group}.{name}"
            out[prefix + ".lora_a"] = a.detach()
            out[prefix + ".lora_b"] = (self.b[key] * self.scale).detach()
        return out


def noisy_attention(seq, start, block, is_mask, attention=GATED):
    """The noisy rows' attention [K, 1, n, seq + n] over the clean row's keys (all `seq` positions) and then the
    noisy rows' own keys; the noisy rows are positions start..seq (start a multiple of `block`), is_mask [K, n].
    Under `block_causal` every noisy position sees its whole block, token or mask."""
    n = seq - start
    pos = torch.arange(start, seq)
    q_block = (pos // block)[:, None]
    clean = torch.arange(seq)[None, :] < q_block * block  # [n, seq]: everything before the query's block
    same_block = q_block == (pos // block)[None, :]
    causal = pos[None, :] <= pos[:, None]
    if attention == GATED:
        own = same_block[None] & (causal[None] | is_mask[:, :, None])  # [K, n, n]
    else:
        own = same_block[None].expand(len(is_mask), n, n)
    return torch.cat([clean[None].expand(len(is_mask), n, seq), own], dim=2)[:, None]


def corrupt(answer_len, samples, block_offset, block, generator, t_min=0.1, ratio=None):
    """Which of the noisy rows' positions are masked [K, n]: positions before `block_offset` (the prompt's end
    inside the first block) never; each block of each sample at its own ratio, half of them after a clean prefix
    of random length. `ratio` fixes the ratio and drops the prefixes (validation)."""
    n = block_offset + answer_len
    blocks = -(-n // block)
    if ratio is None:
        t = t_min + (1 - t_min) * torch.rand(samples, blocks, generator=generator)
        cut = torch.randint(0, block, (samples, blocks), generator=generator)
        cut = torch.where(torch.rand(samples, blocks, generator=generator) < 0.5, cut, torch.zeros_like(cut))
    else:
        t = torch.full((samples, blocks), float(ratio))
        cut = torch.zeros(samples, blocks, dtype=torch.long)
    t = t.repeat_interleave(block, dim=1)[:, :n]
    in_block = (torch.arange(n) % block)[None, :]
    cut = cut.repeat_interleave(block, dim=1)[:, :n]
    masked = (torch.rand(samples, n, generator=generator) < t) & (in_block >= cut)
    masked[:, :block_offset] = False
    return masked


def gated_loss(model, adapters, ids, start, block, mask_id, generator, samples=4, ratio=None, train=True,
               attention=GATED):
    """Loss and counts for one row: `ids` [S] (S a multiple of `block`), the answer from `start` on.
    Returns (loss or None, stats).

    `attention=BLOCK` trains the same adapters as plain block diffusion instead, the comparison the gated route
    was chosen over: the updates act on every position, the clean row runs block-causally through them (it is
    the adapted model's cache of finished blocks, not the teacher's), and every noisy position sees its whole
    block. Nothing is then exactly the teacher's: there is no AR floor."""
    seq = ids.shape[0]
    first = start // block * block
    with torch.no_grad():
        if attention == GATED:
            causal = torch.tril(torch.ones(seq, seq, dtype=torch.bool))
            clean_hidden, clean_kv = model.hidden(ids[None], causal, keep_kv=True)
        else:
            everywhere = torch.ones(1, seq, dtype=torch.bool)
            clean_hidden, clean_kv = model.hidden(ids[None], M.attention_mask(BLOCK, block, seq), keep_kv=True,
                                                  delta=adapters.delta(everywhere))
    masked = corrupt(seq - start, samples, start - first, block, generator, ratio=ratio)  # [K, n]
    noisy = torch.where(masked, torch.full_like(masked, mask_id, dtype=ids.dtype), ids[first:][None])
    rule = noisy_attention(seq, first, block, masked, attention)
    past = [(k.expand(samples, -1, -1, -1), v.expand(samples, -1, -1, -1)) for k, v in clean_kv]
    adapted = masked if attention == GATED else torch.ones_like(masked)
    with torch.set_grad_enabled(train):
        hidden = model.hidden(noisy, rule, positions=torch.arange(first, seq), past=past,
                              embedded=adapters.embed(model, noisy, masked), delta=adapters.delta(adapted))
    # Target position p (absolute) is predicted from p − 1: from the noisy row inside p's block, else the clean row.
    n = seq - first
    rel = torch.arange(n)
    from_noisy = masked & ((rel + first) % block != 0)[None, :]
    from_clean = masked & ((rel + first) % block == 0)[None, :]
    rows, cols = torch.nonzero(from_noisy, as_tuple=True)
    stats = {"masked": int(masked.sum()), "trained": len(rows), "trained_hits": 0}
    loss = None
    if len(rows):
        logits = model.logits(hidden[rows, cols - 1]).float()
        target = ids[first + cols]
        loss = F.cross_entropy(logits, target)
        stats["trained_hits"] = int((logits.argmax(-1) == target).sum())
    stats["hits"] = stats["trained_hits"]
    rows_c, cols_c = torch.nonzero(from_clean, as_tuple=True)
    if len(rows_c):
        with torch.no_grad():
            guess = model.logits(clean_hidden[0, first + cols_c - 1]).argmax(-1)
        stats["hits"] += int((guess == ids[first + cols_c]).sum())
    return loss, stats
