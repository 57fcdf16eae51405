"""Package a recipe's final model (scripts/train_recipe.sh RUN: trained on every clip it was given) as the model
`moodscape predict` uses by default: RUN/export's int8 ONNX network with its fusion, model.json and a model card that
leads with the recipe's holdout scores and then its cross-validation, both from benchmarks/quality.py's JSON.

Nothing is written before the shipped files themselves have predicted the run's training clips: the model is refused
when its kept epoch, its quadrant macro-F1 on those clips or the share of them it puts in each quadrant falls outside
the range of the cross-validation's fold models (each measured the same way on its own training songs; the fit and
the shares get a margin of CHECK_MARGIN or half the folds' spread, whichever is larger), naming which.

Usage: python scripts/package_default_model.py RUN DEST --quality QUALITY_JSON --row ROW --data NAME [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

from moodscape import Predictor, __version__
from moodscape.data.quadrants import quadrant
from moodscape.eval.scoring import macro_f1
from moodscape.experiments.crossval import ROW_LABELS
from moodscape.export.card import pretrained_attribution
from moodscape.features.store import FeatureStore
from moodscape.models.checkpoint import read_meta
from moodscape.models.floors.fusion import FUSION_DIR, Fusion

NAME = "moodscape-4q-musicnn"
ONNX = "model-logmel.int8.onnx"
CHECK_MARGIN = 0.03
SCORES = (("macro_f1", "macro-F1"), ("accuracy", "accuracy"), ("valence_sign", "valence sign"),
          ("arousal_sign", "arousal sign"))  # fmt: skip
CV_METRICS = (*SCORES, ("ccc_valence", "CCC valence"), ("ccc_arousal", "CCC arousal"))


def measure(run: Path, export: Path) -> dict:
    """The shipped files' own checks: the epoch the run kept, and on its training clips (predicted from their audio
    files by ``export``, as `moodscape predict` would) the quadrant macro-F1 and the share put in each quadrant."""
    meta = read_meta(run / "teacher" / "best")
    store = FeatureStore(meta["store"])
    songs = store.song_ids
    paths = {str(store.entry(s).path): s for s in songs}
    predictor = Predictor.load(export, files_at_once=None)
    values = {}
    for path, result, reason in predictor.predict_many(list(paths), progress=True):
        if result is None:
            raise SystemExit(f"the shipped model could not predict its own training clip {path}: {reason}")
        values[paths[str(path)]] = (result.valence, result.arousal)
    truth, predicted = store.labels(songs), np.array([values[s] for s in songs])
    quads = quadrant(predicted[:, 0], predicted[:, 1])
    return {"epoch": int(meta["epoch"]), "train_macro_f1": macro_f1(quadrant(truth[:, 0], truth[:, 1]), quads),
            "train_quadrant_shares": [float(np.mean(quads == q)) for q in (1, 2, 3, 4)], "songs": len(songs)}  # fmt: skip


def refusals(found: dict, folds: dict) -> list[str]:
    """Each check of ``found`` outside the fold models' range, as a sentence naming it."""
    out = []
    if not min(folds["epoch"]) <= found["epoch"] <= max(folds["epoch"]):
        out.append(f"it kept epoch {found['epoch']}; the fold models kept epochs {sorted(set(folds['epoch']))}")

    def outside(value: float, fold_values: list[float]) -> tuple[float, float] | None:
        low, high = min(fold_values), max(fold_values)
        margin = max(CHECK_MARGIN, (high - low) / 2)
        return None if low - margin <= value <= high + margin else (low - margin, high + margin)

    wrong = outside(found["train_macro_f1"], folds["train_macro_f1"])
    if wrong:
        out.append(f"its macro-F1 on its own training clips is {found['train_macro_f1']:.3f}; the fold models' on "
                   f"theirs allow [{wrong[0]:.3f}, {wrong[1]:.3f}] (under-trained or over-fitted)")  # fmt: skip
    for q in range(4):
        wrong = outside(found["train_quadrant_shares"][q], [shares[q] for shares in folds["train_quadrant_shares"]])
        if wrong:
            out.append(f"it puts {found['train_quadrant_shares'][q]:.1%} of its training clips in Q{q + 1}; the fold "
                       f"models allow [{wrong[0]:.1%}, {wrong[1]:.1%}]")  # fmt: skip
    return out


def _cv_table(quality: dict, names: list[str]) -> list[str]:
    rows = quality["rows"]
    table = ["| model | " + " | ".join(label for _, label in CV_METRICS) + " | macro-F1 vs floor [95% CI] |",
             "|---|" + "---|" * (len(CV_METRICS) + 1)]  # fmt: skip
    for name in names:
        entry = rows[name]
        gain = entry.get("gain_over_floor")
        versus = f"{gain[0]:+.3f} [{gain[1]:+.3f}, {gain[2]:+.3f}]" if gain else "-"
        cells = " | ".join(f"{entry[k][0]:.3f} ± {entry[k][1]:.3f}" for k, _ in CV_METRICS)
        table.append(f"| {ROW_LABELS.get(name, name)} | {cells} | {versus} |")
    return table


