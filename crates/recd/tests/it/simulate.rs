//! `recd simulate` end to end: a small generated world, trained and served with an experiment
//! that splits users 50/50 between the pipeline (`control`) and the popular list (`pop`).
//! The simulated users act by the hidden tastes their generated events came from, so the
//! pipeline, which learned those tastes, must earn more clicks per item shown than popularity.
//! A server holding another world, and no server at all, are refused with a clear message.

use serde_json::Value;

use crate::experiments::EXPERIMENT;
use crate::util::{Server, arg, recd_err, recd_ok};

/// The world: `small_data`'s, without the generator's device effect. That effect (tested on
/// its own in `context.rs`) makes the history say less about taste: with it the pipeline's
/// CTR lead over popularity was about half a point here and missed p < 0.05 in some runs;
/// this test is about taste.
const WORLD: [&str; 10] = [
    "--users",
    "300",
    "--items",
    "200",
    "--events",
    "20000",
    "--seed",
    "1",
    "--device-effect",
    "0",
];
const SIM_USERS: u64 = 300;
/// Lists per user.
const STEPS: u64 = 6;

/// The arguments of `recd simulate` against `url` with `world` and `extra` flags.
fn simulate<'a>(url: &'a str, world: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["simulate", "--server", url];
    args.extend_from_slice(world);
    args.extend_from_slice(extra);
    args
}

