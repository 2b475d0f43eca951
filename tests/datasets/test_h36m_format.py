"""Human3.6M file formats: the real sample files, write-then-read round trips, protocols and bad input."""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES
from scipy.spatial.transform import Rotation

from bench.body.skeletons import convert, get_skeleton
from bench.errors import DataFileError
from datasets.h36m import format as h36m
from datasets.h36m.format import (
    CAMERA_IDS,
    FRONTAL_CAMERA,
    H36MAnnotations,
    H36MCamera,
    parse_imgnames,
    project_h36m,
    read_annotations,
    read_cameras,
    read_sequences,
    select_protocol,
    write_annotations,
    write_cameras,
)

H36M17 = get_skeleton("h36m_17")


def _fixtures_dir() -> Path:
    return FIXTURES


def _fixture(name: str) -> Path:
    path = _fixtures_dir() / "h36m" / name
    if not path.is_file():
        pytest.skip(f"real Human3.6M sample file absent: {path}")
    return path


@pytest.fixture(scope="module")
def fixture_cameras():
    return read_cameras(_fixture("cameras.pkl"))


@pytest.fixture(scope="module")
def fixture_sequences():
    return read_sequences(_fixture("metadata.xml"))


@pytest.fixture(scope="module")
def fixture_annotations(fixture_sequences):
    return read_annotations(_fixture("test_h36m_body3d.npz"), sequences=fixture_sequences)


# --- real files ----------------------------------------------------------------------------------------------


@pytest.mark.fixtures
def test_fixture_annotations_parse(fixture_annotations):
    ann = fixture_annotations
    assert len(ann) == 4
    assert ann.ids.subject.tolist() == ["S1", "S5", "S7", "S8"]
    assert ann.ids.sequence.tolist() == ["Directions 1", "SittingDown", "Greeting", "WalkDog 1"]
    assert ann.ids.action.tolist() == ["Directions", "SittingDown", "Greeting", "WalkingDog"]
    assert ann.ids.subaction.tolist() == [1, 1, 2, 1]  # metadata.xml: S7 'Greeting' is subaction 2
    assert ann.ids.camera.tolist() == ["54138969", "54138969", "55011271", "55011271"]
    assert ann.ids.frame.tolist() == [0, 2060, 395, 25]
    assert np.all(ann.ids.frame % h36m.FRAME_STEP == 0)
    assert ann.joints_3d.shape == (4, 17, 3) and ann.joints_2d.shape == (4, 17, 2)
    assert ann.valid_3d.all() and ann.valid_2d.all()
    assert ann.center.shape == (4, 2) and ann.scale.shape == (4,)
    pelvis_depth = ann.joints_3d[:, H36M17.index("pelvis"), 2]
    assert np.all((pelvis_depth > 2.0) & (pelvis_depth < 8.0)), pelvis_depth  # metres, absolute camera frame
    height = np.linalg.norm(
        ann.joints_3d[:, H36M17.index("head_top")] - ann.joints_3d[:, H36M17.index("pelvis")], axis=-1
    )
    assert np.all((height > 0.3) & (height < 1.0)), height


@pytest.mark.fixtures
def test_fixture_ids_without_metadata_keep_action_names(fixture_annotations):
    ids = read_annotations(_fixture("test_h36m_body3d.npz")).ids
    assert ids.action.tolist() == fixture_annotations.ids.action.tolist()
    assert ids.subaction.tolist() == [0, 0, 0, 0]


@pytest.mark.fixtures
def test_fixture_official_2d_reproduced(fixture_annotations, fixture_cameras):
    ann = fixture_annotations
    errors = []
    for i in range(len(ann)):
        camera = fixture_cameras[(ann.ids.subject[i], ann.ids.camera[i])]
        errors.append(np.abs(project_h36m(ann.joints_3d[i], camera) - ann.joints_2d[i]).max())
    print(f"H36M official 2D reproduced by project_h36m: max error {max(errors):.2e} px")
    assert max(errors) < 0.01, errors


@pytest.mark.fixtures
def test_fixture_tangential_order_matters(fixture_annotations, fixture_cameras):
    # VideoPose3D's formula fed p in stored order (i.e. VideoPose3D's order reversed) misses by > 0.1 px.
    ann = fixture_annotations
    camera = fixture_cameras[(ann.ids.subject[3], ann.ids.camera[3])]
    swapped = H36MCamera(camera.id, camera.R, camera.t, camera.K, camera.k, camera.p[::-1], camera.width, camera.height)
    assert np.abs(project_h36m(ann.joints_3d[3], swapped) - ann.joints_2d[3]).max() > 0.1


