"""``model_card.md`` beside the exported files: input spec, sizes, measured metrics, use and limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..files import write_text


def _metrics_lines(run: Path) -> list[str]:
    path = run / "evaluation" / "test" / "metrics.json"
    if not path.exists():
        return ["Not evaluated yet: run `moodscape evaluate RUN_DIR` (the card is rewritten at the next export)."]
    metrics = json.loads(path.read_text(encoding="utf-8"))
    lines = [f"Song-level, {metrics.get('songs')} real test songs (never seen in training; 95% bootstrap interval):", ""]
    lines += ["| dimension | CCC | 95% interval | Pearson | RMSE |", "|---|---|---|---|---|"]
    for d in ("valence", "arousal"):
        m = metrics["metrics"][d]
        lines.append(f"| {d} | {m['ccc']:.3f} | [{m['ccc_ci95_low']:.3f}, {m['ccc_ci95_high']:.3f}] | "
                     f"{m['pearson']:.3f} | {m['rmse']:.3f} |")  # fmt: skip
    return lines


def _fusion_lines(fusion: dict[str, Any] | None) -> list[str]:
    if not fusion:
        return []
    w = fusion["weights"]
    floor = ("an RBF SVR on librosa descriptors of the whole clip (`moodscape.audio.descriptors`; safetensors + JSON, "
             "no pickle)")  # fmt: skip
    if "probe" in fusion.get("members", {}):
        return [
            f"- Fusion (`{fusion['folder']}/`): the song value is the equal-weight average of the network, the descriptor "
            f"floor ({floor}) and the musicnn probe (a ridge on the shipped musicnn taggers' song summaries, which "
            "`moodscape predict` computes from the audio). `moodscape predict` applies it; the ONNX files alone give "
            "the network's values.",
        ]
    return [
        f"- Fusion (`{fusion['folder']}/`): the song value is `w * network + (1 - w) * floor`, where the floor is "
        f"{floor} and w = {w['valence']:.2f} for valence, {w['arousal']:.2f} for arousal. `moodscape predict` applies "
        "it; the ONNX files alone give the network's values.",
    ]


def pretrained_attribution(config: dict[str, Any]) -> str | None:
    """The attribution a card owes to pretrained weights the model (or the teacher it learnt from) is built on."""
    if config.get("teacher", {}).get("kind") == "musicnn":
        from ..models.pretrained.musicnn import ATTRIBUTION

        return ATTRIBUTION
    return None


def _input_lines(spec: dict[str, Any]) -> list[str]:
    if spec.get("compression", "db") == "logc":
        scale = ("musicnn's compression `log10(1 + 10000 mel)` of librosa's `melspectrogram(...)` power (no "
                 "normalisation)")  # fmt: skip
    else:
        scale = "power in dB (librosa `power_to_db(melspectrogram(...), ref=1.0)`)"
    return [
        f"- `model.onnx`, `model.int8.onnx`, `model.torchscript.pt`: float32 tensor `(batch, {spec['window_samples']})`, "
        f"mono audio at {spec['sample_rate']} Hz ({spec['window_seconds']:.2f} s), samples in [-1, 1]. The log-mel "
        "front end and normalisation are inside the model.",
        f"- `model-logmel.onnx`, `model-logmel.int8.onnx`: `(batch, {spec['n_mels']}, {spec['frames']})` log-mel, "
        f"{scale}, with the settings in the ONNX metadata `moodscape.features`. On CPUs an own FFT front end plus "
        "this model is faster than the STFT inside `model.onnx` (see BENCHMARKS.md); `moodscape predict` does that "
        "for you.",
    ]


def write_model_card(path: Path, summary: dict[str, Any], run: Path) -> Path:
    spec, parity = summary["input"], summary["parity"]
    lines = [
        f"# moodscape {summary['kind']} model",
        "",
        "Predicts how music feels: valence (negative to positive) and arousal (calm to energetic), each on [-1, 1] "
        "(1-9 scale: 4 * value + 5), for one window of audio. A song's value is the mean over its windows.",
        "",
        "## Input",
        *_input_lines(spec),
        f"- Output `(batch, 2)`: valence, arousal. For a whole song, slide windows every {spec['hop_samples']} "
        "samples and average.",
        *_fusion_lines(summary.get("fusion")),
        "",
        "## Files",
        "| file | MB |",
        "|---|---|",
        *[f"| {f['path']} | {f['mb']:.2f} |" for f in summary["files"].values()],
        "",
        f"Parameters: {summary['parameters']:,}.",
        "",
        "## Measured quality",
        *_metrics_lines(run),
        "",
        f"Parity with PyTorch ({parity['source']}, {parity['windows']} windows):",
        "",
        "| file | max abs difference | check | passed |",
        "|---|---|---|---|",
        *[f"| {name} | {e['max_abs_diff']:.2e} | {e['tolerance']} | {e['passed']} |"
          for name, e in parity.items() if isinstance(e, dict) and "max_abs_diff" in e],  # fmt: skip
        "",
        "## Intended use",
        "Research and apps that tag or visualise the mood of music: playlists by mood, mood trajectories over a "
        "song. Trained on the songs named in the run's `config.yaml` (split by song; validation and test songs are "
        "real songs only).",
        "",
        *(["## Pretrained weights", f"Built on {summary['pretrained']}.", ""] if summary.get("pretrained") else []),
        "## Limits",
        "- Labels are averaged listener ratings of Western popular music excerpts (DEAM-style); other repertoires, "
        "speech or sound effects are outside what it learnt.",
        "- Valence from audio alone is hard (lyrics and context matter); expect arousal to be more reliable.",
        "- Windows are scored independently; the front end's edge frames see zero padding at each window's ends, "
        "so values differ slightly from the clip-level features used in training.",
        "- int8 weights change outputs slightly; the song-level CCC change is in `export.json`.",
    ]
    write_text(path, "\n".join(lines) + "\n")
    return path
