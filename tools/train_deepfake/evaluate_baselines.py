"""Evaluate the shipped deepfake classifier next to the MesoNet baselines on the val
crops (identity-disjoint from train) and on the identities held out of train.

    nice -n 10 .venv/bin/python -m tools.train_deepfake.evaluate_baselines \
        --model meso4_df --json tools/train_deepfake/results.json > tools/train_deepfake/results.md

Rows: our model in fp32 (onnxruntime), compiled by edge-sdk in fp32 and in int8 (from the
shipped QDQ file, as the Detector runs it); the four MesoNet files (onnxruntime; their output
is p_real, so fake score = 1 - p_real), their mean, and meso4_df compiled int8 by edge-sdk.
AUC per fake source is that source against all reals of the split. The threshold of each row
gives 10% false positives on the val reals (so val accuracy at it is optimistic); "acc@0.5"
uses 0.5. MACs come from `edge-sdk inspect`.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import edge_sdk

from .data import identity_holdout, read_split, to_input
from .export import ASSETS, compiled_scores, ort_scores
from .metrics import accuracy, roc_auc, threshold_at_fpr, tpr_fpr

MESONET_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "models" / "mesonet"
MESONETS = ["meso4_df", "meso4_f2f", "mesoinception4_df", "mesoinception4_f2f"]
SOURCES = ["ffpp_c23_deepfakes", "ffpp_c23_face2face", "ffpp_c23_faceswap", "ffpp_c23_neuraltextures"]


def macs_of(path: Path) -> int:
    out = subprocess.run([sys.executable, "-m", "edge_sdk", "inspect", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return int(re.search(r"MACs ([\d,]+)", out).group(1).replace(",", ""))


def table_row(name: str, fake: np.ndarray, split, thr: float | None = None) -> dict:
    y = split.labels
    real = y == 0
    row = {"name": name, "overall": roc_auc(y, fake)}
    for s in SOURCES + ["mesonet_test_images"]:
        m = real | np.asarray([(t == s and lab == 1) for t, lab in zip(split.sources, y)])
        if (m & (y == 1)).any():
            row[s] = roc_auc(y[m], fake[m])
    if thr is None:
        thr = threshold_at_fpr(y, fake, 0.10)
    tpr, fpr = tpr_fpr(y, fake, thr)
    row.update(threshold=thr, acc=accuracy(y, fake, thr), tpr=tpr, fpr=fpr,
               balanced_acc=(tpr + 1 - fpr) / 2, acc_at_0_5=accuracy(y, fake, 0.5))
    return row


def markdown(rows: list[dict], title: str) -> str:
    cols = ["overall"] + SOURCES + ["mesonet_test_images"]
    short = {c: c.replace("ffpp_c23_", "") for c in cols}
    short["mesonet_test_images"] = "meso test (2+2)"
    head = "| model | " + " | ".join(short[c] for c in cols) + " | thr | acc@thr | TPR | FPR | bal.acc | acc@0.5 |"
    lines = [f"**{title}**", "", head, "|" + "---|" * (len(cols) + 7)]
    for r in rows:
        cells = [f"{r[c]:.3f}" if c in r else "-" for c in cols]
        lines.append(f"| {r['name']} | " + " | ".join(cells) +
                     f" | {r['threshold']:.3f} | {r['acc']:.3f} | {r['tpr']:.3f} | {r['fpr']:.3f} | "
                     f"{r['balanced_acc']:.3f} | {r['acc_at_0_5']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="meso4_df", help="name of a spec in edge_sdk/assets/deepfake/")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    spec = json.loads((ASSETS / f"{a.model}.json").read_text())
    size, resize = spec["input_size"], spec["resize"]
    val, train = read_split("val"), read_split("train")
    held = identity_holdout(train.videos, 0.2, 0)

    class Sub:  # the held-out identities of train as a split of their own
        labels = train.labels[held]
        sources = [s for s, h in zip(train.sources, held) if h]
        images = train.images[held]

    results: dict = {"macs": {}, "val": [], "holdout": [], "int8_vs_fp32": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for split_name, split in (("val", val), ("holdout", Sub)):
            xs = np.stack([to_input(im, size, resize) for im in split.images])
            x256 = np.stack([to_input(im, 256, "nearest") for im in split.images])
            flip = spec.get("output_meaning", "p_fake") == "p_real"  # MesoNet outputs p_real

            def fake(p):
                return 1.0 - p if flip else p
            fp32 = fake(ort_scores(ASSETS / spec["model"], xs))
            rows = [table_row(f"{a.model} fp32 (onnxruntime)", fp32, split)]
            thr = rows[0]["threshold"] if split_name == "val" else spec["threshold"]
            if split_name == "holdout":  # the shipped threshold, not one fitted to this split
                rows[0] = table_row(f"{a.model} fp32 (onnxruntime)", fp32, split, spec["threshold"])
            c32 = edge_sdk.compile(ASSETS / spec["model"], device="host", out_dir=Path(tmp) / f"{split_name}32")
            e32 = fake(compiled_scores(c32, xs))
            rows.append(table_row(f"{a.model} fp32 (edge-sdk)", e32, split, thr))
            c8 = edge_sdk.compile(ASSETS / spec["int8_model"], device="host", out_dir=Path(tmp) / f"{split_name}8")
            e8 = fake(compiled_scores(c8, xs))
            rows.append(table_row(f"{a.model} int8 (edge-sdk, shipped QDQ)", e8, split, thr))
            results["int8_vs_fp32"][split_name] = {"max_abs": float(np.abs(e8 - fp32).max()),
                                                   "mean_abs": float(np.abs(e8 - fp32).mean()),
                                                   "fp32_edge_vs_ort_max_abs": float(np.abs(e32 - fp32).max())}
            mesos = []
            for m in MESONETS:
                p = 1.0 - ort_scores(MESONET_DIR / f"{m}.onnx", x256)
                mesos.append(p)
                rows.append(table_row(f"{m} (onnxruntime)", p, split))
            rows.append(table_row("MesoNet ensemble, mean of 4", np.mean(mesos, 0), split))
            q = ASSETS / "meso4_df_int8_qdq.onnx"
            if q.is_file():
                cm = edge_sdk.compile(q, device="host", out_dir=Path(tmp) / f"{split_name}m8")
                rows.append(table_row("meso4_df int8 (edge-sdk, shipped QDQ)", 1.0 - compiled_scores(cm, x256), split))
            results[split_name] = rows
    results["macs"] = {a.model: macs_of(ASSETS / spec["model"]),
                       **{m: macs_of(MESONET_DIR / f"{m}.onnx") for m in MESONETS}}
    print(f"MACs (edge-sdk inspect): " + ", ".join(f"{k} {v:,}" for k, v in results["macs"].items()) + "\n")
    print(markdown(results["val"], f"val: {int((val.labels == 0).sum())} reals, {int(val.labels.sum())} fakes "
                                   "(identity-disjoint; used for model selection, so optimistic for our model)"))
    print(markdown(results["holdout"], f"train identities held out of fitting: {int((Sub.labels == 0).sum())} reals, "
                                       f"{int(Sub.labels.sum())} fakes (our model: shipped threshold)"))
    print("int8 vs fp32 (|p_fake| difference): " + json.dumps(results["int8_vs_fp32"]))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
