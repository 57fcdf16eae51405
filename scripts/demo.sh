#!/usr/bin/env bash
# The demo pipeline on generated data: demo-data, then `moodscape run` with configs/demo.yaml
# (features -> split -> GAN -> generate -> teacher -> distill -> evaluate -> export -> predict).
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-demo}

"$BIN/moodscape" demo-data "$OUT/data" --songs 120 --seconds 15 --seed 0
"$BIN/moodscape" data check "$OUT/data" --json "$OUT/data-check.json"
"$BIN/moodscape" run --config configs/demo.yaml --set "data.root=$OUT/data" --set "pipeline.out_dir=$OUT/run"
echo "demo finished: open $OUT/run/report.html"
