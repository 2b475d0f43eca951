"""h36m: file format layer (format.py), synthetic generator (synth.py) and adapter (adapter.py)."""
