#!/usr/bin/env python3
"""Implicit ALS on Spark MLlib for `recd train --als-from DIR`.

Reads the day-partitioned Parquet lake that `recd export` writes, turns events into ALS
confidences with the `[train]` section of recd's effective configuration (the JSON that
`recd config show --json` prints: event weights, hold-out, decay, ALS parameters), fits MLlib
ALS with implicit preferences twice in one Spark session -- on the events up to recd's
hold-out cut (`fit`, what recd evaluates) and on all of them (`full`, what recd publishes) --
and writes user and item factors as CSV plus one `manifest.json` (docs/model-format.md,
"ALS factors from Spark").

The weights are not restated here: every number comes from recd's configuration, and recd
checks when it loads the factors that each set was trained on exactly the (user, item) pairs
and summed confidences its own matrix has, so a lake, window or weight that differs is an
error there, not a silently different model.
"""

import argparse
import json
import os
import sys
import time

DAY_MS = 86_400_000
FORMAT = "recd-als-factors"
FORMAT_VERSION = 1
# Event types as the lake spells them (recd-types `EventKind`, snake_case).
POSITIVE_KINDS = ("view", "click", "add_to_cart", "purchase", "like")
NEGATIVE_KINDS = ("dislike", "skip")
NO_SIGNAL_KINDS = ("search",)
KNOWN_KINDS = POSITIVE_KINDS + NEGATIVE_KINDS + NO_SIGNAL_KINDS + ("rating",)
LAKE_COLUMNS = ("user_id", "item_id", "type", "value", "timestamp", "dwell_ms")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", required=True, help="directory written by `recd export`")
    p.add_argument(
        "--config",
        required=True,
        help="recd's effective configuration as JSON (`recd config show --json`)",
    )
    p.add_argument("--out", required=True, help="output directory (must not exist)")
    p.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    p.add_argument(
        "--reg-param",
        type=float,
        default=None,
        help="MLlib regParam; default: recd's regularization spread over the rows (README)",
    )
    return p.parse_args(argv)


