#!/usr/bin/env bash
# The demo pipeline on generated data:
# demo-data -> features -> data check -> split -> ridge floor -> tiny ViT teacher -> evaluation report.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-demo}
CONFIG=configs/demo.yaml
PATHS=(--set "data.root=$OUT/data" --set "store.out_dir=$OUT/features" --set "train.out_dir=$OUT/runs/teacher")

"$BIN/moodscape" demo-data "$OUT/data" --songs 120 --seconds 20 --seed 0
STORE=$("$BIN/moodscape" features "$OUT/data" --config "$CONFIG" "${PATHS[@]}")
"$BIN/moodscape" data check "$OUT/data" --json "$OUT/data-check.json"
"$BIN/moodscape" split "$STORE" --config "$CONFIG" "${PATHS[@]}"
"$BIN/moodscape" baseline "$STORE" --config "$CONFIG" "${PATHS[@]}" --out "$OUT/runs/baseline"
"$BIN/moodscape" train --config "$CONFIG" "${PATHS[@]}"
echo "demo finished: report at $OUT/runs/teacher/evaluation/test/report.html"
