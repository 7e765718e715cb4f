"""The training points: the dataset and its checks, the built-in presets, points files and their columns,
pen strokes turned into points."""
