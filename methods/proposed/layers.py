"""Building blocks of the proposed regressor (Sun et al., Sec. III-C): the scale-normalisation layer, the
semantic graph convolution of Zhao et al. [45] and the bilinear transform of the skeleton-disentangled
representation (Sun et al. [7]).

Conventions: 2D keypoints are pixels in the 'openpose_137' layout (``bench.samples``), rows ``[x, y, conf]``.

Precision (``precision=fp32|bf16`` of ``proposed`` and ``lifter``, a predict-time setting): :func:`autocast` runs
the networks' hidden layers under bf16 autocast on the batch's device; :func:`in_fp32` keeps a layer (the output
layers, whose values near 1 bf16 would round by up to 0.4%) and everything after the network (decoding, the body
model, projections) in float32.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from bench.body.skeletons import get_skeleton, part_indices

__all__ = [
    "PART_SLICES",
    "PRECISIONS",
    "autocast",
    "in_fp32",
    "missing_part_input",
    "BilinearTransform",
    "SemGraphConv",
    "face_adjacency",
    "hand_adjacency",
    "normalize_all",
    "normalize_parts",
    "scale_normalize",
]

# openpose_137 parts: body (BODY_25), left hand, right hand, face (PROTOCOLS.md "2D keypoint inputs")
PART_SLICES = {p: slice(int(i[0]), int(i[-1]) + 1) for p in ("body", "left_hand", "right_hand", "face")
               for i in [part_indices("openpose_137", p)]}  # fmt: skip


PRECISIONS = ("fp32", "bf16")  # a predict-time setting (module docstring)


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device``'s type for ``precision='bf16'``; for 'fp32', float32: a caller's autocast is
    switched off (nothing is done when none is on)."""
    device_type = torch.device(device).type
    if precision == "fp32":
        on = torch.is_autocast_enabled(device_type)
        return torch.autocast(device_type=device_type, enabled=False) if on else contextlib.nullcontext()
    if precision != "bf16":
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


