"""ROC AUC and threshold helpers in numpy (no scikit-learn dependency)."""
from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties; y = 1 for the positive (fake) class."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average rank over each run of tied scores
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def threshold_at_fpr(y: np.ndarray, score: np.ndarray, fpr: float) -> float:
    """Smallest threshold whose false-positive rate on the negatives (reals) is <= fpr (score >= t -> fake)."""
    neg = np.sort(np.asarray(score, np.float64)[~np.asarray(y).astype(bool)])[::-1]
    k = int(np.floor(fpr * len(neg)))  # how many reals may score at or above the threshold
    if k >= len(neg):
        return float(neg[-1])
    return float(np.nextafter(neg[k], np.inf))


def accuracy(y: np.ndarray, score: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.asarray(score) >= threshold) == np.asarray(y).astype(bool)))


def tpr_fpr(y: np.ndarray, score: np.ndarray, threshold: float) -> tuple[float, float]:
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    return float(pred[y].mean()), float(pred[~y].mean())