@pytest.mark.fixtures
def test_fixture_cameras_parse(fixture_cameras):
    assert len(fixture_cameras) == 11 * 4
    assert {cam for subject, cam in fixture_cameras if subject == "S1"} == set(CAMERA_IDS)
    for key, camera in fixture_cameras.items():
        assert camera.id == key[1]
        assert np.abs(camera.R @ camera.R.T - np.eye(3)).max() < 1e-12
        assert np.linalg.det(camera.R) == pytest.approx(1.0)
        assert 1140 < camera.K[0, 0] < 1150 and 1140 < camera.K[1, 1] < 1150  # pixels
        assert camera.width == 1000 and camera.height in (1000, 1002)
        assert 3.0 < np.linalg.norm(camera.center[:2]) < 8.0 and 0.5 < camera.center[2] < 2.5  # metres, z up


@pytest.mark.fixtures
def test_fixture_extrinsics_put_feet_on_the_floor(fixture_annotations, fixture_cameras):
    # The OpenCV reading (x_cam = R X + t) maps the camera-frame joints to H36M's z-up world: the lowest joint of
    # every frame is a few cm above the floor and the body is upright.
    ann = fixture_annotations
    for i in range(len(ann)):
        camera = fixture_cameras[(ann.ids.subject[i], ann.ids.camera[i])]
        world = (ann.joints_3d[i] - camera.t) @ camera.R  # R^T (x - t)
        assert 0.0 < world[:, 2].min() < 0.15, (ann.imgname[i], world[:, 2].min())
        head, pelvis = world[H36M17.index("head_top"), 2], world[H36M17.index("pelvis"), 2]
        assert head > pelvis


@pytest.mark.fixtures
def test_fixture_joint_order_is_mmpose(fixture_annotations):
    # Forward = (left hip - right hip) x (thorax - pelvis); the nose-side head point lies in front of the
    # thorax-head top line only with mmpose's order (right leg first) mapped to 'h36m_17'.
    def forwardness(joints):
        j = {name: joints[:, H36M17.index(name)] for name in H36M17.joints}
        forward = np.cross(j["left_hip"] - j["right_hip"], j["thorax"] - j["pelvis"])
        nose = j["h36m_head"] - (j["thorax"] + j["head_top"]) / 2
        return np.sum(nose * forward, axis=-1)

    assert np.all(forwardness(fixture_annotations.joints_3d) > 0)
    as_spin = read_annotations(_fixture("test_h36m_body3d.npz"), joint_order="spin")
    assert np.all(forwardness(as_spin.joints_3d) < 0)


# --- round trips ---------------------------------------------------------------------------------------------


def _synthetic_cameras(rng: np.random.Generator) -> dict[tuple[str, str], H36MCamera]:
    cameras = {}
    for subject in ("S9", "S11"):
        for camera_id in CAMERA_IDS:
            K = np.array(
                [[rng.uniform(1000, 1200), 0, rng.uniform(490, 520)], [0, rng.uniform(1000, 1200), 510], [0, 0, 1]]
            )
            cameras[(subject, camera_id)] = H36MCamera(
                camera_id,
                Rotation.random(random_state=rng).as_matrix(),
                rng.uniform(-5, 5, 3),
                K,
                rng.normal(0, 0.1, 3),
                rng.normal(0, 1e-3, 2),
                1000,
                1002,
                f"camera{CAMERA_IDS.index(camera_id) + 1}",
            )
    return cameras


def test_cameras_round_trip(tmp_path):
    cameras = _synthetic_cameras(np.random.default_rng(0))
    write_cameras(tmp_path / "cameras.pkl", cameras)
    back = read_cameras(tmp_path / "cameras.pkl")
    assert back.keys() == cameras.keys()
    for key, cam in cameras.items():
        for field in ("R", "t", "K", "k", "p"):
            np.testing.assert_allclose(getattr(back[key], field), getattr(cam, field), rtol=0, atol=1e-9)
        assert (back[key].id, back[key].width, back[key].height, back[key].name) == (cam.id, 1000, 1002, cam.name)
    raw = pickle.loads((tmp_path / "cameras.pkl").read_bytes())
    key = ("S9", CAMERA_IDS[0])
    np.testing.assert_allclose(raw[key]["R"], cameras[key].R.T)  # camera -> world, as mmpose
    np.testing.assert_allclose(raw[key]["T"][:, 0], -cameras[key].R.T @ cameras[key].t)  # camera centre


