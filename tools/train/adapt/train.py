"""Adapts the autoregressive teacher into a block-diffusion coder (objective.py), resumably.

    python tools/train/adapt/train.py --teacher ~/.cache/unmask-train/teacher/smollm2-f32 \
        --examples tools/train/.cache/examples --out ~/.cache/unmask-train/adapt-b16 --block 16

Rerun the same command after an interruption: it continues from OUT/checkpoint.pt (written atomically every
--checkpoint-minutes). OUT/log.csv gets one line per step, OUT/eval.csv the validation masked-token accuracy at
mask ratios 0.15 / 0.5 / 0.9 (clean earlier blocks, as in decoding) every --eval-every steps; OUT/model holds the
latest weights in the Rust engine's layout (f32 safetensors + config.json + tokenizer.json, see export.py).

The embedding (tied to the head) stays frozen: it is a fifth of the weights, its gradient is the costliest
(the full vocabulary at every trained row) and the pretrained vocabulary needs no new meaning. Matrix products
run in bfloat16 autocast where that is faster on this CPU (--dtype auto measures it); master weights and optimizer
stay float32.
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import model as M  # noqa: E402
import objective  # noqa: E402
import rows as R  # noqa: E402
from runlog import RunLog, stop_on_sigterm  # noqa: E402


def faster_dtype(seconds=0.5):
    """bf16 autocast or f32, whichever multiplies a training-shaped product faster here. CPU flags do not tell:
    AMX makes bf16 several times faster; AVX512-BF16 made it 2x faster on one CPU (AMD Zen 4) and 1.6x slower
    on another (an Intel Xeon without AMX)."""
    a, b = torch.randn(2048, 576), torch.randn(576, 1536)

    def products_per_second(bf16):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            a @ b
            started, n = time.perf_counter(), 0
            while time.perf_counter() - started < seconds:
                a @ b
                n += 1
        return n / (time.perf_counter() - started)

    return "bf16" if products_per_second(True) > products_per_second(False) else "f32"


def evaluate(model, val, block, mask_id, dtype):
    model.eval()
    out = {}
    for ratio in (0.15, 0.5, 0.9):
        gen = torch.Generator().manual_seed(1234)
        hits = masked = 0
        for ids, starts in val:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                _, st = objective.block_diffusion_loss(model, ids, starts, block, mask_id, gen, ratio=ratio,
                                                       train=False)
            hits += st["hits"]
            masked += st["masked"]
        out[ratio] = hits / max(1, masked)
    model.train()
    return out


def val_batches(rows, starts, count, seed=0):
    """A fixed validation set: `count` rows, one per batch (rows differ in length)."""
    rng = random.Random(seed)
    pick = rng.sample(range(len(rows)), min(count, len(rows)))
    return [(torch.from_numpy(rows[i][None].astype(np.int64)), torch.tensor([int(starts[i])])) for i in pick]


def save_checkpoint(path, model, opt, step, tokens, elapsed, args):
    tmp = path + ".tmp"
    torch.save({"model": {k: v for k, v in model.state_dict().items() if not k.startswith("embed_tokens")},
                "opt": opt.state_dict(), "step": step, "tokens": tokens, "elapsed": elapsed, "args": vars(args)},
               tmp)
    os.replace(tmp, path)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="the teacher in the Rust layout (unmask convert --quant f32)")
    ap.add_argument("--examples", required=True, help="data_pipeline's examples/ directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--block", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--batch-tokens", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--hours", type=float, default=1e9, help="stop after this much training time (this run)")
    ap.add_argument("--decay-minutes", type=float, default=0.0,
                    help="over the last this many minutes of --hours, the learning rate falls linearly to a tenth")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)))
    ap.add_argument("--dtype", choices=["auto", "bf16", "f32"], default="auto")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-rows", type=int, default=48)
    ap.add_argument("--checkpoint-minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distil", type=float, default=0.0,
                    help="weight of the frozen teacher's soft targets against the observed tokens (objective.py)")
    ap.add_argument("--teacher-kind", choices=["causal", "same_state"], default="causal",
                    help="what the frozen --teacher is: the autoregressive model (soft targets from the clean causal "
                         "prefix) or an adapted diffusion model (soft targets from the same noisy state)")
    ap.add_argument("--layers", type=int, default=0,
                    help="train a student: this many of the teacher's layers, evenly spaced, first and last kept "
                         "(0: all layers, the adaptation itself)")
    ap.add_argument("--function-weight", type=int, default=2,
                    help="how many times a function row counts against a file chunk (the product writes functions)")
    return ap.parse_args()


def special_tokens(teacher_dir):
    """The teacher's mask token and (first) end-of-text token."""
    with open(os.path.join(teacher_dir, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    eos = config["eos_token_id"]
    return config["mask_token_id"], eos[0] if isinstance(eos, list) else eos


def load_rows(args, tokenizer, eos):
    """Training rows (function rows repeated --function-weight times) and validation rows, cached beside OUT."""
    cache = os.path.join(args.out, "..", "rows")
    os.makedirs(cache, exist_ok=True)
    train_rows, train_starts, kinds = R.load(cache, "train", args.examples, tokenizer, eos, args.block, args.max_len)
    repeat = [args.function_weight if k == 0 else 1 for k in kinds]
    train_rows = [r for r, n in zip(train_rows, repeat) for _ in range(n)]
    train_starts = [s for s, n in zip(train_starts, repeat) for _ in range(n)]
    val_rows, val_starts, _ = R.load(cache, "val", args.examples, tokenizer, eos, args.block, args.max_len)
    return train_rows, train_starts, val_rows, val_starts


def build_model(args):
    """The model to train (the teacher, or a student of --layers of its layers; embedding frozen), its optimizer,
    and the frozen teacher when distilling."""
    model = M.load(args.teacher)
    if args.layers:
        keep = M.evenly_spaced_layers(model.c.num_hidden_layers, args.layers)
        print(f"student: layers {keep} of the teacher's {model.c.num_hidden_layers}", flush=True)
        M.keep_layers(model, keep)
    model.embed_tokens.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    teacher = None
    if args.distil > 0:
        teacher = M.load(args.teacher).eval()
        teacher.requires_grad_(False)
    return model, params, opt, teacher


def learning_rate(args, step, seconds_left):
    """Linear warm-up, then constant, then (--decay-minutes) a linear fall to a tenth at the end of --hours."""
    lr = args.lr * min(1.0, (step + 1) / args.warmup)
    if args.decay_minutes > 0:
        lr *= 0.1 + 0.9 * min(1.0, max(0.0, seconds_left / (args.decay_minutes * 60)))
    return lr


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    dtype = args.dtype if args.dtype != "auto" else faster_dtype()
    os.makedirs(args.out, exist_ok=True)
    mask_id, eos = special_tokens(args.teacher)
    train_rows, train_starts, val_rows, val_starts = load_rows(args, os.path.join(args.teacher, "tokenizer.json"), eos)
    print(f"{len(train_rows)} training rows ({sum(len(r) for r in train_rows):,} tokens), "
          f"{len(val_rows)} validation rows; block {args.block}; {dtype}; {args.threads} threads", flush=True)
    model, params, opt, teacher = build_model(args)

    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    step, tokens, elapsed = 0, 0, 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"], strict=False)
        opt.load_state_dict(ck["opt"])
        step, tokens, elapsed = ck["step"], ck["tokens"], ck["elapsed"]
        print(f"resumed at step {step} ({tokens:,} tokens, {elapsed / 3600:.2f} h)", flush=True)
    log = RunLog(args.out, step, ["step", "tokens", "loss", "accuracy", "tokens_per_s", "hours"],
                 ["step", "tokens", "acc_0.15", "acc_0.5", "acc_0.9"])
    val = val_batches(val_rows, val_starts, args.eval_rows)

    def run_eval():
        acc = evaluate(model, val, args.block, mask_id, dtype)
        log.eval([step, tokens] + [f"{acc[r]:.4f}" for r in (0.15, 0.5, 0.9)])
        print(f"step {step} validation accuracy", {k: round(v, 4) for k, v in acc.items()}, flush=True)

    if step == 0:
        run_eval()
    rng = random.Random(args.seed * 1_000_003 + step)
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    stream = R.batches(train_rows, train_starts, args.batch_tokens, rng)
    stop = stop_on_sigterm()
    run_start, last_ckpt = time.time(), time.time()
    model.train()
    while step < args.steps and time.time() - run_start < args.hours * 3600 and not stop:
        ids, starts = next(stream)
        ids, starts = torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(starts.astype(np.int64))
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = learning_rate(args, step, args.hours * 3600 - (time.time() - run_start))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            loss, st = objective.block_diffusion_loss(model, ids, starts, args.block, mask_id, gen,
                                                      teacher=teacher, distil=args.distil,
                                                      teacher_kind=args.teacher_kind)
        if loss is None:
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.time() - t0
        step, tokens, elapsed = step + 1, tokens + ids.numel(), elapsed + dt
        log.step([step, tokens, f"{loss.item():.4f}", f"{st['hits'] / max(1, st['masked']):.4f}",
                  f"{ids.numel() / dt:.1f}", f"{elapsed / 3600:.4f}"])
        if step % 10 == 0:
            print(f"step {step} tokens {tokens:,} loss {loss.item():.3f} {ids.numel() / dt:.0f} tok/s", flush=True)
        if step % args.eval_every == 0:
            run_eval()
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save_checkpoint(ckpt_path, model, opt, step, tokens, elapsed, args)
            last_ckpt = time.time()
    save_checkpoint(ckpt_path, model, opt, step, tokens, elapsed, args)
    print(f"stopped at step {step} ({tokens:,} tokens)", flush=True)


if __name__ == "__main__":
    main()
