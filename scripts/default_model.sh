#!/usr/bin/env bash
# Train the model shipped inside the package (src/moodscape/default_model/) on all of 4q-dev, with the
# configs/real-music.yaml recipe: every song trains (85%) or validates (15%, the epoch); its quality is the
# cross-validation of benchmarks/quality.py, whose JSON results go into the card. The shipped model is the
# musicnn teacher itself (int8 ONNX, 2.4 MB), not its MobileViT student: in that cross-validation the student
# stays below the descriptor floor while the teacher is above it (BENCHMARKS.md, "Quality on real music").
# Usage: bash scripts/default_model.sh BIN DATA RUN QUALITY_JSON [STORES]   (make default-model sets them;
# STORES: the benchmark's folder of feature stores, whose musicnn window features, computed from the same
# audio with the same settings and weights, are copied into the run's store instead of computed again)
set -euo pipefail
BIN=${1:-.venv/bin}
DATA=${2:-../shared/data/4q-dev}
RUN=${3:-runs/default-model}
QUALITY=${4:-benchmarks/quality-results.json}
STORES=${5:-}

store=$("$BIN/moodscape" -q features --config configs/real-music.yaml "$DATA/labels.csv" \
  --out "$RUN/features" | tail -n 1)
if [ -n "$STORES" ] && [ -d "$STORES/$(basename "$store")" ]; then
  for cached in "$STORES/$(basename "$store")"/musicnn-pooled-*; do
    [ -d "$cached" ] && cp -r -n "$cached" "$store/"
  done
fi
"$BIN/moodscape" run --config configs/real-music.yaml --set "data.root=$DATA/labels.csv" \
  --set "pipeline.out_dir=$RUN" \
  --set split.train=0.85 --set split.val=0.15 --set split.test=0 --set evaluate.split=val --set pipeline.distill=false
"$BIN/python" scripts/package_default_model.py "$RUN" src/moodscape/default_model --quality "$QUALITY" --data "$DATA"