#[test]
fn simulated_users_click_more_on_the_pipeline_than_on_the_popular_list() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    recd_ok(&[&["gen"][..], &WORLD, &["--data-dir", arg(&data)]].concat());
    recd_ok(&["train", "--data-dir", arg(&data)]);
    let config = tmp.path().join("exp.toml");
    std::fs::write(&config, EXPERIMENT).unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let url = format!("http://{}", server.addr);
    let (sim_users, steps) = (SIM_USERS.to_string(), STEPS.to_string());
    let flags = ["--sim-users", &sim_users, "--steps", &steps];
    let out = recd_ok(&simulate(&url, &WORLD, &flags));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one summary line: {out}");
    let s: Value = serde_json::from_str(lines[0]).unwrap();
    let n = |v: &Value, key: &str| {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} is a count: {v}"))
    };
    assert_eq!(
        (n(&s, "users"), n(&s, "steps"), n(&s, "requests")),
        (SIM_USERS, STEPS, SIM_USERS * STEPS),
        "{s}"
    );
    assert_eq!((n(&s, "errors"), n(&s, "unknown_items")), (0, 0), "{s}");
    assert!(s["duration_s"].as_f64().is_some_and(|d| d > 0.0), "{s}");
    let variants = s["variants"].as_object().unwrap();
    let names: Vec<&str> = variants.keys().map(String::as_str).collect();
    assert_eq!(names, ["pop-test/control", "pop-test/pop"], "{s}");
    for (name, v) in variants {
        // Assignment is sticky: every request of a user lands in the user's variant.
        assert_eq!(n(v, "requests"), n(v, "users") * STEPS, "{name}: {s}");
        let share = n(v, "users") as f64 / SIM_USERS as f64;
        assert!(
            (0.35..0.65).contains(&share),
            "{name} has {share} of users: {s}"
        );
        assert_eq!(n(v, "fallbacks"), 0, "{name} answered by itself: {s}");
        let (impressions, clicks) = (n(v, "impressions"), n(v, "clicks"));
        assert!(impressions > 0 && clicks > 0, "{name}: {s}");
        let ctr = v["ctr"].as_f64().unwrap();
        assert!(
            (ctr - clicks as f64 / impressions as f64).abs() < 1e-6,
            "{s}"
        );
        assert!(n(v, "purchases") <= n(v, "add_to_cart"), "{s}");
        assert!(n(v, "add_to_cart") <= clicks, "{s}");
    }
    for key in ["impressions", "clicks", "add_to_cart", "purchases", "views"] {
        let sum: u64 = variants.values().map(|v| n(v, key)).sum();
        assert_eq!(n(&s, key), sum, "{key}: {s}");
    }
    // The server accepted every event: the funnel's and the others (likes, skips, ...).
    let funnel: u64 = ["views", "clicks", "add_to_cart", "purchases"]
        .iter()
        .map(|k| n(&s, k))
        .sum();
    assert!(n(&s, "events") >= funnel, "{s}");
    let ctr = |name: &str| variants[name]["ctr"].as_f64().unwrap();
    assert!(
        ctr("pop-test/control") > ctr("pop-test/pop"),
        "the pipeline's CTR {} should beat popularity's {}: {s}",
        ctr("pop-test/control"),
        ctr("pop-test/pop")
    );

    // The server's own report: every list the simulator saw was recorded as an impression,
    // the events citing them were attributed, and the pipeline wins on CTR per user at
    // p < 0.05 (pop's CTR minus control's, with its confidence interval below 0).
    let report = || {
        let (status, r) = server.get("/v1/admin/experiments/pop-test/report");
        assert_eq!(status, 200, "{r}");
        r
    };
    let shown = |r: &Value, name: &str| {
        r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .map_or(0, |v| n(v, "impressions"))
    };
    server.wait_until(
        || {
            let r = report();
            ["control", "pop"]
                .iter()
                .all(|v| shown(&r, v) == n(&variants[&format!("pop-test/{v}")], "impressions"))
                && r["variants"].as_array().unwrap().iter().all(|v| {
                    n(v, "clicks")
                        == n(
                            &variants[&format!("pop-test/{}", v["name"].as_str().unwrap())],
                            "clicks",
                        )
                })
        },
        "every list the simulator saw and every click it made in the report",
    );
    let r = report();
    let ctr_diff = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "ctr" && c["variant"] == "pop")
        .unwrap_or_else(|| panic!("a CTR comparison: {r}"));
    assert!(
        ctr_diff["p_value"].as_f64().unwrap() < 0.05 && ctr_diff["ci_high"].as_f64().unwrap() < 0.0,
        "the pipeline wins at p < 0.05: {r}"
    );
    assert!(r["srm_p_value"].as_f64().unwrap() > 0.001, "{r}");
    // The watch looked at it while it ran: an always-valid p-value beside the fixed one. It
    // only reports here (the config's `stop = false`), so the experiment ran to its end.
    let sequential = ctr_diff["sequential_p_value"].as_f64();
    assert!(sequential.is_some_and(|p| p > 0.0 && p <= 1.0), "{r}");
    assert!(r.get("stopped_by_guardrail").is_none(), "{r}");

    // The impressions go to the lake beside the running server: one row per item shown.
    let lake = tmp.path().join("impressions-lake");
    let out = recd_ok(&[
        "export",
        "--data-dir",
        arg(&data),
        "--impressions",
        "--out",
        arg(&lake),
    ]);
    assert!(
        out.contains(&format!("exported {} shown items", n(&s, "impressions"))),
        "{out} {s}"
    );

    // Another seed is another world: its users' tastes are not what the model learned.
    let mut other = WORLD;
    other[7] = "2";
    let err = recd_err(&simulate(&url, &other, &["--sim-users", "5"]));
    assert!(err.contains("does not serve this generated world"), "{err}");
    let err = recd_err(&simulate(&url, &WORLD, &["--sim-users", "301"]));
    assert!(err.contains("between 1 and the world's 300 users"), "{err}");
    server.stop();
    let err = recd_err(&simulate(&url, &WORLD, &["--sim-users", "5"]));
    assert!(
        err.contains(&format!("no recd server answers at {url}")),
        "{err}"
    );
}

