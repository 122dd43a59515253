"""Quantizes an adapted model to q4a (crates/model/src/quant.rs) with error feedback, writing the model directory
the engines load:

    python tools/train/adapt/gptq.py --model ~/.cache/unmask-train/adapt/b16-pruned \
        --examples tools/train/.cache/examples --out models/unmask-coder-135m

Why not round to nearest (`unmask convert --quant q4a`): the adaptation moves the teacher's weights by less than
half a 4-bit step, and the teacher's weights lie on a Q4_1 grid, so rounding each weight to its group's grid
takes most of them straight back to the teacher's values and the adaptation is lost (top-1 agreement with the
f32 model fell to 10-20 %). Here every matrix is quantized column by column as GPTQ does (Frantar et al.,
2022): the rounding error of a column is pushed onto the columns not yet quantized through the inverse of the
Gram matrix H = X^T X of the matrix's inputs, collected from training rows, so the layer's output X W^T, not each
weight, stays close. A group's scale and minimum are chosen (as the Rust quantizer does: f16 minimum, f16
(max - min) / 15) when the group's first column is reached, from the weights as updated so far. The embedding is
tied to the head, and its error matters most there (rounded to nearest it alone cut the agreement to 78 %), so it
is quantized as the head, against the Gram matrix of the final hidden states (90 %).

The levels, scales and minimums are written as stored (U32 words, F16 `.scales` and `.mins`), not re-quantized
by the converter, which would pick other grids. Prints the top-1 agreement of the masked-token predictions with
the f32 model on validation rows, for rounding to nearest and for this.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as M  # noqa: E402
import rows as R  # noqa: E402

GROUP = 32
LEVELS = 15
MASK_ID = 16
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Projections that read the same input share its statistics.
SAME_INPUT = {"k_proj": "q_proj", "v_proj": "q_proj", "up_proj": "gate_proj"}


def f16(x):
    return x.half().float()


def group_grid(w):
    """Per row of `w` [rows, GROUP]: (scale, minimum) as f16 values, the Rust quantizer's rule."""
    low = f16(w.min(1).values)
    return f16((w.max(1).values - low) / LEVELS), low


def levels_of(w, scale, low):
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    q = torch.clamp(torch.round((w - low[:, None]) / safe[:, None]), 0, LEVELS)
    return torch.where(scale[:, None] == 0, torch.zeros_like(q), q)


def round_to_nearest(w):
    """Levels [rows, cols], scales and minimums [rows, cols / GROUP] of `w`, each group on its own grid."""
    rows, cols = w.shape
    groups = w.reshape(-1, GROUP)
    scale, low = group_grid(groups)
    return levels_of(groups, scale, low).reshape(rows, cols), scale.reshape(rows, -1), low.reshape(rows, -1)