@pytest.mark.fixtures
def test_fixture_cameras_round_trip(tmp_path, fixture_cameras):
    write_cameras(tmp_path / "cameras.pkl", fixture_cameras)
    original = pickle.loads(_fixture("cameras.pkl").read_bytes())
    rewritten = pickle.loads((tmp_path / "cameras.pkl").read_bytes())
    for key, entry in original.items():
        for field in ("R", "T", "f", "c", "k", "p"):
            np.testing.assert_allclose(rewritten[key][field], entry[field], rtol=0, atol=1e-9)
        assert [rewritten[key][f] for f in ("w", "h", "name", "id")] == [entry[f] for f in ("w", "h", "name", "id")]


def _synthetic_annotations(rng: np.random.Generator, n: int = 6) -> H36MAnnotations:
    names = [
        f"S9/S9_Directions_1.{CAMERA_IDS[i % 4]}/S9_Directions_1.{CAMERA_IDS[i % 4]}_{5 * i + 1:06d}.jpg"
        for i in range(n)
    ]
    valid_3d = rng.random((n, 17)) > 0.2
    valid_2d = rng.random((n, 17)) > 0.2
    return H36MAnnotations(
        imgname=np.array(names),
        joints_3d=rng.normal(0, 0.5, (n, 17, 3)) + [0, 0, 5],
        valid_3d=valid_3d,
        joints_2d=rng.uniform(0, 1000, (n, 17, 2)),
        valid_2d=valid_2d,
        center=rng.uniform(300, 700, (n, 2)),
        scale=rng.uniform(1, 3, n),
        ids=parse_imgnames(names),
    )


