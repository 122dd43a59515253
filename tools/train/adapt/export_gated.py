"""Writes a mask-gated training run (train_gated.py) as a delta model directory the Rust engines load over the
fetched base:

    python tools/train/adapt/export_gated.py --teacher ~/.cache/unmask-train/teacher/qwen-f32 \
        --run ~/.cache/unmask-train/gated/b16-r32 --out models/unmask-coder-0.5b

The directory holds only what training made: model.safetensors with the adapters (`lora_a`, `lora_b` with the
scale folded in, `model.mask_embedding`) in float16, and config.json, the teacher's with `attention:
masks_see_block`, the block size, `adapter_rank`, the mask id, and `base_model` (where `unmask` finds the base:
crates/model/src/base.rs). generation_config.json holds the recommended decoding: threshold decoding in blocks
aligned with the attention's, committing the leftmost mask every step (never worse than the base model's greedy
answer) and every other mask above the threshold.

A run trained as plain block diffusion (`train_gated.py --attention block_causal`, for comparison) is written
whole instead (`merged`): f32 weights with the updates folded in, its tokenizer and chat template, 2.4 GB.
"""

import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import gated  # noqa: E402
import model as M  # noqa: E402

BASE = {"name": "qwen2.5-coder-0.5b-instruct", "file": "qwen2.5-coder-0.5b-instruct.gguf",
        "fetch": "cargo xtask qwen-coder --fetch"}


def recommended_decoding(block, threshold, gated_run=True):
    # Checked drafts lean on token rows being the teacher's, which only the gated attention guarantees.
    return {"algorithm": "threshold", "block_length": block, "align_blocks": True, "threshold": threshold,
            "commit_leftmost": True, "verify_drafts": gated_run, "max_new_tokens": 256, "temperature": 0.0,
            "stop_at_end": True, "prompt_format": "chat_opened"}


def merged(model, adapters, mask_id):
    """A block-diffusion run (`--attention block_causal`) as a whole model: its updates act on every position,
    which the engines' mask-gated adapters do not, so they are folded into the weights (f32, the teacher's size),
    and the mask embedding becomes the mask id's row of the (tied) embedding. For local evaluation only."""
    tensors = {name: t.detach().clone() for name, t in model.hf_state().items()}
    factors = adapters.tensors()
    for name, a in factors.items():
        if name.endswith(".lora_a"):
            base = name[:-len(".lora_a")]
            tensors[base + ".weight"] += factors[base + ".lora_b"] @ a
    tensors["model.embed_tokens.weight"][mask_id] = factors["model.mask_embedding"]
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="the teacher in the Rust layout (its config.json is the base)")
    ap.add_argument("--run", required=True, help="the training run directory (holds checkpoint.pt)")
    ap.add_argument("--out", required=True)
    # 0.5 drafted the most tokens per pass on the threshold dial (README); with checked drafts the answer does not move.
    ap.add_argument("--threshold", type=float, default=0.5, help="the recommended confidence threshold")
    args = ap.parse_args()

    ck = torch.load(os.path.join(args.run, "checkpoint.pt"), weights_only=False)
    run = ck["args"]
    model = M.load(args.teacher)
    adapters = gated.GatedAdapters(model, run["rank"])
    adapters.load_state_dict(ck["adapters"])
    gated_run = run.get("attention", gated.GATED) == gated.GATED
    if gated_run:
        tensors = {name: t.to(torch.float16).contiguous() for name, t in adapters.tensors().items()}
    else:
        tensors = {name: t.contiguous() for name, t in merged(model, adapters, run["mask_id"]).items()}

    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    save_file(tensors, tmp, metadata={"format": "pt", "trained_steps": str(ck["step"]),
                                       "trained_tokens": str(ck["tokens"])})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.teacher, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    if gated_run:
        config.update({"attention": gated.GATED, "block_size": run["block"], "adapter_rank": run["rank"],
                       "mask_token_id": run["mask_id"], "shift_logits": True, "base_model": BASE})
    else:
        config.update({"attention": gated.BLOCK, "block_size": run["block"], "mask_token_id": run["mask_id"],
                       "shift_logits": True})
        for name in ("tokenizer.json", "chat_template.jinja"):
            shutil.copy(os.path.join(args.teacher, name), args.out)
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(args.out, "generation_config.json"), "w", encoding="utf-8") as fh:
        json.dump(recommended_decoding(run["block"], args.threshold, gated_run), fh, indent=2)
        fh.write("\n")
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(f"wrote {args.out}: step {ck['step']}, {ck['tokens']:,} tokens, block {run['block']}, rank {run['rank']}, "
          f"{size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
