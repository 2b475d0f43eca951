"""SampleSet / SampleBatch / FaultLog: the common structure every adapter returns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.samples import ID_FIELDS, NUM_KEYPOINTS, SMPLX_FIELDS, FaultLog, SampleSet, concat_sets


def make_set(n: int = 10, *, skeleton: str = "h36m_17", smplx: bool = True, seed: int = 0) -> SampleSet:
    rng = np.random.default_rng(seed)
    joints = 17 if skeleton == "h36m_17" else 19
    return SampleSet(
        name="toy", skeleton=skeleton,
        keypoints2d=rng.uniform(0, 100, (n, NUM_KEYPOINTS, 3)),
        image_size=np.tile([640, 480], (n, 1)),
        K=np.tile(np.eye(3), (n, 1, 1)), R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)),
        joints3d=rng.normal(size=(n, joints, 3)), joints3d_valid=np.ones((n, joints), bool),
        ids={"subject": np.array(["S9"] * n), "sequence": np.array(["a", "b"] * (n // 2) + ["a"] * (n % 2)),
             "action": np.array(["x"] * n), "frame": np.arange(n), "view": np.array(["0"] * n),
             "person": np.zeros(n, int)},
        smplx={k: rng.normal(size=(n, w)) for k, w in SMPLX_FIELDS.items()} if smplx else None,
    )  # fmt: skip


def test_fields_are_normalised_to_dtypes():
    s = make_set()
    assert s.keypoints2d.dtype == np.float32 and s.joints3d.dtype == np.float64
    assert s.image_size.dtype == np.int64 and s.joints3d_valid.dtype == bool
    assert s.ids["frame"].dtype == np.int64 and s.ids["subject"].dtype.kind == "U"
    assert s.smplx["betas"].dtype == np.float32 and s.smplx_valid.all()
    assert not make_set(smplx=False).smplx_valid.any()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keypoints2d", np.zeros((10, 136, 3)), "keypoints2d"),
        ("joints3d", np.zeros((10, 19, 3)), "joints3d"),
        ("K", np.full((10, 3, 3), np.nan), "K: NaN"),
    ],
)
def test_wrong_shapes_and_nan_are_named(field, value, message):
    s = make_set()
    kwargs = {f: getattr(s, f) for f in ("name", "skeleton", "keypoints2d", "image_size", "K", "R", "t", "dist",
                                         "joints3d", "joints3d_valid", "ids")}  # fmt: skip
    kwargs[field] = value
    with pytest.raises(ValueError, match=message):
        SampleSet(**kwargs)


def test_nan_on_an_invalid_joint_is_allowed_but_not_on_a_valid_one():
    s = make_set()
    j = s.joints3d.copy()
    j[0, 3] = np.nan
    valid = s.joints3d_valid.copy()
    valid[0, 3] = False
    kwargs = dict(name="toy", skeleton="h36m_17", keypoints2d=s.keypoints2d, image_size=s.image_size, K=s.K, R=s.R,
                  t=s.t, dist=s.dist, ids=s.ids)  # fmt: skip
    SampleSet(**kwargs, joints3d=j, joints3d_valid=valid)
    with pytest.raises(ValueError, match="joints3d"):
        SampleSet(**kwargs, joints3d=j, joints3d_valid=s.joints3d_valid)


def test_missing_id_field_is_named():
    s = make_set()
    ids = dict(s.ids)
    del ids["view"]
    with pytest.raises(ValueError, match="view"):
        SampleSet(name="toy", skeleton="h36m_17", keypoints2d=s.keypoints2d, image_size=s.image_size, K=s.K, R=s.R,
                  t=s.t, dist=s.dist, joints3d=s.joints3d, joints3d_valid=s.joints3d_valid, ids=ids)  # fmt: skip


def test_batches_cover_the_set_in_order_and_share_memory():
    s = make_set(10)
    batches = list(s.batches(4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b.index for b in batches]), torch.arange(10))
    np.testing.assert_array_equal(torch.cat([b.keypoints2d for b in batches]).numpy(), s.keypoints2d)
    np.testing.assert_array_equal(np.concatenate([b.ids["frame"] for b in batches]), s.ids["frame"])
    assert batches[0].keypoints2d.data_ptr() == torch.from_numpy(s.keypoints2d).data_ptr()
    assert torch.equal(batches[1].smplx["betas"], torch.from_numpy(s.smplx["betas"][4:8]))
    with pytest.raises(ValueError, match="batch_size"):
        next(s.batches(0))


def test_subset_and_counts():
    s = make_set(10)
    sub = s.subset(s.ids["sequence"] == "a")
    assert len(sub) == 5 and set(sub.ids["sequence"]) == {"a"}
    assert sub.smplx["betas"].shape == (5, 10)
    assert s.counts("sequence") == {("a",): 5, ("b",): 5}
    assert s.counts() == {(): 10}
    with pytest.raises(ValueError, match="unknown id field"):
        s.counts("camera")


def test_concat_merges_faults_and_fills_missing_smplx():
    a, b = make_set(4), make_set(3, smplx=False, seed=1)
    a.faults.skip("nan joints", "f1.json: joints19")
    b.faults.skip("nan joints", "f2.json: joints19", 2)
    b.faults.skip("no 2D detection", "f3.json")
    c = concat_sets([a, b])
    assert len(c) == 7 and c.faults.as_dict() == {"nan joints": 3, "no 2D detection": 1}
    assert c.smplx_valid.tolist() == [True] * 4 + [False] * 3
    with pytest.raises(ValueError, match="skeletons differ"):
        concat_sets([a, make_set(2, skeleton="panoptic_joints19")])


def test_fault_log_summary_names_reason_count_and_place():
    log = FaultLog()
    assert log.summary() == "no samples skipped" and log.total == 0
    for i in range(7):
        log.skip("too few valid joints", f"frame {i}")
    log.skip("ignored", "nowhere", 0)
    assert log.total == 7 and len(log.examples["too few valid joints"]) == FaultLog.MAX_EXAMPLES
    assert "7 too few valid joints (e.g. frame 0)" in log.summary()
    assert set(ID_FIELDS) == {"subject", "sequence", "action", "frame", "view", "person"}


def test_an_empty_set_with_smplx_is_valid():
    s = make_set(0)
    assert len(s) == 0 and s.smplx["betas"].shape == (0, 10) and list(s.batches(8)) == []


def test_extra_per_sample_arrays_follow_subset_and_concat():
    s = make_set(6)
    s.extra = {}
    t = SampleSet(**{f: getattr(s, f) for f in ("name", "skeleton", "keypoints2d", "image_size", "K", "R", "t",
                                                 "dist", "joints3d", "joints3d_valid", "ids")},
                  extra={"imgname": np.array([f"im{i}.jpg" for i in range(6)])})  # fmt: skip
    assert t.subset(np.array([1, 3])).extra["imgname"].tolist() == ["im1.jpg", "im3.jpg"]
    assert concat_sets([t, t]).extra["imgname"].shape == (12,)
    with pytest.raises(ValueError, match=r"extra\['bad'\]"):
        SampleSet(**{f: getattr(s, f) for f in ("name", "skeleton", "keypoints2d", "image_size", "K", "R", "t",
                                                 "dist", "joints3d", "joints3d_valid", "ids")},
                  extra={"bad": np.zeros(5)})  # fmt: skip
