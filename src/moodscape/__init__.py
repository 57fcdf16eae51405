"""moodscape: predict valence and arousal of music, song by song and second by second."""

__version__ = "0.1.0"
