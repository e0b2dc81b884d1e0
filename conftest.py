"""Load the emotion-hypotheses pytest plugin for the verdict suite and the library tests."""

pytest_plugins = ["emotion_hypotheses.plugin", "pytester"]
