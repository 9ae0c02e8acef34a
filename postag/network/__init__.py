"""The network: the exercise's layers (model.py), word features, windows for long sentences, and
the tagging network that puts them together (tagging.py)."""
