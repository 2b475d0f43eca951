"""CMU Panoptic synthetic generator + adapter: round trips against the generator's truth, the visibility filter,
the two 2D sources, settings, bad input, per-sample faults and the real sample files."""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES

from bench import registry
from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from bench.registry import load_dataset, typed_dataset_settings
from bench.run.results import data_labels
from bench.run.units import load_dataset_spec
from datasets.panoptic import adapter
from datasets.panoptic.format import (
    body_frame_path,
    calibration_path,
    camera_points,
    hd_cameras,
    project,
    read_calibration,
)
from datasets.panoptic.synth import (
    DEFAULT_SEQUENCES,
    FIRST_FRAME,
    occlusion_path,
    openpose_path,
    smplx_gt_path,
    synthesize,
)
from datasets.synth import generator_model, read_smplx_gt, render_bodies

REAL_SEQ = "160906_band1"
J19 = get_skeleton("panoptic_joints19")
SEQ = DEFAULT_SEQUENCES[0]


@pytest.fixture(scope="module")
def exact_tree(embedded_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("panoptic-exact")
    synthesize(out, frames=3, people=2, seed=3, noise="none")
    return out


@pytest.fixture(scope="module")
def truth(exact_tree) -> dict:
    """Per sequence: world joints19 / openpose_137 keypoints of every (frame, person), rendered from the GT
    side file (independent of the JSON files the adapter reads)."""
    model = generator_model()
    out = {}
    for seq in DEFAULT_SEQUENCES:
        params, _, ids, _ = read_smplx_gt(smplx_gt_path(exact_tree, seq))
        bodies = render_bodies(model, params, skeletons=(J19.name,))
        rows = {(int(f), int(p)): i for i, (f, p) in enumerate(zip(ids["frame"], ids["person"], strict=True))}
        cams = {c.name: c for c in hd_cameras(read_calibration(calibration_path(exact_tree, seq)))}
        out[seq] = {"rows": rows, "joints": bodies[J19.name], "keypoints": bodies["keypoints"], "cams": cams}
    return out


@pytest.fixture(scope="module")
def loaded(exact_tree):
    return {vis: adapter.load(exact_tree, visibility=vis) for vis in adapter.VISIBILITY}


def _copy(tree: Path, dst: Path, seq: str = SEQ) -> Path:
    """A copy of one sequence of ``tree`` (cheap enough per test)."""
    shutil.copytree(tree / seq, dst / seq)
    return dst


# --- round trips --------------------------------------------------------------------------------------------


def _groups(s, truth):
    """(rows of s, truth of the sequence, camera, truth rows) per (sequence, view) of a set."""
    for seq, view in sorted(s.counts("sequence", "view")):
        sel = np.flatnonzero((s.ids["sequence"] == seq) & (s.ids["view"] == view))
        t = truth[seq]
        rows = [t["rows"][(int(f), int(p))] for f, p in zip(s.ids["frame"][sel], s.ids["person"][sel], strict=True)]
        yield sel, t, t["cams"][view], np.asarray(rows)


def test_joints3d_equal_generator_truth_in_each_camera(loaded, truth):
    s = loaded["none"]
    assert len(s) > 100 and s.skeleton == "panoptic_joints19"
    worst = 0.0
    for sel, t, cam, rows in _groups(s, truth):
        expected = camera_points(cam, t["joints"][rows])
        valid = s.joints3d_valid[sel]
        worst = max(worst, float(np.abs(s.joints3d[sel][valid] - expected[valid]).max()))
        np.testing.assert_allclose(s.R[sel], np.broadcast_to(cam.R, (len(sel), 3, 3)))
        np.testing.assert_allclose(s.t[sel], np.broadcast_to(cam.t, (len(sel), 3)))
    assert worst < 1e-6
    assert s.joints3d_valid.mean() > 0.95  # ~1% of joints are written invalid (0, 0, 0, -1), as in real files
    assert not s.joints3d[~s.joints3d_valid].any()


def test_exact_2d_equals_projection_of_truth(loaded, truth):
    s = loaded["none"]
    worst, detected = 0.0, 0
    for sel, t, cam, rows in _groups(s, truth):
        kp = t["keypoints"][rows]
        uv = project(cam, kp)
        front = camera_points(cam, kp)[..., 2] > 1e-3
        w, h = cam.resolution
        inside = front & (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
        got = s.keypoints2d[sel]
        np.testing.assert_array_equal(got[..., 2] > 0, inside)  # noise='none': exactly the points inside
        worst = max(worst, float(np.abs(got[..., :2][inside] - uv[inside]).max(initial=0.0)))
        detected += int(inside.sum())
    assert detected > 1000 and worst < 1e-3  # float32 keypoints2d: ~1e-4 px at 1920 px


def test_gt_smplx_in_camera_rerenders_to_joints3d(loaded):
    s = loaded["strict"]
    assert s.smplx is not None and s.smplx_valid.all()
    sel = np.arange(0, len(s), max(1, len(s) // 40))
    rendered = render_bodies(generator_model(), {k: v[sel] for k, v in s.smplx.items()}, skeletons=(J19.name,))
    err = np.abs(rendered[J19.name] - s.joints3d[sel])[s.joints3d_valid[sel]]
    assert err.max() < 1e-4  # float32 model evaluated in another frame


def test_distances_span_close_and_far_per_view(exact_tree, loaded):
    """Each view sees its bodies at varied distances: over the tiny tree the pelvis depth spans > 2 m."""
    s = loaded["none"]
    depth = s.joints3d[:, J19.index("pelvis"), 2]
    assert depth.min() < 1.6 and depth.max() > 5.0
    spans = [np.ptp(depth[s.ids["view"] == v]) for v in np.unique(s.ids["view"])]
    assert np.median(spans) > 2.0


# --- visibility filter ----------------------------------------------------------------------------------------


def _key_list(s) -> list[tuple]:
    return list(zip(s.ids["sequence"], s.ids["frame"], s.ids["person"], s.ids["view"], strict=True))


def _keys(s) -> set[tuple]:
    return set(_key_list(s))


def test_visibility_filters_nest_and_hold(exact_tree, loaded):
    strict, inside, none = (loaded[v] for v in ("strict", "inside", "none"))
    assert _keys(strict) < _keys(inside) < _keys(none)
    for s in (strict, inside):
        uv = adapter.project_points(s)
        w, h = s.image_size[:, None, 0], s.image_size[:, None, 1]
        ok = (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
        assert (ok | ~s.joints3d_valid).all()
        assert (s.joints3d[..., 2] > 0)[s.joints3d_valid].all()
        # every valid joint that lies inside is detected (noise='none'): the filter and the 2D agree
        det = s.keypoints2d[:, adapter._J19_SLOTS_BY_J19, 2] > 0
        assert (det | ~s.joints3d_valid).all()
    with np.load(occlusion_path(exact_tree, SEQ)) as npz:
        rows = {(int(f), int(p)): i for i, (f, p) in enumerate(zip(npz["frame"], npz["person"], strict=True))}
        views = [str(v) for v in npz["views"]]
        occluded = npz["occluded"]
    mine = strict.ids["sequence"] == SEQ
    for f, p, v in zip(strict.ids["frame"][mine], strict.ids["person"][mine], strict.ids["view"][mine], strict=True):
        assert not occluded[rows[(int(f), int(p))], views.index(v)].any()
    assert "occlusion: gt-side-file" in strict.info["protocol"] and "root=mid_hip (pelvis)" in strict.info["protocol"]
    assert "visibility=inside" in inside.info["protocol"] and "visibility=none" in none.info["protocol"]
    assert strict.info["filtered"][SEQ] > 0


def test_inside_filter_rejects_truncated_close_shots(loaded):
    none, inside = loaded["none"], loaded["inside"]
    kept = _keys(inside)
    close = none.joints3d[:, J19.index("pelvis"), 2] < 1.5
    assert close.any()
    dropped = [k not in kept for k in _key_list(none)]
    assert np.asarray(dropped)[close].mean() > 0.5


# --- 2D sources ------------------------------------------------------------------------------------------------


def test_projection_2d_when_no_openpose_json(exact_tree, loaded, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    shutil.rmtree(tree / SEQ / "openpose")
    s = adapter.load(tree, sequences=(SEQ,), visibility="inside", noise="none")
    ref = loaded["inside"].subset(loaded["inside"].ids["sequence"] == SEQ)
    assert _keys(s) == _keys(ref)
    assert "2d=projection+noise=none" in s.info["protocol"]
    assert s.info["keypoints2d"] == "exact" and s.info["keypoints2d_source"] == {SEQ: "exact"}
    feet = [get_skeleton("openpose_137").index(n) for n in ("left_big_toe", "right_heel")]
    assert not s.keypoints2d[:, feet].any()  # joints19 has no feet: those slots stay empty
    # every other slot (joints19 by name, hands, face) equals the OpenPose JSON of the exact tree, except the
    # joints19 written invalid
    wanted = ref.keypoints2d[..., 2] > 0
    wanted[:, [get_skeleton("openpose_137").index(n) for n in get_skeleton("openpose_body25").joints
               if n not in J19.joints]] = False  # fmt: skip
    got = s.keypoints2d[..., 2] > 0
    assert not (got & ~wanted).any() and (got | ~wanted).mean() > 0.995
    both = got & wanted
    np.testing.assert_allclose(s.keypoints2d[..., :2][both], ref.keypoints2d[..., :2][both], atol=1e-3)
    noisy = adapter.load(tree, sequences=(SEQ,), visibility="inside")
    again = adapter.load(tree, sequences=(SEQ,), visibility="inside")
    np.testing.assert_array_equal(noisy.keypoints2d, again.keypoints2d)  # seeded
    assert noisy.info["keypoints2d"] == "simulated"
    other = adapter.load(tree, sequences=(SEQ,), visibility="inside", noise_seed=1)
    assert not np.array_equal(noisy.keypoints2d, other.keypoints2d)
    shutil.rmtree(tree / SEQ / "hmrbench_gt")
    bare = adapter.load(tree, sequences=(SEQ,))
    assert "occlusion: ignored" in bare.info["protocol"] and bare.smplx is None


def test_keypoints2d_label_says_where_the_2d_comes_from(exact_tree, loaded, tmp_path):
    """info['keypoints2d'] (the row label of what is synthetic): OpenPose JSON is 'detections'; a set mixing
    JSON and projected sequences takes the projected part's label, and says so per sequence."""
    assert all(s.info["keypoints2d"] == "detections" for s in loaded.values())
    assert loaded["strict"].info["keypoints2d_source"] == {seq: "detections" for seq in DEFAULT_SEQUENCES}
    tree = tmp_path / "mixed"
    for seq in DEFAULT_SEQUENCES:
        _copy(exact_tree, tree, seq)
    shutil.rmtree(tree / DEFAULT_SEQUENCES[1] / "openpose")
    mixed = adapter.load(tree, visibility="none")
    assert mixed.info["keypoints2d"] == "simulated"
    assert mixed.info["keypoints2d_source"] == {DEFAULT_SEQUENCES[0]: "detections", DEFAULT_SEQUENCES[1]: "simulated"}
    assert adapter.load(tree, visibility="none", noise="none").info["keypoints2d"] == "exact"
    assert data_labels(mixed, "smplx")["keypoints2d"] == "simulated" and data_labels(mixed, "smplx")["synthetic"]


def test_openpose_dropouts_are_the_occlusion_without_side_file(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    occlusion_path(tree, SEQ).unlink()
    s = adapter.load(tree, sequences=(SEQ,))
    assert "occlusion: openpose-dropouts" in s.info["protocol"]
    assert (s.keypoints2d[:, adapter._J19_SLOTS_BY_J19, 2] > 0)[s.joints3d_valid].all()


def test_detector_noise_close_to_exact_and_deterministic(embedded_cache, exact_tree, loaded, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        synthesize(out, frames=3, people=2, seed=3, sequences=(SEQ,))
    for path in sorted(a.rglob("*")):
        if path.is_file() and path.name != "smplx.npz":  # np.savez stamps the time into the zip (lead's writer)
            assert path.read_bytes() == (b / path.relative_to(a)).read_bytes(), path
    ga, gb = (read_smplx_gt(smplx_gt_path(t, SEQ)) for t in (a, b))
    for key in ga[0]:
        np.testing.assert_array_equal(ga[0][key], gb[0][key])
    noisy = adapter.load(a, sequences=(SEQ,), visibility="inside")
    exact = loaded["inside"]
    common = sorted(_keys(noisy) & _keys(exact))
    assert len(common) > 0.8 * len(_keys(exact.subset(exact.ids["sequence"] == SEQ)))
    idx_n, idx_e = ({k: i for i, k in enumerate(_key_list(s))} for s in (noisy, exact))
    kn = noisy.keypoints2d[[idx_n[k] for k in common]]
    ke = exact.keypoints2d[[idx_e[k] for k in common]]
    body = part_indices("openpose_137", "body")
    both = (kn[:, body, 2] > 0) & (ke[:, body, 2] > 0)
    err = np.linalg.norm(kn[:, body, :2] - ke[:, body, :2], axis=-1)[both]
    assert 0.1 < np.median(err) < 15.0  # jitter, not exact, still close
    assert ((ke[..., 2] > 0) & (kn[..., 2] == 0)).any()  # dropouts
    assert not np.array_equal(kn, ke)


# --- settings -------------------------------------------------------------------------------------------------


def test_settings(exact_tree, loaded, monkeypatch):
    base = loaded["strict"]
    assert base.info["root_joints"] == ("pelvis",) and base.info["eval_joints"] == J19.joints
    hips = adapter.load(exact_tree, root="hips")
    assert hips.info["root_joints"] == ("left_hip", "right_hip") and "root=hips" in hips.info["protocol"]
    one = adapter.load(exact_tree, views=("00_03",), person=1, sequences=(SEQ,))
    assert set(one.ids["view"]) <= {"00_03"} and set(one.ids["person"]) <= {1}
    assert set(one.ids["subject"]) == {SEQ} and set(one.ids["action"]) == {""}
    expected = base.subset((base.ids["view"] == "00_03") & (base.ids["person"] == 1) & (base.ids["sequence"] == SEQ))
    assert _keys(one) == _keys(expected)
    assert typed_dataset_settings("panoptic", {"person": "1", "sequences": SEQ, "noise_seed": "2"}) == {
        "person": 1, "sequences": (SEQ,), "noise_seed": 2}  # fmt: skip
    monkeypatch.setenv("HMRBENCH_DATA", str(exact_tree.parent))
    with pytest.raises(ConfigError, match="frame_step"):
        load_dataset("panoptic", frame_step=2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"visibility": "all"}, "visibility='all': expected one of strict|partial|inside|none (default 'strict')"),
        ({"root": "head"}, "root='head': expected one of mid_hip|hips|neck"),
        ({"noise": "gauss"}, "noise='gauss': expected one of detector|none"),
        ({"person": "one"}, "person='one': expected int or none"),
        ({"person": -1}, "person=-1: expected >= 0 or none"),
        ({"noise_seed": -1}, "noise_seed=-1: expected >= 0"),
        ({"views": ()}, "views=(): expected a non-empty list"),
        ({"views": 16}, "views=16: expected a non-empty list"),
    ],
)
def test_bad_settings_refused_by_their_declarations(bad, message):
    """The adapter's own checks are gone: the annotations of ``load`` refuse these, before anything is read."""
    with pytest.raises(ConfigError) as caught:
        typed_dataset_settings("panoptic", bad)
    assert str(caught.value).startswith("dataset 'panoptic': ") and message in str(caught.value)


def test_one_view_selected_by_a_spec_on_the_synthetic_default(exact_tree, loaded, monkeypatch):
    """Issue 12: ``-d 'panoptic[views=00_16]'`` failed with TypeError: 'int' object is not iterable (the spec's
    text was read as int('00_16') == 16). Through the runner's spec path on the synthetic default (the small
    tree of this module stands in for the generated one, so nothing is generated here)."""
    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    monkeypatch.setattr(registry, "synthetic_default_root", lambda name, seed=0: exact_tree)
    none = loaded["none"]
    one = load_dataset_spec("panoptic[views=00_16,visibility=none]")
    assert one.info["synthetic"] and len(one) > 0 and set(one.ids["view"]) == {"00_16"}
    assert _keys(one) == _keys(none.subset(none.ids["view"] == "00_16"))
    assert "views=00_16;" in one.info["protocol"]
    two = load_dataset_spec("panoptic[views=00_16+00_30,visibility=none]")
    assert set(two.ids["view"]) == {"00_16", "00_30"}
    assert _keys(two) == _keys(none.subset(np.isin(none.ids["view"], ["00_16", "00_30"])))
    strict = load_dataset_spec("panoptic[views=00_16]")
    assert _keys(strict) == _keys(loaded["strict"].subset(loaded["strict"].ids["view"] == "00_16"))


def test_a_view_or_sequence_given_twice_is_refused(exact_tree):
    """Each sample would be read twice under one identity (and paired with itself)."""
    with pytest.raises(ConfigError, match=r"views=00_16\+00_30\+00_16: 00_16 given twice"):
        adapter.load(exact_tree, **typed_dataset_settings("panoptic", {"views": "00_16+00_30+00_16"}))
    with pytest.raises(ConfigError, match=f"sequences={SEQ}\\+{SEQ}: {SEQ} given twice"):
        adapter.load(exact_tree, sequences=(SEQ, SEQ))


def test_one_view_selected_in_a_toml_table(exact_tree, loaded):
    """The TOML form of the same setting, typed by the registry (a list there, a tuple for the adapter)."""
    settings = typed_dataset_settings("panoptic", tomllib.loads('views = ["00_16"]\nvisibility = "none"'))
    assert settings == {"views": ("00_16",), "visibility": "none"}
    s = adapter.load(exact_tree, **settings)
    assert _keys(s) == _keys(loaded["none"].subset(loaded["none"].ids["view"] == "00_16"))


def test_load_dataset_reads_the_panoptic_folder(exact_tree, tmp_path):
    (tmp_path / "panoptic").symlink_to(exact_tree, target_is_directory=True)
    s = load_dataset("panoptic", data_root=tmp_path, visibility="inside")
    assert s.info["synthetic"] and len(s) > 0


def test_check_counts_per_sequence_and_view(exact_tree, loaded):
    rows = adapter.check(exact_tree)
    assert len(rows) == 2 * 31
    counts = loaded["strict"].counts("sequence", "view")
    for row in rows:
        assert row["samples"] == counts.get((row["sequence"], row["view"]), 0)
    with pytest.raises(DataFileError, match="no Panoptic sequence"):
        adapter.check(exact_tree / SEQ / "hdHand3d")


# --- bad input and faults -------------------------------------------------------------------------------------


def _body_file(tree: Path, frame: int = FIRST_FRAME) -> Path:
    return body_frame_path(tree, SEQ, frame)


def test_malformed_files_raise_naming_file_and_field(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    path = _body_file(tree)
    original = path.read_text()
    data = json.loads(original)

    def expect(text: str, field: str) -> None:
        path.write_text(text)
        with pytest.raises(DataFileError) as info:
            adapter.load(tree, sequences=(SEQ,), views=("00_00",))
        assert str(path) in str(info.value) and field in str(info.value)
        path.write_text(original)

    expect(original[:-20], "malformed JSON")
    short = json.loads(original)
    short["bodies"][0]["joints19"] = short["bodies"][0]["joints19"][:-4]
    expect(json.dumps(short), "bodies[0].joints19")
    nan = json.loads(original)
    nan["bodies"][1]["joints19"][5] = float("nan")
    expect(json.dumps(nan), "bodies[1].joints19")
    expect(json.dumps(nan).replace("NaN", "Infinity"), "bodies[1].joints19")
    assert data["bodies"]
    op = openpose_path(tree, SEQ, "00_00", FIRST_FRAME)
    op.write_text('{"people": [')
    with pytest.raises(DataFileError, match=str(op).replace("\\", "\\\\")):
        adapter.load(tree, sequences=(SEQ,), views=("00_00",))


def test_missing_camera_and_bad_side_files(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    with pytest.raises(DataFileError, match=r"calibration_171204_pose5\.json.*'00_31'"):
        adapter.load(tree, sequences=(SEQ,), views=("00_31",))
    with pytest.raises(DataFileError, match="calibration_171204_pose6"):
        adapter.load(tree)  # the second default sequence is absent from this copy
    occ = occlusion_path(tree, SEQ)
    with np.load(occ) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["occluded"] = arrays["occluded"][:, :, :18]
    np.savez(occ, **arrays)
    with pytest.raises(DataFileError, match="occluded"):
        adapter.load(tree, sequences=(SEQ,))
    occ.write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match=str(occ)):
        adapter.load(tree, sequences=(SEQ,))


def test_per_sample_faults_are_skipped_and_counted(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    path = _body_file(tree)
    data = json.loads(path.read_text())
    joints = np.asarray(data["bodies"][0]["joints19"]).reshape(19, 4)
    joints[2:] = [0.0, 0.0, 0.0, -1.0]  # 2 valid joints left
    data["bodies"][0]["joints19"] = joints.ravel().tolist()
    path.write_text(json.dumps(data))
    openpose_path(tree, SEQ, "00_05", FIRST_FRAME + 1).unlink()
    s = adapter.load(tree, sequences=(SEQ,), visibility="none")
    assert s.faults.counts["fewer than 3 valid joints19"] == 31
    assert str(path) in s.faults.examples["fewer than 3 valid joints19"][0]
    assert s.faults.counts["no OpenPose file"] >= 1
    body_id = data["bodies"][0]["id"]
    assert not ((s.ids["frame"] == FIRST_FRAME) & (s.ids["person"] == body_id)).any()
    assert not ((s.ids["frame"] == FIRST_FRAME + 1) & (s.ids["view"] == "00_05")).any()


# --- real sample files ----------------------------------------------------------------------------------------


@pytest.mark.fixtures
@pytest.mark.skipif(
    not (FIXTURES / "panoptic" / REAL_SEQ).is_dir(),
    reason=f"real Panoptic sample files not found in {FIXTURES} (set HMRBENCH_FIXTURES)",
)
def test_real_fixture_loads_and_projects_inside():
    folder = FIXTURES / "panoptic"
    s = adapter.load(folder, sequences=(REAL_SEQ,))
    loose = adapter.load(folder, sequences=(REAL_SEQ,), visibility="none", noise="none")
    assert len(s) > 20 and len(loose) > len(s)
    assert "occlusion: ignored" in s.info["protocol"] and s.smplx is None
    assert set(s.ids["view"]) <= {f"00_{k:02d}" for k in range(31)} and set(s.ids["frame"]) == {168, 169}
    uv = adapter.project_points(s)
    w, h = s.image_size[:, None, 0], s.image_size[:, None, 1]
    inside = (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
    assert (inside | ~s.joints3d_valid).all() and (s.joints3d[..., 2] > 0)[s.joints3d_valid].all()
    for part in ("left_hand", "right_hand", "face"):  # no hdHand3d / hdFace3d: empty slots, not an error
        assert not s.keypoints2d[:, part_indices("openpose_137", part)].any()
    assert 1.0 < np.median(s.joints3d[:, J19.index("pelvis"), 2]) < 6.0
    rows = adapter.check(folder)
    assert {r["sequence"] for r in rows} == {REAL_SEQ} and sum(r["samples"] for r in rows) == len(s)
    digest = hashlib.sha256(s.keypoints2d.tobytes()).hexdigest()
    assert digest == hashlib.sha256(adapter.load(folder, sequences=(REAL_SEQ,)).keypoints2d.tobytes()).hexdigest()
