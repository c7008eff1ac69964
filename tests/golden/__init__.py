"""Golden files of the renderer: see regenerate.py."""
