#!/usr/bin/env python3
"""Batch baselines of the Fraud Detection Handbook (ch. 3) on the weeks we hold.

Re-implements the handbook's protocol from its published description:
features (TX_DURING_WEEKEND, TX_DURING_NIGHT, customer 1/7/30-day counts and
mean amounts, terminal 1/7/30-day counts and fraud rates shifted by the
7-day delay), get_train_test_set (one training week, 7-day delay, one test
week; test customers with a known fraud are left out), StandardScaler fitted
on the training week, LogisticRegression(random_state=0) and
RandomForestClassifier(max_depth=5, random_state=0), and the three metrics
(AUC ROC, average precision, card precision@100 with detected cards removed).

The weeks are placed like `perpetua eval risk`: the test week is the last 7
days of the data, the training week the 7 days before the 7-day delay.

Usage: PYENV_VERSION=system python3 handbook_baselines.py DIR [--days N] [--predictions-dir OUT]
(--days N keeps only the first N days, like `Eval` with Days: N, for a
validation run that ends before the real test week.)
Needs pandas and scikit-learn (Debian: python3-pandas python3-sklearn).
"""
import glob, json, os, sys
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score, average_precision_score


def load(d):
    files = sorted(glob.glob(os.path.join(d, "*.csv.gz")) + glob.glob(os.path.join(d, "*.csv")))
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    df["TX_DATETIME"] = pd.to_datetime(df["TX_DATETIME"])
    return df.sort_values("TRANSACTION_ID").reset_index(drop=True)


def customer_features(g, windows=(1, 7, 30)):
    g = g.sort_values("TX_DATETIME").set_index("TX_DATETIME")
    for w in windows:
        s = g["TX_AMOUNT"].rolling(f"{w}d").sum()
        n = g["TX_AMOUNT"].rolling(f"{w}d").count()
        g[f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"] = n
        g[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"] = s / n
    return g.reset_index()


def terminal_features(g, delay=7, windows=(1, 7, 30)):
    g = g.sort_values("TX_DATETIME").set_index("TX_DATETIME")
    fd = g["TX_FRAUD"].rolling(f"{delay}d").sum()
    nd = g["TX_FRAUD"].rolling(f"{delay}d").count()
    for w in windows:
        fdw = g["TX_FRAUD"].rolling(f"{delay + w}d").sum()
        ndw = g["TX_FRAUD"].rolling(f"{delay + w}d").count()
        nf = fdw - fd
        nt = ndw - nd
        g[f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"] = nt
        g[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"] = (nf / nt).replace([np.inf, -np.inf], 0).fillna(0)
    return g.reset_index()


def card_precision_top_k(df, k=100):
    detected, per_day = [], []
    for day in sorted(df.TX_TIME_DAYS.unique()):
        d = df[df.TX_TIME_DAYS == day][["predictions", "CUSTOMER_ID", "TX_FRAUD"]]
        d = d[~d.CUSTOMER_ID.isin(detected)]
        d = d.groupby("CUSTOMER_ID").max().sort_values(by="predictions", ascending=False).reset_index(drop=False)
        top = d.head(k)
        hits = list(top[top.TX_FRAUD == 1].CUSTOMER_ID)
        per_day.append(len(hits) / k)
        detected.extend(hits)
    return float(np.mean(per_day))


def main():
    d = sys.argv[1]
    out = sys.argv[sys.argv.index("--predictions-dir") + 1] if "--predictions-dir" in sys.argv else None
    df = load(d)
    if "--days" in sys.argv:
        df = df[df.TX_TIME_DAYS < df.TX_TIME_DAYS.min() + int(sys.argv[sys.argv.index("--days") + 1])]
    df["TX_DURING_WEEKEND"] = (df.TX_DATETIME.dt.weekday >= 5).astype(int)
    df["TX_DURING_NIGHT"] = (df.TX_DATETIME.dt.hour <= 6).astype(int)
    df = df.groupby("CUSTOMER_ID", group_keys=False).apply(customer_features)
    df = df.groupby("TERMINAL_ID", group_keys=False).apply(terminal_features)
    df = df.sort_values("TRANSACTION_ID").reset_index(drop=True)

    last = int(df.TX_TIME_DAYS.max())
    test_start = last - 6
    train_start = test_start - 14
    train = df[(df.TX_TIME_DAYS >= train_start) & (df.TX_TIME_DAYS < train_start + 7)]
    known = set(train[train.TX_FRAUD == 1].CUSTOMER_ID)
    parts = []
    for i in range(7):
        day = df[df.TX_TIME_DAYS == test_start + i]
        delay_day = df[df.TX_TIME_DAYS == train_start + 7 + i - 1]
        known |= set(delay_day[delay_day.TX_FRAUD == 1].CUSTOMER_ID)
        parts.append(day[~day.CUSTOMER_ID.isin(known)])
    test = pd.concat(parts)

    feats = ["TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
             "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
             "CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
             "CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
             "TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
             "TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
             "TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW"]
    sc = StandardScaler().fit(train[feats])
    xtr, xte = sc.transform(train[feats]), sc.transform(test[feats])
    res = {"train_days": [train_start, train_start + 6], "test_days": [test_start, last],
           "train_n": len(train), "test_n": len(test), "test_frauds": int(test.TX_FRAUD.sum()), "models": {}}
    for name, clf in [("logistic_regression", LogisticRegression(random_state=0)),
                      ("random_forest_depth5", RandomForestClassifier(max_depth=5, random_state=0, n_jobs=1))]:
        clf.fit(xtr, train.TX_FRAUD)
        p = clf.predict_proba(xte)[:, 1]
        t = test.assign(predictions=p)
        res["models"][name] = {"auc_roc": round(roc_auc_score(t.TX_FRAUD, p), 3),
                               "average_precision": round(average_precision_score(t.TX_FRAUD, p), 3),
                               "card_precision_at_100": round(card_precision_top_k(t), 3)}
        if out:
            os.makedirs(out, exist_ok=True)
            t[["TRANSACTION_ID", "predictions", "TX_FRAUD", "CUSTOMER_ID", "TX_TIME_DAYS"]].to_csv(
                os.path.join(out, name + ".csv"), index=False)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
