#!/usr/bin/env python3
"""The "nearline glue" peer of `recd eval replay`: implicit's ALS trained on the events
before the cut, and on every replayed event the user's vector recomputed with
`recalculate_user` from everything they did so far (the usual way a team adds a speed layer
to implicit). Same events, same order, same scorer as recd's replay: before each scored
(positive) event, the top 10 with the user's items filtered out; hit@10 and NDCG@10 of that
event's item.

    recd eval replay --data-dir D --dump DIR
    python3 bench/peers/replay_implicit.py DIR/replay.csv [--factors 64 --regularization 10
        --alpha 1 --iterations 15]

Confidences are recd's weights of each event (the `weight` column; negatives and
non-signals are left out, as implicit has no negative feedback). Prints one JSON line.
"""
import argparse
import csv
import json
import math
import time

import numpy as np
import scipy.sparse as sp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replay_csv")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--regularization", type=float, default=10.0)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    train, replay = [], []
    with open(args.replay_csv, newline="") as f:
        for row in csv.DictReader(f):
            (train if row["phase"] == "train" else replay).append(row)
    replay.sort(key=lambda r: int(r["seq"]))

    users, items = {}, {}
    def uix(u):
        return users.setdefault(u, len(users))
    for r in train:
        if float(r["weight"]) > 0:
            items.setdefault(r["item_id"], len(items))
    for r in replay:
        uix(r["user_id"])
    for r in train:
        uix(r["user_id"])
    n_items = len(items)
    # Per user: item index -> summed confidence (what implicit's user_items row holds).
    rows = [dict() for _ in range(len(users))]
    for r in train:
        w = float(r["weight"])
        if w > 0:
            row = rows[users[r["user_id"]]]
            i = items[r["item_id"]]
            row[i] = row.get(i, 0.0) + w

    def csr_of(rs):
        indptr, indices, data = [0], [], []
        for row in rs:
            for i, v in sorted(row.items()):
                indices.append(i)
                data.append(v)
            indptr.append(len(indices))
        return sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                              np.array(indptr, dtype=np.int64)), shape=(len(rs), n_items))

    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    model = AlternatingLeastSquares(factors=args.factors, regularization=args.regularization,
                                    alpha=args.alpha, iterations=args.iterations,
                                    random_state=args.seed)
    t0 = time.perf_counter()
    model.fit(csr_of(rows), show_progress=False)
    fit_s = time.perf_counter() - t0

    events = hits = 0
    dcg = 0.0
    t0 = time.perf_counter()
    for r in replay:
        u = users[r["user_id"]]
        item = items.get(r["item_id"])
        if r["scored"] == "1":
            events += 1
            row = csr_of([rows[u]])
            ids, _ = model.recommend(0, row, N=args.k, filter_already_liked_items=True,
                                     recalculate_user=True)
            ids = list(np.asarray(ids).ravel())
            if item is not None and item in ids:
                rank = ids.index(item)
                hits += 1
                dcg += 1.0 / math.log2(rank + 2)
        w = float(r["weight"])
        if w > 0 and item is not None:
            rows[u][item] = rows[u].get(item, 0.0) + w
    replay_s = time.perf_counter() - t0
    print(json.dumps({
        "peer": "implicit_als_recalculate_user",
        "events": events,
        "hit@10": hits / max(events, 1),
        "ndcg@10": dcg / max(events, 1),
        "fit_s": round(fit_s, 3),
        "replay_s": round(replay_s, 3),
        "params": vars(args),
    }))


if __name__ == "__main__":
    main()
