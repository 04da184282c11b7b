"""The deepfake-face Detector: YuNet compiled by edge-sdk against OpenCV's own YuNet,
alignment geometry, the classifier against onnxruntime, the compile cache, and errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import REPO, SHARED, ort_run

cv2 = pytest.importorskip("cv2")

from edge_sdk.detector import ClassifierSpec, Detector, fake_probability  # noqa: E402
from edge_sdk.detector.align import aligned_crop, face_geometry  # noqa: E402
from edge_sdk.detector.faces import YuNet  # noqa: E402
from edge_sdk.errors import InputError, UserError  # noqa: E402

YUNET = REPO / "edge_sdk" / "assets" / "yunet" / "face_detection_yunet_2023mar.onnx"
MESO = REPO / "edge_sdk" / "assets" / "mesonet" / "meso4_df.onnx"
SAMPLES = sorted((REPO / "edge_sdk" / "assets" / "samples").glob("*.jpg"))
CLIP = SHARED / "video" / "short_hamilton_clip.mp4"


def meso_detector(**kw) -> Detector:
    return Detector(str(MESO), preprocess="size=256,resize=nearest", output="p_real", **kw)


def sample_frame(i: int = 0, size=(640, 360)) -> np.ndarray:
    """A bundled face crop placed on a grey 640x360 frame: a face YuNet can find."""
    face = cv2.resize(cv2.imread(str(SAMPLES[i])), (256, 256), interpolation=cv2.INTER_AREA)
    frame = np.full((size[1], size[0], 3), 110, np.uint8)
    y, x = (size[1] - 256) // 2, (size[0] - 256) // 2
    frame[y:y + 256, x:x + 256] = face
    return frame


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def opencv_faces(frame: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    h, w = frame.shape[:2]
    ref = cv2.FaceDetectorYN.create(str(YUNET), "", (w, h), threshold, 0.3, 50)
    _, faces = ref.detect(frame)
    return np.zeros((0, 15)) if faces is None else faces


@pytest.mark.skipif(not CLIP.exists(), reason="needs ../shared/data/video (the team's real test clips)")
def test_compiled_yunet_matches_opencv_on_real_video():
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    for i in range(120):
        ok, f = cap.read()
        assert ok
        if i % 30 == 0:
            frames.append(f)
    ours = YuNet(detect_width=640)
    found = 0
    for f in frames:
        got = ours.detect(f)
        want = opencv_faces(f)
        assert len(got) == len(want), (len(got), len(want))
        for w in want:
            box = (w[0], w[1], w[0] + w[2], w[1] + w[3])
            g = max(got, key=lambda d: iou(d.box, box))
            assert iou(g.box, box) > 0.98
            np.testing.assert_allclose(g.landmarks, w[4:14].reshape(5, 2), atol=1.0)
            assert abs(g.score - w[14]) < 1e-3
            found += 1
    assert found >= len(frames)  # at least one face per sampled frame


def test_frames_of_any_size_share_a_few_compiled_inputs():
    y = YuNet(detect_width=640)
    sizes = {y.input_size(w, h)[:2] for w, h in [(640, 360), (1920, 1080), (1280, 720), (256, 256),
                                                   (300, 299), (480, 640), (1000, 3000)]}
    assert sizes <= {(640, 384), (640, 640), (640, 480), (640, 864), (640, 1152)}
    for w, h in [(640, 360), (1920, 1080), (333, 1000)]:
        pw, ph, s = y.input_size(w, h)
        assert round(w * s) <= pw and round(h * s) <= ph and pw % 32 == 0 and ph % 32 == 0


def test_alignment_undoes_rotation_and_scale():
    """A frame rotated by 25 degrees and scaled by 0.7 gives the same aligned crop."""
    frame = sample_frame(2)
    lm = YuNet(640).detect(frame)[0].landmarks
    centre = (320.0, 180.0)
    m = cv2.getRotationMatrix2D(centre, 25, 0.7)
    turned = cv2.warpAffine(frame, m, (640, 360), flags=cv2.INTER_LINEAR, borderValue=(110, 110, 110))
    lm_turned = np.hstack([lm, np.ones((5, 1))]) @ m.T
    a = aligned_crop(frame, lm, interpolation="bilinear").astype(np.float32)
    b = aligned_crop(turned, lm_turned, interpolation="bilinear").astype(np.float32)
    inner = (slice(40, 216), slice(40, 216))  # away from the borders the rotation fills
    corr = np.corrcoef(a[inner].ravel(), b[inner].ravel())[0, 1]
    assert corr > 0.95
    c, side, down = face_geometry(lm)
    c2, side2, down2 = face_geometry(lm_turned)
    assert math.isclose(side2, side * 0.7, rel_tol=1e-6)
    assert math.degrees(math.atan2(down2[0], down2[1]) - math.atan2(down[0], down[1])) == pytest.approx(25, abs=1e-4)


@pytest.mark.skipif(not (SHARED / "faces" / "val").exists(), reason="needs ../shared/data/faces (FF++ crops)")
def test_alignment_reproduces_the_training_crops():
    """Re-cropping a training-style crop from a canvas with our rule lands on the same framing:
    the crop's side is 2.86 x max(eye-eye, eyes-mouth) and its centre where the data's is."""
    rows = [line.split(",")[0] for line in (SHARED / "faces" / "val" / "manifest.csv").read_text().splitlines()[1:]]
    y = YuNet(640)
    sides, shifts = [], []
    for rel in rows[::15][:25]:
        img = cv2.imread(str(SHARED / "faces" / rel))
        if img is None or img.shape[:2] != (256, 256):
            continue
        canvas = np.zeros((640, 640, 3), np.uint8)
        canvas[192:448, 192:448] = img
        faces = y.detect(canvas)
        if not faces:
            continue
        c, side, _ = face_geometry(faces[0].landmarks)
        sides.append(side)
        shifts.append(np.hypot(*(c - 320.0)))
    assert len(sides) >= 20
    assert abs(np.median(sides) - 256) < 10     # the same scale as the data, within 4%
    assert np.median(shifts) < 8                # the same centre, within a few pixels


def test_classifier_scores_match_onnxruntime_on_the_aligned_crop():
    det = meso_detector(keep_crops=True)
    for i in range(len(SAMPLES)):
        dets = det.run(sample_frame(i))
        assert len(dets) == 1 and dets[0].fake_score is not None
        x = det.spec.preprocess.from_bgr(dets[0].crop)
        want = 1.0 - float(ort_run(MESO, {_input_name(MESO): x})[0].reshape(-1)[0])
        assert dets[0].fake_score == pytest.approx(want, abs=1e-5)
        assert dets[0].is_fake == (dets[0].fake_score >= det.threshold)
        assert set(dets[0].to_dict()) == {"box", "landmarks", "face_score", "fake_score", "is_fake"}


def _input_name(path) -> str:
    import onnx
    return onnx.load(str(path)).graph.input[0].name


def test_the_bundled_samples_are_called_the_way_mesonet_calls_them():
    """MesoNet's own sample crops: its two fakes score higher than its two reals after our
    detection and alignment (the ordering survives the whole pipeline)."""
    det = meso_detector()
    scores = {p.stem: det.run(sample_frame(i))[0].fake_score for i, p in enumerate(SAMPLES)}
    fakes = [v for k, v in scores.items() if k.startswith("df")]
    reals = [v for k, v in scores.items() if k.startswith("real")]
    assert min(fakes) > max(reals), scores


def test_small_faces_are_detected_but_not_scored():
    frame = cv2.resize(sample_frame(0), (320, 180), interpolation=cv2.INTER_AREA)
    det = meso_detector(min_face=400)
    dets = det.run(frame)
    assert dets and all(d.fake_score is None and not d.is_fake for d in dets)


def test_compiled_models_are_cached_not_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_SDK_CACHE", str(tmp_path))
    meso_detector().run(sample_frame(0))
    entries = sorted((tmp_path / "models").iterdir())
    stamps = {p.name: (p / "manifest.json").stat().st_mtime_ns for p in entries if p.is_dir()}
    assert len(stamps) == 2  # the classifier and one YuNet input size
    det = meso_detector()
    det.run(sample_frame(1))
    assert {p.name: (p / "manifest.json").stat().st_mtime_ns
            for p in (tmp_path / "models").iterdir() if p.is_dir()} == stamps


def test_bad_frames_and_options_are_user_errors():
    det = meso_detector()
    for bad in (np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), "frame.jpg",
                np.zeros((4, 4, 3), np.uint8)):
        with pytest.raises(InputError):
            det.run(bad)
    with pytest.raises(InputError):
        meso_detector(threshold=1.5)
    with pytest.raises(UserError, match="no bundled classifier"):
        Detector("no-such-classifier")
    with pytest.raises(UserError, match="unknown output meaning"):
        Detector(str(MESO), preprocess="size=256", output="maybe")


def test_output_meanings():
    assert fake_probability(np.array([[0.2]]), "p_fake") == pytest.approx(0.2)
    assert fake_probability(np.array([[0.2]]), "p_real") == pytest.approx(0.8)
    assert fake_probability(np.array([0.0]), "logit_fake") == pytest.approx(0.5)
    assert fake_probability(np.array([[1.0, 3.0]]), "softmax:1") == pytest.approx(1 / (1 + math.exp(-2)))
    assert fake_probability(np.array([[0.3, 0.7]]), "prob:0") == pytest.approx(0.3)


@pytest.mark.parametrize("name", [p.stem for p in (REPO / "edge_sdk" / "assets" / "deepfake").glob("*.json")])
def test_bundled_classifier_specs_are_complete(name):
    spec = ClassifierSpec.bundled(name)
    assert spec.model.is_file()
    assert spec.int8_model is None or spec.int8_model.is_file()
    assert 0.0 < spec.threshold < 1.0
    d = json.loads((REPO / "edge_sdk" / "assets" / "deepfake" / f"{name}.json").read_text())
    assert "alias" in d or d["output_meaning"] in ("p_fake", "p_real", "logit_fake") or ":" in d["output_meaning"]
