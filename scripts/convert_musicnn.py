"""Convert musicnn's TensorFlow 1 checkpoints (MSD_musicnn, MTT_musicnn) to moodscape's PyTorch port, once.

Runs in its own environment, never at moodscape's run time (``make convert-musicnn`` builds it: moodscape
with TensorFlow, tf-keras and the ``musicnn`` wheel installed without its numpy < 1.17 pin). Reads each
checkpoint from the installed wheel, writes ``model.safetensors`` + ``config.json`` into
``src/moodscape/pretrained/<name>/`` through :class:`moodscape.models.pretrained.musicnn.Musicnn`, then runs the
TensorFlow graph (``musicnn.models.define_model``) and the port on the same input patches and saves both
the patches and TensorFlow's outputs as the parity fixture ``tests/fixtures/musicnn_reference.npz``.
The patches are musicnn's input (see :func:`reference_patches`) for three real DEAM clips and a generated
tone, two 3 s patches each. Stops if the port's tag probabilities differ from TensorFlow's by more than 1e-4.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from moodscape.models.pretrained.musicnn import TEMPORAL_SPANS, Musicnn  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = ("MSD_musicnn", "MTT_musicnn")
CLIPS = ("2", "3", "10")  # deam-mini song ids
PATCHES_PER_CLIP = 2
TOLERANCE = 1e-4


def tf_variables(checkpoint: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(checkpoint) + "/")
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map() if "Adam" not in name}


def state_dict(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """TensorFlow's variables (named in creation order, see musicnn/models.py) -> the port's state dict."""

    def bn(index: int, prefix: str) -> dict[str, np.ndarray]:
        name = "batch_normalization" + (f"_{index}" if index else "")
        return {f"{prefix}.weight": variables[f"{name}/gamma"], f"{prefix}.bias": variables[f"{name}/beta"],
                f"{prefix}.running_mean": variables[f"{name}/moving_mean"],
                f"{prefix}.running_var": variables[f"{name}/moving_variance"],
                f"{prefix}.num_batches_tracked": np.array(0, dtype=np.int64)}  # fmt: skip

    def conv(index: int, prefix: str, *, one_d: bool = False) -> dict[str, np.ndarray]:
        name = "conv2d" + (f"_{index}" if index else "")
        kernel = variables[f"{name}/kernel"]  # (height, width, in, out)
        weight = kernel[:, :, 0, :].transpose(2, 1, 0) if one_d else kernel.transpose(3, 2, 0, 1)
        return {f"{prefix}.weight": weight, f"{prefix}.bias": variables[f"{name}/bias"]}

    state: dict[str, np.ndarray] = {**bn(0, "input_bn")}
    blocks = [f"timbral.{i}" for i in range(2)] + [f"temporal.{i}" for i in range(len(TEMPORAL_SPANS))]
    for i, block in enumerate(blocks):
        state |= conv(i, f"{block}.conv") | bn(i + 1, f"{block}.bn")
    for i in range(3):
        state |= conv(len(blocks) + i, f"midend.{i}.conv", one_d=True) | bn(len(blocks) + 1 + i, f"midend.{i}.bn")
    state |= bn(9, "pool_bn") | bn(10, "dense_bn")
    state |= {"dense.weight": variables["dense/kernel"].T, "dense.bias": variables["dense/bias"],
              "classifier.weight": variables["dense_1/kernel"].T, "classifier.bias": variables["dense_1/bias"]}  # fmt: skip
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def reference_patches(clips_dir: Path) -> tuple[np.ndarray, list[str]]:
    """musicnn's input for each clip as its extractor computes it (librosa's mel spectrogram of the 16 kHz
    audio, stored as float16, then log10(1 + 10000 mel)), two 3 s patches each: (patches, 187, 96) float16.

    One difference, on purpose: musicnn's extractor multiplies by 10000 in float16, which overflows to
    infinity wherever the mel power exceeds 6.55 (loud low bands); here, as in moodscape's front end, the
    compression runs in float32. Both networks then read the same float16-rounded values.
    """
    import librosa
    import soundfile as sf

    tone = Path(os.environ.get("TMPDIR", "/tmp")) / "musicnn-reference-tone.wav"
    t = np.arange(7 * 16000) / 16000
    sf.write(tone, (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2).astype(np.float32), 16000)
    patches, names = [], []
    for source in [*(clips_dir / f"{song}.mp3" for song in CLIPS), tone]:
        audio, rate = librosa.load(str(source), sr=16000)
        mel = librosa.feature.melspectrogram(y=audio, sr=rate, hop_length=256, n_fft=512, n_mels=96).T
        compressed = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1).astype(np.float16)
        for i in range(PATCHES_PER_CLIP):
            patches.append(compressed[i * 187 : (i + 1) * 187])
            names.append(f"{source.name}#{i}")
    return np.stack(patches), names


def tensorflow_outputs(model: str, patches: np.ndarray, checkpoint: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf
    from musicnn import configuration, models

    labels = configuration.MSD_LABELS if model.startswith("MSD") else configuration.MTT_LABELS
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, patches.shape[1], patches.shape[2]])
        training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, mean_pool, max_pool, penultimate = models.define_model(x, training, model, len(labels))
        session = tf.compat.v1.Session(graph=graph)
        tf.compat.v1.train.Saver().restore(session, str(checkpoint) + "/")
        tags, mean, maximum, penult = session.run([tf.nn.sigmoid(logits), mean_pool, max_pool, penultimate],
                                                  {x: patches.astype(np.float32), training: False})  # fmt: skip
    return {"tags": tags, "mean_pool": mean, "max_pool": maximum, "penultimate": penult}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=REPO.parent / "shared/data/deam-mini/DEAM_audio/MEMD_audio")
    parser.add_argument("--out", type=Path, default=REPO / "src/moodscape/pretrained")
    parser.add_argument("--fixture", type=Path, default=REPO / "tests/fixtures/musicnn_reference.npz")
    args = parser.parse_args()

    import musicnn
    from musicnn import configuration

    patches, names = reference_patches(args.clips)
    fixture: dict[str, np.ndarray] = {"patches": patches, "names": np.array(names)}
    for model in MODELS:
        checkpoint = Path(musicnn.__file__).parent / model
        labels = configuration.MSD_LABELS if model.startswith("MSD") else configuration.MTT_LABELS
        port = Musicnn(tags=labels, name=model)
        port.load_state_dict(state_dict(tf_variables(checkpoint)), strict=True)
        port.eval().save_pretrained(args.out / model)
        reference = tensorflow_outputs(model, patches, checkpoint)
        with torch.inference_mode():
            out = port(torch.from_numpy(patches.astype(np.float32)).transpose(1, 2))
        ours = {"tags": out.tags, "mean_pool": out.mean_pool, "max_pool": out.max_pool, "penultimate": out.penultimate}
        for key, value in reference.items():
            gap = float(np.abs(ours[key].numpy() - value).max())
            print(f"{model} {key}: max |port - TensorFlow| = {gap:.2e}")
            if key == "tags" and not gap <= TOLERANCE:  # NaN fails too
                sys.exit(f"{model}: the port's tags differ from TensorFlow's by {gap:.2e} > {TOLERANCE}")
            fixture[f"{model}/{key}"] = value.astype(np.float32)
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.fixture, **fixture)
    print(f"wrote {', '.join(str(args.out / m) for m in MODELS)} and {args.fixture}")


if __name__ == "__main__":
    main()