@pytest.mark.parametrize("joint_order", sorted(h36m.JOINT_ORDERS))
def test_annotations_round_trip(tmp_path, joint_order):
    ann = _synthetic_annotations(np.random.default_rng(1))
    path = tmp_path / "h36m_test.npz"
    write_annotations(path, ann, joint_order=joint_order)
    back = read_annotations(path, joint_order=joint_order)
    assert back.imgname.tolist() == ann.imgname.tolist()
    for field in ("joints_3d", "joints_2d", "center", "scale"):
        np.testing.assert_allclose(getattr(back, field), getattr(ann, field), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(back.valid_3d, ann.valid_3d)
    np.testing.assert_array_equal(back.valid_2d, ann.valid_2d)
    np.testing.assert_array_equal(back.ids.frame, ann.ids.frame)


def test_annotations_written_in_the_files_joint_order(tmp_path):
    ann = _synthetic_annotations(np.random.default_rng(2))
    write_annotations(tmp_path / "a.npz", ann, joint_order="mmpose")
    swapped = read_annotations(tmp_path / "a.npz", joint_order="spin")
    for side, other in (("left", "right"), ("right", "left")):
        for part in ("hip", "knee", "ankle"):
            np.testing.assert_array_equal(
                swapped.joints_3d[:, H36M17.index(f"{side}_{part}")], ann.joints_3d[:, H36M17.index(f"{other}_{part}")]
            )
    with np.load(tmp_path / "a.npz") as npz:
        assert npz["S"].shape == (6, 17, 4) and npz["part"].shape == (6, 17, 3)


def test_annotations_without_optional_fields(tmp_path):
    names = np.array(["images/S11_Walking.60457274_000006.jpg"])
    np.savez(tmp_path / "spin.npz", imgname=names, S=BODY[None])
    ann = read_annotations(tmp_path / "spin.npz", joint_order="spin")
    assert ann.joints_2d is None and ann.valid_2d is None and ann.center is None and ann.scale is None
    assert ann.valid_3d.all() and ann.ids.frame.tolist() == [5] and ann.ids.camera.tolist() == [FRONTAL_CAMERA]


def test_h36m17_from_raw32():
    raw = np.random.default_rng(3).normal(size=(2, 32, 3))
    np.testing.assert_array_equal(h36m.h36m17_from_raw32(raw), raw[:, list(h36m.SPIN_RAW32_TO_17)])
    with pytest.raises(ValueError, match=r"\(\.\.\., 32, C\)"):
        h36m.h36m17_from_raw32(raw[:, :17])


def test_project_h36m_without_distortion_is_pinhole():
    camera = H36MCamera("x", np.eye(3), np.zeros(3), np.array([[1000.0, 0, 500], [0, 990, 480], [0, 0, 1]]),
                        np.zeros(3), np.zeros(2), 1000, 1000)  # fmt: skip
    points = np.array([[[0.1, -0.2, 4.0], [0.0, 0.0, 2.0]]])
    np.testing.assert_allclose(project_h36m(points, camera), [[[525.0, 430.5], [500.0, 480.0]]])
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        project_h36m(points[..., :2], camera)


# --- protocols -----------------------------------------------------------------------------------------------

_TABLE = {
    ("S9", "Directions 1"): ("Directions", 1),
    ("S9", "Directions"): ("Directions", 2),
    ("S11", "Directions 1"): ("Directions", 1),
    ("S11", "Directions"): ("Directions", 2),
    ("S1", "Directions 1"): ("Directions", 1),
}


def _hand_made_ids():
    names = [
        f"{subject}_{sequence.replace(' ', '_')}.{camera}_{frame + 1:06d}.jpg"
        for subject, sequence in _TABLE
        for camera in CAMERA_IDS
        for frame in range(10)
    ]
    return parse_imgnames(names, _TABLE)


def _kept(ids, mask):
    return {(s, a, sa, c) for s, a, sa, c in zip(ids.subject[mask], ids.action[mask], ids.subaction[mask],
                                                    ids.camera[mask], strict=True)}  # fmt: skip


def test_spin_protocols():
    ids = _hand_made_ids()
    p1 = select_protocol(ids, "p1", "spin")
    assert set(ids.camera[p1]) == set(CAMERA_IDS)
    assert set(ids.subject[p1]) == {"S9", "S11"}
    assert np.all(ids.frame[p1] % 5 == 0) and p1.sum() == 4 * 4 * 2  # 4 sequences x 4 cameras x frames 0, 5
    p2 = select_protocol(ids, "p2", "spin")
    assert set(ids.camera[p2]) == {"60457274"} and set(ids.subaction[p2]) == {1, 2}
    assert p2.sum() == 4 * 2


def test_hmr_protocols():
    ids = _hand_made_ids()
    excluded = ("S11", "Directions", 2, CAMERA_IDS[0])
    assert h36m.HMR_EXCLUDED_SEQUENCE == excluded
    assert excluded in _kept(ids, select_protocol(ids, "p1", "spin"))
    p1 = select_protocol(ids, "p1", "hmr")
    assert excluded not in _kept(ids, p1)
    assert ("S11", "Directions", 2, CAMERA_IDS[1]) in _kept(ids, p1)
    assert p1.sum() == (4 * 4 - 1) * 2
    p2 = select_protocol(ids, "p2", "hmr")
    assert _kept(ids, p2) == {("S9", "Directions", 1, CAMERA_IDS[3]), ("S11", "Directions", 1, CAMERA_IDS[3])}
    assert CAMERA_IDS.index(FRONTAL_CAMERA) == 3 and p2.sum() == 2 * 2


def test_protocol_options_and_errors():
    ids = _hand_made_ids()
    assert select_protocol(ids, "p1", "spin", frame_step=1).sum() == 4 * 4 * 10
    assert set(ids.subject[select_protocol(ids, "p1", "spin", subjects=h36m.TRAIN_SUBJECTS)]) == {"S1"}
    with pytest.raises(ValueError, match="valid protocols: p1, p2"):
        select_protocol(ids, "p3")
    with pytest.raises(ValueError, match="valid variants: spin, hmr"):
        select_protocol(ids, "p1", "vibe")
    names = ["S9_Directions_1.54138969_000001.jpg"]
    with pytest.raises(ValueError, match="subaction"):
        select_protocol(parse_imgnames(names), "p2", "hmr")


# --- bad input -----------------------------------------------------------------------------------------------


def _camera_entry() -> dict:
    entry = {"R": np.eye(3), "T": np.ones((3, 1)), "f": np.ones((2, 1)), "c": np.ones((2, 1))}
    return entry | {
        "k": np.zeros((3, 1)),
        "p": np.zeros((2, 1)),
        "w": 1000,
        "h": 1002,
        "name": "camera1",
        "id": "54138969",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("R", np.eye(3)[:2], r"\.R: expected 3x3"),
        ("R", np.diag([1.0, 1.0, -1.0]), r"\.R: not a rotation"),
        ("R", 2 * np.eye(3), r"\.R: not a rotation"),
        ("T", np.ones(4), r"\.T: expected 3x1"),
        ("f", np.array([[np.nan], [1.0]]), r"\.f: contains NaN"),
        ("k", "abc", r"\.k: expected a numeric array"),
        ("w", -5, r"\.w: expected a positive integer"),
        ("id", "60457274", r"\.id: '60457274' differs"),
        ("p", None, r"\.p: missing"),
    ],
)
def test_bad_camera_field(tmp_path, field, value, message):
    entry = _camera_entry()
    if value is None:
        del entry[field]
    else:
        entry[field] = value
    path = tmp_path / "cameras.pkl"
    path.write_bytes(pickle.dumps({("S9", "54138969"): entry}))
    with pytest.raises(DataFileError, match=r"cameras\.pkl: \('S9', '54138969'\)" + message):
        read_cameras(path)


