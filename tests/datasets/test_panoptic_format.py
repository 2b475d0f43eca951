"""CMU Panoptic file formats: the real sample files, write-then-read round trips, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from datasets.panoptic.format import (
    Body,
    BodyFrame,
    Camera,
    FaceFrame,
    FacePerson,
    HandFrame,
    HandPerson,
    Landmarks,
    body_frame_path,
    calibration_path,
    camera_points,
    face_frame_path,
    get_camera,
    hand_frame_path,
    hd_cameras,
    project,
    read_body_frame,
    read_calibration,
    read_face_frame,
    read_hand_frame,
    write_body_frame,
    write_calibration,
    write_face_frame,
    write_hand_frame,
)

SEQ = "160906_band1"
FRAMES = (168, 169)
HD_NAMES = [f"00_{node:02d}" for node in range(31)]
J19 = get_skeleton("panoptic_joints19")

needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "panoptic" / SEQ).is_dir(),
    reason=f"real Panoptic sample files not found in {FIXTURES} (set HMRBENCH_FIXTURES)",
)


# --- real files --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_calibration():
    return read_calibration(calibration_path(FIXTURES / "panoptic", SEQ))


@pytest.fixture(scope="module")
def real_frames():
    return [read_body_frame(body_frame_path(FIXTURES / "panoptic", SEQ, f)) for f in FRAMES]


@pytest.mark.fixtures
@needs_fixtures
def test_real_calibration_has_31_hd_cameras_in_metres(real_calibration):
    types = {c.type for c in real_calibration.values()}
    assert {"hd", "vga", "kinect-color"} <= types
    hd = hd_cameras(real_calibration)
    assert [c.name for c in hd] == HD_NAMES
    for cam in real_calibration.values():
        assert cam.K.shape == (3, 3) and cam.R.shape == (3, 3) and cam.t.shape == (3,) and cam.dist.shape == (5,)
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-8)
        assert np.linalg.det(cam.R) == pytest.approx(1.0, abs=1e-8)
    for cam in hd:
        assert cam.resolution == (1920, 1080) and cam.panel == 0
        # t and the camera centre are a few metres (the dome's radius is about 3 m), not hundreds.
        assert 1.0 < np.linalg.norm(cam.t) < 5.0
        assert 2.0 < np.linalg.norm(cam.center) < 5.0


@pytest.mark.fixtures
@needs_fixtures
def test_real_body_frames_parse_with_invalid_joints_flagged(real_frames):
    for frame in real_frames:
        assert frame.fps_type == "hd_29_97"
        assert len(frame.bodies) >= 2
        assert len({b.id for b in frame.bodies}) == len(frame.bodies)
        for body in frame.bodies:
            assert body.joints.shape == (19, 3) and body.confidence.shape == (19,) and body.valid.dtype == bool
            invalid = body.confidence == -1
            np.testing.assert_array_equal(body.valid, body.confidence > 0.1)
            assert not body.valid[invalid].any()
            np.testing.assert_array_equal(body.joints[invalid], 0.0)
        assert any((b.confidence == -1).any() for b in frame.bodies), "the sample frames hold invalid joints"
    # Consecutive HD frames are one 29.97 fps period apart (univTime in ms).
    assert real_frames[1].univ_time - real_frames[0].univ_time == pytest.approx(1000 / 29.97, abs=0.5)


@pytest.mark.fixtures
@needs_fixtures
def test_real_bodies_have_human_size(real_frames):
    """Segment lengths in metres prove the cm -> m conversion (the band members sit, so the straight
    neck-to-ankle distance is short; the path along the leg and trunk is a standing body's)."""

    def length(body, a, b):
        return np.linalg.norm(body.joints[J19.index(a)] - body.joints[J19.index(b)])

    checked = 0
    for body in (b for frame in real_frames for b in frame.bodies):
        assert 0.25 < length(body, "left_shoulder", "right_shoulder") < 0.45
        assert 0.35 < length(body, "neck", "pelvis") < 0.6
        for side in ("left", "right"):
            chain = ["neck", "pelvis", f"{side}_hip", f"{side}_knee", f"{side}_ankle"]
            if all(body.valid[J19.index(j)] for j in chain):
                assert 0.3 < length(body, f"{side}_knee", f"{side}_ankle") < 0.55
                assert 0.7 < length(body, "neck", f"{side}_ankle") < 1.6
                path = sum(length(body, a, b) for a, b in zip(chain, chain[1:], strict=False))
                assert 1.0 < path < 1.7
                checked += 1
    assert checked >= 4


@pytest.mark.fixtures
@needs_fixtures
@pytest.mark.parametrize(("factor", "unit"), [(1.0, None), (0.01, "metres"), (10.0, "millimetres")])
def test_units_rule_on_the_real_files(tmp_path, factor, unit):
    """The real files pass the units rule; the same files rescaled to metres or millimetres (written to tmp_path)
    are refused naming the file, the field, the measured size and centimetres."""
    for frame in FRAMES:
        data = json.loads(body_frame_path(FIXTURES / "panoptic", SEQ, frame).read_text())
        for body in data["bodies"]:
            j = np.reshape(body["joints19"], (19, 4))
            body["joints19"] = np.concatenate([j[:, :3] * factor, j[:, 3:]], axis=1).ravel().tolist()
        path = tmp_path / f"body3DScene_{frame:08d}.json"
        path.write_text(json.dumps(data))
        if unit is None:
            assert len(read_body_frame(path).bodies) == 3
            continue
        with pytest.raises(DataFileError) as caught:
            read_body_frame(path)
        message = str(caught.value)
        assert str(path) in message and "bodies[].joints19: median body size" in message
        assert "centimetres" in message and f"looks like {unit}" in message
    calibration = json.loads(calibration_path(FIXTURES / "panoptic", SEQ).read_text())
    for cam in calibration["cameras"]:
        cam["t"] = (np.asarray(cam["t"]) * factor).tolist()
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(calibration))
    if unit is None:
        assert len(read_calibration(path)) == len(calibration["cameras"])
        return
    with pytest.raises(DataFileError, match=rf"cameras\[\]\.t: median camera distance .* looks like {unit}"):
        read_calibration(path)


