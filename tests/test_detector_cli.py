"""`edge-sdk evaluate` and `edge-sdk detect` end to end, through the real CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

cv2 = pytest.importorskip("cv2")

from edge_sdk.detector.evaluate import roc_auc, roc_curve  # noqa: E402

MESO = REPO / "edge_sdk" / "assets" / "mesonet" / "meso4_df.onnx"
SAMPLES = sorted((REPO / "edge_sdk" / "assets" / "samples").glob("*.jpg"))
MESO_ARGS = ["--model", str(MESO), "--preprocess", "size=256,resize=nearest", "--output-meaning", "p_real"]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edge_sdk", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_auc_definition():
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    # one of four (fake, real) pairs ordered wrongly
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.5, 0.9])) == 0.75
    fpr, tpr = roc_curve(np.array([0, 1]), np.array([0.2, 0.7]))
    assert fpr[0] == 0 and tpr[-1] == 1 and fpr[-1] == 1


def test_evaluate_reports_auc_confusion_groups_and_pictures(tmp_path):
    data = tmp_path / "data"
    for p in SAMPLES:
        dst = data / ("fake/deepfakes" if p.stem.startswith("df") else "real") / p.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
    out = tmp_path / "eval"
    r = cli("evaluate", data, *MESO_ARGS, "--out", out, "--json", "-q")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n"] == 4 and res["unscored"] == 0
    assert res["auc"] == 1.0  # MesoNet separates its own four samples
    cm = res["confusion"]
    assert sum(cm.values()) == 4 and cm["real_as_real"] + cm["real_as_fake"] == 2
    assert set(res["groups"]) == {"fake/deepfakes", "real"}
    assert res["groups"]["fake/deepfakes"]["auc_vs_real"] == 1.0
    for f in ("roc.png", "worst.png", "scores.json"):
        assert (out / f).stat().st_size > 0
    assert cv2.imread(str(out / "roc.png")) is not None


def test_detect_images_json_and_annotation(tmp_path):
    r = cli("detect", *SAMPLES[:2], *MESO_ARGS, "--json", "-q", "--annotate", tmp_path / "ann")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [len(x["faces"]) for x in res["results"]] == [1, 1]
    face = res["results"][0]["faces"][0]
    assert 0.0 <= face["fake_score"] <= 1.0 and len(face["landmarks"]) == 5
    for p in SAMPLES[:2]:
        img = cv2.imread(str(tmp_path / "ann" / p.name))
        assert img is not None and not np.array_equal(img, cv2.imread(str(p)))  # boxes were drawn


@pytest.mark.parametrize("args, message", [
    (["evaluate", "/nonexistent-folder"], "is not a folder"),
    (["detect", "/nonexistent.jpg"], "is not a file"),
    (["detect", str(SAMPLES[0]), "--model", "no-such-model"], "no bundled classifier"),
])
def test_user_errors_exit_2_without_traceback(args, message):
    r = cli(*args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
