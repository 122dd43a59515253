"""Export a training checkpoint as a model directory the Rust engine loads (Hugging Face Qwen2 layout).

  python tools/train/export.py --run tools/train/.cache/run --tokenizer tools/train/tokenizer.json \
      --out models/unmask-coder [--dtype float16]
"""

import argparse
import json
import os
import pickle
import shutil

import numpy as np
from safetensors.numpy import save_file

from model import Config


def load_checkpoint(run):
    with open(os.path.join(run, "checkpoint.pkl"), "rb") as fh:
        state = pickle.load(fh)
    return Config(**state["config"]), {k: np.asarray(v) for k, v in state["params"].items()}, state


def export(run, tokenizer, out, dtype="float16"):
    cfg, params, state = load_checkpoint(run)
    np_dtype = {"float16": np.float16, "float32": np.float32}[dtype]
    os.makedirs(out, exist_ok=True)
    tensors = {name: np.ascontiguousarray(value.astype(np_dtype)) for name, value in sorted(params.items())}
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt", "training_step": str(state["step"])})
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg.hf_config(dtype), fh, indent=2)
        fh.write("\n")
    shutil.copyfile(tokenizer, os.path.join(out, "tokenizer.json"))
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    args = ap.parse_args()
    cfg = export(args.run, args.tokenizer, args.out, args.dtype)
    print(f"exported {cfg.parameter_count() / 1e6:.2f} M parameters to {args.out}")


if __name__ == "__main__":
    main()