@pytest.mark.fixtures
@needs_fixtures
def test_real_bodies_project_inside_hd_images(real_calibration, real_frames):
    joints = np.concatenate([b.joints[b.valid] for frame in real_frames for b in frame.bodies])
    pooled_inside = pooled = 0
    for cam in hd_cameras(real_calibration):
        depth = camera_points(cam, joints)[:, 2]
        uv = project(cam, joints)
        front = depth > 0
        width, height = cam.resolution
        inside = front & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
        assert front.mean() > 0.9, cam.name  # the dome's cameras all face its centre
        assert inside.sum() >= 0.6 * front.sum(), cam.name
        pooled_inside, pooled = pooled_inside + inside.sum(), pooled + front.sum()
    assert pooled_inside >= 0.85 * pooled


@pytest.mark.fixtures
@needs_fixtures
def test_project_is_opencv_with_metre_translation(real_calibration):
    """project() against OpenCV's formula written out in numpy, on a real HD camera (t in metres)."""
    cam = get_camera(real_calibration, "00_16")
    rng = np.random.default_rng(0)
    points = rng.uniform(-1.0, 1.0, (4, 5, 3)) + np.array([0.0, -1.0, 0.0])
    x = points @ cam.R.T + cam.t
    a, b = x[..., 0] / x[..., 2], x[..., 1] / x[..., 2]
    k1, k2, p1, p2, k3 = cam.dist
    r2 = a * a + b * b
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = a * radial + 2 * p1 * a * b + p2 * (r2 + 2 * a * a)
    yd = b * radial + p1 * (r2 + 2 * b * b) + 2 * p2 * a * b
    expected = np.stack([cam.K[0, 0] * xd + cam.K[0, 1] * yd + cam.K[0, 2], cam.K[1, 1] * yd + cam.K[1, 2]], -1)
    uv = project(cam, points)
    assert uv.shape == (4, 5, 2) and uv.dtype == np.float64
    np.testing.assert_allclose(uv, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(camera_points(cam, points), x, rtol=0, atol=1e-12)


# --- round trips -------------------------------------------------------------------------------------------


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q * np.sign(np.linalg.det(q))


def _synthetic_cameras(rng) -> list[Camera]:
    cams = []
    for panel, node, kind, res in [
        (0, 3, "hd", (1920, 1080)),
        (0, 0, "hd", (1920, 1080)),
        (1, 1, "vga", (640, 480)),
        (50, 2, "kinect-color", (1920, 1080)),
    ]:
        K = np.array(
            [
                [rng.uniform(1000, 1700), 0.0, rng.uniform(900, 1000)],
                [0.0, rng.uniform(1000, 1700), rng.uniform(500, 580)],
                [0.0, 0.0, 1.0],
            ]
        )
        cams.append(Camera(
            name=f"{panel:02d}_{node:02d}", type=kind, resolution=res, K=K, dist=rng.normal(0, 0.05, 5),
            R=_rotation(rng), t=rng.uniform(-3, 3, 3), panel=panel, node=node,
        ))  # fmt: skip
    return cams


def _assert_cameras_equal(a: Camera, b: Camera) -> None:
    assert (a.name, a.type, a.resolution, a.panel, a.node) == (b.name, b.type, b.resolution, b.panel, b.node)
    for attr in ("K", "dist", "R", "t"):
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=0, atol=1e-9, err_msg=attr)