#[test]
fn a_variant_far_worse_than_control_is_stopped_by_the_guardrails() {
    // A bigger world than the other test's: the sequential test needs users (its unit) to
    // tell a popularity list from the pipeline quickly.
    let mut world = WORLD;
    (world[1], world[5]) = ("2000", "60000");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    recd_ok(&[&["gen"][..], &world, &["--data-dir", arg(&data)]].concat());
    recd_ok(&["train", "--data-dir", arg(&data)]);
    let config = tmp.path().join("exp.toml");
    // The same experiment, now with guardrails that act, planned for its size.
    let toml = EXPERIMENT.replace("stop = false", "stop = true\nplanned_users = 1000");
    std::fs::write(&config, toml).unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let url = format!("http://{}", server.addr);
    let report = || {
        let (status, r) = server.get("/v1/admin/experiments/pop-test/report");
        assert_eq!(status, 200, "{r}");
        r
    };
    let flags = ["--sim-users", "2000", "--steps", "2"];
    for _ in 0..8 {
        recd_ok(&simulate(&url, &world, &flags));
        std::thread::sleep(std::time::Duration::from_millis(500));
        if report().get("stopped_by_guardrail").is_some() {
            break;
        }
    }
    let r = report();
    let stop = &r["stopped_by_guardrail"];
    assert_eq!(stop["variant"], "pop", "{r}");
    assert!(
        stop["reason"].as_str().unwrap().contains("CTR worse"),
        "{r}"
    );
    assert_eq!(r["status"], "stopped", "{r}");
    let ctr = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "ctr")
        .unwrap();
    assert!(ctr["sequential_p_value"].as_f64().unwrap() <= 0.05, "{r}");
    // Stopped: nobody is assigned any more.
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["experiments"], serde_json::json!([]), "{body}");
    assert!(
        !body["variant"].as_str().unwrap().starts_with("pop-test/"),
        "{body}"
    );
    let (_, exp) = server.get("/v1/admin/experiments/pop-test");
    assert_eq!(exp["definition"]["status"], "stopped", "{exp}");
    server.stop();
}

/// Two identical variants over HTTP (the library-level A/A in `recd-stats` measures the
/// false-positive rate over thousands of experiments; this one checks the whole path): the
/// report finds no difference. p > 0.001 rather than 0.05, so that the test fails for a
/// systematic difference between the variants, not in one run in twenty by chance.
#[test]
fn an_a_a_experiment_over_http_finds_no_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    recd_ok(&[&["gen"][..], &WORLD, &["--data-dir", arg(&data)]].concat());
    recd_ok(&["train", "--data-dir", arg(&data)]);
    let config = tmp.path().join("aa.toml");
    std::fs::write(
        &config,
        EXPERIMENT
            .replace("[experiments.pop-test]", "[experiments.aa]")
            .replace("experiments.pop-test.variants", "experiments.aa.variants")
            .replace(
                "name = \"pop\"\nshare = 50\nbaseline = \"popular\"",
                "name = \"same\"\nshare = 50",
            ),
    )
    .unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let url = format!("http://{}", server.addr);
    let out = recd_ok(&simulate(
        &url,
        &WORLD,
        &["--sim-users", "300", "--steps", "4"],
    ));
    let s: Value = serde_json::from_str(out.trim()).unwrap();
    let impressions = |r: &Value| -> u64 {
        r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["impressions"].as_u64().unwrap())
            .sum()
    };
    let report = || server.get("/v1/admin/experiments/aa/report").1;
    server.wait_until(
        || impressions(&report()) == s["impressions"].as_u64().unwrap(),
        "every list the simulator saw in the report",
    );
    let r = report();
    let names: Vec<&str> = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["control", "same"], "{r}");
    let ctr = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "ctr")
        .unwrap();
    assert!(ctr["p_value"].is_number(), "the CTR test ran: {r}");
    for c in r["comparisons"].as_array().unwrap() {
        if let Some(p) = c["p_value"].as_f64() {
            assert!(
                p > 0.001,
                "identical variants differ on {}: {r}",
                c["metric"]
            );
        }
    }
    assert!(r["srm_p_value"].as_f64().unwrap() > 0.001, "{r}");
    server.stop();
}
