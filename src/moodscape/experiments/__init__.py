"""Experiments that train models to answer a question: cross-validation on real music, ablations."""
