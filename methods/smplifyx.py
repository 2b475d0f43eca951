"""SMPLify-X-style optimiser baseline (Pavlakos et al. 2019, vchoutas/smplify-x), registered as ``smplifyx``.

The recipe follows PROTOCOLS.md, "SMPLify-X" (line numbers of that section in brackets are its bullets):

- Camera: perspective, focal ``focal`` px (5000, SMPLify-X's uncalibrated default), principal point at the image
  centre; with ``use_calibration=true`` the sample's K is used instead. The fitted body is expressed directly in
  that camera frame (OpenCV axes, metres): ``transl`` and ``global_orient`` of the prediction are the camera-frame
  body's, so the camera itself is the identity.
- Initialisation: mean pose of the prior, zero shape, the body upright and facing the camera (``global_orient`` =
  pi about x, SMPL-X's y-up body into the y-down camera). Depth by similar triangles on the torso: z = f * mean 3D
  length / mean 2D length of the shoulder-hip edges (x, y put the torso centre on its 2D centre).
- Camera stage: translation + global orientation on the shoulders and hips only (squared pixel error, confidence
  weighted, times (1000/H)^2) plus ``depth_weight``^2 (t_z - t_z,init)^2, as SMPLify-X's camera-init loss. A start
  turned 180 deg about the body's vertical axis is also fitted (all stages) when the 2D shoulder width is under
  ``flip_threshold`` px; the one with the lower final loss is kept.
- Five stages (``SMPLIFYX_STAGES``: data, one dict of weights per stage). Per sample the objective is
  ``(1000/H)^2 sum_j (c_j w_j)^2 sum_xy GMoF(r)`` (Geman-McClure ``rho^2 r^2 / (r^2 + rho^2)`` per coordinate,
  rho = ``rho``; c = confidence, w = 1 for body joints, the stage's ``hand_joints`` / ``face_joints`` weight for
  hands / the 51 face landmarks; OpenPose Neck and both hips weigh 0, as in SMPLify-X) plus
  ``body_pose^2 E_gmm + bending * sum exp(+-theta)^2 + shape^2 |beta|^2 + expression^2 |psi|^2 +
  hand_prior^2 |h_pca|^2 + jaw |jaw|^2``: SMPLify-X squares the body, shape, expression and hand weights and
  its bending weight is 3.17 x the body weight, which the table stores already multiplied out.
- ``E_gmm``: the max-mixture prior of ``methods.priors`` (negative log-likelihood of the closest component),
  fitted on ``datasets.bank.ParameterBank`` poses in place of VPoser.
- L-BFGS with a strong-Wolfe line search, at most ``iterations`` iterations per stage and per sample (default 80;
  SMPLify-X calls ``torch.optim.LBFGS(max_iter=30)`` up to 30 times per stage, i.e. up to 900 iterations, stopped
  by its relative-change test ``ftol``); hands as ``num_pca_comps`` PCA coefficients with the stored hand mean
  (SMPLify-X: 12).

Batching (unlike the original, which fits one image at a time): the batch is fitted at once by
``methods.lbfgs.minimize``, where every sample is its own problem with its own curvature history, step length and
stopping test; a sample's fit does not depend on its batch mates, and converged samples leave the evaluations.
``Prediction.info`` records per image the objective evaluations (both starts when the flipped one was tried), the
accepted iterations, the final loss and the batch's wall time divided equally.

Failures: a sample whose objective is NaN/inf or above ``max_loss`` at the start of a stage is marked failed
(``Prediction.failed``) and frozen at its last finite parameters while the rest of the batch goes on; a trial
point of the line search with such a value counts as too long a step, so the search backs off. Input keypoints
with NaN/inf coordinates or confidence are masked (confidence 0).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from bench.body.body_model import load_body_model
from bench.body.regressors import DERIVED, regressor_matrix
from bench.body.skeletons import get_skeleton
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.method import MethodContext, Prediction, config_hash
from bench.registry import register_method
from bench.samples import KEYPOINT_LAYOUT, SampleBatch, SampleSet
from bench.settings import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Range
from methods.lbfgs import minimize
from methods.priors import GaussianMixture, MaxMixturePrior, body_pose_mixture

__all__ = ["SMPLIFYX_STAGES", "SMPLifyX"]

_BEND = 3.17  # SMPLify-X: bending_prior_weight = 3.17 * body_pose_weight (not squared)
# SMPLify-X's five stages (PROTOCOLS.md, SMPLify-X): body_pose / shape / expression / hand_prior are the weights
# before squaring; bending = 3.17 x body_pose; jaw as SMPLify-X's jaw prior (already squared scale).
SMPLIFYX_STAGES: tuple[dict[str, float], ...] = tuple(
    {"body_pose": b, "bending": _BEND * b, "shape": s, "expression": s, "hand_prior": b, "jaw": j,
     "hand_joints": h, "face_joints": f}
    for b, s, j, h, f in (
        (404.0, 100.0, 4040.0, 0.0, 0.0),
        (404.0, 50.0, 4040.0, 0.0, 0.0),
        (57.4, 10.0, 574.0, 0.0, 0.0),
        (4.78, 5.0, 47.8, 0.1, 0.0),
        (4.78, 5.0, 47.8, 2.0, 2.0),
    )
)  # fmt: skip
STAGE_KEYS = ("body_pose", "bending", "shape", "expression", "hand_prior", "jaw", "hand_joints", "face_joints")

_OP = get_skeleton(KEYPOINT_LAYOUT)
_IGNORED = ("neck", "left_hip", "right_hip")  # SMPLify-X gives OpenPose Neck and hips weight 0
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_TORSO_EDGES = (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"))
# bending prior: (body joint, axis, sign) -- penalises exp(sign * theta)^2, i.e. elbow / knee hyperextension
_BENDING = (("left_elbow", 1, 1.0), ("right_elbow", 1, -1.0), ("left_knee", 0, -1.0), ("right_knee", 0, -1.0))
_OPTIMISED = (
    "transl",
    "global_orient",
    "body_pose",
    "betas",
    "expression",
    "left_hand_pose",
    "right_hand_pose",
    "jaw_pose",
)


def _op(name: str) -> int:
    return _OP.joints.index(name)


def _rows(value: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    """The batch rows ``idx`` of ``value`` (all of them when idx is None)."""
    return value if idx is None else value[idx]


def _check_stages(stages: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], ...]:
    out = []
    for i, stage in enumerate(stages):
        unknown, missing = sorted(set(stage) - set(STAGE_KEYS)), sorted(set(STAGE_KEYS) - set(stage))
        if unknown or missing:
            raise ValueError(f"stage {i}: unknown keys {unknown}, missing keys {missing}; expected {STAGE_KEYS}")
        out.append({k: float(stage[k]) for k in STAGE_KEYS})
    if not out:
        raise ValueError("stages: at least one stage is needed")
    return tuple(out)


@register_method("smplifyx", description="SMPLify-X-style multi-stage L-BFGS fit to 2D keypoints (GMM pose prior)")
class SMPLifyX:
    """The method object (``bench.method.Method``); see the module docstring for the recipe."""

    name = "smplifyx"

    def __init__(
        self,
        context: MethodContext,
        *,
        focal: PositiveFloat = 5000.0,
        use_calibration: bool = False,
        iterations: NonNegativeInt = 80,
        camera_iterations: NonNegativeInt = 30,
        rho: PositiveFloat = 100.0,
        num_pca_comps: Annotated[int, Range(1, 45)] = 12,
        depth_weight: NonNegativeFloat = 100.0,
        flip_threshold: NonNegativeFloat = 25.0,
        max_loss: PositiveFloat = 1e12,
        ftol: NonNegativeFloat = 1e-9,
        gtol: NonNegativeFloat = 1e-9,
        prior_components: PositiveInt = 8,
        prior_samples: PositiveInt = 20000,
        prior_iters: PositiveInt = 100,
        stages: Sequence[Mapping[str, float]] = SMPLIFYX_STAGES,
    ) -> None:
        self.context = context
        self.device = torch.device(context.device)
        self.stages = _check_stages(stages)
        self.config: dict[str, Any] = {
            "focal": float(focal), "use_calibration": bool(use_calibration), "iterations": int(iterations),
            "camera_iterations": int(camera_iterations), "rho": float(rho), "num_pca_comps": int(num_pca_comps),
            "depth_weight": float(depth_weight), "flip_threshold": float(flip_threshold),
            "max_loss": float(max_loss), "ftol": float(ftol), "gtol": float(gtol),
            "prior_components": int(prior_components), "prior_samples": int(prior_samples),
            "prior_iters": int(prior_iters), "seed": int(context.seed),
            "stages": [dict(s) for s in self.stages],
        }  # fmt: skip
        dtype = torch.float32
        self.model = load_body_model(
            context.model_path,
            num_pca_comps=num_pca_comps,
            use_pca=True,
            flat_hand_mean=False,
            device=self.device,
            dtype=dtype,
        )
        self.contour_model = load_body_model(
            context.model_path,
            num_pca_comps=num_pca_comps,
            use_pca=True,
            flat_hand_mean=False,
            use_face_contour=True,
            device=self.device,
            dtype=dtype,
        )
        W127, valid127 = regressor_matrix(KEYPOINT_LAYOUT, "smplx_127")
        W144, _ = regressor_matrix(KEYPOINT_LAYOUT, "smplx_144")
        self._W_fit = torch.as_tensor(W127, dtype=dtype, device=self.device)  # (137, 127)
        self._W_out = torch.as_tensor(W144, dtype=dtype, device=self.device)  # (137, 144)
        parts = np.asarray(_OP.parts)
        usable = valid127 & ~np.isin(np.asarray(_OP.joints), list(_IGNORED) + list(DERIVED))
        # the data term uses only the OpenPose points SMPLify-X fits (no contour, pupils, neck, hips)
        self._fit_idx = torch.as_tensor(np.flatnonzero(usable), device=self.device)
        self._W_data = self._W_fit[self._fit_idx]
        parts = parts[usable]
        self._body_mask = torch.as_tensor(parts == "body", dtype=dtype, device=self.device)
        self._hand_mask = torch.as_tensor(np.isin(parts, ["left_hand", "right_hand"]), dtype=dtype, device=self.device)
        self._face_mask = torch.as_tensor(parts == "face", dtype=dtype, device=self.device)
        from datasets.bank import BODY_JOINTS

        self._bend_idx = torch.as_tensor([3 * BODY_JOINTS.index(j) + a for j, a, _ in _BENDING], device=self.device)
        self._bend_sign = torch.as_tensor([s for _, _, s in _BENDING], dtype=dtype, device=self.device)
        self.gmm: GaussianMixture | None = None
        self.prior: MaxMixturePrior | None = None
        self._prior_summary: dict[str, Any] = {}

    # ------------------------------------------------------------------ contract
    def supports(self, samples: SampleSet) -> str | None:
        """None when the set has body keypoints with some confidence; else the reason (hand-only sets: STB)."""
        body = np.asarray(_OP.parts) == "body"
        conf = np.nan_to_num(np.asarray(samples.keypoints2d)[:, body, 2], nan=0.0)
        if len(conf) and not (conf > 0).any():
            return (
                f"smplifyx fits the whole body from OpenPose body keypoints; set {samples.name!r} has none "
                "with confidence > 0 (hand-only set)"
            )
        return None

    def fit(self, train_sets: Mapping[str, SampleSet] | None = None) -> dict[str, Any]:
        """No training: fits (or loads from the cache) the body-pose mixture prior. Returns its summary."""
        start = time.perf_counter()
        if self.gmm is None:
            cfg = self.config
            self.gmm, self._prior_summary = body_pose_mixture(
                components=cfg["prior_components"],
                samples=cfg["prior_samples"],
                iters=cfg["prior_iters"],
                seed=cfg["seed"],
            )
            self._set_prior(self.gmm)
        return {"prior": dict(self._prior_summary), "seconds": time.perf_counter() - start}

    def _set_prior(self, gmm: GaussianMixture) -> None:
        self.gmm = gmm
        self.prior = MaxMixturePrior(gmm, device=self.device)

    def save(self, path: Any) -> None:
        """One ``.npz``: the prior's arrays, the resolved config (JSON) and its hash."""
        if self.gmm is None:
            self.fit({})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez(
                fh,
                **self.gmm.as_arrays(),
                config=np.array(json.dumps(self.config, sort_keys=True)),
                config_hash=np.array(config_hash(self.config)),
            )

    def load(self, path: Any) -> None:
        with np.load(Path(path), allow_pickle=False) as npz:
            saved = str(npz["config_hash"])
            if saved != config_hash(self.config):
                raise ValueError(
                    f"{path}: saved config hash {saved} differs from this method's {config_hash(self.config)}"
                )
            self._set_prior(GaussianMixture(npz["weights"], npz["means"], npz["covariances"]))
        self._prior_summary = {"path": str(path), "cached": True}

    # ------------------------------------------------------------------ geometry
    def _camera(self, batch: SampleBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """focal (B, 2) and principal point (B, 2), pixels."""
        size = batch.image_size.to(self.device, torch.float32)
        if self.config["use_calibration"]:
            K = batch.K.to(self.device, torch.float32)
            return torch.stack([K[:, 0, 0], K[:, 1, 1]], 1), K[:, :2, 2]
        focal = torch.full_like(size, self.config["focal"])
        return focal, size / 2

    @staticmethod
    def _project(points: torch.Tensor, focal: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return points[..., :2] / points[..., 2:] * focal[:, None] + center[:, None]

    def _openpose(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, 137, 3) camera-frame OpenPose points of the fitting model (keypoint path, no face contour)."""
        joints = self.model.keypoints(**params)
        return torch.einsum("oj,bjc->boc", self._W_fit, joints)

    # ------------------------------------------------------------------ losses (per sample, (B,))
    def _data(self, params, target, conf, focal, center, weight_hand: float, weight_face: float) -> torch.Tensor:
        rho2 = self.config["rho"] ** 2
        points = torch.einsum("oj,bjc->boc", self._W_data, self.model.keypoints(**params))
        uv = self._project(points, focal, center)
        r2 = (uv - target[:, self._fit_idx]) ** 2
        gm = (rho2 * r2 / (r2 + rho2)).sum(-1)  # (B, P)
        w = conf[:, self._fit_idx] * (self._body_mask + weight_hand * self._hand_mask + weight_face * self._face_mask)
        return (w**2 * gm).sum(-1)

    def _priors(self, params, stage: Mapping[str, float]) -> torch.Tensor:
        body = params["body_pose"]
        bend = torch.exp(body[:, self._bend_idx] * self._bend_sign) ** 2
        hands = (params["left_hand_pose"] ** 2).sum(-1) + (params["right_hand_pose"] ** 2).sum(-1)
        return (
            stage["body_pose"] ** 2 * self.prior(body)
            + stage["bending"] * bend.sum(-1)
            + stage["shape"] ** 2 * (params["betas"] ** 2).sum(-1)
            + stage["expression"] ** 2 * (params["expression"] ** 2).sum(-1)
            + stage["hand_prior"] ** 2 * hands
            + stage["jaw"] * (params["jaw_pose"] ** 2).sum(-1)
        )

    # ------------------------------------------------------------------ initialisation
    def _init_params(self, target, conf, focal, center) -> dict[str, torch.Tensor]:
        B, dev, dt = target.shape[0], self.device, torch.float32
        k = self.config["num_pca_comps"]
        mean_pose = torch.as_tensor(self.gmm.mean, dtype=dt, device=dev)
        params = {
            "transl": torch.zeros(B, 3, dtype=dt, device=dev),
            "global_orient": torch.tensor([[math.pi, 0.0, 0.0]], dtype=dt, device=dev).repeat(B, 1),
            "body_pose": mean_pose.repeat(B, 1), "betas": torch.zeros(B, 10, dtype=dt, device=dev),
            "expression": torch.zeros(B, 10, dtype=dt, device=dev),
            "left_hand_pose": torch.zeros(B, k, dtype=dt, device=dev),
            "right_hand_pose": torch.zeros(B, k, dtype=dt, device=dev),
            "jaw_pose": torch.zeros(B, 3, dtype=dt, device=dev),
        }  # fmt: skip
        with torch.no_grad():
            pts = self._openpose(params)  # at transl 0
            lengths3d, lengths2d, n = 0.0, 0.0, 0.0
            for a, b in _TORSO_EDGES:
                ok = (conf[:, _op(a)] > 0) & (conf[:, _op(b)] > 0)
                lengths3d = lengths3d + ok * (pts[:, _op(a)] - pts[:, _op(b)]).norm(dim=-1)
                lengths2d = lengths2d + ok * (target[:, _op(a)] - target[:, _op(b)]).norm(dim=-1)
                n = n + ok.float()
            # fallback without a torso edge: body height ~ keypoint bounding-box height
            valid = conf > 0
            big = torch.finfo(dt).max
            ys = target[..., 1]
            bbox_h = (torch.where(valid, ys, -big).amax(1) - torch.where(valid, ys, big).amin(1)).clamp_min(1.0)
            height3d = pts[..., 1].amax(1) - pts[..., 1].amin(1)
            depth = torch.where(
                (n > 0) & (lengths2d > 1e-3),
                focal[:, 1] * lengths3d / lengths2d.clamp_min(1e-3),
                focal[:, 1] * height3d / bbox_h,
            )
            torso = torch.as_tensor([_op(j) for j in _TORSO], device=dev)
            wt = conf[:, torso] > 0
            wt = torch.where(wt.any(1, keepdim=True), wt, valid.any(1, keepdim=True).expand_as(wt)).float()
            centre2d = torch.where(
                (conf[:, torso] > 0).any(1, keepdim=True),
                (target[:, torso] * wt[..., None]).sum(1) / wt.sum(1, keepdim=True).clamp_min(1.0),
                (target * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp_min(1),
            )
            centre3d = pts[:, torso].mean(1)
            xy = (centre2d - center) / focal * depth[:, None]
            params["transl"] = torch.cat([xy - centre3d[:, :2], (depth - centre3d[:, 2])[:, None]], 1)
        return params

    # ------------------------------------------------------------------ optimisation
    def _run_lbfgs(self, params, names, objective, iterations, failed):
        """Minimise each sample's ``objective(params, idx)`` (idx: its batch rows of params, None = all) over
        ``names`` (``methods.lbfgs.minimize``: per-sample history, step and stop). Updates ``params`` and
        ``failed`` in place (a failed sample is never moved).

        Returns the per-sample loss (nan where failed), evaluations and iterations (B,).
        """
        widths = [params[n].shape[1] for n in names]

        B = failed.shape[0]

        def fun(x, idx):
            sub = None if len(idx) == B else idx  # all rows (rows are sorted): no gathers
            current = {k: _rows(v, sub) for k, v in params.items()}
            current.update(zip(names, x.split(widths, 1), strict=True))
            return objective(current, sub)

        result = minimize(
            fun,
            torch.cat([params[n] for n in names], 1),
            max_iter=iterations,
            ftol=self.config["ftol"],
            gtol=self.config["gtol"],
            max_value=self.config["max_loss"],
            frozen=failed,
        )
        failed |= result.failed
        for n, value in zip(names, result.x.split(widths, 1), strict=True):
            params[n] = value
        return torch.where(failed, torch.nan, result.f), result.evaluations, result.iterations

    def _fit(self, target, conf, focal, center, data_weight, init: dict[str, torch.Tensor]):
        """All stages for one batch of starts. Returns params, per-sample final loss, failed, evaluations and
        iterations per sample."""
        B = target.shape[0]
        params = {k: v.clone() for k, v in init.items()}
        failed = torch.zeros(B, dtype=torch.bool, device=self.device)
        torso = torch.as_tensor([_op(j) for j in _TORSO], device=self.device)
        z0 = params["transl"][:, 2].clone()
        dw2 = self.config["depth_weight"] ** 2

        def camera_objective(p, idx):
            uv = self._project(self._openpose(p)[:, torso], _rows(focal, idx), _rows(center, idx))
            err = (_rows(conf, idx)[:, torso, None] * (uv - _rows(target, idx)[:, torso]) ** 2).sum((1, 2))
            return _rows(data_weight, idx) ** 2 * err + dw2 * (p["transl"][:, 2] - _rows(z0, idx)) ** 2

        loss, evals, iters = self._run_lbfgs(
            params, ("transl", "global_orient"), camera_objective, self.config["camera_iterations"], failed
        )
        for stage in self.stages:

            def objective(p, idx, stage=stage):
                t, c, f, pp = (_rows(v, idx) for v in (target, conf, focal, center))
                data = self._data(p, t, c, f, pp, stage["hand_joints"], stage["face_joints"])
                return _rows(data_weight, idx) ** 2 * data + self._priors(p, stage)

            loss, n, i = self._run_lbfgs(params, _OPTIMISED, objective, self.config["iterations"], failed)
            evals, iters = evals + n, iters + i
        return params, loss, failed, evals, iters

    def predict(self, batch: SampleBatch) -> Prediction:
        """Fit the batch (module docstring); params / joints3d in the camera frame, keypoints2d reprojected."""
        if self.prior is None:
            self.fit({})
        start = time.perf_counter()
        kp = batch.keypoints2d.to(self.device, torch.float32)
        finite = torch.isfinite(kp).all(-1)
        conf = torch.where(finite, kp[..., 2], torch.zeros_like(kp[..., 2])).clamp_min(0.0)
        target = torch.where(finite[..., None], kp[..., :2], torch.zeros_like(kp[..., :2]))
        B = kp.shape[0]
        focal, center = self._camera(batch)
        data_weight = 1000.0 / batch.image_size.to(self.device, torch.float32)[:, 1]
        init = self._init_params(target, conf, focal, center)
        shoulders = (target[:, _op("left_shoulder")] - target[:, _op("right_shoulder")]).norm(dim=-1)
        has_shoulders = (conf[:, _op("left_shoulder")] > 0) & (conf[:, _op("right_shoulder")] > 0)
        flip = torch.nonzero(has_shoulders & (shoulders < self.config["flip_threshold"])).flatten()
        index = torch.arange(B, device=self.device)
        if len(flip):  # the 180-degree start about the body's vertical (y) axis, fitted alongside
            turn = axis_angle_to_matrix(torch.tensor([0.0, math.pi, 0.0], device=self.device))
            flipped = {k: v[flip].clone() for k, v in init.items()}
            flipped["global_orient"] = matrix_to_axis_angle(axis_angle_to_matrix(flipped["global_orient"]) @ turn)
            init = {k: torch.cat([v, flipped[k]]) for k, v in init.items()}
            index = torch.cat([index, flip])
        sel = lambda x: x[index]  # noqa: E731
        params, loss, failed, evals, iters = self._fit(
            sel(target), sel(conf), sel(focal), sel(center), sel(data_weight), init
        )
        if len(flip):  # keep the better of the two starts
            alt = torch.arange(B, B + len(flip), device=self.device)
            la = torch.where(failed[alt], torch.inf, loss[alt])
            lo = torch.where(failed[flip], torch.inf, loss[flip])
            better = la < lo
            take = torch.arange(B, device=self.device)
            take[flip[better]] = alt[better]
            params = {k: v[take] for k, v in params.items()}
            # an image's evaluations count both of its starts; its iterations are the kept start's
            evals = evals[:B].clone().index_add_(0, flip, evals[B:])
            loss, failed, iters = loss[take], failed[take], iters[take]
        out = self._prediction(params, focal, center)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        out.failed = failed
        out.info = {
            "loss_evals": evals[:B].cpu(),
            "iterations": iters[:B].cpu(),
            "final_loss": loss.detach().cpu(),
            "seconds": torch.full((B,), seconds / B, dtype=torch.float64),  # batch wall time shared equally
            "flipped_start_tried": torch.isin(torch.arange(B), flip.cpu()),
        }
        return out

    def _prediction(self, params, focal, center) -> Prediction:
        with torch.no_grad():
            joints = self.contour_model.keypoints(**params)  # (B, 144, 3) camera frame
            uv = self._project(torch.einsum("oj,bjc->boc", self._W_out, joints), focal, center)
            pose_mean = self.model.pose_mean
            hand = 3 * 15
            lh = params["left_hand_pose"] @ self.model.hand_components_l + pose_mean[-2 * hand : -hand]
            rh = params["right_hand_pose"] @ self.model.hand_components_r + pose_mean[-hand:]
            B = joints.shape[0]
            zeros3 = torch.zeros(B, 3, dtype=joints.dtype, device=joints.device)
            out = {
                "betas": params["betas"], "global_orient": params["global_orient"], "body_pose": params["body_pose"],
                "left_hand_pose": lh, "right_hand_pose": rh, "jaw_pose": params["jaw_pose"], "leye_pose": zeros3,
                "reye_pose": zeros3.clone(), "expression": params["expression"], "transl": params["transl"],
            }  # fmt: skip
        camera = {"type": "perspective", "focal": focal, "center": center}
        return Prediction(params=out, joints3d=joints, keypoints2d=uv, camera=camera)
