"""The face commands of the CLI: `edge-sdk detect` and `edge-sdk evaluate`."""
from __future__ import annotations

from pathlib import Path

from .errors import UserError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def detector_opts(sp) -> None:
    """Options shared by every command that builds a Detector."""
    sp.add_argument("--model", help="bundled classifier name (default: the bundled default) or your own .onnx")
    sp.add_argument("--preprocess", help="for your own .onnx: size=...,layout=...,scale=...,resize=... "
                                         "(as for compile --preprocess)")
    sp.add_argument("--output-meaning", default="p_fake",
                    help="for your own .onnx: p_fake, p_real, logit_fake, softmax:K or prob:K (default p_fake)")
    sp.add_argument("--device", default="host", help="device profile the models are compiled for")
    sp.add_argument("--quantize", choices=["none", "int8"], default=None,
                    help="classifier precision (default: the device profile's choice)")
    sp.add_argument("--threshold", type=float, default=None,
                    help="fake score at or above which a face is fake (default: the classifier's recommended)")
    sp.add_argument("--min-face", type=int, default=96, help="faces smaller than this (crop side, pixels) "
                                                              "are not scored (default 96)")
    sp.add_argument("--min-face-score", type=float, default=0.8, help="faces detected with less confidence "
                                                                      "are not scored (default 0.8)")
    sp.add_argument("--detect-width", type=int, default=640, help="frames are scaled down to this width for "
                                                                  "face detection (default 640)")


def detector_from_args(args, progress=None):
    from .detector import Detector
    return Detector(args.model, device=args.device, quantize=args.quantize, threshold=args.threshold,
                    min_face=args.min_face, min_face_score=args.min_face_score, detect_width=args.detect_width, preprocess=args.preprocess,
                    output=args.output_meaning, progress=progress)


def _open_video(path: Path):
    import cv2
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UserError(f"cannot open video '{path}'", "check the file and that OpenCV can decode it")
    return cap


def _annotate_target(out: Path, src: Path, many: bool) -> Path:
    if many:
        out.mkdir(parents=True, exist_ok=True)
        return out / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def detect_video(det, path: Path, annotate: Path | None) -> dict:
    import cv2

    from .detector.draw import draw_detections
    cap = _open_video(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    frames, rows = 0, []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            dets = det.run(frame)
            rows.append({"frame": frames, "faces": [d.to_dict() for d in dets]})
            if annotate is not None:
                if writer is None:
                    writer = cv2.VideoWriter(str(annotate), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise UserError(f"cannot write video '{annotate}'", "use a .mp4 path in a writable folder")
                writer.write(draw_detections(frame, dets))
            frames += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if frames == 0:
        raise UserError(f"no frames could be decoded from '{path}'")
    scores = [f["fake_score"] for r in rows for f in r["faces"] if f["fake_score"] is not None]
    return {"path": str(path), "kind": "video", "frames": frames,
            "faces": sum(len(r["faces"]) for r in rows),
            "fake_faces": sum(f["is_fake"] for r in rows for f in r["faces"]),
            "frames_with_fake": sum(any(f["is_fake"] for f in r["faces"]) for r in rows),
            "max_fake_score": max(scores) if scores else None, "per_frame": rows}


def detect_image(det, path: Path, annotate: Path | None) -> dict:
    import cv2

    from .detector.draw import draw_detections
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"cannot read image '{path}'")
    dets = det.run(img)
    if annotate is not None and not cv2.imwrite(str(annotate), draw_detections(img, dets)):
        raise UserError(f"cannot write image '{annotate}'", "use a .jpg/.png path in a writable folder")
    return {"path": str(path), "kind": "image", "faces": [d.to_dict() for d in dets],
            "fake_faces": sum(d.is_fake for d in dets)}


def cmd_detect(args) -> int:
    from .cli import _print, _progress, _table
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.is_file():
            raise UserError(f"'{p}' is not a file")
    det = detector_from_args(args, _progress(args))
    out = Path(args.annotate) if args.annotate else None
    results, rows = [], []
    for p in paths:
        target = _annotate_target(out, p, len(paths) > 1) if out else None
        if p.suffix.lower() in VIDEO_SUFFIXES:
            r = detect_video(det, p, target)
            rows.append([p.name, f"{r['frames']} frames", str(r["faces"]), str(r["fake_faces"]),
                         "-" if r["max_fake_score"] is None else f"{r['max_fake_score']:.3f}"])
        else:
            r = detect_image(det, p, target)
            scores = [f["fake_score"] for f in r["faces"] if f["fake_score"] is not None]
            rows.append([p.name, "image", str(len(r["faces"])), str(r["fake_faces"]),
                         f"{max(scores):.3f}" if scores else "-"])
        results.append(r)
    text = (f"{det!r}\n" + _table(rows, ["input", "kind", "faces", "fake", "max fake score"])
            + (f"\nannotated output: {out}" if out else ""))
    _print(args, {"detector": repr(det), "threshold": det.threshold, "results": results}, text)
    return 0


def cmd_evaluate(args) -> int:
    from .cli import _print, _progress, _table
    from .detector.evaluate import evaluate, list_images
    if not Path(args.dir).is_dir():
        raise UserError(f"'{args.dir}' is not a folder")
    list_images(Path(args.dir))  # a folder without real/ and fake/ fails before any compile
    det = detector_from_args(args, _progress(args))
    r = evaluate(args.dir, det, out_dir=args.out, detect=args.detect, progress=_progress(args))
    cm = r["confusion"]
    rows = [[g, str(v["n"]), f"{v['accuracy']:.3f}", f"{v['mean_score']:.3f}",
             f"{v['auc_vs_real']:.3f}" if "auc_vs_real" in v else "-"] for g, v in r["groups"].items()]
    text = (f"{det!r} on {args.dir} ({r['mode']}): {r['n']} images"
            + (f", {r['unscored']} without a scorable face" if r["unscored"] else "")
            + f"\nAUC {r['auc']:.4f}, accuracy {r['accuracy']:.4f} at threshold {r['threshold']:.2f}"
            + f"\nconfusion: real->real {cm['real_as_real']}, real->fake {cm['real_as_fake']}, "
              f"fake->real {cm['fake_as_real']}, fake->fake {cm['fake_as_fake']}\n"
            + _table(rows, ["group", "n", "accuracy", "mean fake score", "AUC vs real"])
            + (f"\nROC curve: {r['files']['roc']}\nmost confidently wrong: {r['files']['worst']}"
               if "files" in r else ""))
    _print(args, r, text)
    return 0


def add_face_commands(add) -> None:
    d = add("detect", cmd_detect, "find faces in images or videos and score them real/fake")
    d.add_argument("paths", nargs="+", metavar="PATH", help="images and/or videos")
    d.add_argument("--annotate", metavar="OUT", help="write boxes and scores onto a copy (a folder for several "
                                                      "inputs)")
    detector_opts(d)
    e = add("evaluate", cmd_evaluate, "AUC, accuracy and confusion of a classifier on DIR/real and DIR/fake")
    e.add_argument("dir")
    e.add_argument("--out", default="evaluation", help="folder for roc.png, worst.png and scores.json "
                                                       "(default ./evaluation)")
    e.add_argument("--detect", action="store_true", help="images are whole frames: detect and align faces "
                                                         "first (default: images are aligned face crops)")
    detector_opts(e)
