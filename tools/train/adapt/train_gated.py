"""Trains mask-gated adapters (gated.py) over the frozen teacher on its own answers (answers.py), resumably.

    python tools/train/adapt/train_gated.py --teacher ~/.cache/unmask-train/teacher/qwen-f32 \
        --answers ~/.cache/unmask-train/answers/train.jsonl --val-answers ~/.cache/unmask-train/answers/val.jsonl \
        --out ~/.cache/unmask-train/gated/b16-r32

Rerun the same command after an interruption: it continues from OUT/checkpoint.pt (written atomically every
--checkpoint-minutes and on SIGTERM). OUT/log.csv has a line per step, OUT/eval.csv the validation accuracy of
masked tokens at ratios 0.25 / 0.5 / 0.9 (earlier blocks clean, as in decoding): all masked tokens, and those
beyond the AR floor (predicted from a mask, not from the pretrained model's own next-token guess), on the
teacher's answers to the validation split's prompts (`answers.py --split val`). The training answers file may
still be growing: each epoch rereads it.

`--attention block_causal` trains the same adapters as plain block diffusion (gated.py), for comparing the two
at equal compute; `--steps` stops a run at a given step.

Only the adapters train; the teacher runs in bfloat16 where that is faster (AMX), its weights never change.
"""

import argparse
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import gated  # noqa: E402
import model as M  # noqa: E402
from runlog import RunLog, stop_on_sigterm  # noqa: E402
from train import faster_dtype  # noqa: E402

END_OF_TURN, END_OF_TEXT = 151645, 151643
RATIOS = (0.25, 0.5, 0.9)


