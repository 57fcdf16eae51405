"""Copy a trained run's exported model (its student, or its teacher when the run distils none) into the
package as the shipped default model, with model.json and a model card that describes the run's recipe and
quotes the cross-validated scores of benchmarks/quality.py. With --ensemble, package the run's export fused by
`moodscape fuse RUN/teacher` (the network, the descriptor floor and the musicnn probe) as the opt-in ensemble
model instead: its network file is a link to the default model's, which must be the same file.

Usage: python scripts/package_default_model.py RUN DEST --quality QUALITY_JSON --data 4Q_DEV [--row ROW]
       [--ensemble DEFAULT_DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import yaml

from moodscape import __version__
from moodscape.experiments.crossval import ROW_LABELS
from moodscape.export.card import pretrained_attribution
from moodscape.models.floors.fusion import FUSION_DIR, Fusion

NAME = "moodscape-4q-musicnn"
ENSEMBLE_NAME = "moodscape-4q-ensemble"
ENSEMBLE_ROW = ("equal average of real-music teacher, int8 ONNX + frozen musicnn linear probe (ridge on MSD+MTT song "
                "summaries) + descriptor floor (SVR on librosa descriptors)")  # fmt: skip
ONNX = "model-logmel.int8.onnx"
ROWS = {"student": "real-music student, int8 ONNX", "teacher": "real-music teacher, int8 ONNX"}
METRICS = (("macro_f1", "macro-F1"), ("accuracy", "accuracy"), ("valence_sign", "valence sign"),
           ("arousal_sign", "arousal sign"), ("ccc_valence", "CCC valence"), ("ccc_arousal", "CCC arousal"))  # fmt: skip


def _table(quality: dict, names: list[str]) -> list[str]:
    rows = quality["rows"]
    table = ["| model | " + " | ".join(label for _, label in METRICS) + " | macro-F1 vs floor [95% CI] |",
             "|---|" + "---|" * (len(METRICS) + 1)]  # fmt: skip
    for name in names:
        entry = rows[name]
        gain = entry.get("gain_over_floor")
        versus = f"{gain[0]:+.3f} [{gain[1]:+.3f}, {gain[2]:+.3f}]" if gain else "-"
        cells = " | ".join(f"{entry[k][0]:.3f} ± {entry[k][1]:.3f}" for k, _ in METRICS)
        table.append(f"| {ROW_LABELS.get(name, name)} | {cells} | {versus} |")
    return table


def _verdict(gain: list[float] | None) -> str:
    if not gain:
        return ""
    if gain[2] < 0:
        return (f"The descriptor floor alone did better in this cross-validation (macro-F1 {gain[0]:+.3f}, interval "
                "entirely below 0); README \"How good is it?\" has the whole table.")  # fmt: skip
    if gain[1] > 0:
        return f"It beats the descriptor floor (macro-F1 {gain[0]:+.3f}, interval entirely above 0)."
    return f"It is level with the descriptor floor (macro-F1 {gain[0]:+.3f}, the interval includes 0)."


def _what_it_is(info: dict, config: dict) -> list[str]:
    audio, features, teacher, student = config["audio"], config["features"], config["teacher"], config["student"]
    scale = "log10(1 + 10000 mel)" if features.get("compression") == "logc" else "dB"
    if teacher["kind"] == "musicnn":
        source = (f"the pretrained musicnn tagger {teacher['pretrained']} under a {teacher['head']} valence/arousal "
                  f"head ({teacher['trainable']} and head trained on the clips)")  # fmt: skip
    else:
        source = f"a {teacher['preset']} {teacher['kind']} teacher trained from scratch"
    what = (f"A MobileViT {student['preset']} student" if info["kind"] == "student"
            else source[0].upper() + source[1:] + ", the teacher itself")  # fmt: skip
    origin = f", distilled from {source}" if info["kind"] == "student" else ""
    lines = [
        f"- {what} (`{ONNX}`, int8 weights, {info['onnx_mb']:.1f} MB; input: {features['n_mels']}-band log-mel "
        f"({scale}) of {config['windows']['seconds']:g} s windows at {audio['sample_rate']:,} Hz, computed by "
        f"moodscape's front end){origin}.",
    ]
    w = info.get("fusion_weights")
    if "probe" in info.get("fusion", {}):
        lines.append(
            "- Fused per song, every member weighing the same, with the descriptor floor (an RBF SVR on 158 librosa "
            "descriptors of the clip) and the musicnn probe (a ridge on song summaries of the shipped MSD_musicnn and "
            "MTT_musicnn taggers: mean tags, mean and spread of the 200-unit embedding over 3 s patches every 1.5 s), "
            "both in `fusion/` (safetensors + JSON) and fitted on every clip by `moodscape fuse`."
        )
    elif w:
        lines.append(
            "- Fused per song with the descriptor floor: an RBF SVR on 158 librosa descriptors of the clip, `fusion/`. "
            f"Song value = w * network + (1 - w) * floor with w = {w['valence']:.2f} (valence) and {w['arousal']:.2f} "
            "(arousal), chosen on training songs held back from the network."
        )
    else:
        lines.append("- Song values are the mean of its windows' values; no descriptor floor is fused.")
    return lines


def card(info: dict, quality: dict, config: dict, row: str) -> str:
    ensemble = info["name"] == ENSEMBLE_NAME
    profile = row.split(" ")[0]
    related = [ROWS["teacher"], "musicnn-probe", quality["floor"]] if ensemble else [
        row.replace(" + descriptor floor", " (network alone)"), row.replace(", int8 ONNX", ""), f"{profile} teacher",
        f"{profile} teacher (network alone)", f"{profile} student, int8 ONNX", f"{profile} student", "musicnn-probe",
        quality["floor"]]  # fmt: skip
    names = list(dict.fromkeys([row, *(name for name in related if name in quality["rows"])]))
    attribution = pretrained_attribution(config)
    title = ("the opt-in ensemble: `moodscape predict --model moodscape-4q-ensemble`" if ensemble
             else "the model `moodscape predict` uses by default")  # fmt: skip
    return "\n".join([
        f"# {info['name']} (moodscape {__version__}): {title}",
        "",
        "Predicts valence (negative to positive) and arousal (calm to energetic) of music on [-1, 1] (1-9: 4x + 5), "
        f"per {config['windows']['seconds']:g} s window and per song, from audio alone.",
        "",
        "## What it is",
        *_what_it_is(info, config),
        "",
        "## Training data, pretrained weights and licences",
        f"- {info['songs']} clips of 4q-dev: 400 ~30 s clips of the 4Q audio emotion dataset (Panda, Malheiro and "
        "Paiva, 2018, IEEE Transactions on Affective Computing), 100 per Russell quadrant, labelled from AllMusic "
        "mood tags: 15% (a random share, stratified by quadrant) chose the epoch, the network learnt from the others"
        + ("; the floor and the probe learnt from all of them." if ensemble else "."),
        "- The 4Q data is distributed by its authors for research use, so this model is for research use too.",
        *([f"- Built on {attribution}; the licence text is in `moodscape/pretrained/LICENSE-musicnn.txt`."]
          if attribution else []),  # fmt: skip
        "",
        "## What the outputs mean",
        "- The labels are quadrants, mapped to the quadrant centres (+-0.5, +-0.5). The model learnt to place songs "
        "near those centres: the sign of each value gives the quadrant (Q1 happy/excited, Q2 angry/tense, Q3 "
        "sad/depressed, Q4 calm/relaxed); the magnitude is not a calibrated intensity, and 1-9 values near 3 and 7 "
        "are not DEAM-style ratings.",
        "",
        "## Cross-validated quality",
        f"5 folds of 4q-dev grouped by artist and stratified by quadrant (benchmarks/quality.py, seed "
        f"{quality.get('seed', 0)}): mean ± standard deviation over folds; the gain over the strongest cheap floor "
        "(the descriptor SVR) is on the same out-of-fold songs, with a paired bootstrap 95% interval.",
        "",
        *_table(quality, names),
        "",
        _verdict(quality["rows"][row].get("gain_over_floor")),
        "",
        "## Limits",
        "- Western popular music excerpts with AllMusic mood tags; other repertoires, speech and sound effects are "
        "outside what it learnt. Valence from audio alone is hard (lyrics and context matter).",
        f"- Clips shorter than {config['audio']['min_seconds']:g} s follow the `{config['audio']['short_policy']}` "
        "policy (`audio.short_policy`).",
        f"- 400 training clips: expect errors on individual songs; the quadrant was right for "
        f"{quality['rows'][row]['accuracy'][0]:.0%} of held-out songs in cross-validation.",
        *(["- Several times slower than the default model: besides the network it computes the clip's librosa "
           "descriptors and runs both musicnn taggers (PyTorch) over the clip (BENCHMARKS.md, \"Averaging the "
           "teacher, the probe and the floor\"). In the cross-validation each fold's floor learnt from its "
           "training songs without the sixth that validated; here the floor learnt from every clip."]
          if ensemble else []),  # fmt: skip
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="pipeline run folder trained on all of 4q-dev")
    parser.add_argument("dest", type=Path, help="src/moodscape/default_model")
    parser.add_argument("--quality", type=Path, required=True, help="JSON written by benchmarks/quality.py --out")
    parser.add_argument("--data", type=Path, required=True, help="the 4q-dev folder the run trained on")
    parser.add_argument("--row", help="the benchmark row of the run's recipe (default: the real-music row of the "
                        f"exported model's kind: {ROWS}; with --ensemble, the average of teacher, probe and floor)")  # fmt: skip
    parser.add_argument("--ensemble", type=Path, metavar="DEFAULT_DIR",
                        help="package the fused export as the ensemble model, its network linked to DEFAULT_DIR's")  # fmt: skip
    args = parser.parse_args()
    export = args.run / "export"
    config = yaml.safe_load((args.run / "config.yaml").read_text(encoding="utf-8"))
    fused = args.run / "teacher" / "best" if args.ensemble else export  # `moodscape fuse RUN/teacher` writes there
    fusion = Fusion.find(fused)
    if args.ensemble and (fusion is None or fusion.probe is None):
        raise SystemExit(f"{fused} has no fusion with the musicnn probe: run `moodscape fuse {args.run / 'teacher'}`")
    songs = json.loads((args.run / "stages" / "features.json").read_text())["outputs"]["songs"]
    shutil.rmtree(args.dest, ignore_errors=True)
    args.dest.mkdir(parents=True)
    if args.ensemble:
        digest = [hashlib.sha256((folder / ONNX).read_bytes()).hexdigest() for folder in (export, args.ensemble)]
        if digest[0] != digest[1]:
            raise SystemExit(f"{export / ONNX} is not the network of {args.ensemble}: package that one first")
        os.symlink(os.path.relpath(args.ensemble / ONNX, args.dest), args.dest / ONNX)
    else:
        shutil.copy(export / ONNX, args.dest / ONNX)
    if fusion is not None:
        shutil.copytree(fused / FUSION_DIR, args.dest / FUSION_DIR)
    quality = json.loads(args.quality.read_text(encoding="utf-8"))
    kind = "student" if config["pipeline"]["distill"] else "teacher"
    args.row = args.row or (ENSEMBLE_ROW if args.ensemble else ROWS[kind])
    row = quality["rows"][args.row]
    info = {
        "name": ENSEMBLE_NAME if args.ensemble else NAME, "moodscape_version": __version__, "kind": kind, "onnx": ONNX,
        "onnx_mb": (args.dest / ONNX).stat().st_size / 1e6, "songs": songs, "data": str(args.data.name),
        **({"fusion_weights": {"valence": float(fusion.weights[0]), "arousal": float(fusion.weights[1])},
            "fusion": fusion.describe()} if fusion is not None else {}),
        "pretrained": pretrained_attribution(config),
        "cross_validation": {k: row[k] for k, _ in METRICS},
        "summary": f"4Q, 400 clips: macro-F1 {row['macro_f1'][0]:.3f} ± {row['macro_f1'][1]:.3f} (5-fold CV by artist)",
    }  # fmt: skip
    (args.dest / "model.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (args.dest / "model_card.md").write_text(card(info, quality, config, args.row), encoding="utf-8")
    print(f"packaged {info['name']} into {args.dest}")


if __name__ == "__main__":
    main()
