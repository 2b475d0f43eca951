"""``fhgr[sts=false|true, input=detected|gt2d]``: the hand half of the partial branch of Sun et al. alone
(FHGR, Tab. III): a four-layer semantic GCN on the scale-normalised OpenPose hand-21 keypoints of the left hand.

Outputs: 6 hand-PCA coefficients (-> 45-D axis-angle relative to the flat hand, ``networks.ProposedNet.hand_pose``)
and, as the STB task needs the hand's orientation, a 6D rotation of the left wrist in the camera frame (an added
output: the paper's FHGR inside the whole-body network gets it from the body pose).

Training: STB-like hand data (the ``train_sets`` that carry left-hand 2D keypoints and SMPL-X ground truth; with
none given, ``load_dataset('stb', split='train')``), supervised by L_pm (left-hand joint rotations and wrist
orientation as matrices) and L_3D (wrist-aligned left-hand joints); with ``sts=true`` every ``sts_period``-th
batch (default 5: one in five, as the paper's FHGR training mixes STS in) is STS hand data (bank hands on random
bodies, seen close up; ``methods.proposed.sts``). The STS stream's settings: ``sts_view`` 'match' (default: the
close-ups are drawn at the views of the training sets named ``sts_match``, default 'stb', or, when none is given,
of that dataset's training split) or 'any' (any side of the hand); ``sts_noise`` 'input' (default: as the
method's input, 'detector' for ``input=detected``, 'none' for ``input=gt2d``), 'detector' (the STS 2D goes
through the same detector-noise model as the synthetic sets' input, occlusion by the hand's mesh included) or
'none' (exact projections). ``input=gt2d`` replaces the detected 2D by
the perspective projection of the ground-truth 3D joints with the sample's K (the oracle of Tab. III, '*'): the
only setting that reads K.

Prediction: every body parameter is the neutral one (zero betas, body pose and face, an upright body); the global
orientation carries the predicted wrist rotation (with a zero body pose the left wrist's world rotation equals it)
and only the left hand is meaningful. ``transl`` puts the left wrist at an assumed 0.5 m depth on the ray of its 2D
detection (assumed focal max(w, h), principal point the image centre). joints3d is still (B, 144, 3).

Training draws its pool batches as ``proposed`` does (``methods.proposed.method.PoolDraws``: chunks of host draws,
moved once per chunk) and reads the loss only at logging steps: no synchronisation per step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import torch

from bench.body.skeletons import convert, get_skeleton, skeleton_names
from bench.errors import ConfigError
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from bench.method import MethodContext, Prediction, config_hash, format_spec
from bench.registry import check_method_spec, dataset_names, load_dataset, register_method
from bench.samples import SampleBatch, SampleSet
from bench.settings import NonNegativeFloat, NonNegativeInt, OneOf, PositiveFloat, PositiveInt, UnitFloat
from datasets.noise import NOISE_KINDS
from methods.proposed.layers import PART_SLICES, missing_part_input, scale_normalize
from methods.proposed.losses import pose_rotmats, project, to_openpose
from methods.proposed.method import PoolDraws, body_models, gt_rotmats
from methods.proposed.networks import _GCN, _UPRIGHT, NetConfig
from methods.proposed.sts import VIEWS, STSConfig, STSStream, hand_views

__all__ = ["FHGRConfig", "FHGRMethod", "create_fhgr"]

LH = PART_SLICES["left_hand"]
LEFT_WRIST = 20  # SMPL-X kinematic joint


INPUTS = ("detected", "gt2d")  # the input 2D: the set's detections, or its ground-truth 2D
STS_NOISE = ("input", *NOISE_KINDS)  # STS 2D noise: as the input ('detector', or none for gt2d), or a kind


@dataclass(frozen=True)
class FHGRConfig:
    sts: bool = False
    input: Annotated[str, OneOf(INPUTS)] = "detected"
    gcn_hidden: PositiveInt = 32
    gcn_layers: PositiveInt = 4
    conf_threshold: UnitFloat = 0.1
    w_pm: NonNegativeFloat = 20.0
    w_3d: NonNegativeFloat = 60.0
    lr: PositiveFloat = 1e-4
    batch_size: PositiveInt = 16
    # the most iterations, not the paper's (it states no length): the runner stops earlier by validation
    # (bench.run.validation); 0: untrained
    iterations: NonNegativeInt = 20000
    sts_period: PositiveInt = 5  # with sts=true, one STS batch in sts_period
    sts_pool: PositiveInt = 4096
    sts_view: Annotated[str, OneOf(VIEWS)] = "match"  # STS close-up viewpoints: those of the sts_match set, or any
    sts_match: str = "stb"  # the dataset whose hand views sts_view='match' draws from
    sts_noise: Annotated[str, OneOf(STS_NOISE)] = "input"
    depth_m: PositiveFloat = 0.5  # assumed wrist depth of the prediction
    log_every: PositiveInt = 200


class HandRegressor(_GCN):
    """(B, 21, 2) normalised left hand + mask -> 6 PCA coefficients + 6D wrist rotation."""

    def __init__(self, cfg: NetConfig) -> None:
        from methods.proposed.layers import hand_adjacency

        super().__init__(hand_adjacency(), cfg, 12, None)
        with torch.no_grad():
            self.head[-1].bias[6:] = matrix_to_rot6d(_UPRIGHT)


def _chain(parents, joint: int) -> list[int]:
    out = []
    while joint >= 0:
        out.append(joint)
        joint = int(parents[joint])
    return out[::-1]


class FHGRMethod:
    family = "fhgr"

    def __init__(self, context: MethodContext, config: FHGRConfig) -> None:
        self.context, self.cfg = context, config
        self.device = torch.device(context.device)
        self.config = asdict(config)
        self.name = format_spec(self.family, {"sts": config.sts, "input": config.input})
        self.train_model, self.pred_model, basis = body_models(context.model_path, context.device)
        self.chain = _chain(self.train_model._parents, LEFT_WRIST)
        torch.manual_seed(context.seed)
        net_cfg = NetConfig(gcn_hidden=config.gcn_hidden, gcn_layers=config.gcn_layers,
                            conf_threshold=config.conf_threshold)  # fmt: skip
        self.net = HandRegressor(net_cfg).to(self.device).eval()
        self.basis = {k: v.to(self.device) for k, v in basis.items()}
        self._skeleton: str | None = None  # skeleton of the set last passed to supports() (input=gt2d)

    # ------------------------------------------------------------------------------------------ helpers
    def supports(self, samples: SampleSet) -> str | None:
        if reason := missing_part_input(samples, "left_hand", self.cfg.conf_threshold,
                                        "fhgr regresses the left hand only"):  # fmt: skip
            return reason
        self._skeleton = samples.skeleton
        if self.cfg.input == "gt2d":
            _, valid = convert(samples.joints3d[:1], samples.skeleton, "openpose_137")
            if int(valid[LH].sum()) < 2:
                return f"{samples.name}: no left-hand 3D ground truth to project (input=gt2d)"
        return None

    def _inputs(self, kp: torch.Tensor, K: torch.Tensor | None, joints: torch.Tensor | None, skeleton: str | None):
        if self.cfg.input != "gt2d":
            return kp
        if skeleton is None:  # a batch carries no skeleton name: the first one of this joint count with a left hand
            skeleton = next(n for n in skeleton_names() if len(get_skeleton(n)) == joints.shape[1]
                            and convert(joints[:1], n, "openpose_137")[1][LH].any())  # fmt: skip
        op, valid = convert(joints, skeleton, "openpose_137")
        valid = torch.as_tensor(valid, device=kp.device)
        uvw = op @ K.to(op.dtype).transpose(-1, -2)
        uv = uvw[..., :2] / uvw[..., 2:].clamp(min=1e-6)
        conf = (valid & (op[..., 2] > 0)).to(kp.dtype)
        return torch.cat([uv.to(kp.dtype), conf[..., None]], -1) * conf[..., None]

    def _hand(self, coeffs: torch.Tensor) -> torch.Tensor:
        return self.basis["left_mean"] + coeffs @ self.basis["left_components"]

    def _forward(self, kp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normed, mask, _, _ = scale_normalize(kp[:, LH], self.cfg.conf_threshold)
        out = self.net(normed, mask)
        return self._hand(out[:, :6]), rot6d_to_matrix(out[:, 6:12])

    def _pose_hand(self, model, hand, R_wrist, betas) -> torch.Tensor:
        B = hand.shape[0]
        eye = torch.eye(3, device=hand.device).expand(B, 21, 3, 3)
        R = pose_rotmats(R_wrist, eye, torch.zeros(B, 3, device=hand.device), hand, torch.zeros_like(hand))
        return model.forward(betas=betas, pose_rotmats=R, vertices=False).joints

    # ------------------------------------------------------------------------------------------ contract
    @torch.no_grad()
    def predict(self, batch: SampleBatch) -> Prediction:
        self.net.eval()
        kp = self._inputs(batch.keypoints2d.to(self.device, torch.float32), batch.K.to(self.device),
                          batch.joints3d.to(self.device), self._skeleton)  # fmt: skip
        hand, R = self._forward(kp)
        B = kp.shape[0]
        betas = torch.zeros(B, 10, device=self.device)
        local = self._pose_hand(self.pred_model, hand, R, betas)
        size = batch.image_size.to(self.device, torch.float32)
        c, f = (size - 1) / 2, size.amax(-1)
        wrist2d = kp[:, LH.start, :2]
        ok = kp[:, LH.start, 2] > self.cfg.conf_threshold
        wrist2d = torch.where(ok[:, None], wrist2d, c)
        z = torch.full((B,), self.cfg.depth_m, device=self.device)
        wrist = torch.cat([(wrist2d - c) * (z / f)[:, None], z[:, None]], -1)
        op_local, _ = to_openpose(local)
        transl = wrist - op_local[:, LH.start]
        joints = local + transl[:, None]
        op, _ = to_openpose(joints)
        uv = project("pp", op, {"focal": f, "centre3d": torch.zeros_like(transl), "principal": c})
        zeros = {k: torch.zeros(B, w, device=self.device) for k, w in (("body_pose", 63), ("jaw_pose", 3),
                 ("leye_pose", 3), ("reye_pose", 3), ("expression", 10), ("right_hand_pose", 45))}  # fmt: skip
        params = {**zeros, "betas": betas, "global_orient": matrix_to_axis_angle(R), "left_hand_pose": hand,
                  "transl": transl}  # fmt: skip
        uv = torch.nan_to_num(uv)
        failed = ~torch.isfinite(joints).flatten(1).all(1)
        return Prediction(params=params, joints3d=joints, keypoints2d=uv, camera={"type": "pp", "focal": f},
                          failed=failed)  # fmt: skip

    def save(self, path: Any) -> None:
        torch.save({"family": self.family, "config": self.config, "config_hash": config_hash(self.config),
                    "state_dict": self.net.state_dict()}, Path(path))  # fmt: skip

    def load(self, path: Any) -> None:
        data = torch.load(Path(path), map_location=self.device, weights_only=True)
        mine = config_hash(self.config)
        if data.get("config_hash") != mine:
            raise ValueError(f"{path}: config hash {data.get('config_hash')} differs from this method's {mine}")
        self.net.load_state_dict(data["state_dict"])

    # ------------------------------------------------------------------------------------------ training
    def losses(self, kp: torch.Tensor, smplx: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted loss of a batch and its detached value (a 0-d tensor: read it at logging steps only)."""
        hand, R = self._forward(kp)
        with torch.no_grad():
            gR = gt_rotmats(smplx)
            g_wrist = gR[:, self.chain[0]]
            for j in self.chain[1:]:
                g_wrist = g_wrist @ gR[:, j]
            gj = self.train_model.forward(betas=smplx["betas"], expression=smplx["expression"], pose_rotmats=gR,
                                          vertices=False).joints  # fmt: skip
            gop, _ = to_openpose(gj)
            ghand = gop[:, LH] - gop[:, LH.start : LH.start + 1]
            gh = axis_angle_to_matrix(smplx["left_hand_pose"].reshape(-1, 15, 3))
        ph = axis_angle_to_matrix(hand.reshape(-1, 15, 3))
        pj = self._pose_hand(self.train_model, hand, R, smplx["betas"])
        pop, _ = to_openpose(pj)
        phand = pop[:, LH] - pop[:, LH.start : LH.start + 1]
        l_pm = (ph - gh).square().mean() + (R - g_wrist).square().mean()
        l_3d = (phand - ghand).square().sum(-1).mean()
        loss = self.cfg.w_pm * l_pm + self.cfg.w_3d * l_3d
        return loss, loss.detach()

    def _pool(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any] | None:
        sets = [s for s in train_sets.values() if len(s) and s.smplx is not None and self.supports(s) is None]
        if not sets:
            return None
        dev = self.device
        kps = []
        for s in sets:
            kp = torch.as_tensor(s.keypoints2d)
            if self.cfg.input == "gt2d":
                kp = self._inputs(kp, torch.as_tensor(s.K), torch.as_tensor(s.joints3d), s.skeleton)
            kps.append(kp[torch.as_tensor(s.smplx_valid)])
        smplx = {k: torch.cat([torch.as_tensor(s.smplx[k][s.smplx_valid]) for s in sets]).to(dev)
                 for k in sets[0].smplx}  # fmt: skip
        return {"kp": torch.cat(kps).to(dev, torch.float32), "smplx": smplx}

    def _views(self, train_sets: Mapping[str, SampleSet]):
        """Target hand views for ``sts_view='match'``: those of the training sets named ``sts_match`` (the data
        this method is given), else of that dataset's training split."""
        sets = [s for s in train_sets.values() if s.name == self.cfg.sts_match and len(s)]
        return hand_views(sets or load_dataset(self.cfg.sts_match, split="train"))

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]:
        cfg = self.cfg
        pool = self._pool(train_sets)
        if pool is None:  # STB's training split (from HMRBENCH_DATA, else the synthetic default); STS comes on top
            pool = self._pool({"stb": load_dataset("stb", split="train")})
        sts = None
        if cfg.sts or pool is None:
            noise = cfg.sts_noise if cfg.sts_noise != "input" else ("none" if cfg.input == "gt2d" else "detector")
            sts = STSStream(self.train_model, STSConfig(pool=cfg.sts_pool, view=cfg.sts_view, noise=noise),
                            seed=self.context.seed, device=self.device, focus="left_hand",
                            views=self._views(train_sets) if cfg.sts_view == "match" else None)  # fmt: skip
        gen = torch.Generator().manual_seed(self.context.seed + 7)
        draws = None if pool is None else PoolDraws(len(pool["kp"]), cfg.batch_size, gen, self.device)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.net.train()
        start, history = time.perf_counter(), []
        for it in range(cfg.iterations):
            if sts is not None and (pool is None or it % cfg.sts_period == 0):
                s = sts.sample(cfg.batch_size)
                kp, smplx = s["keypoints2d"], s["smplx"]
            else:
                i = draws.next()[0]
                kp, smplx = pool["kp"][i], {k: v[i] for k, v in pool["smplx"].items()}
            loss, value = self.losses(kp, smplx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iterations:
                value = float(value)  # a logging step: the loss read from the device
                elapsed = time.perf_counter() - start
                rate = (it + 1) * cfg.batch_size / max(elapsed, 1e-9)
                history.append({"iteration": it + 1, "total": value, "samples_per_s": rate})
                if self.context.progress is not None:
                    eta = (cfg.iterations - it - 1) * cfg.batch_size / max(rate, 1e-9)
                    self.context.progress(f"{self.name}: it {it + 1}/{cfg.iterations} loss {value:.4f} "
                                          f"{rate:.0f} samples/s ETA {eta:.0f} s")  # fmt: skip
                if self.context.checkpoint is not None:
                    stop = self.context.checkpoint(it + 1)
                    self.net.train()
                    if stop:  # the caller's training-length rule (bench.run.validation)
                        break
        self.net.eval()
        seconds = time.perf_counter() - start
        done = it + 1 if cfg.iterations else 0  # iterations run (fewer than cfg.iterations when stopped)
        return {"iterations": cfg.iterations, "seconds": seconds, "history": history, "train_samples": len(pool["kp"]),
                "samples_per_s": done * cfg.batch_size / max(seconds, 1e-9),
                "final_loss": history[-1]["total"] if history else float("nan")}  # fmt: skip

    @torch.no_grad()
    def hand_error(self, kp: torch.Tensor, smplx: Mapping[str, torch.Tensor]) -> float:
        """Mean wrist-aligned left-hand joint error (m) against ground-truth SMPL-X parameters."""
        self.net.eval()
        hand, R = self._forward(kp)
        gj = self.train_model.forward(betas=smplx["betas"], expression=smplx["expression"],
                                      pose_rotmats=gt_rotmats(smplx), vertices=False).joints  # fmt: skip
        pj = self._pose_hand(self.train_model, hand, R, smplx["betas"])
        g, _ = to_openpose(gj)
        p, _ = to_openpose(pj)
        g, p = g[:, LH] - g[:, LH.start : LH.start + 1], p[:, LH] - p[:, LH.start : LH.start + 1]
        return float((g - p).norm(dim=-1).mean())


@register_method(
    "fhgr", description="Sun et al. hand GCN regressor alone (FHGR, Tab. III), left hand from 2D", config=FHGRConfig
)
def create_fhgr(context: MethodContext | None = None, **params: Any) -> FHGRMethod:
    """Factory for ``fhgr[k=v,...]``: ``params`` are :class:`FHGRConfig` fields."""
    cfg = FHGRConfig(**check_method_spec("fhgr", **params)[1])  # types, choices and ranges declared above
    if cfg.sts_match not in dataset_names():
        raise ConfigError(f"fhgr: sts_match={cfg.sts_match!r} is not a dataset; valid: {', '.join(dataset_names())}")
    return FHGRMethod(context or MethodContext(), cfg)