def read_rows(path, block, max_len):
    """(index, ids, answer start) of each finished answer: prompt, answer, end of turn, end-of-text filler to the
    block's end."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                continue  # the writer is mid-line
            a = json.loads(line)
            if not a["ended"]:
                continue
            ids = a["prompt_ids"] + a["answer_ids"] + [END_OF_TURN]
            ids += [END_OF_TEXT] * (-len(ids) % block)
            if len(ids) <= max_len:
                rows.append((a["index"], torch.tensor(ids), len(a["prompt_ids"])))
    return rows


def evaluate(model, adapters, val, block, mask_id, attention):
    out = {}
    for ratio in RATIOS:
        gen = torch.Generator().manual_seed(1234)
        hits = masked = trained_hits = trained = 0
        for _, ids, start in val:
            with torch.no_grad():
                _, st = gated.gated_loss(model, adapters, ids, start, block, mask_id, gen, samples=1, ratio=ratio,
                                         train=False, attention=attention)
            hits += st["hits"]
            masked += st["masked"]
            trained_hits += st["trained_hits"]
            trained += st["trained"]
        out[ratio] = (hits / max(1, masked), trained_hits / max(1, trained))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="the teacher in the Rust layout (unmask convert --quant f32)")
    ap.add_argument("--answers", required=True, help="answers.py's output on the training split")
    ap.add_argument("--val-answers", required=True, help="answers.py's output on the validation split")
    ap.add_argument("--out", required=True)
    ap.add_argument("--block", type=int, default=16)
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--attention", choices=(gated.GATED, gated.BLOCK), default=gated.GATED,
                    help="mask-gated adapters (the AR floor), or the same adapters as plain block diffusion")
    ap.add_argument("--max-len", type=int, default=384)
    ap.add_argument("--samples", type=int, default=4, help="noisy copies of each row per pass (share its clean pass)")
    ap.add_argument("--rows-per-step", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--hours", type=float, default=1e9, help="stop after this much training time (this run)")
    ap.add_argument("--steps", type=int, default=None, help="stop at this step (all runs together)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-rows", type=int, default=32)
    ap.add_argument("--checkpoint-minutes", type=float, default=10)
    ap.add_argument("--mask-id", type=int, default=151665,
                    help="the mask's id: a row of the embedding no token uses, so every text reads as before")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = M.load(args.teacher).eval()
    model.requires_grad_(False)
    dtype = faster_dtype()
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    adapters = gated.GatedAdapters(model, args.rank)
    opt = torch.optim.AdamW(adapters.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    step, tokens, elapsed, epoch, seen, epoch_rows = 0, 0, 0.0, 0, 0, None
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=False)
        adapters.load_state_dict(ck["adapters"])
        opt.load_state_dict(ck["opt"])
        step, tokens, elapsed, epoch, seen = ck["step"], ck["tokens"], ck["elapsed"], ck["epoch"], ck["seen"]
        epoch_rows = ck.get("epoch_rows")
        print(f"resumed at step {step} ({tokens:,} tokens, {elapsed / 3600:.2f} h)", flush=True)
    n_params = sum(p.numel() for p in adapters.parameters())
    val = read_rows(args.val_answers, args.block, args.max_len)[:args.eval_rows]
    print(f"adapters: {n_params:,} weights (rank {args.rank}); {args.attention}, block {args.block}; "
          f"teacher in {dtype}; "
          f"{len(val)} validation rows; {args.threads} threads", flush=True)

    log = RunLog(args.out, step, ["step", "tokens", "loss", "accuracy", "tokens_per_s", "hours", "epoch"],
                 ["step", "tokens"] + [f"{k}_{r}" for r in RATIOS for k in ("all", "floor+")])

    def run_eval():
        acc = evaluate(model, adapters, val, args.block, args.mask_id, args.attention)
        log.eval([step, tokens] + [f"{acc[r][i]:.4f}" for r in RATIOS for i in (0, 1)])
        print(f"step {step} validation accuracy (all / beyond the AR floor)",
              {r: tuple(round(x, 4) for x in acc[r]) for r in RATIOS}, flush=True)

    if step == 0:
        run_eval()

    stop = stop_on_sigterm()

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"adapters": adapters.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens,
                    "elapsed": elapsed, "epoch": epoch, "seen": seen,
                    "epoch_rows": epoch_rows, "args": vars(args)}, tmp)
        os.replace(tmp, ckpt_path)

    run_start, last_ckpt = time.time(), time.time()

    def go_on():
        return time.time() - run_start < args.hours * 3600 and not stop and (args.steps is None or step < args.steps)

    while go_on():
        # Rows are appended as the answers file grows: an epoch covers the rows that existed when it started
        # (`epoch_rows`, kept across a resume so the shuffled order is the same); `seen` counts the rows of
        # this epoch already trained, so a resume skips them.
        rows = read_rows(args.answers, args.block, args.max_len)
        if seen == 0 or epoch_rows is None:
            epoch_rows = len(rows)
        rows = rows[:epoch_rows]
        random.Random(epoch).shuffle(rows)
        while seen + args.rows_per_step <= len(rows) and go_on():
            batch = rows[seen:seen + args.rows_per_step]
            gen = torch.Generator().manual_seed(step)
            t0 = time.time()
            lr = args.lr * min(1.0, (step + 1) / args.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            total, hits, masked, n_tok = 0.0, 0, 0, 0
            for _, ids, start in batch:
                loss, st = gated.gated_loss(model, adapters, ids, start, args.block, args.mask_id, gen,
                                            samples=args.samples, attention=args.attention)
                if loss is not None:
                    (loss / len(batch)).backward()
                    total += loss.item() / len(batch)
                hits, masked = hits + st["hits"], masked + st["masked"]
                n_tok += len(ids)
            torch.nn.utils.clip_grad_norm_(adapters.parameters(), 1.0)
            opt.step()
            dt = time.time() - t0
            step, seen, tokens, elapsed = step + 1, seen + len(batch), tokens + n_tok, elapsed + dt
            log.step([step, tokens, f"{total:.4f}", f"{hits / max(1, masked):.4f}", f"{n_tok / dt:.1f}",
                      f"{elapsed / 3600:.4f}", epoch])
            if step % 10 == 0:
                print(f"step {step} epoch {epoch} row {seen}/{len(rows)} tokens {tokens:,} loss {total:.3f} "
                      f"{n_tok / dt:.0f} row tokens/s", flush=True)
            if step % args.eval_every == 0:
                run_eval()
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                save()
                last_ckpt = time.time()
        if seen + args.rows_per_step > len(rows):
            epoch, seen, epoch_rows = epoch + 1, 0, None
    save()
    print(f"stopped at step {step} ({tokens:,} tokens)", flush=True)


if __name__ == "__main__":
    main()
