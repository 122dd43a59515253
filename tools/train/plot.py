"""Plot a training log (log.csv from train.py) as a PNG: training and validation loss against tokens seen.

  python tools/train/plot.py tools/train/.cache/run/log.csv models/unmask-coder/training_loss.png
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(log_path, png_path):
    rows = list(csv.DictReader(open(log_path)))
    tokens = [int(r["tokens"]) / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(tokens, [float(r["train_loss"]) for r in rows], label="train (mean of 25 steps)", linewidth=1)
    val = [(t, float(r["val_loss"])) for t, r in zip(tokens, rows) if r["val_loss"]]
    if val:
        ax.plot(*zip(*val), "o-", label="validation", markersize=3)
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("masked-diffusion loss (nats, 1/t-weighted)")
    ax.set_title("unmask-coder training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