def in_fp32(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` in float32, with autocast off around it when it is on (else exactly ``layer(x)``)."""
    if not torch.is_autocast_enabled(x.device.type):
        return layer(x)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return layer(x.float())


def scale_normalize(
    points: torch.Tensor, conf_threshold: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale-normalisation layer of Sec. III-C for one part.

    points: (B, K, 3) ``[x, y, conf]`` pixels; NaN/inf coordinates or conf <= ``conf_threshold`` are masked.
    Returns ``(normed (B, K, 2), mask (B, K) bool, centre (B, 2) px, half (B,) px)``: valid points minus their
    mean, divided by half the larger side of their bounding box (isotropic, so the part's aspect is kept);
    masked points are 0. A part with fewer than two valid points (or a zero-size box) gets half = 1 and
    centre = 0, and all-zero output; never NaN.
    """
    xy = points[..., :2]
    conf = points[..., 2]
    mask = torch.isfinite(xy).all(-1) & torch.isfinite(conf) & (conf > conf_threshold)
    xy = torch.where(mask[..., None], xy, torch.zeros_like(xy))
    m = mask[..., None].to(xy.dtype)
    count = m.sum(1)  # (B, 1)
    centre = xy.sum(1) / count.clamp(min=1.0)
    big = torch.finfo(xy.dtype).max
    lo = torch.where(mask[..., None], xy, torch.full_like(xy, big)).amin(1)
    hi = torch.where(mask[..., None], xy, torch.full_like(xy, -big)).amax(1)
    half = 0.5 * (hi - lo).amax(-1)
    ok = (count[:, 0] >= 2) & (half > 1e-6)
    half = torch.where(ok, half, torch.ones_like(half))
    centre = torch.where(ok[:, None], centre, torch.zeros_like(centre))
    normed = (xy - centre[:, None]) / half[:, None, None] * m
    mask = mask & ok[:, None]
    return normed * mask[..., None].to(xy.dtype), mask, centre, half


def normalize_parts(keypoints: torch.Tensor, conf_threshold: float = 0.1) -> dict[str, tuple[torch.Tensor, ...]]:
    """:func:`scale_normalize` applied to each part of (B, 137, 3) openpose_137 keypoints."""
    return {part: scale_normalize(keypoints[:, sl], conf_threshold) for part, sl in PART_SLICES.items()}


_PARTS = ("body", "left_hand", "right_hand", "face")
_MAX_PART = max(PART_SLICES[p].stop - PART_SLICES[p].start for p in _PARTS)  # 70 (face)
_GATHER: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def _part_gather(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(4 * 70,) openpose_137 row per padded (part, node) slot and (4, 70, 1) bool: the slot is a real point."""
    if device not in _GATHER:
        idx = torch.zeros(len(_PARTS), _MAX_PART, dtype=torch.long)
        real = torch.zeros(len(_PARTS), _MAX_PART, 1, dtype=torch.bool)
        for i, part in enumerate(_PARTS):
            sl = PART_SLICES[part]
            idx[i, : sl.stop - sl.start] = torch.arange(sl.start, sl.stop)
            real[i, : sl.stop - sl.start] = True
        _GATHER[device] = (idx.flatten().to(device), real.to(device))
    return _GATHER[device]


def normalize_all(
    keypoints: torch.Tensor, conf_threshold: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`scale_normalize` of all four parts at once, node-major (one set of ops instead of one per part).

    keypoints: (B, 137, 3) openpose_137 px. Returns ``(normed (4, 70, B, 2), mask (4, 70, B) bool, centre (4, B, 2)
    px, half (4, B) px)`` with parts in the order body, left hand, right hand, face; part ``p`` with ``K_p`` points
    occupies nodes ``[:K_p]`` (the padding nodes are masked, 0). Equal to :func:`scale_normalize` per part.
    """
    idx, real = _part_gather(keypoints.device)
    pts = keypoints.transpose(0, 1).index_select(0, idx).view(len(_PARTS), _MAX_PART, -1, 3)
    mask = torch.isfinite(pts).all(-1) & (pts[..., 2] > conf_threshold) & real
    m3 = mask[..., None]
    xy = torch.where(m3, pts[..., :2], 0.0)
    count = mask.sum(1)  # (4, B)
    centre = xy.sum(1) / count.clamp(min=1)[..., None].to(xy.dtype)
    big = torch.finfo(xy.dtype).max
    half = 0.5 * (torch.where(m3, xy, -big).amax(1) - torch.where(m3, xy, big).amin(1)).amax(-1)
    ok = (count >= 2) & (half > 1e-6)
    half = torch.where(ok, half, 1.0)
    centre = torch.where(ok[..., None], centre, 0.0)
    mask = mask & ok[:, None]
    normed = (xy - centre[:, None]) / half[:, None, :, None] * mask[..., None]
    return normed, mask, centre, half


def hand_adjacency() -> np.ndarray:
    """(21, 21) bool adjacency (with self loops) of the OpenPose hand-21 graph (wrist -> 5 finger chains)."""
    parents = (
        np.asarray(get_skeleton("openpose_137").parents[PART_SLICES["left_hand"]]) - PART_SLICES["left_hand"].start
    )
    A = np.eye(21, dtype=bool)
    for j, p in enumerate(parents):
        if p >= 0:
            A[j, p] = A[p, j] = True
    return A


def face_adjacency() -> np.ndarray:
    """(70, 70) bool adjacency (self loops) of the OpenPose face-70 landmarks: chains along the contour (0-16),
    brows (17-21, 22-26), nose bridge (27-30) and base (31-35), closed loops around the eyes (36-41, 42-47) and
    lips (48-59, 60-67); pupils 68/69 joined to every point of their eye (PROTOCOLS.md face-70 order)."""
    A = np.eye(70, dtype=bool)

    def chain(a: int, b: int, closed: bool = False) -> None:
        idx = list(range(a, b + 1)) + ([a] if closed else [])
        for i, j in zip(idx[:-1], idx[1:], strict=True):
            A[i, j] = A[j, i] = True

    for a, b in ((0, 16), (17, 21), (22, 26), (27, 30), (31, 35)):
        chain(a, b)
    for a, b in ((36, 41), (42, 47), (48, 59), (60, 67)):
        chain(a, b, closed=True)
    A[30, 33] = A[33, 30] = True
    for pupil, (a, b) in ((68, (36, 41)), (69, (42, 47))):
        A[pupil, a : b + 1] = A[a : b + 1, pupil] = True
    return A


class SemGraphConv(nn.Module):
    """Semantic graph convolution (Zhao et al. [45], Eq. 4): learnable edge weights over the graph's adjacency,
    softmax-normalised per node, separate transforms for the node itself and its neighbours.

    x: (B, K, C_in) -> (B, K, C_out).
    """

    def __init__(self, in_features: int, out_features: int, adjacency: np.ndarray) -> None:
        super().__init__()
        self.out_features = out_features
        # [W_self | W_neighbour] side by side: one matmul for both transforms
        self.W = nn.Parameter(torch.empty(in_features, 2 * out_features))
        nn.init.xavier_uniform_(self.W[:, :out_features])
        nn.init.xavier_uniform_(self.W[:, out_features:])
        adj = torch.as_tensor(adjacency, dtype=torch.bool)
        self.register_buffer("adj", adj)
        self.register_buffer("eye", torch.eye(len(adj)))
        self.e = nn.Parameter(torch.ones(int(adj.sum())))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(K,) self weights and (K, K) neighbour weights: the row-softmax of the edge logits over the graph.

        Without autograd the result is cached, keyed by the edge parameter's version counter (bumped by every
        in-place update: optimiser steps, ``load_state_dict``), so inference does not recompute it per call.
        """
        if torch.is_grad_enabled():
            return self._weights(dtype)
        key = (self.e._version, self.e.data_ptr(), dtype)
        if getattr(self, "_cache_key", None) != key:
            self._cache = self._weights(dtype)
            self._cache_key = key
        return self._cache

    def _weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.full(self.adj.shape, -9e15, dtype=dtype, device=self.adj.device)
        A = torch.softmax(logits.masked_scatter(self.adj, self.e.to(dtype)), dim=1)
        return torch.diagonal(A), A * (1 - self.eye)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_nodes(x.transpose(0, 1)).transpose(0, 1)

    def forward_nodes(self, x: torch.Tensor) -> torch.Tensor:
        """Node-major form (K, B, C_in) -> (K, B, C_out): ``d_k x_k W_self + (sum_j A_kj x_j) W_nb + b``.

        The neighbour mixing is applied to the input (linear, so ``A (x W) = (A x) W``): with nodes first it is one
        plain (K, K) x (K, B * C_in) product, and the two transforms are two matmuls accumulated in place.
        """
        K, B, C = x.shape
        d, A = self.weights(x.dtype)
        flat = x.reshape(K, B * C)
        W, n = self.W, self.out_features
        out = torch.addmm(self.bias, (flat * d[:, None]).view(K * B, C), W[:, :n])
        if torch.is_autocast_enabled(x.device.type):  # an in-place addmm_ is not autocast: the out-of-place one
            return torch.addmm(out, (A @ flat).view(K * B, C), W[:, n:]).view(K, B, n)
        out = out.addmm_((A @ flat).view(K * B, C), W[:, n:])
        return out.view(K, B, n)


class BilinearTransform(nn.Module):
    """Bilinear transformation layer of the skeleton-disentangled representation (Sun et al. [7], used by the
    paper's global branch, Sec. III-C), in low-rank form: ``z = P((U a) * (V b)) + W [a, b]``.

    In the paper ``a`` is the 2D-pose feature and ``b`` the 512-D image (shape) embedding of a ResNet-50. This
    benchmark feeds keypoints only (no images), so ``b`` is a second embedding of the body keypoints and their
    detection confidences (documented deviation).
    """

    def __init__(self, dim_a: int, dim_b: int, rank: int, out: int) -> None:
        super().__init__()
        self.U = nn.Linear(dim_a, rank, bias=False)
        self.V = nn.Linear(dim_b, rank, bias=False)
        self.P = nn.Linear(rank, out)
        self.W = nn.Linear(dim_a + dim_b, out, bias=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.P(self.U(a) * self.V(b)) + self.W(torch.cat([a, b], dim=-1))


def missing_part_input(samples, part: str, threshold: float, needs: str) -> str | None:
    """The reason a method cannot run on ``samples`` (a ``bench.samples.SampleSet``) when no sample has at least
    two keypoints of ``part`` ('body', 'left_hand', ...) above ``threshold`` confidence, else None; ``needs`` says
    what the method needs them for."""
    seen = samples.keypoints2d[:, PART_SLICES[part], 2] > threshold
    if len(samples) and not (seen.sum(1) >= 2).any():
        return f"{samples.name}: no {part.replace('_', '-')} keypoints ({needs})"
    return None