def test_bad_camera_files(tmp_path):
    path = tmp_path / "cameras.pkl"
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataFileError, match=r"cameras\.pkl: expected a dict"):
        read_cameras(path)
    path.write_bytes(pickle.dumps({"S9": _camera_entry()}))
    with pytest.raises(DataFileError, match=r"cameras\.pkl: key 'S9'"):
        read_cameras(path)
    path.write_bytes(pickle.dumps({("S9", "54138969"): ET.Element("x")}))  # a class outside numpy
    with pytest.raises(DataFileError, match=r"cameras\.pkl: cannot read.*refusing"):
        read_cameras(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataFileError, match=r"cameras\.pkl: cannot read"):
        read_cameras(path)
    with pytest.raises(DataFileError, match=r"missing\.pkl: cannot read"):
        read_cameras(tmp_path / "missing.pkl")


def test_write_cameras_rejects_skew(tmp_path):
    camera = _synthetic_cameras(np.random.default_rng(4))[("S9", CAMERA_IDS[0])]
    K = camera.K.copy()
    K[0, 1] = 0.5
    bad = H36MCamera(camera.id, camera.R, camera.t, K, camera.k, camera.p, 1000, 1000)
    with pytest.raises(ValueError, match="K must be"):
        write_cameras(tmp_path / "c.pkl", {("S9", camera.id): bad})


# A standing body in the 'h36m_17' order (SPIN's), camera frame, metres: bones 0.1-0.45 m.
BODY = np.array([
    [0, 0, 0], [0.13, 0, 0], [0.13, 0.45, 0], [0.13, 0.9, 0], [-0.13, 0, 0], [-0.13, 0.45, 0], [-0.13, 0.9, 0],
    [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, -0.05], [0, -0.75, 0], [0.18, -0.48, 0], [0.2, -0.2, 0], [0.22, 0.05, 0],
    [-0.18, -0.48, 0], [-0.2, -0.2, 0], [-0.22, 0.05, 0],
]) + [0.0, 0.0, 5.0]  # fmt: skip


def _good_npz_arrays() -> dict:
    S = np.concatenate([np.stack([BODY, BODY + 0.01]), np.ones((2, 17, 1))], axis=-1)
    part = np.concatenate([S[..., :2] / S[..., 2:3] * 1145.0 + 500.0, S[..., 3:]], axis=-1)  # pixels
    return {"imgname": np.array(["S9_Directions_1.54138969_000001.jpg"] * 2), "S": S,
            "part": part, "center": np.ones((2, 2)), "scale": np.ones(2)}  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("imgname", None, r"imgname: missing"),
        ("S", None, r"S: missing"),
        ("S", np.ones((2, 17, 5)), r"S: expected \(N, 17 or 24, 3 or 4\)"),
        ("S", np.ones((3, 17, 4)), r"S: expected .* N = 2"),
        ("S", np.full((2, 17, 4), np.nan), r"S: contains NaN or inf \(sample 0\)"),
        ("part", np.ones((2, 16, 3)), r"part: expected \(N, 17 or 24, 2 or 3\)"),
        ("center", np.ones((2, 3)), r"center: expected \(2, 2\)"),
        ("scale", np.array([1.0, np.inf]), r"scale: contains NaN or inf"),
        ("imgname", np.array(["S9_Directions_1.54138969_000001.jpg", "frame_0001.png"]),
         r"imgname\[1\] 'frame_0001\.png': expected"),
    ],
)  # fmt: skip
def test_bad_annotation_field(tmp_path, key, value, message):
    arrays = _good_npz_arrays()
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    path = tmp_path / "h36m_test.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: " + message):
        read_annotations(path)


