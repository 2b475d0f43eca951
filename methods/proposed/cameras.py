"""Camera heads of the proposed regressor, one per projection of Sun et al.: what the network regresses for the
camera, how those raw outputs become a camera, and how the camera maps body points to pixels.

The three heads are three estimation problems (Sec. III-B, III-E, IV-C), not three labels of one camera:

- ``wpp`` regresses ``(s, t_u, t_v)`` and projects with Eq. 6-7 (``bench.geometry.projections.project_wpp``).
- ``d2s`` regresses ``(s, t_u, t_v, d)`` and projects with Eq. 12-13 (``project_d2s``): the pixel scale ``s`` is
  an output of its own; ``d`` enters the pixels only through the per-joint factors ``d / (d + z_i)``.
- ``pp`` regresses the mean focal ``f = (f_x + f_y) / 2`` and the translation ``t^c = (T_x, T_y, d)`` and
  projects with Eq. 3-4 (``project_pp``): its pixel scale is ``f / d`` and its pixel translation ``f T / d``, so
  focal and depth are only observed through their ratio (plus the perspective term) and can drift together.

Every pixel quantity is relative to the image centre ``c = ((w-1)/2, (h-1)/2)`` (the principal point an
uncalibrated method assumes; origin at the top-left pixel's centre, ``bench.geometry.projections``).
``F0 = focal_scale * max(w, h)`` px is the assumed focal, ``D0 = REF_DEPTH_M`` (4 m) a reference depth,
``L = body_half_m`` (0.9 m) a typical half body extent.

Box features (the same five for every head, :func:`box_features`). The global branch sees scale-normalised
keypoints, blind to where and how large the body is in the image; its camera layer (one linear layer over the
branch's last hidden features and these) also gets, with ``m`` the mean and ``h`` the half box size (px) of the
valid body keypoints: ``log(h / F0)`` clamped to [-8, 2], ``(m - c) / F0`` clamped to [-4, 4] (two values), and
``(m - c) / h`` clamped to [-32, 32] (two values). The decoding below never uses ``m`` or ``h``: whatever a head
knows about scale it learns from these inputs.

Decoding of the raw camera outputs (``LOG_CLAMP = 4``: every raw value read through ``exp`` is clamped to
[-4, 4], a factor of e^4 ~ 55 either way of its reference; the translations are not clamped):

- ``wpp``: raw ``(a, b_u, b_v)`` -> ``s = (F0 / D0) exp(a)`` px/m, ``t = F0 (b_u, b_v)`` px. Depth is not
  observable: the pelvis is put at ``(t / s, F0 / s)`` (the assumed focal); ``focal`` is F0.
- ``d2s``: raw ``(a, b_u, b_v, e)`` -> s, t as WPP and ``d = D0 exp(e)`` m; the pelvis is at ``(t / s, d)``
  (Eq. 8-9 inverted, ``bench.geometry.projections.pp_to_d2s``); ``focal`` is the implied ``s d``.
- ``pp``: raw ``(g, x, y, e)`` -> ``f = F0 exp(g)`` px, ``T = D0 (x, y)`` m, ``d = D0 exp(e)`` m; the pelvis is
  at ``(T_x, T_y, d)``.

Initialisation (:meth:`CameraHead.initial_bias`, :meth:`CameraHead.initial_box_weight`): every head starts at
the same camera for the mean body, the perspective camera of focal F0 with the pelvis on the ray through the box
centre at ``d = F0 L / h`` (so the three start from the same 2D and differ only in what training can change):
WPP/D2S ``a = log(h / F0) + log(D0 / L)``, ``b = (m - c) / F0``; D2S/PP ``e = -log(h / F0) + log(L / D0)``;
PP ``g = 0``, ``(x, y) = (L / D0) (m - c) / h``.

Camera supervision (``camera_supervision=gt``, :meth:`CameraHead.camera_loss`): each head is supervised on what
it regresses, from a true camera (mean focal ``f*`` px when known, camera-frame pelvis ``C* = (X, Y, Z)`` m,
principal point ``p*`` px) re-expressed for the image-centre principal point (pelvis pixel ``u* = f* (X, Y) / Z
+ p* - c``): WPP ``(log s - log(f*/Z))^2 + |t - u*|^2 / F0^2``; D2S those plus ``(log d - log Z)^2``; PP
``(log f - log f*)^2 + (log d - log Z)^2 + |T - u* Z / f*|^2 / Z^2``. Terms that need ``f*`` are dropped where
it is unknown (PP's T target is then ``(X, Y)``).

Collapse rule (:func:`is_collapsed`, stated once here): over the training pool's 2D inputs plus one fixed STS
batch, a run's camera head has *collapsed* when the median regressed focal is outside [F0/4, 4 F0] (pp), or the
median regressed depth is outside [0.3, 30] m (d2s, pp), or more than half the samples have a raw value at its
clamp bound (any head).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from bench.geometry.projections import project_d2s, project_pp, project_wpp

__all__ = [
    "COLLAPSE_CLAMP_SHARE",
    "COLLAPSE_DEPTH_M",
    "COLLAPSE_FOCAL_RATIO",
    "HEADS",
    "LOG_CLAMP",
    "NUM_BOX_FEATURES",
    "REF_DEPTH_M",
    "BoxFrame",
    "CameraHead",
    "D2SHead",
    "PPHead",
    "WPPHead",
    "box_features",
    "camera_stats",
    "is_collapsed",
    "make_head",
]

REF_DEPTH_M = 4.0  # D0
LOG_CLAMP = 4.0
NUM_BOX_FEATURES = 5
COLLAPSE_FOCAL_RATIO = (0.25, 4.0)  # median f / F0 (heads that regress f)
COLLAPSE_DEPTH_M = (0.3, 30.0)  # median d (heads that regress d)
COLLAPSE_CLAMP_SHARE = 0.5  # share of samples with a raw value at its clamp bound
Decoded = dict[str, torch.Tensor]
_FEATURE_LO = (-8.0, -4.0, -4.0, -32.0, -32.0)
_FEATURE_HI = (2.0, 4.0, 4.0, 32.0, 32.0)


class BoxFrame(NamedTuple):
    """What every head decodes against: ``features`` (B, 5) box features (module docstring), ``focal0`` (B,) F0 px,
    ``principal`` (B, 2) the image centre px, ``half`` (B,) px the body box half size (the 2D loss's unit)."""

    features: torch.Tensor
    focal0: torch.Tensor
    principal: torch.Tensor
    half: torch.Tensor


_BOUNDS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def box_features(centre: torch.Tensor, half: torch.Tensor, image_size: torch.Tensor, focal_scale: float) -> BoxFrame:
    """centre (B, 2) px and half (B,) px of the body keypoints' box (``layers.normalize_all``), image_size (B, 2)
    ``(w, h)`` -> :class:`BoxFrame` (module docstring for the features and their clamps)."""
    size = image_size.to(half.dtype)
    c = (size - 1.0) / 2.0
    F0 = focal_scale * size.amax(-1)
    off = centre - c
    key = (half.dtype, half.device)
    if key not in _BOUNDS:
        _BOUNDS[key] = (torch.tensor(_FEATURE_LO, dtype=half.dtype, device=half.device),
                        torch.tensor(_FEATURE_HI, dtype=half.dtype, device=half.device))  # fmt: skip
    lo, hi = _BOUNDS[key]
    feats = torch.cat([torch.log(half / F0)[:, None], off / F0[:, None], off / half[:, None]], -1)
    return BoxFrame(torch.clamp(feats, lo, hi), F0, c, half)


class CameraHead:
    """A projection's camera head (module docstring): ``raw_dim`` network outputs, their initial values,
    :meth:`decode` to a camera, :meth:`project` to pixels and :meth:`camera_loss` against a true camera.

    ``decode`` returns a dict with at least 'cam' (B, raw_dim) the camera vector of ``bench.geometry.projections``
    (wpp ``[s, t_u, t_v]``, d2s ``[s, t_u, t_v, d]``, pp ``[f, T_x, T_y, d]``), 'focal' (B,) px, 'centre3d' (B, 3)
    camera-frame pelvis m, 'principal' (B, 2) px, 'focal0' (B,) F0 px and 'cam_raw' (B, raw_dim) the undecoded
    outputs.
    """

    name = ""
    raw_dim = 0
    log_entries: tuple[int, ...] = ()  # raw entries read through exp (clamped to +-LOG_CLAMP)
    regresses_focal = False
    regresses_depth = False

    def __init__(self, *, body_half_m: float = 0.9) -> None:
        self.body_half_m = float(body_half_m)

    def initial_bias(self) -> torch.Tensor:
        """(raw_dim,) initial bias of the camera layer (module docstring, Initialisation)."""
        raise NotImplementedError

    def initial_box_weight(self) -> torch.Tensor:
        """(raw_dim, NUM_BOX_FEATURES) initial weights of the camera layer on the box features."""
        raise NotImplementedError

    def decode(self, raw: torch.Tensor, box: BoxFrame) -> dict[str, torch.Tensor]:
        """(B, raw_dim) camera-layer outputs -> the decoded camera (class docstring for the keys)."""
        raise NotImplementedError

    @staticmethod
    def project(points: torch.Tensor, decoded: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pelvis-centred camera-frame points (B, J, 3) m -> pixels (B, J, 2)."""
        raise NotImplementedError

    def terms(self, decoded: Decoded, truth: Decoded) -> list[tuple[torch.Tensor, bool]]:
        """Per-sample squared errors (B,) each, with whether the term needs the true focal (module docstring).
        ``truth`` holds finite stand-ins where a value is unknown; :meth:`camera_loss` masks those terms."""
        raise NotImplementedError

    def at_clamp(self, raw: torch.Tensor) -> torch.Tensor:
        """(B,) bool: a raw value read through exp is at (or beyond) its clamp bound."""
        return (raw[:, list(self.log_entries)].abs() >= LOG_CLAMP).any(-1)

    def camera_loss(self, decoded: dict[str, torch.Tensor], focal: torch.Tensor, centre3d: torch.Tensor,
                    principal: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """(B,) sum of the head's camera terms against the truth: ``focal`` (B,) mean focal px (NaN or <= 0:
        unknown), ``centre3d`` (B, 3) camera-frame pelvis m (a sample without a finite one in front of the camera
        gets 0), ``principal`` (B, 2) px. Terms that need an unknown focal count 0 (and pass no gradient)."""
        c, F0 = decoded["principal"], decoded["focal0"]
        known = torch.isfinite(focal) & (focal > 0)
        placed = torch.isfinite(centre3d).all(-1) & (centre3d[:, 2] > 0)
        f = torch.where(known, focal, F0)
        C = torch.where(placed[:, None], centre3d, torch.ones_like(centre3d))
        Z = C[:, 2]
        u = f[:, None] * C[:, :2] / Z[:, None] + principal - c  # pelvis pixel for the centre principal point
        truth = {"f": f, "Z": Z, "u": u, "T": torch.where(known[:, None], u * Z[:, None] / f[:, None], C[:, :2]),
                 "F0": F0}  # fmt: skip
        total = torch.zeros_like(Z)
        for term, needs_focal in self.terms(decoded, truth):
            total = total + torch.where(placed & known if needs_focal else placed, term, torch.zeros_like(term))
        return total

    def _clamped_exp(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x.clamp(-LOG_CLAMP, LOG_CLAMP))


class WPPHead(CameraHead):
    """Weak perspective: regresses ``(s, t_u, t_v)``, Eq. 6-7."""

    name = "wpp"
    raw_dim = 3
    log_entries = (0,)

    def initial_bias(self) -> torch.Tensor:
        return torch.tensor([math.log(REF_DEPTH_M / self.body_half_m), 0.0, 0.0])

    def initial_box_weight(self) -> torch.Tensor:
        W = torch.zeros(self.raw_dim, NUM_BOX_FEATURES)
        W[0, 0] = W[1, 1] = W[2, 2] = 1.0
        return W

    def _scale_shift(self, raw: torch.Tensor, box: BoxFrame) -> tuple[torch.Tensor, torch.Tensor]:
        F0 = box.focal0
        return F0 / REF_DEPTH_M * self._clamped_exp(raw[:, 0]), F0[:, None] * raw[:, 1:3]

    def decode(self, raw: torch.Tensor, box: BoxFrame) -> dict[str, torch.Tensor]:
        s, t = self._scale_shift(raw, box)
        centre3d = torch.cat([t / s[:, None], (box.focal0 / s)[:, None]], -1)
        return {"cam": torch.cat([s[:, None], t], -1), "focal": box.focal0, "centre3d": centre3d,
                "principal": box.principal, "focal0": box.focal0, "cam_raw": raw}  # fmt: skip

    @staticmethod
    def project(points: torch.Tensor, decoded: dict[str, torch.Tensor]) -> torch.Tensor:
        return project_wpp(points, decoded["cam"], center=decoded["principal"])

    def terms(self, decoded: Decoded, truth: Decoded) -> list[tuple[torch.Tensor, bool]]:
        cam = decoded["cam"]
        scale = (torch.log(cam[:, 0]) - torch.log(truth["f"] / truth["Z"])).square()
        shift = ((cam[:, 1:3] - truth["u"]) / truth["F0"][:, None]).square().sum(-1)
        return [(scale, True), (shift, True)]


class D2SHead(WPPHead):
    """Depth-to-scale: regresses ``(s, t_u, t_v, d)``, Eq. 12-13."""

    name = "d2s"
    raw_dim = 4
    log_entries = (0, 3)
    regresses_depth = True

    def initial_bias(self) -> torch.Tensor:
        return torch.cat([super().initial_bias(), torch.tensor([math.log(self.body_half_m / REF_DEPTH_M)])])

    def initial_box_weight(self) -> torch.Tensor:
        W = super().initial_box_weight()  # (4, 5): s and t as WPP
        W[3, 0] = -1.0
        return W

    def decode(self, raw: torch.Tensor, box: BoxFrame) -> dict[str, torch.Tensor]:
        s, t = self._scale_shift(raw, box)
        d = REF_DEPTH_M * self._clamped_exp(raw[:, 3])
        centre3d = torch.cat([t / s[:, None], d[:, None]], -1)
        return {"cam": torch.cat([s[:, None], t, d[:, None]], -1), "focal": s * d, "centre3d": centre3d,
                "principal": box.principal, "focal0": box.focal0, "cam_raw": raw}  # fmt: skip

    @staticmethod
    def project(points: torch.Tensor, decoded: dict[str, torch.Tensor]) -> torch.Tensor:
        return project_d2s(points, decoded["cam"], center=decoded["principal"])

    def terms(self, decoded: Decoded, truth: Decoded) -> list[tuple[torch.Tensor, bool]]:
        depth = (torch.log(decoded["cam"][:, 3]) - torch.log(truth["Z"])).square()
        return [*super().terms(decoded, truth), (depth, False)]


class PPHead(CameraHead):
    """Perspective: regresses the mean focal ``f`` and the translation ``(T_x, T_y, d)``, Eq. 3-4."""

    name = "pp"
    raw_dim = 4
    log_entries = (0, 3)
    regresses_focal = True
    regresses_depth = True

    def initial_bias(self) -> torch.Tensor:
        return torch.tensor([0.0, 0.0, 0.0, math.log(self.body_half_m / REF_DEPTH_M)])

    def initial_box_weight(self) -> torch.Tensor:
        W = torch.zeros(self.raw_dim, NUM_BOX_FEATURES)
        W[1, 3] = W[2, 4] = self.body_half_m / REF_DEPTH_M
        W[3, 0] = -1.0
        return W

    def decode(self, raw: torch.Tensor, box: BoxFrame) -> dict[str, torch.Tensor]:
        f = box.focal0 * self._clamped_exp(raw[:, 0])
        T = REF_DEPTH_M * raw[:, 1:3]
        d = REF_DEPTH_M * self._clamped_exp(raw[:, 3])
        centre3d = torch.cat([T, d[:, None]], -1)
        return {"cam": torch.cat([f[:, None], centre3d], -1), "focal": f, "centre3d": centre3d,
                "principal": box.principal, "focal0": box.focal0, "cam_raw": raw}  # fmt: skip

    @staticmethod
    def project(points: torch.Tensor, decoded: dict[str, torch.Tensor]) -> torch.Tensor:
        return project_pp(points, decoded["focal"], decoded["centre3d"], decoded["principal"])

    def terms(self, decoded: Decoded, truth: Decoded) -> list[tuple[torch.Tensor, bool]]:
        cam = decoded["cam"]
        focal = (torch.log(cam[:, 0]) - torch.log(truth["f"])).square()
        depth = (torch.log(cam[:, 3]) - torch.log(truth["Z"])).square()
        lateral = ((cam[:, 1:3] - truth["T"]) / truth["Z"][:, None]).square().sum(-1)
        return [(focal, True), (depth, False), (lateral, False)]


HEADS: dict[str, type[CameraHead]] = {"wpp": WPPHead, "d2s": D2SHead, "pp": PPHead}


def make_head(projection: str, *, body_half_m: float = 0.9) -> CameraHead:
    """The camera head of ``projection`` ('wpp', 'd2s' or 'pp'); another name is a ValueError listing them."""
    if projection not in HEADS:
        raise ValueError(f"projection must be one of {sorted(HEADS)}, got {projection!r}")
    return HEADS[projection](body_half_m=body_half_m)


def camera_stats(head: CameraHead, decoded: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Summary of a head's decoded cameras over N samples (``decode`` output, concatenated): n, median focal / F0
    (the regressed focal for pp, the implied ``s d`` for d2s, 1 for wpp), median depth m (regressed for d2s and
    pp, ``F0 / s`` for wpp), share of samples with a raw value at its clamp, and ``collapsed`` (module docstring)."""
    ratio = (decoded["focal"] / decoded["focal0"]).double()
    depth = decoded["centre3d"][:, 2].double()
    stats: dict[str, Any] = {
        "n": int(ratio.numel()),
        "focal_over_f0_median": float(ratio.nanmedian()) if ratio.numel() else math.nan,
        "depth_median_m": float(depth.nanmedian()) if depth.numel() else math.nan,
        "at_clamp_share": float(head.at_clamp(decoded["cam_raw"]).double().mean()) if ratio.numel() else math.nan,
    }
    stats["collapsed"] = is_collapsed(head, stats)
    return stats


def is_collapsed(head: CameraHead, stats: dict[str, Any]) -> bool:
    """The collapse rule of the module docstring on :func:`camera_stats` values (NaN medians count as collapsed)."""
    lo, hi = COLLAPSE_FOCAL_RATIO
    focal = stats["focal_over_f0_median"]
    if head.regresses_focal and not lo <= focal <= hi:
        return True
    lo, hi = COLLAPSE_DEPTH_M
    if head.regresses_depth and not lo <= stats["depth_median_m"] <= hi:
        return True
    return bool(stats["at_clamp_share"] > COLLAPSE_CLAMP_SHARE)
