"""Train the compact deepfake-face classifier on the FF++ c23 aligned crops.

Reproduce the shipped model (seeded; one CPU thread, run under nice on a shared machine):

    nice -n 10 .venv/bin/python -m tools.train_deepfake.train \
        --size 256 --width 16 --epochs 40 --seed 0 --out /tmp/train_deepfake/w16_s256

Part of train is held out by identity (whole connected identity groups, --holdout) and the
checkpoint is chosen on that held-out AUC, not on val. val (identity-disjoint) is only logged
here; the choice between runs/configs used val, so val figures are optimistic (model card).
Weights are written outside the repo; tools/train_deepfake/export.py turns one into ONNX.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from .data import augment, identity_holdout, read_split, to_input
from .metrics import roc_auc
from .model import DeepfakeNet, Meso4, count_macs


def predict(net: nn.Module, images: np.ndarray, size: int, resize: str, batch: int = 64) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.stack([to_input(im, size, resize) for im in images[i:i + batch]]))
            out.append(torch.sigmoid(net(x)).squeeze(1).numpy())
    return np.concatenate(out)


def sample_weights(labels: np.ndarray, sources: list[str]) -> np.ndarray:
    """Half of each epoch real, half fake, the fake half split evenly over manipulation methods."""
    w = np.zeros(len(labels))
    fake_sources = sorted({s for s, y in zip(sources, labels) if y == 1})
    for i, (s, y) in enumerate(zip(sources, labels)):
        if y == 0:
            w[i] = 0.5 / (labels == 0).sum()
        else:
            w[i] = 0.5 / len(fake_sources) / sum(1 for t, z in zip(sources, labels) if z == 1 and t == s)
    return w / w.sum()


def per_source_auc(p: np.ndarray, labels: np.ndarray, sources: list[str]) -> dict[str, float]:
    res = {"overall": roc_auc(labels, p)}
    real = labels == 0
    for s in sorted({s for s, y in zip(sources, labels) if y == 1}):
        m = real | np.asarray([t == s for t in sources])
        res[s] = roc_auc(labels[m], p[m])
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--resize", default="area", choices=["nearest", "bilinear", "area"])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--crop", type=int, default=0, help="central window the network looks at (0 = all)")
    ap.add_argument("--local", action="store_true", help="cut the network at stride 8 (see model.py)")
    ap.add_argument("--grey", type=float, default=0.0, help="probability of a greyscale training view")
    ap.add_argument("--aug", type=float, default=1.0, help="augmentation strength (1 = full recipe)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop early after this long (0 = no limit)")
    ap.add_argument("--init", type=Path, help="fine-tune a bundled MesoNet Meso4 ONNX file instead of "
                                               "training DeepfakeNet from scratch (its BatchNorm statistics stay fixed)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)

    train, val = read_split("train"), read_split("val")
    held = identity_holdout(train.videos, a.holdout, a.seed)
    fit = np.flatnonzero(~held)
    hold = np.flatnonzero(held)
    fit_labels = train.labels[fit]
    weights = sample_weights(fit_labels, [train.sources[i] for i in fit])

    net = Meso4.from_onnx(a.init) if a.init else DeepfakeNet(a.width, a.dropout, a.crop, a.local)
    arch = "meso4" if a.init else "deepfakenet"
    ema = copy.deepcopy(net)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=a.wd)
    steps_per_epoch = len(fit) // a.batch
    total = steps_per_epoch * a.epochs
    warm = 2 * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    loss_fn = nn.BCEWithLogitsLoss()
    info = {"args": {k: str(v) for k, v in vars(a).items()}, "macs": count_macs(net, a.size),
            "params": sum(p.numel() for p in net.parameters()), "fit_n": len(fit), "holdout_n": len(hold),
            "holdout_videos": sorted({train.videos[i] for i in hold}), "epochs": []}
    print(f"MACs {info['macs']:,} params {info['params']:,} fit {len(fit)} holdout {len(hold)}", flush=True)
    best = -1.0
    t0 = time.time()
    for epoch in range(a.epochs):
        net.train()
        if a.init:  # fine-tuning: keep the pretrained BatchNorm statistics
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        te = time.time()
        idx = fit[rng.choice(len(fit), size=steps_per_epoch * a.batch, p=weights)]
        losses = []
        for b in range(steps_per_epoch):
            ib = idx[b * a.batch:(b + 1) * a.batch]
            x = torch.from_numpy(np.stack([to_input(augment(train.images[i], rng, a.aug, a.grey), a.size, a.resize) for i in ib]))
            y = torch.from_numpy(train.labels[ib].astype(np.float32))[:, None]
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            with torch.no_grad():  # EMA of weights and BN statistics
                for pe, pn in zip(ema.state_dict().values(), net.state_dict().values()):
                    if pe.dtype.is_floating_point:
                        pe.mul_(a.ema).add_(pn, alpha=1 - a.ema)
                    else:
                        pe.copy_(pn)
        p_hold = predict(ema, train.images[hold], a.size, a.resize)
        p_val = predict(ema, val.images, a.size, a.resize)
        rec = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "sec": round(time.time() - te, 1),
               "holdout": per_source_auc(p_hold, train.labels[hold], [train.sources[i] for i in hold]),
               "val": per_source_auc(p_val, val.labels, val.sources)}
        info["epochs"].append(rec)
        print(f"ep {epoch + 1:3d} loss {rec['loss']:.4f} hold {rec['holdout']['overall']:.4f} "
              f"val {rec['val']['overall']:.4f} " +
              " ".join(f"{k.replace('ffpp_c23_', '')[:5]}={v:.3f}" for k, v in rec['val'].items() if k != "overall")
              + f" {rec['sec']}s", flush=True)
        if rec["holdout"]["overall"] > best:
            best = rec["holdout"]["overall"]
            torch.save({"state": ema.state_dict(), "arch": arch, "width": a.width, "crop": a.crop, "local": a.local, "size": a.size, "resize": a.resize,
                        "epoch": epoch + 1}, a.out / "best_holdout.pt")
        torch.save({"state": ema.state_dict(), "arch": arch, "width": a.width, "crop": a.crop, "local": a.local, "size": a.size, "resize": a.resize,
                    "epoch": epoch + 1}, a.out / "last.pt")
        json.dump(info, open(a.out / "log.json", "w"), indent=1)
        if a.max_minutes and time.time() - t0 > a.max_minutes * 60:
            print(f"stopping after {epoch + 1} epochs: --max-minutes {a.max_minutes} reached", flush=True)
            info["stopped_early"] = epoch + 1
            json.dump(info, open(a.out / "log.json", "w"), indent=1)
            break


if __name__ == "__main__":
    main()
