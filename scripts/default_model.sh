#!/usr/bin/env bash
# Train the model shipped inside the package (src/moodscape/default_model/) on all of 4q-dev, with the
# configs/real-music.yaml recipe (musicnn teacher, MobileViT student): every song trains (85%) or validates
# (15%, the epoch); its quality is the cross-validation of benchmarks/quality.py, whose JSON results go into
# the card.
# Usage: bash scripts/default_model.sh BIN DATA RUN QUALITY_JSON [STORES]   (make default-model sets them;
# STORES, the folder of feature stores, defaults to RUN/features: the benchmark's folder reuses its store and
# musicnn's cached window features)
set -euo pipefail
BIN=${1:-.venv/bin}
DATA=${2:-../shared/data/4q-dev}
RUN=${3:-runs/default-model}
QUALITY=${4:-benchmarks/quality-results.json}
STORES=${5:-$RUN/features}

"$BIN/moodscape" run --config configs/real-music.yaml --set "data.root=$DATA/labels.csv" \
  --set "pipeline.out_dir=$RUN" --set "store.out_dir=$STORES" \
  --set split.train=0.85 --set split.val=0.15 --set split.test=0 --set evaluate.split=val
"$BIN/python" scripts/package_default_model.py "$RUN" src/moodscape/default_model --quality "$QUALITY" --data "$DATA"
