"""cocowb: COCO-WholeBody JSON (format.py), the synthetic in-the-wild generator (synth.py) and adapter (adapter.py)."""