def test_bad_annotation_files(tmp_path):
    path = tmp_path / "h36m_test.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: cannot read"):
        read_annotations(path)
    np.savez(path, **_good_npz_arrays())
    with pytest.raises(ValueError, match="valid orders: mmpose, spin"):
        read_annotations(path, joint_order="coco")
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: imgname\[0\] .* not in metadata"):
        read_annotations(path, sequences={("S9", "Walking"): ("Walking", 1)})


def test_bad_metadata(tmp_path):
    path = tmp_path / "metadata.xml"
    path.write_text("<a><mapping>")
    with pytest.raises(DataFileError, match=r"metadata\.xml: cannot read"):
        read_sequences(path)
    path.write_text("<a><actionnames><item>Directions</item></actionnames></a>")
    with pytest.raises(DataFileError, match=r"metadata\.xml: mapping: missing"):
        read_sequences(path)
    path.write_text("<a><mapping><tr><td>x</td></tr></mapping><actionnames/></a>")
    with pytest.raises(DataFileError, match=r"metadata\.xml: mapping: expected a header"):
        read_sequences(path)


# --- writers added for the synthetic generator ---------------------------------------------------------------

_ACTION_NAMES = ("Miscellaneous", "Directions", "Discussion")


def test_write_sequences_round_trip(tmp_path):
    table = {("S9", "Directions 1"): ("Directions", 1), ("S9", "Directions"): ("Directions", 2),
             ("S11", "Directions 1"): ("Directions", 1), ("S11", "Directions"): ("Directions", 2)}  # fmt: skip
    h36m.write_sequences(tmp_path / "metadata.xml", table, _ACTION_NAMES)
    assert read_sequences(tmp_path / "metadata.xml") == table
    with pytest.raises(ValueError, match="not in actions"):
        h36m.write_sequences(tmp_path / "m.xml", {("S9", "Eating"): ("Eating", 1)}, _ACTION_NAMES)
    with pytest.raises(ValueError, match=r"no sequence of \['S11'\]"):
        h36m.write_sequences(tmp_path / "m.xml", dict(list(table.items())[:3]), _ACTION_NAMES)


@pytest.mark.fixtures
def test_write_sequences_reproduces_the_real_table(tmp_path, fixture_sequences):
    root = ET.parse(_fixture("metadata.xml")).getroot()
    actions = [elem.text.strip() for elem in root.find("actionnames")]
    h36m.write_sequences(tmp_path / "metadata.xml", fixture_sequences, actions)
    assert read_sequences(tmp_path / "metadata.xml") == fixture_sequences


def test_write_annotations_extra_keys(tmp_path):
    ann = _synthetic_annotations(np.random.default_rng(5))
    extra = np.random.default_rng(6).random((len(ann), 137, 3))
    write_annotations(tmp_path / "a.npz", ann, extra={"openpose_2d": extra})
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(npz["openpose_2d"], extra)
    assert read_annotations(tmp_path / "a.npz").imgname.tolist() == ann.imgname.tolist()
    with pytest.raises(ValueError, match="'S' clashes"):
        write_annotations(tmp_path / "b.npz", ann, extra={"S": extra})


# --- SPIN's 24-joint files, mmpose's 2D detections, units ------------------------------------------------------

# nkolot/SPIN datasets/preprocess/h36m.py: 'h36m_17' joint i (its h36m_idx selection, our order) is stored in
# slot global_idx[i] of SPIN's 24; mmpose's old Body3DH36MDataset read its 17 (right leg first) from JOINT_IDX_GLOBAL.
SPIN_GLOBAL_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]
MMPOSE_JOINT_IDX_GLOBAL = [14, 2, 1, 0, 3, 4, 5, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]


def _spin24(rows17: np.ndarray, channels: int) -> np.ndarray:
    """(N, 24, channels + 1) in SPIN's layout, as its preprocessing writes it: zeros, the 17 at global_idx, 1."""
    out = np.zeros((len(rows17), 24, channels + 1))
    out[:, SPIN_GLOBAL_IDX, :channels] = rows17
    out[:, SPIN_GLOBAL_IDX, channels] = 1
    return out


