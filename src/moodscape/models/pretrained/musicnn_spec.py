"""What the shipped musicnn taggers are called and what input they read, without importing torch: a fusion
that names them is read when a model loads, and the default model must load without torch."""

SHIPPED = ("MSD_musicnn", "MTT_musicnn")
# Joins the names of several taggers one teacher reads side by side: teacher.pretrained=MSD_musicnn+MTT_musicnn.
MUSICNN_JOIN = "+"
# The input the networks were trained on, as moodscape's settings (the store of a musicnn teacher must match).
MUSICNN_INPUT = {"audio.sample_rate": 16000, "features.n_fft": 512, "features.hop_length": 256, "features.n_mels": 96,
                 "features.fmin": 0.0, "features.fmax": 8000.0, "features.compression": "logc",
                 "features.normalization": "none"}  # fmt: skip