def _holdout_table(holdout: dict) -> list[str]:
    table = ["| songs | n | " + " | ".join(label for _, label in SCORES) + " |", "|---|---|" + "---|" * len(SCORES)]
    for subset, scores in holdout["scores"].items():
        cells = " | ".join(f"{scores[k]['value']:.3f} [{scores[k]['ci95_low']:.3f}, {scores[k]['ci95_high']:.3f}]"
                           for k, _ in SCORES)  # fmt: skip
        table.append(f"| {subset} | {scores['songs']} | {cells} |")
    return table


def card(info: dict, quality: dict, config: dict, row: str) -> str:
    entry = quality["rows"][row]
    holdout = entry["holdout"]
    cv, held = entry["macro_f1"][0], holdout["scores"]["all"]["macro_f1"]["value"]
    fusion = info.get("fusion") or {}
    floor = quality.get("floor", "floor")
    related = [row, row.replace(" + descriptor floor", " (network alone)"), floor, "musicnn-probe"]
    names = list(dict.fromkeys(n for n in related if n in quality["rows"]))
    teacher, features, audio = config["teacher"], config["features"], config["audio"]
    rate = config.get("baseline", {}).get("descriptor_sample_rate") or audio["sample_rate"]
    attribution = pretrained_attribution(config)
    gap = ("" if abs(cv - held) <= 0.05 else
           f" The holdout score differs from the cross-validation by {held - cv:+.3f}: the holdout's clips by artists "
           "that are also in 4q-dev score higher than any cross-validation fold can (its folds keep an artist on one "
           "side), and its new-artist clips lower; README \"How good is it?\" discusses it.")  # fmt: skip
    return "\n".join([
        f"# {info['name']} (moodscape {__version__}): the model `moodscape predict` uses by default",
        "",
        "Predicts valence (negative to positive) and arousal (calm to energetic) of music on [-1, 1] (1-9: 4x + 5), "
        f"per {config['windows']['seconds']:g} s window and per song, from audio alone.",
        "",
        "## What it is",
        f"- The pretrained musicnn taggers {teacher['pretrained'].replace('+', ' and ')} side by side under one "
        f"{teacher['head']} valence/arousal head ({teacher['trainable']} and head trained on the clips for "
        f"{teacher['epochs']} epochs, the last kept), exported as `{ONNX}` (int8 weights, {info['onnx_mb']:.1f} MB; "
        f"input: {features['n_mels']}-band log-mel, log10(1 + 10000 mel), of {config['windows']['seconds']:g} s "
        f"windows at {audio['sample_rate']:,} Hz, computed by moodscape's front end).",
        *([f"- Averaged per song, with equal weights, with the descriptor floor: an RBF SVR on 158 librosa descriptors "
           f"of the clip decoded at {rate:,} Hz (`fusion/`, safetensors + JSON), fitted on the same clips."]
          if "floor" in fusion else ["- Song values are the mean of its windows' values."]),  # fmt: skip
        "",
        "## Quality on songs no model saw: 4q-holdout",
        f"The same recipe trained on the {quality['songs']} clips of 4q-dev alone (`scripts/train_recipe.sh`), in this "
        "shipped form, scored once on the 320 clips of 4q-holdout through `moodscape evaluate --model` "
        "(95% bootstrap intervals over songs). Nothing was chosen on these clips. Songs by artists that also have songs "
        "in 4q-dev are the easier part; new artists are the honest number for new music.",
        "",
        *_holdout_table(holdout),
        "",
        "## Cross-validated on 4q-dev",
        f"5 folds grouped by artist and stratified by quadrant (benchmarks/quality.py, seed {quality.get('seed', 0)}): "
        "every fold model trained as this one was, on the fold's training songs; mean ± standard deviation over folds; "
        "the gain over the strongest cheap floor is on the same out-of-fold songs, with a paired bootstrap 95% "
        f"interval. Macro-F1: {cv:.3f} in cross-validation, {held:.3f} on the holdout.{gap}",
        "",
        *_cv_table(quality, names),
        "",
        "## This file",
        f"- Trained on all {info['songs']} clips of {' + '.join(info['data'])} with the recipe measured above "
        f"(`{info['recipe']}`, {teacher['epochs']} epochs, no epoch chosen, no clip held back): more data than the "
        "400-clip model the holdout scored, trained the same way.",
        f"- Checked before packaging, by predicting its own training clips from their audio: epoch {info['checks']['epoch']}, "
        f"macro-F1 {info['checks']['train_macro_f1']:.3f}, quadrant shares "
        f"{', '.join(f'{s:.0%}' for s in info['checks']['train_quadrant_shares'])}: inside the range of the "
        "cross-validation's fold models on theirs.",
        "- The 4Q data is distributed by its authors for research use (Panda, Malheiro and Paiva, 2018, IEEE "
        "Transactions on Affective Computing; 100 clips per Russell quadrant from AllMusic mood tags), so this model "
        "is for research use too.",
        *([f"- Built on {attribution}; the licence text is in `moodscape/pretrained/LICENSE-musicnn.txt`."]
          if attribution else []),  # fmt: skip
        "",
        "## What the outputs mean",
        "- The labels are quadrants, mapped to the quadrant centres (+-0.5, +-0.5). The model learnt to place songs "
        "near those centres: the sign of each value gives the quadrant (Q1 happy/excited, Q2 angry/tense, Q3 "
        "sad/depressed, Q4 calm/relaxed); the magnitude is not a calibrated intensity, and 1-9 values near 3 and 7 "
        "are not DEAM-style ratings. Window values (timelines) follow the song value loosely: they were never trained "
        "against time-continuous annotations.",
        "",
        "## Limits",
        "- Western popular music excerpts with AllMusic mood tags; other repertoires, speech and sound effects are "
        "outside what it learnt. Valence from audio alone is hard (lyrics and context matter).",
        f"- Clips shorter than {audio['min_seconds']:g} s follow the `{audio['short_policy']}` policy "
        "(`audio.short_policy`); the descriptors read at most the first ten minutes of a file.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the folder scripts/train_recipe.sh wrote")
    parser.add_argument("dest", type=Path, help="src/moodscape/default_model")
    parser.add_argument("--quality", type=Path, required=True, help="JSON written by benchmarks/quality.py --holdout")
    parser.add_argument("--row", required=True, help="the benchmark row of this recipe as it ships")
    parser.add_argument("--data", nargs="+", required=True, help="names of the labelled sets the run trained on")
    args = parser.parse_args()
    export = args.run / "export"
    config = yaml.safe_load((args.run / "teacher" / "config.yaml").read_text(encoding="utf-8"))
    quality = json.loads(args.quality.read_text(encoding="utf-8"))
    entry = quality["rows"].get(args.row)
    if entry is None or "fold_checks" not in entry or "holdout" not in entry:
        raise SystemExit(f"{args.quality} has no cross-validated row {args.row!r} with fold checks and a holdout score; "
                         "run `make bench-quality` first")  # fmt: skip
    found = measure(args.run, export)
    wrong = refusals(found, entry["fold_checks"])
    if wrong:
        raise SystemExit(f"refusing to package {export}: it is not the model that was cross-validated: "
                         + "; ".join(wrong))  # fmt: skip
    fusion = Fusion.find(export)
    shutil.rmtree(args.dest, ignore_errors=True)
    args.dest.mkdir(parents=True)
    shutil.copy(export / ONNX, args.dest / ONNX)
    if fusion is not None:
        shutil.copytree(export / FUSION_DIR, args.dest / FUSION_DIR)
    held = entry["holdout"]["scores"]
    info = {
        "name": NAME, "moodscape_version": __version__, "kind": "teacher", "onnx": ONNX,
        "onnx_mb": (args.dest / ONNX).stat().st_size / 1e6, "songs": found["songs"], "data": args.data,
        "recipe": "configs/real-music.yaml", "row": args.row,
        **({"fusion": fusion.describe()} if fusion is not None else {}),
        "pretrained": pretrained_attribution(config),
        "holdout": {subset: {k: s[k] for k, _ in SCORES} | {"songs": s["songs"]} for subset, s in held.items()},
        "cross_validation": {k: entry[k] for k, _ in CV_METRICS},
        "checks": found, "fold_checks": entry["fold_checks"],
        "summary": f"4q-holdout (recipe trained on 4q-dev): macro-F1 {held['all']['macro_f1']['value']:.3f}"
                   + "".join(f", {k} {v['macro_f1']['value']:.3f}" for k, v in held.items() if k.startswith("new"))
                   + f"; 4q-dev CV {entry['macro_f1'][0]:.3f} ± {entry['macro_f1'][1]:.3f}",
    }  # fmt: skip
    (args.dest / "model.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (args.dest / "model_card.md").write_text(card(info, quality, config, args.row), encoding="utf-8")
    print(f"packaged {NAME} into {args.dest}: {info['summary']}", file=sys.stderr)


if __name__ == "__main__":
    main()
