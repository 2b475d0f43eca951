"""Close shots on the synthetic Panoptic set: the 'partial' visibility rule keeps truncated bodies and scores only
their joints inside the image (checked down to the scores of ``bench.run.evaluate``), says so in its protocol, and the
generator puts samples in every 0.5 m bin from 0.5 to 2 m, which MTC's 'strict' rule cannot keep."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _oracle import Oracle

from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError
from bench.registry import check_dataset_settings
from bench.run.evaluate import evaluate
from bench.run.units import parse_dataset_spec
from datasets.panoptic import adapter
from datasets.panoptic.synth import DEFAULT_SEQUENCES, occlusion_path, synthesize

J19 = get_skeleton("panoptic_joints19")
PELVIS = J19.index("pelvis")
CLOSE_BINS = ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0))
FRAMES = 12  # 30% of the default 40 frames: ~1,000 partial samples, 15-26 per close bin (seed 0)


@pytest.fixture(scope="module")
def tree(embedded_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("panoptic-close")
    synthesize(out, frames=FRAMES, seed=0)  # the default detector noise, as the default set
    return out


@pytest.fixture(scope="module")
def sets(tree) -> dict:
    return {vis: adapter.load(tree, visibility=vis) for vis in ("strict", "partial", "none")}


def _keys(s) -> list[tuple]:
    return list(zip(s.ids["sequence"], s.ids["frame"], s.ids["person"], s.ids["view"], strict=True))


def _root_distance(s) -> np.ndarray:
    """(N,) metres: the pelvis' norm in the camera frame (bench.run.evaluate's distance); NaN where not valid."""
    return np.where(s.joints3d_valid[:, PELVIS], np.linalg.norm(s.joints3d[:, PELVIS], axis=1), np.nan)


def _inside(s) -> np.ndarray:
    """(N, 19): each joint of ``s`` in front of its camera and projected inside the image."""
    uv = adapter.project_points(s)
    w, h = s.image_size[:, None, 0], s.image_size[:, None, 1]
    ok = (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
    return ok & (s.joints3d[..., 2] > 0)


def test_partial_keeps_truncated_bodies_and_marks_their_outside_joints_unscored(sets):
    partial, none = sets["partial"], sets["none"]
    row = {k: i for i, k in enumerate(_keys(none))}
    same = np.array([row[k] for k in _keys(partial)])  # every partial sample is a sample of 'none'
    full = none.subset(same)  # the same samples with every annotated joint
    valid = partial.joints3d_valid
    assert valid[:, PELVIS].all() and (valid.sum(1) >= adapter.PARTIAL_MIN_JOINTS).all()
    assert _inside(partial)[valid].all()  # a scored joint is in front and inside the image
    assert not partial.joints3d[~valid].any()  # unscored joints are zero, like invalid annotations
    np.testing.assert_array_equal(partial.joints3d[valid], full.joints3d[valid])
    # truncated: joints the annotation has (valid in 'none') that are not scored, each outside the image
    cut = full.joints3d_valid & ~valid
    truncated = cut.any(1)
    assert truncated.sum() > 100
    w, h = full.image_size[:, None, 0], full.image_size[:, None, 1]
    uv = adapter.project_points(full)
    outside = (full.joints3d[..., 2] <= 0) | (uv[..., 0] < 0) | (uv[..., 1] < 0) | (uv[..., 0] > w - 1)
    outside |= uv[..., 1] > h - 1
    assert outside[cut].mean() > 0.99  # the rest lie beyond the lens model's range (visible_in_image)
    # nearly every close sample is truncated (a standing body under 2 m does not fit the view; a crouching one
    # may); 'strict' keeps no truncated sample
    close = _root_distance(partial) < 2.0
    assert close.sum() >= 40 and truncated[close].mean() > 0.8
    assert not {k for k, cut_off in zip(_keys(partial), truncated, strict=True) if cut_off} & set(_keys(sets["strict"]))
    assert not {k for k, cut_off in zip(_keys(partial), truncated, strict=True) if cut_off} & set(_keys(sets["strict"]))


def test_strict_samples_with_a_root_are_kept_by_partial_and_scored_alike(sets):
    strict, partial = sets["strict"], sets["partial"]
    row = {k: i for i, k in enumerate(_keys(partial))}
    rooted = np.flatnonzero(strict.joints3d_valid[:, PELVIS])
    assert len(rooted) > 0.95 * len(strict)
    keys = _keys(strict)
    idx = np.array([row[keys[i]] for i in rooted])
    # whole bodies in view: the same joints are scored, with the same values
    np.testing.assert_array_equal(partial.joints3d_valid[idx], strict.joints3d_valid[rooted])
    np.testing.assert_array_equal(partial.joints3d[idx], strict.joints3d[rooted])


def test_evaluate_scores_only_the_visible_joints(sets):
    """An oracle with one joint displaced by 0.5 m: MPJPE = 0.5 / (scored joints) where that joint is inside
    the image, exactly 0 where it is cut off."""
    s = sets["partial"]
    ankle = J19.index("left_ankle")
    offset = 0.5
    result = evaluate(Oracle(offset=offset, joint=get_skeleton("smplx_144").index("left_ankle")), s)
    ok = result.scored
    assert ok.all()
    seen = s.joints3d_valid[:, ankle]
    assert seen.any() and (~seen).any()
    expected = np.where(seen, offset / s.joints3d_valid.sum(1), 0.0)
    np.testing.assert_allclose(result.mpjpe, expected, atol=1e-5)  # GT stored as float32
    np.testing.assert_allclose(result.distance, _root_distance(s), atol=1e-5)


def test_protocol_says_partial_and_what_is_scored(sets):
    info = sets["partial"].info
    assert info["visibility"] == "partial"
    protocol = info["protocol"]
    assert "visibility=partial (not MTC's rule: truncated bodies kept" in protocol
    assert f">= {adapter.PARTIAL_MIN_JOINTS} valid joints19" in protocol
    assert "only the joints inside the image are scored" in protocol and "occlusion: gt-side-file" in protocol
    assert "strict (valid joints19 in front, inside the image, not occluded" in sets["strict"].info["protocol"]


def test_partial_without_side_file_uses_openpose_dropouts_of_inside_joints(tree, sets, tmp_path):
    seq = DEFAULT_SEQUENCES[0]
    shutil.copytree(tree / seq, tmp_path / seq)
    occlusion_path(tmp_path, seq).unlink()
    s = adapter.load(tmp_path, sequences=(seq,), visibility="partial")
    assert "occlusion: openpose-dropouts" in s.info["protocol"]
    detected = s.keypoints2d[:, adapter._J19_SLOTS_BY_J19, 2] > 0
    assert (detected | ~s.joints3d_valid).all()  # every scored joint was detected
    none = sets["none"]
    mine = none.subset(none.ids["sequence"] == seq)
    row = {k: i for i, k in enumerate(_keys(mine))}
    full = mine.subset(np.array([row[k] for k in _keys(s)]))
    # truncated bodies kept here too (fewer: any self-occluded joint the detector dropped filters a view out)
    assert (full.joints3d_valid & ~s.joints3d_valid).any(1).sum() >= 5


def test_close_bins_are_populated_and_strict_cannot_keep_them(sets):
    partial, strict = _root_distance(sets["partial"]), _root_distance(sets["strict"])
    counts = [int(((partial >= lo) & (partial < hi)).sum()) for lo, hi in CLOSE_BINS]
    assert min(counts) >= 10, counts  # 16 / 15 / 26 at seed 0; the default 40 frames give ~3x
    assert sum(counts) >= 40, counts
    # a standing body closer than ~2.4 m does not fit a 1920 x 1080 view whole: 'strict' keeps a few crouching ones
    assert 5 * (strict < 2.0).sum() < sum(counts)


def test_partial_is_a_valid_setting_and_wrong_values_list_it():
    name, settings = parse_dataset_spec("panoptic[visibility=partial]")
    assert check_dataset_settings(name, settings).settings["visibility"] == "strict"  # MTC's rule stays default
    with pytest.raises(ConfigError, match=r"visibility='truncated': expected one of strict\|partial\|inside\|none"):
        parse_dataset_spec("panoptic[visibility=truncated]")  # refused by load's declaration, before any reading
