"""Tests of the reference rows of ``methods/substitution.py``: ``gtsub`` (``proposed`` with parts of its predicted
SMPL-X replaced by the ground truth) and ``meanpose`` (the training sets' mean pose for every sample).

The machinery check (every part replaced scores 0.0 mm), one part lands between none and all, a sample without
ground truth is failed rather than scored as the prediction, the wrapped model is loaded from the model cache under
the plain ``proposed``'s training key (never retrained), ``meanpose`` scores as the mean pose computed by hand
(scipy's rotation mean), and bad settings are refused by the registry. Tiny networks on STS-generated sample sets
(no dataset generation); a few seconds on 2 cores.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from _sts_sets import sts_sample_set
from scipy.spatial.transform import Rotation

from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError
from bench.method import PARAM_WIDTHS, MethodContext, Prediction
from bench.registry import check_method_spec, create_method
from bench.run.evaluate import evaluate
from bench.samples import SampleSet
from methods.proposed.method import ProposedMethod, body_models
from methods.proposed.sts import STSConfig, STSStream

TINY = {"iterations": 6, "hidden": 64, "rank": 32, "gcn_hidden": 16, "sts_pool": 64, "log_every": 1000,
        "pretrain_iterations": 2}  # fmt: skip


def sts_set(n: int, seed: int) -> SampleSet:
    """STS samples as a SampleSet in 'smplx_127' (GT SMPL-X, camera frame), scored on the 22 body joints."""
    train_model, _, _ = body_models(None, "cpu")
    s = STSStream(train_model, STSConfig(pool=128), seed=seed, device="cpu").sample(n)
    K = np.zeros((n, 3, 3))
    K[:, 2, 2] = 1.0
    out = sts_sample_set(s, name="sts", skeleton="smplx_127", joints3d=s["joints"].double().numpy(),
                         keypoints2d=s["keypoints2d"].numpy(), K=K)  # fmt: skip
    out.info = {"root_joints": ("pelvis",), "eval_joints": get_skeleton("smplx_127").joints[:22]}  # the body joints
    return out


@pytest.fixture(scope="module")
def test_set(embedded_cache):
    return sts_set(24, seed=5)


@pytest.fixture(scope="module")
def trained(embedded_cache):
    """A tiny proposed, trained once, and its weights (every gtsub below loads them: same config, same model)."""
    method = create_method("proposed", MethodContext(seed=0), **TINY)
    method.fit({"sts": sts_set(32, seed=1)})
    return {k: v.clone() for k, v in method.net.state_dict().items()}


def gtsub(trained, **params) -> ProposedMethod:
    method = create_method("gtsub", MethodContext(seed=0), **TINY, **params)
    method.trained.net.load_state_dict(trained)
    return method


def scores(method, samples) -> tuple[float, float]:
    s = evaluate(method, samples, batch_size=10).summary()
    assert s["skipped"] is None and s["n"] == len(samples), s
    return s["mpjpe_mm"], s["pa_mpjpe_mm"]


def test_every_part_replaced_scores_zero(trained, test_set):
    """The machinery check: with every parameter the truth, the prediction is the ground truth."""
    mpjpe, pa = scores(gtsub(trained, parts="all"), test_set)
    assert mpjpe < 0.01 and pa < 0.01, (mpjpe, pa)
    listed = "+".join(PARAM_WIDTHS)  # the same, named one by one
    assert scores(gtsub(trained, parts=listed), test_set) == pytest.approx((mpjpe, pa), abs=1e-6)


def test_one_part_differs_from_none_and_from_all(trained, test_set):
    plain = create_method("proposed", MethodContext(seed=0), **TINY)
    plain.net.load_state_dict(trained)
    none = scores(plain, test_set)
    body = scores(gtsub(trained, parts="body_pose"), test_set)
    both = scores(gtsub(trained, parts="global_orient+body_pose"), test_set)
    assert none[0] > 1.0 and none[1] > 1.0
    for row in (body, both):
        assert row[0] > 0.01 and row[1] > 0.01 and row != pytest.approx(none, abs=0.01)
    # PA-MPJPE aligns the rotation away: the true global rotation on top of the true body pose changes only MPJPE
    assert body[1] == pytest.approx(both[1], abs=1e-3) and both[0] < body[0]


def test_the_pelvis_stays_where_the_method_put_it_unless_transl_is_replaced(trained, test_set):
    batch = next(test_set.batches(8))
    plain = gtsub(trained, parts="body_pose").trained.predict(batch)
    sub = gtsub(trained, parts="body_pose+betas").predict(batch)
    torch.testing.assert_close(sub.joints3d[:, 0], plain.joints3d[:, 0], rtol=0, atol=1e-5)
    exact = gtsub(trained, parts="all").predict(batch)
    torch.testing.assert_close(exact.joints3d[:, 0].double(), batch.joints3d[:, 0], rtol=0, atol=1e-4)
    assert sub.keypoints2d is None and sub.missing("keypoints2d")  # no reprojection is claimed


def test_a_sample_without_ground_truth_is_failed_not_scored_as_the_prediction(trained, test_set):
    partial = test_set.subset(np.arange(len(test_set)))
    partial.smplx_valid = partial.smplx_valid.copy()
    partial.smplx_valid[[0, 3]] = False
    result = evaluate(gtsub(trained, parts="all"), partial, batch_size=10)
    assert result.failed[[0, 3]].all() and not result.failed[[1, 2]].any()
    assert result.summary()["n"] == len(partial) - 2 and result.summary()["mpjpe_mm"] < 0.01
    none = test_set.subset(np.arange(len(test_set)))
    none.smplx, none.smplx_valid = None, np.zeros(len(none), bool)
    skipped = evaluate(gtsub(trained, parts="betas"), none)
    assert skipped.skipped and "no ground-truth SMPL-X to substitute (betas)" in skipped.skipped
    assert gtsub(trained, parts="body_pose", zero="betas").supports(none) is not None  # parts need the truth


def test_the_wrapped_model_is_loaded_from_the_plain_methods_cache_not_retrained(tmp_path, monkeypatch, embedded_cache):
    """The runner's model cache: a gtsub after the plain proposed of the same config and seed loads that model file
    (the same training key), and its predictions are those of the plain model with the parts replaced."""
    from bench.run import runner

    train = {"sts": sts_set(32, seed=1)}
    context = MethodContext(seed=0)
    said: list[str] = []
    plain = create_method("proposed", context, **TINY)
    cached, plain_file, _ = runner._fit_or_load(plain, "proposed", train, 0, context, tmp_path, False, said.append)
    assert not cached and plain_file is not None and plain_file.is_file()

    def no_training(self, train_sets):
        raise AssertionError("the wrapped proposed was trained again")

    monkeypatch.setattr(ProposedMethod, "fit", no_training)
    wrapped = create_method("gtsub", context, **TINY, parts="body_pose")
    cached, wrapped_file, _ = runner._fit_or_load(wrapped, "gtsub", train, 0, context, tmp_path, False, said.append)
    assert cached and wrapped_file == plain_file, said
    for key, value in plain.net.state_dict().items():
        torch.testing.assert_close(wrapped.trained.net.state_dict()[key], value, rtol=0, atol=0)
    assert sorted(p.name for p in tmp_path.glob("*.model")) == [plain_file.name]  # nothing saved for gtsub


def test_meanpose_scores_as_the_mean_pose_computed_by_hand(test_set, embedded_cache):
    train = sts_set(40, seed=2)
    method = create_method("meanpose", MethodContext(seed=0))
    summary = method.fit({"sts": train})
    assert summary["samples"] == 40
    # by hand: scipy's rotation mean (the chordal L2 mean) per joint, zero shape, mean expression
    smplx = train.smplx
    params = {}
    for key in ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose", "left_hand_pose",
                "right_hand_pose"):  # fmt: skip
        aa = np.asarray(smplx[key], np.float64).reshape(len(train), -1, 3)
        means = [Rotation.from_rotvec(aa[:, j]).mean().as_rotvec() for j in range(aa.shape[1])]
        params[key] = torch.tensor(np.concatenate(means)[None], dtype=torch.float32)
    params["betas"] = torch.zeros(1, 10)
    params["expression"] = torch.tensor(np.asarray(smplx["expression"], np.float64).mean(0, keepdims=True)).float()
    _, model, _ = body_models(None, "cpu")

    class ByHand:
        name = "by-hand mean pose"

        def supports(self, samples):
            return None

        def predict(self, batch):
            B = len(batch)
            joints = model.keypoints(**{k: v.expand(B, -1) for k, v in params.items()})
            return Prediction(params={**{k: v.expand(B, -1) for k, v in params.items()}, "transl": torch.zeros(B, 3)},
                              joints3d=joints, keypoints2d=None)  # fmt: skip

    mine, hand = scores(method, test_set), scores(ByHand(), test_set)
    assert mine == pytest.approx(hand, abs=1e-3) and mine[0] > 10.0
    batch = next(test_set.batches(3))
    pred = method.predict(batch)
    one = pred.joints3d[:1].expand_as(pred.joints3d)  # one constant body: the input is never read
    torch.testing.assert_close(pred.joints3d, one, rtol=0, atol=1e-5)
    mean_shape = create_method("meanpose[shape=mean]", MethodContext(seed=0))
    mean_shape.fit({"sts": train})
    np.testing.assert_allclose(mean_shape.params["betas"].numpy()[0], np.asarray(smplx["betas"]).mean(0), atol=1e-5)


def test_meanpose_saves_loads_and_refuses_what_it_cannot_use(test_set, tmp_path, embedded_cache):
    method = create_method("meanpose", MethodContext(seed=0))
    with pytest.raises(ValueError, match="predict before fit"):
        method.predict(next(test_set.batches(2)))
    without = test_set.subset(np.arange(4))
    without.smplx, without.smplx_valid = None, np.zeros(4, bool)
    said = "meanpose: no training set holds ground-truth SMPL-X (training sets: h36m), so there is no mean pose"
    assert method.fit({"h36m": without})["reason"] == said  # a skipped row, not a failed unit nor a made-up body
    result = evaluate(method, test_set)
    assert result.skipped == said and result.summary()["n"] == 0
    method.save(tmp_path / "none.pt")  # the runner saves every fitted model; loading it gives the same reason
    blank = create_method("meanpose", MethodContext(seed=0))
    blank.load(tmp_path / "none.pt")
    assert blank.supports(test_set) == said
    method.fit({"sts": test_set})
    assert method.supports(test_set) is None
    method.save(tmp_path / "m.pt")
    again = create_method("meanpose", MethodContext(seed=0))
    again.load(tmp_path / "m.pt")
    batch = next(test_set.batches(4))
    torch.testing.assert_close(again.predict(batch).joints3d, method.predict(batch).joints3d, rtol=0, atol=0)
    other = create_method("meanpose[shape=mean]", MethodContext(seed=0))
    with pytest.raises(ValueError, match="config hash"):
        other.load(tmp_path / "m.pt")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gtsub[parts=head]", "parts='head': expected a list of one of"),
        ("gtsub[parts=body_pose+pose]", "parts='body_pose+pose': expected a list of one of"),
        ("gtsub[zero=transl]", "zero='transl': expected a list of one of"),
        ("gtsub[projection=xyz]", "projection='xyz'"),
        ("meanpose[shape=average]", "shape='average': expected one of zero|mean"),
    ],
)
def test_bad_settings_are_refused_by_the_registry(spec, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_method_spec(spec)


def test_contradictory_parts_are_refused_when_built(embedded_cache):
    with pytest.raises(ValueError, match=r"\['betas'\] named in both parts and zero"):
        create_method("gtsub[parts=all,zero=betas]", MethodContext())
    with pytest.raises(ValueError, match="nothing to substitute"):
        create_method("gtsub[parts=none]", MethodContext())
    with pytest.raises(ValueError, match="'none' cannot be combined"):
        create_method("gtsub[parts=none+betas]", MethodContext())


def test_zero_shape_keeps_the_rest_of_the_prediction(trained, test_set):
    """gtsub[parts=none,zero=betas]: the prediction with the body model's mean shape; needs no ground truth."""
    batch = next(test_set.batches(6))
    method = gtsub(trained, parts="none", zero="betas")
    assert method.name == "gtsub[parts=none,projection=d2s,zero=betas]"
    pred, plain = method.predict(batch), method.trained.predict(batch)
    assert (pred.params["betas"] == 0).all() and not (plain.params["betas"] == 0).all()
    torch.testing.assert_close(pred.params["body_pose"], plain.params["body_pose"], rtol=0, atol=0)
    torch.testing.assert_close(pred.joints3d[:, 0], plain.joints3d[:, 0], rtol=0, atol=1e-5)
    no_truth = test_set.subset(np.arange(4))
    no_truth.smplx, no_truth.smplx_valid = None, np.zeros(4, bool)
    assert method.supports(no_truth) is None and not method.predict(next(no_truth.batches(4))).failed.any()


