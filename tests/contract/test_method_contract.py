"""Contract tests over every registered method, on tiny synthetic Panoptic / H36M / STB trees.

Each method is built with small settings (QUICK), fitted once, then on every dataset it either says why it cannot
run (``supports`` -> reason) or predicts a valid ``Prediction``: right shapes, finite wherever not marked failed,
NaN keypoints masked rather than propagated, and the same numbers after save/load; a model saved with another
config is refused. A joints-only method (``params`` None, ``bench.method``) predicts one fixed set of joints
(NaN elsewhere) and says why a mesh consumer must skip it.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.method import MethodContext, Prediction
from bench.registry import create_method, get_method, method_names

QUICK = {
    "proposed": {"iterations": 10, "hidden": 64, "rank": 32, "gcn_hidden": 16, "sts_pool": 64, "log_every": 1000,
                 "pretrain_iterations": 2},
    "fhgr": {"iterations": 10, "gcn_hidden": 16, "sts_pool": 64, "log_every": 1000},
    "smplifyx": {"iterations": 2, "camera_iterations": 2, "prior_samples": 500, "prior_iters": 5,
                 "prior_components": 2},
    "lifter": {"iterations": 10, "width": 32, "sts_pool": 64, "log_every": 1000},
}  # fmt: skip
QUICK["gtsub"] = QUICK["proposed"]  # the wrapped proposed (methods/substitution.py)
DATASETS = ("panoptic", "h36m", "stb")  # the trees of the tiny_sets fixture (conftest.py)


@pytest.fixture(scope="module", params=method_names())
def fitted(request, tiny_sets, tmp_path_factory):
    name = request.param
    method = create_method(name, MethodContext(seed=0), **QUICK.get(name, {}))
    summary = method.fit(tiny_sets)
    assert isinstance(summary, dict)
    path = tmp_path_factory.mktemp(f"saved-{name}") / "method.pt"
    method.save(path)
    return name, method, path


def _first_batch(samples, n=3):
    return next(samples.batches(n))


def test_at_least_the_paper_methods_are_registered():
    assert {"proposed", "fhgr", "smplifyx"} <= set(method_names())


@pytest.mark.parametrize("dataset", DATASETS)
def test_predict_or_give_a_reason(fitted, tiny_sets, dataset):
    name, method, _ = fitted
    samples = tiny_sets[dataset]
    reason = method.supports(samples)
    if reason is not None:
        assert isinstance(reason, str) and reason
        return
    batch = _first_batch(samples)
    pred = method.predict(batch)
    assert isinstance(pred, Prediction) and pred.joints3d.shape == (len(batch), 144, 3)
    assert pred.failed.shape == (len(batch),) and pred.failed.dtype == torch.bool
    _assert_finite(pred)


def _assert_finite(pred: Prediction) -> None:
    """Finite wherever not failed; a joints-only prediction: one fixed, non-empty joint set and a reason for mesh
    consumers."""
    ok = ~pred.failed
    if pred.joints_only:
        finite = torch.isfinite(pred.joints3d[ok]).all(-1)
        assert finite[:, 0].all(), "the pelvis (the root of every body skeleton) must be predicted"
        assert (finite == finite[:1]).all() and (torch.isnan(pred.joints3d[ok][~finite])).all()
        assert isinstance(pred.missing("mesh"), str) and pred.missing("params") == pred.missing("mesh")
    else:
        assert torch.isfinite(pred.joints3d[ok]).all() and pred.missing("params", "mesh") is None
        for key, value in pred.params.items():
            assert torch.isfinite(value[ok]).all(), key
    if pred.keypoints2d is not None:
        assert torch.isfinite(pred.keypoints2d[ok]).all()


def test_at_least_one_dataset_is_supported(fitted, tiny_sets):
    _, method, _ = fitted
    assert any(method.supports(s) is None for s in tiny_sets.values())


def test_nan_keypoints_are_masked_not_propagated(fitted, tiny_sets):
    name, method, _ = fitted
    samples = next(s for s in tiny_sets.values() if method.supports(s) is None)
    batch = _first_batch(samples)
    kp = batch.keypoints2d.clone()
    kp[0, ::3] = float("nan")
    pred = method.predict(dataclasses.replace(batch, keypoints2d=kp))
    _assert_finite(pred)


def test_save_load_predicts_the_same(fitted, tiny_sets):
    name, method, path = fitted
    samples = next(s for s in tiny_sets.values() if method.supports(s) is None)
    batch = _first_batch(samples)
    again = create_method(name, MethodContext(seed=0), **QUICK.get(name, {}))
    again.load(path)
    a, b = method.predict(batch), again.predict(batch)
    torch.testing.assert_close(a.joints3d, b.joints3d, rtol=0, atol=1e-6, equal_nan=True)  # NaN: not predicted


def _other_config(name: str) -> dict:
    """QUICK settings with the first integer setting of the method changed by one (another config hash)."""
    params = {**get_method(name).params, **QUICK.get(name, {})}
    key = next(k for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool))
    return {**QUICK.get(name, {}), key: params[key] + 1}


def test_a_model_saved_with_another_config_is_refused(fitted):
    name, _, path = fitted
    other = create_method(name, MethodContext(seed=0), **_other_config(name))
    with pytest.raises(ValueError, match="config hash"):
        other.load(path)