def test_spin24_layout_read_by_name(tmp_path):
    rng = np.random.default_rng(7)
    S17 = BODY[None] + rng.normal(0, 0.02, (3, 17, 3))
    S17 -= S17[:, :1]  # SPIN's 3D is root-centred
    part17 = rng.uniform(0, 1000, (3, 17, 2))
    names = np.array([f"images/S9_Walking_1.{CAMERA_IDS[i]}_{5 * i + 1:06d}.jpg" for i in range(3)])
    path = tmp_path / "h36m_valid_protocol1.npz"
    np.savez(path, imgname=names, center=np.ones((3, 2)), scale=np.ones(3), S=_spin24(S17, 3),
             part=_spin24(part17, 2), pose=np.zeros((3, 72)), shape=np.zeros((3, 10)))  # fmt: skip
    for joint_order in h36m.JOINT_ORDERS:  # a 24-joint file is SPIN's whatever the 17-joint order says
        ann = read_annotations(path, joint_order=joint_order)
        np.testing.assert_allclose(ann.joints_3d, S17, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ann.joints_2d, part17, rtol=0, atol=1e-12)
        assert ann.valid_3d.all() and ann.valid_2d.all() and ann.layout == "spin_24" and ann.root_relative
    np.savez(path, imgname=names, S=_spin24(S17, 3))  # SPIN's validation files: no 2D
    assert read_annotations(path).joints_2d is None
    # the same 24 slots are what mmpose read as its right-leg-first 17
    from bench.body.skeletons import mapping

    assert mapping(h36m.SPIN_24, h36m.JOINT_ORDERS["mmpose"])[0].tolist() == MMPOSE_JOINT_IDX_GLOBAL
    assert mapping(h36m.SPIN_24, "h36m_17")[0].tolist() == SPIN_GLOBAL_IDX


def test_absolute_3d_is_not_root_relative():
    ann = _synthetic_annotations(np.random.default_rng(8))
    assert not ann.root_relative and ann.layout == "h36m_17"


@pytest.mark.parametrize(("scale", "hint"), [(1000.0, "millimetres (divide by 1000)"), (100.0, "centimetres")])
def test_3d_in_the_wrong_unit_is_refused(tmp_path, scale, hint):
    arrays = _good_npz_arrays()
    arrays["S"][..., :3] *= scale
    np.savez(tmp_path / "h36m_test.npz", **arrays)
    with pytest.raises(DataFileError) as caught:
        read_annotations(tmp_path / "h36m_test.npz")
    text = str(caught.value)
    parents = np.array(H36M17.parents)
    bones = np.linalg.norm(BODY[1:] - BODY[parents[1:]], axis=-1)  # both samples have these bones
    measured = f"median bone length {np.median(bones) * scale:.4g} in the file's unit"
    for part in (str(tmp_path / "h36m_test.npz"), f": S: {measured}", "expected metres", hint):
        assert part in text, text
    arrays["joints_3d"] = arrays.pop("S")
    np.savez(tmp_path / "h36m_test.npz", **arrays)
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: joints_3d: median bone length"):
        read_annotations(tmp_path / "h36m_test.npz")


def test_2d_in_normalised_coordinates_is_refused(tmp_path):
    arrays = _good_npz_arrays()
    arrays["part"][..., :2] /= 1000.0
    np.savez(tmp_path / "h36m_test.npz", **arrays)
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: part: median 2D bone length 0\.0\d+ .* expected pixels"):
        read_annotations(tmp_path / "h36m_test.npz")
    np.save(tmp_path / "d.npy", arrays["part"])
    with pytest.raises(DataFileError, match=r"d\.npy: keypoints \(x, y, score\): median 2D bone length .* pixels"):
        h36m.read_detections(tmp_path / "d.npy", 2, joint_order="spin")


def test_3d_in_metres_passes_the_unit_check():
    h36m.check_metres(BODY[None], np.ones((1, 17), bool), "x")
    h36m.check_metres(BODY[None] * 1000, np.zeros((1, 17), bool), "x")  # nothing valid: nothing to measure


@pytest.mark.fixtures
def test_fixture_3d_is_metres(fixture_annotations):
    h36m.check_metres(fixture_annotations.joints_3d, fixture_annotations.valid_3d, "fixture")  # the real file


