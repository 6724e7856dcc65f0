//! ALS trained by Spark: `recd export` → `spark/train_als.py` → `recd train --als-from` → a
//! served model whose hold-out NDCG@10 is not more than 5% below that of recd's own ALS on the
//! same data and split; and the CLI's errors for bad factor directories (no Spark needed).
//!
//! The Spark run needs a Python with pyspark (`RECD_PYSPARK`: its interpreter; `.ci/run`
//! installs one, and Java). Without it that test says so and passes, except under CI, where
//! it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Server, arg, dataset, recd, recd_err, recd_ok, small_data, small_data_through};

/// How far, relatively, the Spark model's NDCG@10 may be below recd's own.
const MAX_RELATIVE_GAP: f64 = 0.05;

/// Both runs fit the same, smaller ALS than the default: the comparison stays like for like
/// and one Spark run stays affordable on two cores.
const CONFIG: &str = "[train.als]\nfactors = 32\niterations = 10\n";

/// The interpreter with pyspark, or `None` (a skip) outside CI.
fn pyspark() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("RECD_PYSPARK") {
        return Some(PathBuf::from(python));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must provide a Python with pyspark in RECD_PYSPARK (.ci/run installs one)"
    );
    // Straight to stderr, past the harness's capture: a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "spark test skipped: RECD_PYSPARK (a python with pyspark) is not set"
    );
    None
}

fn job_script() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spark/train_als.py"
    ))
    .to_path_buf()
}

/// `recd --config CONFIG ARGS` that must succeed; returns stdout.
fn recd_with(config: &Path, args: &[&str]) -> String {
    let mut full = vec!["--config", arg(config)];
    full.extend_from_slice(args);
    recd_ok(&full)
}

/// The pipeline's and the ALS generator's hold-out NDCG@10 of the model `version`.
fn ndcg(data: &Path, version: &str) -> (f64, f64) {
    let path = data.join("models").join(version).join("metrics.json");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let get = |row: &str| {
        metrics[row]["ndcg@10"]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: no {row} ndcg@10", path.display()))
    };
    (get("pipeline"), get("als"))
}

fn version_of(train_stdout: &str) -> String {
    train_stdout
        .lines()
        .find_map(|l| l.strip_prefix("model ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no version in {train_stdout}"))
        .to_string()
}

