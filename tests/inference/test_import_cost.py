"""What `moodscape predict` imports to give its first result: the shipped model is an ONNX export fused with the
descriptor floor (numpy arrays), which needs neither torch nor the model code's libraries (transformers); their
imports alone take seconds of a one-file prediction on a small machine. (librosa, for the floor's descriptors, brings
scikit-learn along: ``librosa.decompose``, whose HPSS gives the harmonic ratio, imports it, about 0.06 s.)"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import soundfile as sf

HEAVY = ("torch", "transformers")


def test_predicting_with_the_shipped_model_imports_no_model_code(tmp_path):
    song = tmp_path / "tone.wav"
    t = np.arange(16000 * 4) / 16000
    sf.write(song, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    code = ("import sys; import moodscape.cli; from moodscape.inference.batch import PredictionBatch; "
            f"batch = PredictionBatch.open([{str(song)!r}]); print(next(batch.run(progress=False))[1].quadrant); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    quadrant, imported = run.stdout.splitlines()
    assert quadrant in ("Q1", "Q2", "Q3", "Q4")
    assert imported == "", f"imported to predict with an ONNX export: {imported}"