def test_calibration_round_trip(tmp_path):
    cams = _synthetic_cameras(np.random.default_rng(1))
    path = calibration_path(tmp_path, "seq_a")
    write_calibration(path, cams)
    back = read_calibration(path)
    assert list(back) == [c.name for c in cams]  # file order kept
    for cam in cams:
        _assert_cameras_equal(back[cam.name], cam)
    assert [c.name for c in hd_cameras(back)] == ["00_00", "00_03"]
    # t is stored in centimetres, 3x1.
    raw = json.loads(path.read_text())
    np.testing.assert_allclose(np.array(raw["cameras"][0]["t"]), cams[0].t[:, None] * 100, rtol=1e-12)
    # A mapping is accepted as well and writes the same file.
    write_calibration(tmp_path / "again.json", back)
    assert json.loads((tmp_path / "again.json").read_text()) == raw


def _synthetic_bodies(rng, n: int) -> list[Body]:
    bodies = []
    for i in range(n):
        joints = rng.uniform(-0.6, 0.6, (19, 3)) + (0.5, -1.0, 0.2)  # body-sized, metres
        conf = rng.uniform(0, 1, 19)
        invalid = rng.random(19) < 0.2
        joints[invalid], conf[invalid] = 0.0, -1.0
        bodies.append(Body(id=i + 3, joints=joints, confidence=conf))
    return bodies


def test_body_frame_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    frame = BodyFrame(bodies=_synthetic_bodies(rng, 3), univ_time=12345.678)
    path = body_frame_path(tmp_path, "seq_a", 42)
    assert path.name == "body3DScene_00000042.json" and path.parent.name == "hdPose3d_stage1_coco19"
    write_body_frame(path, frame)
    back = read_body_frame(path)
    assert (back.univ_time, back.fps_type, back.version) == (frame.univ_time, "hd_29_97", 0.7)
    assert [b.id for b in back.bodies] == [b.id for b in frame.bodies]
    for got, want in zip(back.bodies, frame.bodies, strict=True):
        np.testing.assert_allclose(got.joints, want.joints, rtol=0, atol=1e-9)
        np.testing.assert_allclose(got.confidence, want.confidence, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(got.valid, want.confidence > 0.1)
    raw = json.loads(path.read_text())
    assert set(raw) == {"version", "univTime", "fpsType", "bodies"}
    flat = np.array(raw["bodies"][0]["joints19"]).reshape(19, 4)
    np.testing.assert_allclose(flat[:, :3], frame.bodies[0].joints * 100, rtol=1e-12)  # centimetres


def test_empty_body_frame_round_trip(tmp_path):
    path = tmp_path / "empty.json"
    write_body_frame(path, BodyFrame(bodies=[], univ_time=0.0))
    assert read_body_frame(path).bodies == []


def test_hand_frame_round_trip_with_missing_hands(tmp_path):
    rng = np.random.default_rng(3)

    def hand(score: bool) -> Landmarks:
        return Landmarks(rng.uniform(-0.06, 0.06, (21, 3)) + 1.0, rng.uniform(0, 1, 21) if score else None)

    frame = HandFrame(
        people=[HandPerson(0, hand(True), hand(True)), HandPerson(1, None, hand(False)), HandPerson(4, None, None)],
        univ_time=999.5, version=0.5,
    )  # fmt: skip
    path = hand_frame_path(tmp_path, "seq_a", 7)
    assert path.name == "handRecon3D_hd00000007.json" and path.parent.name == "hdHand3d"
    write_hand_frame(path, frame)
    back = read_hand_frame(path)
    assert (back.univ_time, back.version) == (999.5, 0.5)
    assert [p.id for p in back.people] == [0, 1, 4]
    for got, want in zip(back.people, frame.people, strict=True):
        for side in ("left", "right"):
            g, w = getattr(got, side), getattr(want, side)
            assert (g is None) == (w is None)
            if w is not None:
                np.testing.assert_allclose(g.points, w.points, rtol=0, atol=1e-9)
                assert (g.score is None) == (w.score is None)
                if w.score is not None:
                    np.testing.assert_allclose(g.score, w.score, rtol=0, atol=1e-9)
    raw = json.loads(path.read_text())
    assert set(raw["people"][1]) == {"id", "right_hand"}
    np.testing.assert_allclose(raw["people"][0]["left_hand"]["landmarks"], frame.people[0].left.points.ravel() * 100)


def test_face_frame_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    frame = FaceFrame(
        people=[
            FacePerson(2, Landmarks(rng.uniform(-0.08, 0.08, (70, 3)) - 1.5, rng.uniform(0, 1, 70))),
            FacePerson(5, None),
        ]
    )
    path = face_frame_path(tmp_path, "seq_a", 0)
    assert path.name == "faceRecon3D_hd00000000.json" and path.parent.name == "hdFace3d"
    write_face_frame(path, frame)
    back = read_face_frame(path)
    assert back.univ_time is None and [p.id for p in back.people] == [2, 5]
    np.testing.assert_allclose(back.people[0].face.points, frame.people[0].face.points, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back.people[0].face.score, frame.people[0].face.score, rtol=0, atol=1e-9)
    assert back.people[1].face is None


# --- bad input ---------------------------------------------------------------------------------------------


def _calibration_json(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "calibration_x.json"
    write_calibration(path, _synthetic_cameras(np.random.default_rng(5)))
    return path, json.loads(path.read_text())


def _assert_names(excinfo, path: Path, *fields: str) -> None:
    """The DataFileError message names the file and every given field text."""
    message = str(excinfo.value)
    for text in (path.name, *fields):
        assert text in message, message


def test_missing_file(tmp_path):
    path = tmp_path / "calibration_none.json"
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "not found")


def test_malformed_json(tmp_path):
    path = tmp_path / "calibration_x.json"
    path.write_text('{"cameras": [')
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "malformed JSON")


