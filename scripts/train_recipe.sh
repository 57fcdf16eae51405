#!/usr/bin/env bash
# Train a recipe's final model on every clip of a labelled set, exactly as its cross-validation trained each fold
# (benchmarks/quality.py): the feature store, the teacher on all songs for the profile's fixed schedule (select=last:
# no epoch is chosen, so no song is held back), its fusion (fuse_descriptors), and the int8 ONNX export with the
# fusion beside it in RUN/export. Used by `make default-model` (on 4q-dev + 4q-holdout) and by bench-quality's
# holdout check (on 4q-dev alone, then `moodscape evaluate --model RUN/export` on 4q-holdout).
# Usage: bash scripts/train_recipe.sh BIN LABELS_CSV RUN CONFIG [STORES...]
#   STORES: feature stores of the same settings whose cached musicnn window features (named by audio content) are
#   copied into the run's store instead of computed again.
set -euo pipefail
BIN=$1
LABELS=$2
RUN=$3
CONFIG=$4
shift 4

store=$("$BIN/moodscape" -q features --config "$CONFIG" "$LABELS" --out "$RUN/features" | tail -n 1)
for other in "$@"; do
  for cached in "$other"/musicnn-pooled-*; do
    if [ -d "$cached" ]; then
      mkdir -p "$store/$(basename "$cached")"
      cp -n "$cached"/*.npy "$store/$(basename "$cached")/" 2>/dev/null || true
    fi
  done
done
"$BIN/moodscape" train --config "$CONFIG" --set "data.root=$LABELS" --set "store.out_dir=$RUN/features" \
  --set split.train=1.0 --set split.val=0 --set split.test=0 --set evaluate.split=val \
  --out "$RUN/teacher" --no-evaluate
"$BIN/moodscape" export "$RUN/teacher" --format onnx --quantize int8 --out "$RUN/export"
