#!/usr/bin/env bash
# The demo pipeline on generated data: demo-data -> features -> data check -> split -> ridge floor.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-demo}
CONFIG=configs/demo.yaml

"$BIN/moodscape" demo-data "$OUT/data" --songs 60 --seconds 30 --seed 0
STORE=$("$BIN/moodscape" features "$OUT/data" --out "$OUT/features" --config "$CONFIG")
"$BIN/moodscape" data check "$OUT/data" --json "$OUT/data-check.json"
"$BIN/moodscape" split "$STORE" --config "$CONFIG"
"$BIN/moodscape" baseline "$STORE" --config "$CONFIG" --out "$OUT/runs/baseline"
echo "demo finished: feature store $STORE, baseline results in $OUT/runs/baseline"