def test_missing_cameras_key(tmp_path):
    path = tmp_path / "calibration_x.json"
    path.write_text('{"calibDataSource": "x"}')
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "cameras", "missing")


def test_camera_with_3x2_K(tmp_path):
    path, data = _calibration_json(tmp_path)
    data["cameras"][3]["K"] = [row[:2] for row in data["cameras"][3]["K"]]
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "cameras[3].K", "expected 3x3, got 3x2")


def test_camera_missing_field_and_bad_rotation(tmp_path):
    path, data = _calibration_json(tmp_path)
    del data["cameras"][1]["distCoef"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "cameras[1].distCoef", "missing")
    path, data = _calibration_json(tmp_path)
    data["cameras"][2]["R"][0][0] += 0.1
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_calibration(path)
    _assert_names(e, path, "cameras[2].R", "rotation")


def test_missing_hd_camera_by_name_lists_the_cameras(tmp_path):
    path, _ = _calibration_json(tmp_path)
    cameras = read_calibration(path)
    with pytest.raises(DataFileError) as e:
        get_camera(cameras, "00_31")
    _assert_names(e, path, "cameras", "'00_31'", "00_00", "00_03", "50_02")
    assert get_camera(cameras, "00_03").name == "00_03"


def _body_json(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "body3DScene_00000001.json"
    write_body_frame(path, BodyFrame(bodies=_synthetic_bodies(np.random.default_rng(6), 2), univ_time=1.0))
    return path, json.loads(path.read_text())


def test_joints19_of_wrong_length(tmp_path):
    path, data = _body_json(tmp_path)
    data["bodies"][1]["joints19"] = data["bodies"][1]["joints19"][:-4]
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_body_frame(path)
    _assert_names(e, path, "bodies[1].joints19", "expected 76 values, got 72")


def test_nan_in_joints19(tmp_path):
    path, data = _body_json(tmp_path)
    data["bodies"][0]["joints19"][5] = float("nan")
    path.write_text(json.dumps(data))  # Python's json writes the NaN token, as some tools do
    with pytest.raises(DataFileError) as e:
        read_body_frame(path)
    _assert_names(e, path, "bodies[0].joints19", "NaN")


def test_body_missing_keys(tmp_path):
    path, data = _body_json(tmp_path)
    del data["bodies"][0]["id"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_body_frame(path)
    _assert_names(e, path, "bodies[0].id", "missing")
    path.write_text(json.dumps({"univTime": 1.0}))
    with pytest.raises(DataFileError) as e:
        read_body_frame(path)
    _assert_names(e, path, "bodies", "missing")


def test_hand_landmarks_of_wrong_shape(tmp_path):
    path = tmp_path / "handRecon3D_hd00000000.json"
    path.write_text(json.dumps({"people": [{"id": 0, "left_hand": {"landmarks": [0.0] * 60}}]}))
    with pytest.raises(DataFileError) as e:
        read_hand_frame(path)
    _assert_names(e, path, "people[0].left_hand.landmarks", "expected 63 values, got 60")
    path.write_text(json.dumps({"people": [{"id": 0, "face70": {"landmarks": [float("inf")] * 210}}]}))
    with pytest.raises(DataFileError) as e:
        read_face_frame(path)
    _assert_names(e, path, "people[0].face70.landmarks", "NaN/inf")
