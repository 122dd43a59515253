"""Block diffusion with a clean stream: the training pass that matches how a block-causal model decodes.

At decode time every block before the one being written is finished, so the model sees clean earlier blocks and
a partly masked current block. The pass here reproduces exactly that for every block of a row at once: the clean
row runs first (block-causal attention, no gradient: it plays the finished blocks), then the noisy row runs with
each position attending to its own noisy block and to the clean keys and values of the earlier blocks. Each
block has its own mask ratio t ~ U(t_min, 1) (prompt tokens are never masked).

With the logit shift (position i is predicted from hidden state i − 1), the first token of a block is predicted
from the last clean hidden state of the block before: an autoregressive prediction the clean stream already
makes, with no gradient here; it is scored, not trained. Every other masked token is predicted from the noisy
stream and trained with cross-entropy (unweighted by 1/t: lower variance for fine-tuning; the ELBO is reported
separately by evaluate.py).

With a frozen teacher (`distil` > 0) each trained token's target is also a distribution from the teacher:
cross-entropy against those soft targets, weighted `distil`, with the hard token weighted 1 − `distil`. The soft
targets carry more than the one observed token (lower-variance gradients). Two teachers fit this pass:
- `causal`: the pretrained autoregressive model's next-token distribution given the clean causal prefix (pulls
  the adaptation toward what the pretrained model already knows);
- `same_state`: an adapted diffusion model run on the very same state (clean earlier blocks, the same masks),
  so a smaller student learns the distribution its teacher would decode from.
"""

import torch
import torch.nn.functional as F

from model import attention_mask


def noisy_masks(seq, block):
    """The clean stream's block-causal mask [S, S] and the noisy stream's [S, 2S] (clean keys, then noisy)."""
    q = torch.arange(seq)[:, None] // block
    k = torch.arange(seq)[None, :] // block
    return k <= q, torch.cat([k < q, k == q], dim=1)


def corrupt(ids, starts, block, mask_id, generator, t_min=0.05, ratio=None):
    """Masks each answer token of block j with probability t_j (one t per block, or `ratio` for every block)."""
    b, s = ids.shape
    blocks = s // block
    if ratio is None:
        t = t_min + (1 - t_min) * torch.rand(b, blocks, generator=generator)
    else:
        t = torch.full((b, blocks), float(ratio))
    t = t.repeat_interleave(block, dim=1)
    answer = torch.arange(s)[None, :] >= starts[:, None]
    masked = (torch.rand(b, s, generator=generator) < t) & answer
    masked[:, 0] = False
    return torch.where(masked, torch.full_like(ids, mask_id), ids), masked


def two_streams(model, ids, noisy, block, train):
    """Hidden states of the clean row (block-causal, no gradient) and of the noisy row attending to its own block
    and to the clean stream's keys and values of the earlier blocks."""
    clean_mask, noisy_mask = noisy_masks(ids.shape[1], block)
    with torch.no_grad():
        clean_hidden, clean_kv = model.hidden(ids, clean_mask, keep_kv=True)
    with torch.set_grad_enabled(train):
        noisy_hidden = model.hidden(noisy, noisy_mask, past=clean_kv)
    return clean_hidden, noisy_hidden


def soft_targets(teacher, kind, ids, noisy, block, rows, cols):
    """The teacher's distribution for the tokens at (rows, cols), each predicted from the hidden state before."""
    with torch.no_grad():
        if kind == "causal":
            hidden = teacher.hidden(ids, attention_mask("causal", block, ids.shape[1]))
        elif kind == "same_state":
            hidden = two_streams(teacher, ids, noisy, block, train=False)[1]
        else:
            raise ValueError(f"unknown teacher kind {kind}")
        return F.softmax(teacher.logits(hidden[rows, cols - 1]).float(), dim=-1)


def block_diffusion_loss(model, ids, starts, block, mask_id, generator, ratio=None, train=True, teacher=None,
                         distil=0.0, teacher_kind="causal"):
    """Returns (loss over trained tokens, stats): loss is None when the batch masked nothing trainable."""
    b, s = ids.shape
    noisy, masked = corrupt(ids, starts, block, mask_id, generator, ratio=ratio)
    clean_hidden, noisy_hidden = two_streams(model, ids, noisy, block, train)
    pos = torch.arange(s)
    first_in_block = (pos % block == 0)[None, :].expand(b, s)
    rows, cols = torch.nonzero(masked & ~first_in_block, as_tuple=True)
    stats = {"masked": int(masked.sum())}
    loss = None
    if len(rows):
        logits = model.logits(noisy_hidden[rows, cols - 1]).float()
        target = ids[rows, cols]
        loss = F.cross_entropy(logits, target)
        if teacher is not None and distil > 0:
            soft = soft_targets(teacher, teacher_kind, ids, noisy, block, rows, cols)
            soft_ce = -(soft * F.log_softmax(logits, dim=-1)).sum(-1).mean()
            stats["hard_loss"] = loss.item()
            loss = (1 - distil) * loss + distil * soft_ce
        stats["hits"] = int((logits.argmax(-1) == target).sum())
    else:
        stats["hits"] = 0
    stats["trained"] = len(rows)
    # First tokens of blocks: the clean stream's autoregressive guess.
    rows_f, cols_f = torch.nonzero(masked & first_in_block, as_tuple=True)
    if len(rows_f):
        with torch.no_grad():
            guess = model.logits(clean_hidden[rows_f, cols_f - 1]).argmax(-1)
        stats["hits"] += int((guess == ids[rows_f, cols_f]).sum())
    return loss, stats
