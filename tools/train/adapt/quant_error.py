"""How much of a model's weights 4-bit storage loses, per matrix and in all, for the engines' q4 (symmetric:
one f16 scale per group of 32, levels -7..7) against candidates the engines do not have yet: the same with the
scale searched for least squared error, with the 16th level used (llama.cpp's Q4_0), and asymmetric (a scale and
a minimum per group, llama.cpp's Q4_1, the format SmolLM2's GGUF ships in).

    python tools/train/adapt/quant_error.py ~/.cache/unmask-train/adapt/b16-model/model.safetensors

Prints each scheme's squared reconstruction error relative to the matrix's squared norm (NumPy only).
"""

import argparse

import numpy as np
from safetensors.numpy import load_file

GROUP = 32


def symmetric(groups, factors=(1.0,)):
    """Levels -7..7 times max|w| / 7 (scaled by the factor that loses least, per group)."""
    top = np.abs(groups).max(1, keepdims=True)
    best_err, best = None, None
    for f in factors:
        scale = np.where(top == 0, 1, top * f / 7)
        q = np.clip(np.round(groups / scale), -7, 7) * scale
        err = ((q - groups) ** 2).sum(1)
        if best is None:
            best_err, best = err, q
        else:
            better = err < best_err
            best_err, best = np.where(better, err, best_err), np.where(better[:, None], q, best)
    return best


def sixteen_levels(groups):
    """Levels -8..7: the largest-magnitude weight lands exactly on -8 (its sign picks the scale's)."""
    at = np.abs(groups).argmax(1)
    extreme = groups[np.arange(len(groups)), at][:, None]
    scale = np.where(extreme == 0, 1, extreme / -8)
    return np.clip(np.round(groups / scale), -8, 7) * scale


def asymmetric(groups):
    """Levels 0..15 between the group's minimum and maximum."""
    low, high = groups.min(1, keepdims=True), groups.max(1, keepdims=True)
    scale = np.where(high == low, 1, (high - low) / 15)
    return np.round((groups - low) / scale) * scale + low


SCHEMES = {
    "q4 (engines)": symmetric,
    "q4, searched scale": lambda g: symmetric(g, factors=np.linspace(0.6, 1.0, 17)),
    "16 levels (Q4_0)": sixteen_levels,
    "asymmetric (Q4_1)": asymmetric,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", help="an f32 model.safetensors")
    args = ap.parse_args()
    tensors = load_file(args.weights)
    totals = {name: 0.0 for name in SCHEMES}
    norm = 0.0
    print("matrix".ljust(44) + "".join(name.rjust(22) for name in SCHEMES))
    for name, w in sorted(tensors.items()):
        if w.ndim != 2 or w.shape[1] % GROUP:
            continue
        groups = w.astype(np.float32).reshape(-1, GROUP)
        squared = float((groups ** 2).sum())
        norm += squared
        row = []
        for scheme, quantize in SCHEMES.items():
            err = float(((quantize(groups) - groups) ** 2).sum())
            totals[scheme] += err
            row.append(err / squared)
        if name.startswith("model.layers.") and not name.startswith("model.layers.0."):
            continue  # one layer shown; all counted
        print(name.ljust(44) + "".join(f"{r:22.2e}" for r in row))
    print("all matrices".ljust(44) + "".join(f"{totals[s] / norm:22.2e}" for s in SCHEMES))


if __name__ == "__main__":
    main()
