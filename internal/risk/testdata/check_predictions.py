#!/usr/bin/env python3
"""Recompute AUC ROC, average precision and card precision@100 from a
predictions CSV written by `perpetua eval risk --predictions P.csv`
(header index,prediction,label,customer_id,day), with scikit-learn and the
fraud handbook's card_precision_top_k (detected cards removed on later days).

Usage: PYENV_VERSION=system python3 check_predictions.py P.csv
"""
import json, sys
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, average_precision_score


def card_precision_top_k(df, k=100):
    detected, per_day = [], []
    for day in sorted(df.day.unique()):
        d = df[df.day == day][["prediction", "customer_id", "label"]]
        d = d[~d.customer_id.isin(detected)]
        d = d.groupby("customer_id").max().sort_values(by="prediction", ascending=False).reset_index(drop=False)
        top = d.head(k)
        hits = list(top[top.label == 1].customer_id)
        per_day.append(len(hits) / k)
        detected.extend(hits)
    return float(np.mean(per_day))


p = pd.read_csv(sys.argv[1])
print(json.dumps({"n": len(p), "auc_roc": roc_auc_score(p.label, p.prediction),
                  "average_precision": average_precision_score(p.label, p.prediction),
                  "card_precision_at_100": card_precision_top_k(p)}, indent=1))