#[test]
fn spark_als_trains_a_served_model_as_good_as_recds_own() {
    let Some(python) = pyspark() else { return };
    let ds = dataset();
    let tmp = tempfile::tempdir().unwrap();
    let (data, lake, factors) = (
        tmp.path().join("data"),
        tmp.path().join("lake"),
        tmp.path().join("factors"),
    );
    let config = tmp.path().join("recd.toml");
    std::fs::write(&config, CONFIG).unwrap();
    ds.import(&data);
    recd_ok(&["export", "--data-dir", arg(&data), "--out", arg(&lake)]);
    let config_json = tmp.path().join("recd-config.json");
    std::fs::write(
        &config_json,
        recd_with(&config, &["config", "show", "--json"]),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let job = Command::new(&python)
        .arg(job_script())
        .args(["--lake", arg(&lake), "--config", arg(&config_json)])
        .args(["--out", arg(&factors), "--master", "local[2]"])
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .expect("the python of RECD_PYSPARK runs");
    let spark_secs = started.elapsed().as_secs_f64();
    assert!(
        job.status.success(),
        "train_als.py failed: {}",
        String::from_utf8_lossy(&job.stderr)
    );

    // The Spark model first: the first version, placed by the gate as usual and served.
    let out = recd_with(
        &config,
        &[
            "train",
            "--data-dir",
            arg(&data),
            "--als-from",
            arg(&factors),
        ],
    );
    let spark_version = version_of(&out);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            data.join("models")
                .join(&spark_version)
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let source = &manifest["params"]["als_source"];
    assert_eq!(source["kind"], "spark", "{source}");
    assert_eq!(source["manifest"]["als"]["rank"], 32, "{source}");
    let server = Server::start(&data, &[]);
    let users = ds.user_ids();
    let user = &users[0];
    let (status, body) = server.get(&format!(
        "/v1/recommendations?user_id={user}&num_results=10"
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_version"], spark_version.as_str(), "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(10), "{body}");
    server.stop();

    // recd's own ALS on the same data and split (its metrics are written whatever the gate
    // decides).
    let own_version = version_of(&recd_with(&config, &["train", "--data-dir", arg(&data)]));
    let ((spark, spark_als), (own, own_als)) =
        (ndcg(&data, &spark_version), ndcg(&data, &own_version));
    eprintln!(
        "hold-out NDCG@10: pipeline spark {spark:.4} vs recd {own:.4} ({:+.1}%), ALS alone spark {spark_als:.4} vs recd {own_als:.4}; Spark job {spark_secs:.1} s",
        (spark / own - 1.0) * 100.0
    );
    // The served model, not more than 5% below. Not a bound above: MLlib's solver differs
    // from recd's (regularisation per rating, exact solves) and may be better, while a leak of
    // the hold-out into the factors is ruled out by recd's check that the `fit` set was fitted
    // on its own pre-hold-out matrix.
    assert!(
        spark >= own * (1.0 - MAX_RELATIVE_GAP),
        "the Spark model's NDCG@10 {spark:.4} is more than 5% below recd's own {own:.4}"
    );
}

/// A factor directory by hand: `rank` factors, the given rows of users and items.
fn factor_dir(dir: &Path, rank: usize, users: &str, items: &str) {
    for (side, rows) in [("users", users), ("items", items)] {
        let d = dir.join("fit").join(side);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("part-00000.csv"), rows).unwrap();
    }
    let (n_users, n_items) = (users.lines().count(), items.lines().count());
    let manifest = serde_json::json!({
        "format": "recd-als-factors",
        "format_version": 1,
        "sets": {"fit": {
            "rank": rank, "n_users": n_users, "n_items": n_items,
            "n_pairs": 1, "confidence_sum": 1.0,
        }},
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn bad_factor_directories_are_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    small_data(&data, false);
    let config = tmp.path().join("recd.toml");
    std::fs::write(
        &config,
        "[train]\nrefit_on_full = false\n[train.als]\nfactors = 2\n",
    )
    .unwrap();
    let train = |dir: &Path| {
        let out = recd(&[
            "--config",
            arg(&config),
            "train",
            "--data-dir",
            arg(&data),
            "--als-from",
            arg(dir),
        ]);
        assert!(
            !out.status.success(),
            "training with {} should fail",
            dir.display()
        );
        assert!(
            !data.join("models/CURRENT").exists(),
            "nothing is published"
        );
        String::from_utf8(out.stderr).unwrap()
    };

    let missing = tmp.path().join("missing");
    let err = train(&missing);
    assert!(err.contains("missing: no such directory"), "{err}");

    let bad = tmp.path().join("bad-number");
    factor_dir(&bad, 2, "u1,0.5,0.25\nu2,0.1,abc\n", "i1,1,2\n");
    let err = train(&bad);
    assert!(
        err.contains("users/part-00000.csv:2:3: `abc` is not a finite number"),
        "{err}"
    );

    let short = tmp.path().join("short-row");
    factor_dir(&short, 2, "u1,0.5,0.25\n", "i1,1\n");
    let err = train(&short);
    assert!(
        err.contains("items/part-00000.csv:1: expected 3 fields"),
        "{err}"
    );

    let manifest = tmp.path().join("not-json");
    factor_dir(&manifest, 2, "u1,0.5,0.25\n", "i1,1,2\n");
    std::fs::write(manifest.join("manifest.json"), "{\"format\": ").unwrap();
    let err = train(&manifest);
    assert!(err.contains("not-json/manifest.json: not JSON"), "{err}");
    assert!(err.contains("line 1 column"), "{err}");

    // Well-formed, but of another rank than [train.als] factors, then of another matrix.
    let rank3 = tmp.path().join("rank3");
    factor_dir(&rank3, 3, "u1,0.5,0.25,0\n", "i1,1,2,3\n");
    let err = train(&rank3);
    assert!(
        err.contains("has 3 factors but [train.als] factors is 2"),
        "{err}"
    );
    let other = tmp.path().join("other-matrix");
    factor_dir(&other, 2, "u1,0.5,0.25\n", "i1,1,2\n");
    let err = train(&other);
    assert!(err.contains("fitted on 1 (user, item) pairs"), "{err}");
    assert!(err.contains("--als-from"), "{err}");

    // The CLI refuses before it reads a byte of the log when the refit needs a `full` set.
    let err = recd_err(&["train", "--data-dir", arg(&data), "--als-from", arg(&other)]);
    assert!(err.contains("no `sets.full`"), "{err}");
}

/// A fleet's path to Spark: events imported through a stateless API process live only on the
/// bus; the sink role (`recd sink`) writes the lake from it, Spark fits ALS on that lake, and
/// `recd train --events --als-from` accepts the factors (its check that they were fitted on
/// exactly the matrix it reads from the bus) and publishes a model that the API process
/// serves.
#[test]
fn a_fleets_sink_writes_its_bus_to_a_lake_that_spark_trains_on() {
    let Some(python) = pyspark() else { return };
    let Some(redis) = recd_features::testing::RedisServer::start_durable() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (data, files, lake, factors) = (
        tmp.path().join("api"),
        tmp.path().join("files"),
        tmp.path().join("lake"),
        tmp.path().join("factors"),
    );
    let url = redis.url();
    let partitions = [("RECD__BUS__PARTITIONS", "4")];
    let server = Server::spawn(
        &[
            "serve",
            "--data-dir",
            arg(&data),
            "--listen",
            "127.0.0.1:0",
            "--events",
            &url,
            "--feature-store",
            &url,
        ],
        &partitions,
    );
    small_data_through(&server, &files);
    let config = tmp.path().join("recd.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_recd"))
            .args(["--config", arg(&config)])
            .args(args)
            .envs(partitions)
            .output()
            .expect("recd runs");
        assert!(out.status.success(), "recd {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // The lake as the sink role writes it (one round; its state file and round-named parts
    // are what Spark reads in a fleet).
    run(&[
        "sink",
        "--events",
        &url,
        "--feature-store",
        &url,
        "--out",
        arg(&lake),
        "--once",
    ]);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lake.join("_recd_sink.json")).unwrap())
            .unwrap();
    assert_eq!(state["n_events"], 20000, "{state}");
    let config_json = tmp.path().join("recd-config.json");
    std::fs::write(&config_json, run(&["config", "show", "--json"])).unwrap();
    let job = Command::new(&python)
        .arg(job_script())
        .args(["--lake", arg(&lake), "--config", arg(&config_json)])
        .args(["--out", arg(&factors), "--master", "local[2]"])
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .expect("the python of RECD_PYSPARK runs");
    assert!(
        job.status.success(),
        "train_als.py failed: {}",
        String::from_utf8_lossy(&job.stderr)
    );
    let out = run(&[
        "train",
        "--data-dir",
        arg(&data),
        "--events",
        &url,
        "--feature-store",
        &url,
        "--als-from",
        arg(&factors),
    ]);
    let version = version_of(&out);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("models").join(&version).join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["params"]["als_source"]["kind"], "spark",
        "{manifest}"
    );
    server.wait_until(
        || {
            server.get("/v1/recommendations?user_id=u1&num_results=5").1["model_version"]
                == version.as_str()
        },
        "the Spark model served",
    );
}