def _report_rows():
    """tests/reports/_report_rows.py (the report tests' hand-made rows), loaded from its path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "reports" / "_report_rows.py"
    spec = importlib.util.spec_from_file_location("_report_rows_for_substitution", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GTSUB_POSE = "gtsub[parts=body_pose,projection=d2s]"
ZERO_SHAPE = "gtsub[parts=none,projection=d2s,zero=betas]"


def test_the_floors_and_ceilings_are_reference_rows_of_tables_1_and_2():
    import pandas as pd

    from reports.rows import validate_rows
    from reports.tables import table1, table2

    rr = _report_rows()
    extra = [rr.make_row(variant, dataset, seed, metric, value)
             for variant, value in ((GTSUB_POSE, 20.0), (ZERO_SHAPE, 60.0), ("meanpose", 150.0))
             for dataset in ("panoptic", "h36m[protocol=p1]", "h36m[protocol=p2]") for seed in (0, 1)
             for metric in ("mpjpe_mm", "pa_mpjpe_mm")]  # fmt: skip
    rows = validate_rows(pd.concat([rr.make_rows(), pd.DataFrame(extra)], ignore_index=True))
    labels = {GTSUB_POSE: "Proposed (D2S), true body pose, reference",
              ZERO_SHAPE: "Proposed (D2S), zero shape, reference", "meanpose": "Mean pose, reference"}  # fmt: skip
    for table in (table1(rows), table2(rows)):
        display = table.display
        assert list(display["method"].iloc[-3:]) == [labels[v] for v in display["variant"].iloc[-3:]]
        assert set(display["variant"].iloc[-3:]) == set(labels)  # after every row of the paper and of ours
        ours = display[display["variant"].isin(list(labels))]
        assert (ours.filter(like="paper (reported)") == "–").all().all()  # no paper number beside them
        notes = " ".join(table.notes)
        assert "Proposed with ground-truth parts, reference: " in notes and "Mean pose, reference: " in notes
        assert notes.count("not a method of the paper") == 2