def test_camera_centre_in_millimetres_is_refused(tmp_path):
    entry = _camera_entry() | {"T": np.array([[1841.1], [4955.3], [1563.4]])}  # the real S1 camera, in mm
    path = tmp_path / "cameras.pkl"
    path.write_bytes(pickle.dumps({("S9", "54138969"): entry}))
    with pytest.raises(DataFileError) as caught:
        read_cameras(path)
    for part in (str(path), "('S9', '54138969').T", "camera centre 5513 ", "expected metres", "millimetres"):
        assert part in str(caught.value), str(caught.value)
    path.write_bytes(pickle.dumps({("S9", "54138969"): entry | {"T": entry["T"] / 1000}}))
    assert read_cameras(path)[("S9", "54138969")].center[2] == pytest.approx(1.5634)


def test_detection_file_beside_its_annotations(tmp_path):
    (tmp_path / "h36m_test.npz").touch()
    assert h36m.detection_file(tmp_path / "h36m_test.npz") is None
    np.save(tmp_path / "h36m_test_2d_detection.npy", np.zeros((1, 17, 3)))
    assert h36m.detection_file(tmp_path / "h36m_test.npz") == tmp_path / "h36m_test_2d_detection.npy"
    np.save(tmp_path / "test_h36m_2d_detection.npy", np.zeros((1, 17, 3)))  # mmpose's sample-file naming
    assert h36m.detection_file(tmp_path / "test_h36m_body3d.npz") == tmp_path / "test_h36m_2d_detection.npy"
    (tmp_path / "x_2d_detection.npy").mkdir()  # there but no file: returned, so the reader names it
    assert h36m.detection_file(tmp_path / "x.npz") == tmp_path / "x_2d_detection.npy"


def test_read_detections_in_the_files_joint_order(tmp_path):
    rng = np.random.default_rng(9)
    xy17 = rng.uniform(0, 1000, (4, 17, 2))  # 'h36m_17' order
    score = rng.uniform(0.2, 1.2, (4, 17))
    score[1, 3] = -0.5  # no detection
    mm = h36m.JOINT_ORDERS["mmpose"]
    stored, _ = convert(np.concatenate([xy17, score[..., None]], axis=-1), "h36m_17", mm)
    np.save(tmp_path / "d.npy", stored)
    xy, conf = h36m.read_detections(tmp_path / "d.npy", 4)  # default: mmpose's order
    np.testing.assert_allclose(xy, xy17, rtol=0, atol=1e-12)
    np.testing.assert_allclose(conf, np.clip(score, 0, None), rtol=0, atol=1e-12)
    assert conf[1, 3] == 0
    xy, _ = h36m.read_detections(tmp_path / "d.npy", 4, joint_order="spin")  # the legs read swapped
    np.testing.assert_allclose(xy[:, H36M17.index("left_hip")], xy17[:, H36M17.index("right_hip")])
    np.save(tmp_path / "d24.npy", _spin24(xy17, 2))
    np.testing.assert_allclose(h36m.read_detections(tmp_path / "d24.npy", 4)[0], xy17, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: np.save(p, np.zeros((5, 17, 3))), r"keypoints \(x, y, score\): expected .* N = 4"),
        (lambda p: np.save(p, np.zeros((4, 16, 3))), r"keypoints \(x, y, score\): expected \(N, 17 or 24"),
        (lambda p: np.save(p, np.full((4, 17, 3), np.nan)), r"keypoints \(x, y, score\): contains NaN or inf"),
        (lambda p: np.save(p, np.array(["a"] * 4)), r"keypoints \(x, y, score\): expected"),
        (lambda p: p.write_bytes(b"garbage"), r"cannot read mmpose 2D detection \.npy"),
        (lambda p: np.savez(p, a=np.zeros((4, 17, 3))), r"expected one \.npy array .* \.npz archive"),
    ],
)
def test_bad_detections(tmp_path, make, message):
    path = tmp_path / "h36m_test_2d_detection.npy"
    make(path)
    if not path.exists():  # np.savez adds '.npz'
        (tmp_path / "h36m_test_2d_detection.npy.npz").rename(path)
    with pytest.raises(DataFileError, match=r"h36m_test_2d_detection\.npy: " + message):
        h36m.read_detections(path, 4)
