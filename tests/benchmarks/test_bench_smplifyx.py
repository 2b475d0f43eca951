"""SMPLify-X baseline speed with the default schedule (camera stage + 5 stages, at most 80 L-BFGS iterations each):
per image at batch 1 (target 2 s) and at batch 64 (target 0.2 s per image). Only predict() is timed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from bench.method import MethodContext
from methods.smplifyx import SMPLifyX

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "methods"))
from test_smplifyx import _BODY, known_batch  # noqa: E402

TARGET_PER_IMAGE = {1: 2.0, 64: 0.2}  # seconds


@pytest.mark.parametrize("batch_size", [1, 64])
def test_bench_smplifyx_predict(benchmark, embedded_cache, batch_size):
    from bench.body.body_model import load_body_model

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_body_model(use_face_contour=True)
    batch, _ = known_batch(model, batch_size, seed=7)
    if device != "cpu":
        batch = type(batch)(**{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in vars(batch).items()})
    method = SMPLifyX(MethodContext(device=device))  # default schedule and prior (fitted once, untimed)
    method.fit({})
    method.predict(batch)  # warm-up
    pred = benchmark.pedantic(method.predict, args=(batch,), rounds=2 if batch_size == 1 else 1, iterations=1)
    per_image = benchmark.stats.stats.mean / batch_size
    body_px = float((pred.keypoints2d.cpu() - batch.keypoints2d[..., :2].cpu()).norm(dim=-1)[:, _BODY].mean())
    benchmark.extra_info.update(
        batch_size=batch_size,
        device=device,
        seconds_per_image=per_image,
        target_seconds_per_image=TARGET_PER_IMAGE[batch_size],
        loss_evals=float(pred.info["loss_evals"].float().mean()),
        body_reprojection_px=body_px,
        failed=int(pred.failed.sum()),
    )
    print(
        f"smplifyx batch {batch_size} on {device}: {per_image:.3f} s per image "
        f"(target {TARGET_PER_IMAGE[batch_size]} s), {float(pred.info['loss_evals'].float().mean()):.0f} loss "
        f"evaluations per image, body reprojection {body_px:.2f} px (exact 2D input, mean-pose start)"
    )
