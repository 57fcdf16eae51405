#!/usr/bin/env bash
# Train the model shipped inside the package (src/moodscape/default_model/) with the recipe that bench-quality
# cross-validated on 4q-dev and confirmed on 4q-holdout (configs/real-music.yaml: both musicnn taggers under one head,
# 12 epochs, the last kept, averaged with the descriptor floor), now on every labelled clip given (4q-dev and
# 4q-holdout: 720), exactly as the folds were trained (scripts/train_recipe.sh); then package it
# (scripts/package_default_model.py refuses a model outside the fold models' range and writes the card from
# QUALITY_JSON).
# Usage: [STORES="..."] bash scripts/default_model.sh BIN RUN QUALITY_JSON DATA_DIR [DATA_DIR ...]
#   (make default-model sets them)
#   each DATA_DIR holds labels.csv (paths relative to it); their clips are listed together in RUN/labels.csv.
set -euo pipefail
BIN=$1
RUN=$2
QUALITY=$3
shift 3

mkdir -p "$RUN"
"$BIN/python" - "$RUN/labels.csv" "$@" <<'PY'
"""One labels CSV of every clip of the given folders, their paths made absolute."""
import csv
import sys
from pathlib import Path

out, folders = Path(sys.argv[1]), [Path(f).resolve() for f in sys.argv[2:]]
with out.open("w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["path", "quadrant"])
    for folder in folders:
        with (folder / "labels.csv").open(newline="", encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                writer.writerow([folder / row["path"], row["quadrant"]])
PY
# STORES (optional, space-separated): feature stores of the same settings whose cached musicnn window features are
# reused (bench-quality's, for instance) instead of computed again.
# shellcheck disable=SC2086
bash scripts/train_recipe.sh "$BIN" "$RUN/labels.csv" "$RUN" configs/real-music.yaml ${STORES:-}
names=()
for folder in "$@"; do names+=("$(basename "$folder")"); done
"$BIN/python" scripts/package_default_model.py "$RUN" src/moodscape/default_model --quality "$QUALITY" \
  --row "real-music teacher, int8 ONNX + descriptor floor" --data "${names[@]}"
