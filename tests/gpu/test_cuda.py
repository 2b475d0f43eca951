"""The CUDA paths of issue 14, on a GPU: every registered method on ``cuda`` (construct, a short fit where it trains,
predict a small batch: outputs on the GPU, finite), the body model, the metrics and the projections equal to the
CPU within float32 round-off, training steps that do not wait for the device more than the CPU audit allows
(``tests/methods/test_device_syncs.py``; here with ``torch.cuda.set_sync_debug_mode``, which also sees host tensors
copied to the device inside a step), and ``precision=bf16`` within 1 mm of fp32 on the GPU.

Marked ``gpu``; every test skips with the reason where CUDA is not available (``pytest -m gpu`` selects them; the
prepared script ``tests/gpu/run_gpu_checks.sh`` runs them on a lent GPU). Tiny networks and sets: well under a
minute on an H200, the embedded model's build included.

``HMRBENCH_GPU_TESTS_DEVICE=cpu`` runs them on the CPU instead (the synchronisation counts, which need CUDA, skip):
the script's CPU mode does, so CI checks that these tests themselves run without a GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _gpu import DEVICE, MISSING, NO_CUDA

from bench.geometry.metrics import mpjpe, pa_mpjpe
from bench.geometry.projections import project_camera, project_d2s, project_pp, project_wpp
from bench.method import MethodContext, Prediction
from bench.registry import create_method, discover, method_names

CUDA = DEVICE  # cuda, or cpu with HMRBENCH_GPU_TESTS_DEVICE=cpu (module docstring)
ON_GPU = torch.device(CUDA).type == "cuda"
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(MISSING, reason=NO_CUDA)]
needs_cuda = pytest.mark.skipif(not ON_GPU, reason="counts CUDA synchronisations (HMRBENCH_GPU_TESTS_DEVICE=cpu)")
KIND = torch.device(CUDA).type
TINY_PROPOSED = "hidden=48,rank=16,gcn_hidden=8,sts_pool=256,pretrain_iterations=5,batch_size=16,log_every=1000"
# spec per registered method: small networks, a few iterations; the set it is fitted on and predicts
SPECS = {
    "proposed": (f"proposed[{TINY_PROPOSED},iterations=10]", "train", "val"),
    "lifter": ("lifter[width=64,sts_pool=256,batch_size=16,iterations=10,log_every=1000]", "train", "val_lifted"),
    "fhgr": ("fhgr[gcn_hidden=8,sts=true,sts_view=any,sts_pool=256,iterations=10,log_every=1000]", "hands", "hands"),
    "gtsub": (f"gtsub[parts=body_pose,{TINY_PROPOSED},iterations=10]", "train", "val"),
    "meanpose": ("meanpose", "train", "val"),
    "smplifyx": ("smplifyx[iterations=5,camera_iterations=3,prior_samples=2000,prior_iters=10]", None, "val"),
}
TRAINED = ("proposed", "lifter", "fhgr")  # methods with a training loop (the others fit a prior or a mean)


def test_every_registered_method_has_a_cuda_contract_test():
    discover()
    assert set(method_names()) == set(SPECS), "a method was registered without a cuda contract test here"


def _on_device(value) -> bool:
    return not isinstance(value, torch.Tensor) or value.device.type == KIND


@pytest.mark.parametrize("family", sorted(SPECS))
def test_method_contract_on_cuda(gpu_sets, family):
    spec, train, test = SPECS[family]
    method = create_method(spec, MethodContext(device=CUDA, seed=0))
    data = gpu_sets[test]
    assert method.supports(data) is None
    summary = method.fit({"train": gpu_sets[train]} if train else {})
    assert isinstance(summary, dict)
    batch = next(data.batches(8, device=CUDA))
    pred = method.predict(batch)
    assert isinstance(pred, Prediction)
    assert pred.joints3d.device.type == KIND and pred.failed.device.type == KIND
    assert all(_on_device(v) for v in (pred.params or {}).values()) and _on_device(pred.keypoints2d)
    assert not bool(pred.failed.any()), f"{spec}: {int(pred.failed.sum())} of 8 samples failed on cuda"
    predicted = torch.isfinite(pred.joints3d).all(-1).any(0)  # a joints-only method predicts some joints only
    assert bool(predicted.any()) and bool(torch.isfinite(pred.joints3d[:, predicted]).all())


@needs_cuda
@pytest.mark.parametrize("family", TRAINED)
def test_a_training_step_on_cuda_waits_for_the_device_no_more_than_the_cpu_audit_allows(gpu_sets, family):
    """Host synchronisations per training step, counted by ``torch.cuda.set_sync_debug_mode('warn')`` as the
    difference between a 3-step and an 8-step fit (module docstring of tests/methods/test_device_syncs.py); this
    also counts host tensors copied to the device inside a step. Allowed: the non-finite-loss guard of proposed
    and lifter."""
    allowed = {"proposed": 1, "lifter": 1, "fhgr": 0}[family]
    spec, train, _ = SPECS[family]
    spec = spec.replace("sts=true", "sts=false").replace("pretrain_iterations=5", "pretrain_iterations=0")
    sets = {"train": gpu_sets[train]}

    def syncs(iterations: int) -> list[str]:
        method = create_method(f"{spec[:-1]},iterations={iterations},sts=false]".replace("iterations=10,", ""),
                               MethodContext(device=CUDA, seed=0))  # fmt: skip
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                method.fit(sets)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]

    few, many = syncs(3), syncs(8)
    per_step = (len(many) - len(few)) / 5
    assert per_step <= allowed, f"{family}: {per_step} synchronisations per step (allowed {allowed}): {many[-8:]}"


def test_body_model_forward_cuda_equals_cpu(embedded_cache):
    from bench.body.body_model import load_body_model

    gen = torch.Generator().manual_seed(0)
    widths = {"betas": (10, 1.0), "expression": (10, 0.5), "global_orient": (3, 0.5), "body_pose": (63, 0.3),
              "left_hand_pose": (6, 1.0), "transl": (3, 1.0)}  # fmt: skip
    params = {k: torch.randn(16, w, generator=gen) * scale for k, (w, scale) in widths.items()}
    for contour in (False, True):
        cpu = load_body_model(use_face_contour=contour)
        gpu = load_body_model(use_face_contour=contour, device=CUDA)
        for vertices in (True, False):
            a = cpu.forward(vertices=vertices, **params)
            b = gpu.forward(vertices=vertices, **{k: v.to(CUDA) for k, v in params.items()})
            assert b.joints.device.type == KIND
            torch.testing.assert_close(b.joints.cpu(), a.joints, atol=2e-5, rtol=0)
            if vertices:
                torch.testing.assert_close(b.vertices.cpu(), a.vertices, atol=2e-5, rtol=0)


@needs_cuda
def test_full_mesh_forward_on_cuda_does_not_synchronise(embedded_cache):
    """After a first call (indices and caches built), a full-mesh and a keypoint forward never wait for the host."""
    from bench.body.body_model import load_body_model

    model = load_body_model(device=CUDA)
    params = {"betas": torch.zeros(4, 10, device=CUDA), "body_pose": torch.full((4, 63), 0.1, device=CUDA)}
    model.forward(**params)
    model.keypoints(**params)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        model.forward(**params)
        model.keypoints(**params)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_metrics_cuda_equal_cpu():
    rng = np.random.default_rng(0)
    gt = torch.as_tensor(rng.normal(size=(256, 17, 3)), dtype=torch.float32)
    pred = gt + torch.as_tensor(rng.normal(scale=0.05, size=gt.shape), dtype=torch.float32)
    mask = torch.as_tensor(rng.random((256, 17)) > 0.2)
    for fn in (mpjpe, pa_mpjpe):
        a = fn(pred, gt, mask)
        b = fn(pred.to(CUDA), gt.to(CUDA), mask.to(CUDA))
        assert b.device.type == KIND
        torch.testing.assert_close(b.cpu(), a, atol=1e-5, rtol=1e-5)


def test_projections_cuda_equal_cpu():
    rng = np.random.default_rng(1)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    points = t(rng.normal(scale=0.4, size=(64, 25, 3)))
    cam3 = t(np.c_[rng.uniform(200, 800, 64), rng.normal(size=(64, 2)) * 20])
    cam4 = torch.cat([cam3, t(rng.uniform(2, 8, (64, 1)))], 1)
    focal, principal = t(rng.uniform(800, 1500, 64)), t(rng.uniform(400, 600, (64, 2)))
    transl = t(np.c_[rng.normal(size=(64, 2)) * 0.3, rng.uniform(2, 8, 64)])
    K = torch.zeros(64, 3, 3)
    K[:, 0, 0], K[:, 1, 1], K[:, :2, 2], K[:, 2, 2] = focal, focal, principal, 1.0
    R = torch.linalg.qr(t(rng.normal(size=(64, 3, 3)))).Q
    R = R * torch.linalg.det(R)[:, None, None]  # proper rotations
    dist = t(rng.normal(scale=0.01, size=(64, 5)))
    calls = [
        lambda d: project_wpp(points.to(d), cam3.to(d), center=principal.to(d)),
        lambda d: project_d2s(points.to(d), cam4.to(d), center=principal.to(d)),
        lambda d: project_pp(points.to(d), focal.to(d), transl.to(d), principal.to(d)),
        lambda d: project_camera(points.to(d) + transl.to(d)[:, None], K.to(d), R.to(d), torch.zeros(64, 3, device=d)
                                 + 0.1, dist.to(d)),
    ]  # fmt: skip
    for call in calls:
        a, b = call("cpu"), call(CUDA)
        assert b.device.type == KIND
        torch.testing.assert_close(b.cpu(), a, atol=1e-3, rtol=1e-5)  # pixels; float32 round-off of ~1e3 px


@pytest.mark.parametrize("family", ["proposed", "lifter"])
def test_bf16_within_1mm_of_fp32_on_cuda(gpu_sets, family):
    spec = {"proposed": f"proposed[{TINY_PROPOSED},iterations=60]",
            "lifter": "lifter[width=96,sts_pool=256,batch_size=16,iterations=60,log_every=1000]"}[family]  # fmt: skip
    fp32 = create_method(spec, MethodContext(device=CUDA, seed=0))
    fp32.fit({"train": gpu_sets["train"]})
    bf16 = create_method(f"{spec[:-1]},precision=bf16]", MethodContext(device=CUDA, seed=0))
    bf16.net.load_state_dict(fp32.net.state_dict())
    batch = next(gpu_sets["val"].batches(32, device=CUDA))
    a, b = fp32.predict(batch).joints3d, bf16.predict(batch).joints3d
    assert b.dtype == torch.float32 and b.device.type == KIND
    ok = torch.isfinite(a).all(-1) & torch.isfinite(b).all(-1)
    error = float(((a - a[:, :1]) - (b - b[:, :1])).norm(dim=-1)[ok].mean()) * 1000
    assert 0.0 < error < 1.0, f"{family}: bf16 vs fp32 on cuda {error:.3f} mm"
