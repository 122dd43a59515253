#!/usr/bin/env bash
# Reproduce the shipped model from a clean checkout, in one command:
#   bash tools/train/run.sh
# data (corpus, dedup, splits, tokenizer, examples) → training → export to models/unmask-coder → evaluation with
# the Rust engine → loss plot. Resumable: rerun after an interruption and training continues from its checkpoint.
# Knobs (environment): STEPS, HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE, BATCH_TOKENS, LR, PROMPTS, OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."

STEPS=${STEPS:-4000}
HIDDEN=${HIDDEN:-256} LAYERS=${LAYERS:-4} HEADS=${HEADS:-4} KV_HEADS=${KV_HEADS:-2} INTERMEDIATE=${INTERMEDIATE:-704}
BATCH_TOKENS=${BATCH_TOKENS:-4096} LR=${LR:-2e-3} PROMPTS=${PROMPTS:-60}
OUT=${OUT:-models/unmask-coder}
CACHE=tools/train/.cache
VENV=$CACHE/venv-train

if [ ! -x "$VENV/bin/python" ] || ! cmp -s tools/train/requirements.txt "$VENV/requirements.stamp"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tools/train/requirements.txt matplotlib==3.11.2
  cp tools/train/requirements.txt "$VENV/requirements.stamp"
fi
PY="$VENV/bin/python"

UNMASK_DATA_NO_VENV=1 "$PY" tools/train/data_pipeline/build.py
"$PY" tools/train/train.py --data "$CACHE/examples" --tokenizer tools/train/tokenizer.json --out "$CACHE/run" \
  --steps "$STEPS" --batch-tokens "$BATCH_TOKENS" --lr "$LR" --hidden "$HIDDEN" --layers "$LAYERS" --heads "$HEADS" \
  --kv-heads "$KV_HEADS" --intermediate "$INTERMEDIATE"
"$PY" tools/train/export.py --run "$CACHE/run" --tokenizer tools/train/tokenizer.json --out "$OUT"
cp "$CACHE/run/log.csv" "$OUT/training_log.csv"
cp "$CACHE/run/config.json" "$OUT/training_config.json"
"$PY" tools/train/plot.py "$OUT/training_log.csv" "$OUT/training_loss.png"
cargo build --release --locked -p unmask-cli
"$PY" tools/train/evaluate.py --model "$OUT" --data "$CACHE/examples" --unmask target/release/unmask \
  --prompts "$PROMPTS" --out "$OUT/eval.json"
