"""What `moodscape predict` imports before its first result: an exported model needs neither the model code's
libraries (transformers) nor scikit-learn, whose imports alone cost seconds on a small machine."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("transformers", "sklearn")


def test_the_prediction_path_imports_no_model_code():
    code = ("import sys; import moodscape.inference.batch, moodscape.inference.backends, moodscape.cli; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "", f"imported on the prediction path: {run.stdout.strip()}"
