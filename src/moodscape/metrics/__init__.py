"""Scores that every layer may use: CCC and the regression metrics, bootstrap intervals, GAN quality maths."""
