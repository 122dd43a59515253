"""Train the masked-diffusion coder. Resumable: rerunning the same command continues from the last checkpoint.

  python tools/train/train.py --data tools/train/.cache/examples --tokenizer tools/train/tokenizer.json \
      --out tools/train/.cache/run --steps 6000 [--coupled] [--hidden 256 --layers 4 ...]

Rows have their own lengths (multiples of 64 up to --seq-len; `data.encode_bucketed`) and a batch holds about
--batch-tokens tokens of one length, so compute goes to code rather than end-of-text filler.

Writes to --out: checkpoint.pkl (every --checkpoint-minutes), log.csv (step, tokens, train loss, lr, seconds,
validation loss), config.json. Runs unchanged on a CUDA GPU (JAX picks the device).
"""

import argparse
import csv
import dataclasses
import json
import math
import os
import pickle
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tokenizers import Tokenizer

from data import BatchSampler, encode_bucketed, load_jsonl
from model import Config, init_params
from objective import mdlm_loss


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with train.jsonl and val.jsonl")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch-tokens", type=int, default=4096, help="tokens per batch (rows x row length)")
    ap.add_argument("--seq-len", type=int, default=256, help="the longest row")
    ap.add_argument("--kind-weights", default="function=0.4,chunk=0.5,infill=0.1",
                    help="each example kind's share of the trained tokens")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=704)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--coupled", action="store_true", help="complementary-mask pairs (halves distinct sequences per step)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--val-batches", type=int, default=12)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N examples of each split (smoke tests)")
    return ap.parse_args(argv)


def build_config(args, vocab_size):
    return Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(1024, args.seq_len),
    )


def make_optimizer(args):
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=args.lr, warmup_steps=min(args.warmup, args.steps // 10 + 1),
        decay_steps=args.steps, end_value=args.lr * 0.1)
    # No weight decay on norms, biases and the (tied) embedding.
    decay_mask = lambda params: {k: (v.ndim == 2 and "embed" not in k) for k, v in params.items()}  # noqa: E731
    optimizer = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=args.weight_decay, mask=decay_mask),
    )
    return optimizer, schedule


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    # Added tokens (specials, indentation runs) count too; round up to a multiple of 64 for the kernels.
    vocab_size = -(-Tokenizer.from_file(args.tokenizer).get_vocab_size(with_added_tokens=True) // 64) * 64
    cfg = build_config(args, vocab_size)
    # The coupled variant spends the same compute on half as many distinct sequences.
    batch_tokens = args.batch_tokens // 2 if args.coupled else args.batch_tokens
    kind_weights = {k: float(v) for k, v in (kv.split("=") for kv in args.kind_weights.split(","))}

    print(f"devices: {jax.devices()}; model {cfg.parameter_count() / 1e6:.2f} M parameters", flush=True)
    split = lambda name: encode_bucketed(  # noqa: E731
        args.tokenizer, load_jsonl(os.path.join(args.data, f"{name}.jsonl"), args.limit), args.seq_len, seed=args.seed)
    train, val = BatchSampler(split("train"), batch_tokens, kind_weights), BatchSampler(split("val"), args.batch_tokens, kind_weights)
    for name, sampler in (("train", train), ("validation", val)):
        rows = {length: len(b[0]) for length, b in sampler.buckets.items()}
        print(f"{name} rows by length {rows}", flush=True)

    optimizer, schedule = make_optimizer(args)
    loss_fn = lambda p, ids, am, key: mdlm_loss(p, cfg, ids, am, key, coupled=args.coupled)  # noqa: E731

    @jax.jit
    def train_step(params, opt_state, ids, answer_mask, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, answer_mask, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def val_loss(params, ids, answer_mask, key):
        return mdlm_loss(params, cfg, ids, answer_mask, key)

    checkpoint_path = os.path.join(args.out, "checkpoint.pkl")
    if os.path.exists(checkpoint_path):
        with open(checkpoint_path, "rb") as fh:
            state = pickle.load(fh)
        params = jax.tree.map(jnp.asarray, state["params"])
        opt_state = jax.tree.map(jnp.asarray, state["opt_state"])
        step, rng, seconds = state["step"], np.random.default_rng(), state["seconds"]
        rng.bit_generator.state = state["rng"]
        print(f"resumed at step {step}", flush=True)
    else:
        params = init_params(cfg, jax.random.PRNGKey(args.seed))
        opt_state = optimizer.init(params)
        step, rng, seconds = 0, np.random.default_rng(args.seed), 0.0
        with open(os.path.join(args.out, "log.csv"), "w", newline="") as fh:
            csv.writer(fh).writerow(["step", "tokens", "train_loss", "lr", "seconds", "val_loss"])
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump({"model": dataclasses.asdict(cfg), "args": vars(args)}, fh, indent=1)

    def save():
        state = {"params": jax.tree.map(np.asarray, params), "opt_state": jax.tree.map(np.asarray, opt_state),
                 "step": step, "rng": rng.bit_generator.state, "seconds": seconds, "config": dataclasses.asdict(cfg)}
        with open(checkpoint_path + ".tmp", "wb") as fh:
            pickle.dump(state, fh)
        os.replace(checkpoint_path + ".tmp", checkpoint_path)

    val_rng = np.random.default_rng(1234)
    val_batches = [val.draw(val_rng) for _ in range(args.val_batches)]
    last_save, recent = time.time(), []
    while step < args.steps:
        started = time.time()
        ids, answer_mask = train.draw(rng)
        key = jax.random.PRNGKey(args.seed * 1_000_003 + step)
        params, opt_state, loss = train_step(params, opt_state, ids, answer_mask, key)
        loss = float(loss)
        if not math.isfinite(loss):
            raise SystemExit(f"loss is {loss} at step {step}: stopping (lower --lr?)")
        step += 1
        seconds += time.time() - started
        recent.append(loss)
        val_value = ""
        if step % args.val_every == 0 or step == args.steps:
            losses = [float(val_loss(params, ids, answer_mask, jax.random.PRNGKey(10_000 + i)))
                      for i, (ids, answer_mask) in enumerate(val_batches)]
            val_value = f"{np.mean(losses):.4f}"
        if step % 25 == 0 or val_value:
            tokens = step * args.batch_tokens
            with open(os.path.join(args.out, "log.csv"), "a", newline="") as fh:
                csv.writer(fh).writerow([step, tokens, f"{np.mean(recent):.4f}", f"{float(schedule(step)):.2e}",
                                         f"{seconds:.1f}", val_value])
            print(f"step {step}/{args.steps} loss {np.mean(recent):.4f} val {val_value or '-'} "
                  f"{tokens / seconds:.0f} tok/s {seconds / 60:.1f} min", flush=True)
            recent = []
        if time.time() - last_save > args.checkpoint_minutes * 60:
            save()
            last_save = time.time()
    save()
    print("done", flush=True)


if __name__ == "__main__":
    main()