def fail(message):
    print(f"train_als.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def read_train_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    train = config.get("train") if isinstance(config, dict) else None
    if not isinstance(train, dict):
        fail(f"{path}: no `train` section (expected the output of `recd config show --json`)")
    for key in ("weights", "als", "holdout_days"):
        if key not in train:
            fail(f"{path}: train.{key} is missing")
    return train


def signal_column(F, w):
    """The signal of an event: its confidence (> 0), -1 for a negative, null for none.

    recd-types `EventWeights::signal`, with its numbers from the configuration.
    """
    kind, value, dwell = F.col("type"), F.col("value"), F.col("dwell_ms")
    glance = dwell.isNotNull() & (dwell < F.lit(w["short_dwell_ms"]))
    rating = (
        F.when(value.isNull(), F.lit(None))
        .when(
            value >= F.lit(w["rating_positive_from"]),
            F.lit(w["rating_scale"]) * (value - F.lit(w["rating_positive_from"]) + F.lit(1.0)),
        )
        .otherwise(F.lit(-1.0))
    )
    res = F.when(kind.isin("view", "click") & glance, F.lit(-1.0))
    for k in POSITIVE_KINDS:
        res = res.when(kind == k, F.lit(float(w[k])))
    res = res.when(kind == "rating", rating)
    res = res.when(kind.isin(*NEGATIVE_KINDS), F.lit(-1.0))
    return res.otherwise(F.lit(None)).cast("float")


def interactions(spark, F, lake, weights):
    """Events with an item and a signal: (user_id, item_id, ts, signal, file, row)."""
    try:
        df = spark.read.option("basePath", lake).parquet(lake)
    except Exception as e:  # Spark raises AnalysisException subclasses of several kinds.
        fail(f"{lake}: cannot read the lake: {e}")
    missing = [c for c in LAKE_COLUMNS if c not in df.columns]
    if missing:
        fail(f"{lake}: not a `recd export` lake: missing column(s) {', '.join(missing)}")
    unknown = (
        df.select("type").distinct().where(~F.col("type").isin(*KNOWN_KINDS)).collect()
    )
    if unknown:
        fail(f"{lake}: unknown event type(s) {sorted(r[0] for r in unknown)}")
    # Log order, for events of a pair at the same millisecond: the export writes each day's
    # events in log order into its part files, numbered in order, so the file and the row's
    # position in it (monotonically_increasing_id grows along a file) give it back.
    return (
        df.where(F.col("item_id").isNotNull())
        .select(
            "user_id",
            "item_id",
            F.unix_millis(F.col("timestamp")).alias("ts"),
            signal_column(F, weights).alias("signal"),
            F.input_file_name().alias("file"),
            F.monotonically_increasing_id().alias("row"),
        )
        .where(F.col("signal").isNotNull())
    )


def pairs(F, events, half_life_days):
    """One row per (user, item) whose newest event is positive, with the summed (decayed)
    confidence of its positive events: recd-train `pairs_by_user`."""
    end_ms = events.agg(F.max("ts")).first()[0]
    positive = F.col("signal") > 0
    if half_life_days:
        decay = F.pow(F.lit(0.5), (F.lit(end_ms) - F.col("ts")) / F.lit(DAY_MS * half_life_days))
        conf = F.when(positive, F.col("signal") * decay).otherwise(0.0)
    else:
        conf = F.when(positive, F.col("signal")).otherwise(0.0)
    newest = F.max_by(positive.cast("int"), F.struct("ts", "file", "row"))
    return (
        events.groupBy("user_id", "item_id")
        .agg(F.sum(conf).alias("confidence"), newest.alias("newest_positive"))
        .where((F.col("newest_positive") == 1) & (F.col("confidence") > 0))
        .select("user_id", "item_id", F.col("confidence").cast("float").alias("confidence"))
    )


def fit_and_write(spark, F, data, als_params, reg_param, out_dir):
    """Fits ALS on `data` (user_id, item_id, confidence) and writes the factor CSVs;
    returns the set's manifest entry."""
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS

    data = data.cache()
    stats = data.agg(
        F.count("*"),
        F.sum(F.col("confidence").cast("double")),
        F.countDistinct("user_id"),
        F.countDistinct("item_id"),
    ).first()
    n_pairs, confidence_sum, n_users, n_items = stats[0], stats[1] or 0.0, stats[2], stats[3]
    if n_pairs == 0:
        fail("no positive (user, item) pairs to train on")
    if reg_param is None:
        # recd's λ is the same for every row; MLlib multiplies regParam by each row's number
        # of ratings. This spreads λ so that the total penalty over all rows is the same.
        reg_param = als_params["regularization"] * (n_users + n_items) / (2.0 * n_pairs)
    indexed = StringIndexer(inputCol="user_id", outputCol="u").fit(data).transform(data)
    indexed = StringIndexer(inputCol="item_id", outputCol="i").fit(indexed).transform(indexed)
    indexed = indexed.select(
        F.col("u").cast("int").alias("u"),
        F.col("i").cast("int").alias("i"),
        "confidence",
        "user_id",
        "item_id",
    ).cache()
    als = ALS(
        rank=als_params["factors"],
        maxIter=als_params["iterations"],
        regParam=reg_param,
        alpha=als_params["alpha"],
        implicitPrefs=True,
        seed=als_params["seed"],
        userCol="u",
        itemCol="i",
        ratingCol="confidence",
        numUserBlocks=max(2, spark.sparkContext.defaultParallelism),
        numItemBlocks=max(2, spark.sparkContext.defaultParallelism),
    )
    started = time.monotonic()
    model = als.fit(indexed)
    rank = als_params["factors"]
    for side, idx, id_col, factors in (
        ("users", "u", "user_id", model.userFactors),
        ("items", "i", "item_id", model.itemFactors),
    ):
        ids = indexed.select(F.col(idx).alias("id"), F.col(id_col).alias("ext")).distinct()
        rows = factors.join(ids, "id").select(
            F.col("ext").alias("id"), *[F.col("features")[k].alias(f"f{k}") for k in range(rank)]
        )
        # RFC 4180 quoting (a quote doubled, not Spark's default backslash) and ids kept
        # exactly as they are, as recd's CSV reader expects.
        rows.write.csv(
            os.path.join(out_dir, side),
            header=False,
            escape='"',
            ignoreLeadingWhiteSpace=False,
            ignoreTrailingWhiteSpace=False,
        )
    seconds = time.monotonic() - started
    data.unpersist()
    indexed.unpersist()
    return {
        "rank": rank,
        "n_users": n_users,
        "n_items": n_items,
        "n_pairs": n_pairs,
        "confidence_sum": confidence_sum,
        "reg_param": reg_param,
        "fit_seconds": round(seconds, 3),
    }


def main(argv):
    args = parse_args(argv)
    train = read_train_config(args.config)
    if not os.path.isdir(args.lake):
        fail(f"{args.lake}: no such directory")
    if os.path.exists(args.out):
        fail(f"{args.out}: already exists (the job writes a new directory)")
    started = time.monotonic()

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master(args.master)
        .appName("recd-train-als")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # Spark's default of 200 shuffle partitions is for clusters; one or two per core keeps
    # a local run from spending its time scheduling empty tasks.
    parallelism = spark.sparkContext.defaultParallelism
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, 2 * parallelism)))
    jvm_seconds = time.monotonic() - started

    events = interactions(spark, F, args.lake, train["weights"]).cache()
    bounds = events.agg(F.min("ts"), F.max("ts")).first()
    if bounds[1] is None:
        fail(f"{args.lake}: no events with an item and a signal")
    window_ms = [bounds[0], bounds[1]]
    # recd-train `Dataset::split_holdout`: the hold-out is after end - holdout_days.
    cut_ms = window_ms[1] - int(train["holdout_days"] * DAY_MS)
    half_life = train.get("decay_half_life_days")
    als_params = train["als"]

    sets = {}
    slices = [("fit", events.where(F.col("ts") <= cut_ms))]
    if train.get("refit_on_full", True):
        slices.append(("full", events))
    for name, part in slices:
        if part.limit(1).count() == 0:
            fail(f"no events at or before the hold-out cut {cut_ms} ms for `{name}`")
        entry = fit_and_write(
            spark, F, pairs(F, part, half_life), als_params, args.reg_param,
            os.path.join(args.out, name),
        )
        entry["until_ms"] = cut_ms if name == "fit" else window_ms[1]
        sets[name] = entry
        print(
            f"{name}: {entry['n_users']} users, {entry['n_items']} items, "
            f"{entry['n_pairs']} pairs, fit and written in {entry['fit_seconds']:.1f} s",
            file=sys.stderr,
        )

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_ms": int(time.time() * 1000),
        "lake": os.path.abspath(args.lake),
        "window_ms": window_ms,
        "holdout_cut_ms": cut_ms,
        "spark_version": spark.version,
        "master": args.master,
        "als": {
            "implicit_prefs": True,
            "rank": als_params["factors"],
            "max_iter": als_params["iterations"],
            "alpha": als_params["alpha"],
            "seed": als_params["seed"],
            "recd_regularization": als_params["regularization"],
        },
        "weights": train["weights"],
        "decay_half_life_days": half_life,
        "sets": sets,
        "jvm_start_seconds": round(jvm_seconds, 3),
        "total_seconds": round(time.monotonic() - started, 3),
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    spark.stop()
    print(
        f"wrote {args.out} in {manifest['total_seconds']:.1f} s "
        f"(JVM start {manifest['jvm_start_seconds']:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
