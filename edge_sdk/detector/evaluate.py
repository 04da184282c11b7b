"""`edge-sdk evaluate`: how well a classifier separates real/ from fake/ face images.

The folder holds real/ and fake/ (each may have subfolders, e.g. one per manipulation
method; they are reported separately).  Images are aligned face crops by default (the
usual dataset layout); with detect=True each image goes through the whole Detector and
its most confident face is scored.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..quantize.images import IMAGE_SUFFIXES


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (label 1 = fake), ties counted half: the Mann-Whitney U."""
    labels = np.asarray(labels, bool)
    pos, neg = np.asarray(scores)[labels], np.asarray(scores)[~labels]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(order.size, np.float64)
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < allv.size:  # average ranks over ties
        j = i
        while j + 1 < allv.size and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) over every threshold."""
    labels = np.asarray(labels, bool)
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    tp = np.concatenate([[0], np.cumsum(labels[order])])
    fp = np.concatenate([[0], np.cumsum(~labels[order])])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


@dataclass
class Scored:
    path: Path
    label: int        # 1 fake, 0 real
    group: str        # e.g. "fake/deepfakes"
    score: float | None


def list_images(folder: Path) -> list[tuple[Path, int, str]]:
    out = []
    for label_name, label in (("real", 0), ("fake", 1)):
        root = folder / label_name
        if not root.is_dir():
            raise UserError(f"'{folder}' has no {label_name}/ subfolder",
                            "evaluate needs DIR/real/... and DIR/fake/... images")
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                sub = p.relative_to(root).parts
                out.append((p, label, f"{label_name}/{sub[0]}" if len(sub) > 1 else label_name))
    if not any(l == 0 for _, l, _ in out) or not any(l == 1 for _, l, _ in out):
        raise UserError(f"'{folder}' needs images under both real/ and fake/")
    return out


def score_images(detector, items, detect: bool, progress=None) -> list[Scored]:
    import cv2
    scored = []
    for n, (path, label, group) in enumerate(items):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise UserError(f"cannot read image '{path}'")
        if detect:
            dets = [d for d in detector.run(img) if d.fake_score is not None]
            score = dets[0].fake_score if dets else None
        else:
            score = detector.classifier.score(img)
        scored.append(Scored(path, label, group, score))
        if progress and (n + 1) % 100 == 0:
            progress(f"scored {n + 1}/{len(items)}")
    return scored


def metrics(scored: list[Scored], threshold: float) -> dict:
    ok = [s for s in scored if s.score is not None]
    y = np.array([s.label for s in ok], bool)
    p = np.array([s.score for s in ok], np.float64)
    pred = p >= threshold
    cm = {"real_as_real": int((~y & ~pred).sum()), "real_as_fake": int((~y & pred).sum()),
          "fake_as_real": int((y & ~pred).sum()), "fake_as_fake": int((y & pred).sum())}
    groups = {}
    reals = np.array([s.score for s in ok if s.label == 0])
    for g in sorted({s.group for s in ok}):
        gs = np.array([s.score for s in ok if s.group == g])
        lab = 1 if g.startswith("fake") else 0
        entry = {"n": int(gs.size), "accuracy": float(((gs >= threshold) == bool(lab)).mean()),
                 "mean_score": float(gs.mean())}
        if lab == 1 and reals.size:  # this manipulation against all the real images
            entry["auc_vs_real"] = roc_auc(np.r_[np.ones(gs.size), np.zeros(reals.size)], np.r_[gs, reals])
        groups[g] = entry
    return {"n": len(scored), "unscored": len(scored) - len(ok), "threshold": threshold,
            "auc": roc_auc(y, p), "accuracy": float((pred == y).mean()) if y.size else float("nan"),
            "confusion": cm, "groups": groups}


def save_roc_png(scored: list[Scored], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [s for s in scored if s.score is not None]
    fig, ax = plt.subplots(figsize=(5, 5))
    groups = sorted({s.group for s in ok if s.label == 1})
    reals = [s for s in ok if s.label == 0]
    for g in groups + ["all"]:
        sel = [s for s in ok if s.label == 1 and (g == "all" or s.group == g)] + reals
        fpr, tpr = roc_curve(np.array([s.label for s in sel]), np.array([s.score for s in sel]))
        auc = roc_auc(np.array([s.label for s in sel]), np.array([s.score for s in sel]))
        ax.plot(fpr, tpr, lw=2.5 if g == "all" else 1.2, label=f"{g} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false-positive rate (real called fake)", ylabel="true-positive rate (fake caught)", title=title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_worst_grid(scored: list[Scored], path: Path, threshold: float, n: int = 16, tile: int = 128) -> int:
    """The most confidently wrong faces, with their score; returns how many were drawn."""
    import cv2
    wrong = [s for s in scored if s.score is not None and (s.score >= threshold) != bool(s.label)]
    wrong.sort(key=lambda s: -abs(s.score - threshold))
    wrong = wrong[:n]
    cols = 4
    rows = max(1, (len(wrong) + cols - 1) // cols)
    grid = np.full((rows * (tile + 18), cols * tile, 3), 255, np.uint8)
    for i, s in enumerate(wrong):
        img = cv2.resize(cv2.imread(str(s.path), cv2.IMREAD_COLOR), (tile, tile), interpolation=cv2.INTER_AREA)
        r, c = divmod(i, cols)
        y0 = r * (tile + 18)
        grid[y0:y0 + tile, c * tile:(c + 1) * tile] = img
        text = f"{'real' if s.label == 0 else 'fake'} {s.score:.2f}"
        cv2.putText(grid, text, (c * tile + 3, y0 + tile + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 200), 1,
                    cv2.LINE_AA)
    cv2.imwrite(str(path), grid)
    return len(wrong)


def evaluate(folder: str | Path, detector, out_dir: str | Path | None = None, detect: bool = False,
             progress=None) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"'{folder}' is not a folder")
    scored = score_images(detector, list_images(folder), detect, progress)
    result = metrics(scored, detector.threshold)
    result.update(model=detector.spec.name, quantize=detector.quantize, device=detector.device,
                  mode="detect+align" if detect else "crops")
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_roc_png(scored, out / "roc.png", f"{detector.spec.name} ({detector.quantize}) on {folder.name}")
        save_worst_grid(scored, out / "worst.png", detector.threshold)
        (out / "scores.json").write_text(json.dumps(
            [{"path": str(s.path), "label": s.label, "group": s.group, "score": s.score} for s in scored], indent=1))
        result["files"] = {"roc": str(out / "roc.png"), "worst": str(out / "worst.png"),
                           "scores": str(out / "scores.json")}
    return result
