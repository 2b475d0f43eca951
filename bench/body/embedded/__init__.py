"""The embedded SMPL-X-format body model: procedurally generated, deterministic, never downloaded.

It exists so that everything runs on a machine without the licensed SMPL-X files. It is *synthetic*: the
numbers it produces are not SMPL-X numbers, and everything built on it is labelled synthetic.
"""

from bench.body.embedded.build import EMBEDDED_VERSION, build_arrays, cache_root, embedded_model_dir, npz_bytes

__all__ = ["EMBEDDED_VERSION", "build_arrays", "cache_root", "embedded_model_dir", "npz_bytes"]
