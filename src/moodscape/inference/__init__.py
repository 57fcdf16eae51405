"""Prediction on any audio: streaming windows, any model kind, per-song values and timelines."""
