"""datasets of hmrbench (uses bench/, never the reverse except through the registry).

Importing this package registers the built-in adapters with ``bench.registry``: panoptic, h36m, stb (each with
a synthetic generator writing its real file format), cocowb (COCO-WholeBody JSON, a 2D-only training set with a
synthetic in-the-wild generator) and openpose (2D-only input).
"""

from datasets import openpose_adapter as _openpose  # noqa: F401
from datasets.cocowb import adapter as _cocowb  # noqa: F401
from datasets.h36m import adapter as _h36m  # noqa: F401
from datasets.panoptic import adapter as _panoptic  # noqa: F401
from datasets.stb import adapter as _stb  # noqa: F401
