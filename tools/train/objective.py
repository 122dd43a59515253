"""The masked-diffusion objective (MDLM / LLaDA) and the held-out metrics built on it.

For a clean sequence x0: draw t ~ U(eps, 1), mask each answer token independently with probability t, and
minimise (1/t) * sum over masked answer tokens of -log p(x0_i | x_t), normalised by the answer tokens of the batch. This
bounds the negative log-likelihood (the ELBO). The coupled variant uses each sequence twice with complementary
masks (every answer token masked in exactly one of the pair, at rates t and 1 - t), as DiffuCoder's coupled
sampling does: every token gets a learning signal each step.
"""

import jax
import jax.numpy as jnp

from model import forward, shift_logits

MASK = 1


def masked_nll(params, cfg, ids, masked):
    """Per-token -log p(x0 | x_t) where masked (0 elsewhere), [batch, seq]."""
    noisy = jnp.where(masked, MASK, ids)
    logits = shift_logits(forward(params, cfg, noisy))
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, ids[..., None], axis=-1)[..., 0]
    return jnp.where(masked, nll, 0.0), logits


def mdlm_loss(params, cfg, ids, answer_mask, key, eps=1e-3, coupled=False):
    k_t, k_u = jax.random.split(key)
    batch, seq = ids.shape
    if coupled:
        t = jax.random.uniform(k_t, (batch,), minval=eps, maxval=1.0 - eps)
    else:
        t = jax.random.uniform(k_t, (batch,), minval=eps, maxval=1.0)
    masked = (jax.random.uniform(k_u, (batch, seq)) < t[:, None]) & answer_mask
    answer_len = jnp.maximum(answer_mask.sum(axis=1), 1)
    if coupled:
        ids = jnp.concatenate([ids, ids])
        masked = jnp.concatenate([masked, answer_mask & ~masked])
        t = jnp.concatenate([t, 1.0 - t])
        answer_len = jnp.concatenate([answer_len, answer_len])
    nll, _ = masked_nll(params, cfg, ids, masked)
    # Normalised by answer tokens over the whole batch, so rows of any length weigh by their tokens.
    return (nll.sum(axis=1) / t).sum() / answer_len.sum()


def masked_accuracy(params, cfg, ids, answer_mask, body_mask, ratio, key):
    """Mask round(ratio * |answer|) answer positions per sequence (uniformly), predict all in one forward pass
    (argmax); returns (correct, counted) over masked positions inside the body (answer + first end-of-text)."""
    scores = jax.random.uniform(key, ids.shape)
    scores = jnp.where(answer_mask, scores, 2.0)
    count = jnp.round(ratio * answer_mask.sum(axis=1)).astype(jnp.int32)
    rank = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    masked = (rank < count[:, None]) & answer_mask
    _, logits = masked_nll(params, cfg, ids, masked)
    predicted = jnp.argmax(logits.at[..., MASK].set(-jnp.inf), axis=-1)
    counted = masked & body_mask
    return ((predicted == ids) & counted).sum(), counted.sum()


def elbo_nats(params, cfg, ids, answer_mask, body_mask, t, key):
    """One Monte-Carlo term of the ELBO at mask rate t: (1/t) * masked NLL summed over body tokens, per sequence."""
    masked = (jax.random.uniform(key, ids.shape) < t) & answer_mask
    nll, _ = masked_nll(params, cfg, ids, masked)
    return (jnp.where(body_mask, nll, 0.0).sum(axis=1)) / t
