"""Measure training throughput (tokens/s) of candidate model shapes on random tokens, to size the model.

  python tools/train/measure_throughput.py --shapes 256x4,192x4,320x4 --vocab 4096 [--steps 10]

A shape is HIDDENxLAYERS; heads = hidden / 64 (head dim 64), kv heads = heads / 2 where possible,
intermediate = round(2.75 * hidden / 64) * 64.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from model import Config, init_params
from objective import mdlm_loss


def shape_config(hidden, layers, vocab, seq_len):
    heads = max(1, hidden // 64)
    return Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=int(round(2.75 * hidden / 64)) * 64,
                  num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=heads // 2 if heads % 2 == 0 else heads, max_position_embeddings=seq_len)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="256x4")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        hidden, layers = map(int, shape.split("x"))
        cfg = shape_config(hidden, layers, args.vocab, args.seq_len)
        params = init_params(cfg, jax.random.PRNGKey(0))
        opt = optax.adamw(1e-3)
        opt_state = opt.init(params)

        @jax.jit
        def step(params, opt_state, ids, answer_mask, key):
            loss, grads = jax.value_and_grad(lambda p: mdlm_loss(p, cfg, ids, answer_mask, key))(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        ids = jnp.asarray(rng.integers(3, args.vocab, (args.batch, args.seq_len)), jnp.int32)
        answer_mask = jnp.asarray(np.arange(args.seq_len)[None, :] >= args.seq_len // 4).repeat(args.batch, 0)
        started = time.time()
        params, opt_state, loss = step(params, opt_state, ids, answer_mask, jax.random.PRNGKey(0))
        loss.block_until_ready()
        compile_s = time.time() - started
        started = time.time()
        for i in range(args.steps):
            params, opt_state, loss = step(params, opt_state, ids, answer_mask, jax.random.PRNGKey(i))
        loss.block_until_ready()
        per_step = (time.time() - started) / args.steps
        print(f"{shape}: {cfg.parameter_count() / 1e6:.2f} M params, intermediate {cfg.intermediate_size}, "
              f"compile {compile_s:.1f} s, {per_step * 1e3:.0f} ms/step, {args.batch * args.seq_len / per_step:.0f} tok/s",
              flush=True)


if __name__ == "__main__":
    main()
