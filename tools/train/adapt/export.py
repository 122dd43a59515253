"""Writes an adaptation checkpoint as a model directory the Rust engine loads (f32; `unmask convert` quantizes it):

    python tools/train/adapt/export.py --teacher ~/.cache/unmask-train/teacher/smollm2-f32 \
        --run ~/.cache/unmask-train/adapt/b16 --out ~/.cache/unmask-train/adapt/b16/model

config.json is the teacher's with the attention the model was trained for (`block_causal` and its block size);
generation_config.json holds the decoding settings recommended for it (semi-autoregressive blocks aligned with
the attention blocks, see ARCHITECTURE.md), which `unmask generate` and the page start from.
"""

import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import model as M  # noqa: E402


def recommended_decoding(block):
    # One commit per step (in the order the model picks inside each block): after 0.46 M training tokens, two
    # commits per step already cost correctness ("return a" instead of "return a + b"); fewer steps need more
    # training. Stopping at the answer's end skips the steps that would only fill the cells after it.
    return {"algorithm": "llada", "remasking": "low_confidence", "block_length": block, "align_blocks": True,
            "steps": 128, "max_new_tokens": 128, "temperature": 0.0, "stop_at_end": True}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--run", required=True, help="the training run directory (holds checkpoint.pt)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    ck = torch.load(os.path.join(args.run, "checkpoint.pt"), weights_only=False)
    block = ck["args"]["block"]
    model = M.load(args.teacher)
    if ck["args"].get("layers"):
        M.keep_layers(model, M.evenly_spaced_layers(model.c.num_hidden_layers, ck["args"]["layers"]))
    missing = model.load_state_dict(ck["model"], strict=False).missing_keys
    if any(not k.startswith("embed_tokens") for k in missing):
        raise SystemExit(f"the checkpoint lacks {missing[0]}: is --teacher the model the run started from?")
    tensors = {name: t.detach().float().contiguous() for name, t in model.hf_state().items()}

    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    save_file(tensors, tmp, metadata={"format": "pt", "trained_steps": str(ck["step"]),
                                       "trained_tokens": str(ck["tokens"])})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.teacher, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    config.update({"attention": "block_causal", "block_size": block, "shift_logits": True,
                   "num_hidden_layers": model.c.num_hidden_layers})
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(args.out, "generation_config.json"), "w", encoding="utf-8") as fh:
        json.dump(recommended_decoding(block), fh, indent=2)
        fh.write("\n")
    for name in ("tokenizer.json", "vocab_map.json"):  # vocab_map.json: when the teacher's vocabulary was pruned
        if os.path.exists(os.path.join(args.teacher, name)):
            shutil.copy(os.path.join(args.teacher, name), os.path.join(args.out, name))
    print(f"wrote {args.out}: step {ck['step']}, {ck['tokens']:,} tokens, block {block}")


if __name__ == "__main__":
    main()