def gptq(w, gram, damp=0.01, block=128):
    """GPTQ of `w` [rows, cols] against the input Gram matrix `gram` [cols, cols] (float64 accumulated)."""
    w = w.clone().double()
    rows, cols = w.shape
    h = gram.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=h.dtype)
    # The upper Cholesky factor of H^-1: row i holds how column i's error spreads over the later columns.
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    levels = torch.zeros(rows, cols, dtype=torch.float64)
    scales = torch.zeros(rows, cols // GROUP, dtype=torch.float64)
    mins = torch.zeros_like(scales)
    for start in range(0, cols, block):
        end = min(start + block, cols)
        errors = torch.zeros(rows, end - start, dtype=torch.float64)
        for i in range(start, end):
            if i % GROUP == 0:
                scale, low = group_grid(w[:, i:i + GROUP].float())
                scales[:, i // GROUP], mins[:, i // GROUP] = scale.double(), low.double()
            scale, low = scales[:, i // GROUP], mins[:, i // GROUP]
            q = levels_of(w[:, i:i + 1].float(), scale.float(), low.float())[:, 0].double()
            levels[:, i] = q
            error = (w[:, i] - (q * scale + low)) / hinv[i, i]
            w[:, i + 1:end] -= error[:, None] * hinv[i, i + 1:end][None, :]
            errors[:, i - start] = error
        w[:, end:] -= errors @ hinv[start:end, end:]
    return levels, scales.float(), mins.float()


def dequantize(levels, scales, mins):
    return (levels.float() * scales.repeat_interleave(GROUP, 1) + mins.repeat_interleave(GROUP, 1)).float()


def pack(levels, scales, mins):
    """The stored form: 8 nibbles per little-endian u32 (column 8j+n in bits 4n..4n+3), f16 scales and mins."""
    q = levels.to(torch.int64).numpy().astype(np.uint32)
    rows, cols = q.shape
    q = q.reshape(rows, cols // 8, 8)
    words = np.zeros((rows, cols // 8), dtype=np.uint32)
    for n in range(8):
        words |= q[:, :, n] << np.uint32(4 * n)
    return words, scales.half().numpy(), mins.half().numpy()


def split_rows(model_dir, examples, split, count, eos, block, seed):
    """The first `count` rows of a split, tokenized with the model's own (pruned) tokenizer."""
    with tempfile.TemporaryDirectory() as cache:
        ids, starts, _ = R.load(cache, split, examples, os.path.join(model_dir, "tokenizer.json"), eos, block, 256,
                                seed, limit=count)
    return ids, starts


def calibration_rows(model_dir, examples, count, eos, block, seed=0):
    """`count` training rows with their answers masked at ratios spread over (0, 1), as decoding sees them."""
    ids, starts = split_rows(model_dir, examples, "train", count, eos, block, seed)
    rng = np.random.default_rng(seed)
    out = []
    for i, (row, start) in enumerate(zip(ids, starts)):
        row = row.copy()
        ratio = (i + 0.5) / len(ids)
        answer = np.arange(start, len(row))
        row[answer[rng.random(len(answer)) < ratio]] = MASK_ID
        out.append((torch.tensor(row[None, :], dtype=torch.long), torch.tensor(row[None, :] == MASK_ID)))
    return out


def collect_grams(model, rows, attention):
    """Σ xᵀx of every projection's input over all calibration tokens (f32 products, f64 sums), keyed by
    (layer, projection) for the projections that own an input (SAME_INPUT maps the others), and of the final
    hidden states, the tied head's input, as "head"."""
    grams, hooks = {}, []
    for l, layer in enumerate(model.layers):
        for name in PROJECTIONS:
            if name in SAME_INPUT:
                continue
            def hook(_, inputs, __, key=(l, name)):
                x = inputs[0].reshape(-1, inputs[0].shape[-1])
                grams[key] = grams.get(key, 0) + (x.T @ x).double()
            hooks.append(getattr(layer, name).register_forward_hook(hook))
    with torch.no_grad():
        for ids, _ in rows:
            final = model.hidden(ids, attention(ids.shape[1]))[0]
            grams["head"] = grams.get("head", 0) + (final.T @ final).double()
    for h in hooks:
        h.remove()
    return grams


def agreement(model, reference_logits, rows, attention):
    """Top-1 agreement with `reference_logits` at the masked positions (logit shift: row i - 1 predicts i)."""
    same = total = 0
    with torch.no_grad():
        for (ids, masked), ref in zip(rows, reference_logits):
            logits = model.logits(model.hidden(ids, attention(ids.shape[1])))[0]
            at = torch.nonzero(masked[0])[:, 0] - 1
            same += (logits[at].argmax(-1) == ref[at].argmax(-1)).sum().item()
            total += len(at)
    return same / max(total, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="an f32 model directory (export.py, then prune_vocab.py)")
    ap.add_argument("--examples", required=True, help="data_pipeline's examples/ directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=128, help="calibration rows from the training split")
    ap.add_argument("--threads", type=int, default=max(1, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    config = json.load(open(os.path.join(args.model, "config.json")))
    block = config["block_size"]
    eos = config["eos_token_id"][0] if isinstance(config["eos_token_id"], list) else config["eos_token_id"]
    model = M.load(args.model)
    attention = lambda seq: M.attention_mask(config["attention"], block, seq)  # noqa: E731
    calibration = calibration_rows(args.model, args.examples, args.rows, eos, block)
    held_out = []
    for row, start in zip(*split_rows(args.model, args.examples, "val", 16, eos, block, 1)):
        row = row.copy()
        masked = np.zeros(len(row), dtype=bool)
        masked[start:] = np.random.default_rng(len(held_out)).random(len(row) - start) < 0.5
        row[masked] = MASK_ID
        held_out.append((torch.tensor(row[None, :], dtype=torch.long), torch.tensor(masked[None, :])))
    with torch.no_grad():
        reference = [model.logits(model.hidden(ids, attention(ids.shape[1])))[0] for ids, _ in held_out]

    print(f"collecting input statistics on {len(calibration)} rows", flush=True)
    grams = collect_grams(model, calibration, attention)
    original = {k: v.detach().clone() for k, v in model.hf_state().items()}
    stored, rtn = {}, {}
    for l, layer in enumerate(model.layers):
        for name in PROJECTIONS:
            linear = getattr(layer, name)
            w = linear.weight.detach().float()
            rtn[(l, name)] = dequantize(*round_to_nearest(w))
            levels, scales, mins = gptq(w, grams[(l, SAME_INPUT.get(name, name))])
            stored[(l, name)] = (levels, scales, mins)
            with torch.no_grad():
                linear.weight.copy_(dequantize(levels, scales, mins))
        print(f"layer {l} quantized", flush=True)
    embed = model.embed_tokens.weight.detach().float()
    embed_parts = gptq(embed, grams["head"])
    with torch.no_grad():
        model.embed_tokens.weight.copy_(dequantize(*embed_parts))
    ours = agreement(model, reference, held_out, attention)
    with torch.no_grad():
        for (l, name), w in rtn.items():
            getattr(model.layers[l], name).weight.copy_(w)
    nearest = agreement(model, reference, held_out, attention)
    print(f"top-1 agreement with the f32 model on {len(held_out)} validation rows (half of each answer masked): "
          f"round to nearest {100 * nearest:.1f} %, error feedback {100 * ours:.1f} %")

    tensors = {}
    def put(name, parts):
        words, scales, mins = pack(*parts)
        tensors[name], tensors[name + ".scales"], tensors[name + ".mins"] = words, scales, mins
    put("model.embed_tokens.weight", embed_parts)
    for (l, name), parts in stored.items():
        kind = "self_attn" if name in PROJECTIONS[:4] else "mlp"
        put(f"model.layers.{l}.{kind}.{name}.weight", parts)
    for name, value in original.items():
        if value.dim() == 1:
            tensors[name] = value.float().numpy()
    os.makedirs(args.out, exist_ok=True)
    metadata = {"unmask.quant": "q4a", "unmask.group_size": str(GROUP),
                "quantized_by": "tools/train/adapt/gptq.py", "calibration_rows": str(args.rows),
                "agreement_top1": f"{ours:.4f}", "agreement_top1_round_to_nearest": f"{nearest:.4f}"}
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata=metadata)
    for name in ("config.json", "generation_config.json", "tokenizer.json", "vocab_map.json"):
        if os.path.exists(os.path.join(args.model, name)):
            shutil.copy(os.path.join(args.model, name), os.path.join(args.out, name))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
