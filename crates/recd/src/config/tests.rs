use std::path::{Path, PathBuf};

use recd_online::Diversity;

use super::*;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../config/recd.example.toml"
);

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Loads `toml` (if any) as a file, with `vars` as the environment.
fn check(toml: Option<&str>, vars: &[(&str, &str)]) -> anyhow::Result<Loaded> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recd.toml");
    if let Some(text) = toml {
        std::fs::write(&path, text).unwrap();
    }
    load(toml.map(|_| path.as_path()), env(vars), &[])
}

fn error(toml: Option<&str>, vars: &[(&str, &str)]) -> String {
    format!("{:#}", check(toml, vars).unwrap_err())
}

#[test]
fn the_example_file_is_every_default() {
    let loaded = load(Some(Path::new(EXAMPLE)), env(&[]), &[]).unwrap();
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn later_layers_win_and_each_value_names_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recd.toml");
    std::fs::write(
        &path,
        "[serve]\nlisten = \"127.0.0.1:1\"\ntrending_limit = 7\n[train]\nholdout_days = 3\n",
    )
    .unwrap();
    let flags = [flag("--listen", "serve.listen", "127.0.0.1:3")];
    let vars = env(&[
        ("RECD__SERVE__LISTEN", "127.0.0.1:2"),
        ("RECD__SERVE__TRENDING_LIMIT", "9"),
        ("OTHER__SERVE__LISTEN", "ignored"),
    ]);
    let loaded = load(Some(&path), vars, &flags).unwrap();
    let c = &loaded.config;
    assert_eq!(c.serve.listen, "127.0.0.1:3");
    assert_eq!(c.serve.trending_limit, 9);
    assert_eq!(c.train.holdout_days, 3.0);
    assert_eq!(
        c.serve.max_body_bytes,
        ServeConfig::default().max_body_bytes
    );

    let shown = loaded.show().unwrap();
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing from:\n{shown}"))
            .to_string()
    };
    assert!(line("serve.listen").ends_with("# flag --listen"), "{shown}");
    assert!(line("serve.listen").contains("\"127.0.0.1:3\""), "{shown}");
    assert!(line("serve.trending_limit").ends_with("# env RECD__SERVE__TRENDING_LIMIT"));
    let file = format!("# file {}", path.display());
    assert!(line("train.holdout_days").ends_with(&file), "{shown}");
    assert!(line("train.holdout_days").contains("= 3.0"), "{shown}");
    assert!(line("serve.max_body_bytes").ends_with("# default"));
    // f32 settings show as written, not widened.
    assert!(
        line("serve.recommend.mmr_lambda").contains("= 0.7 "),
        "{shown}"
    );
}

#[test]
fn environment_values_take_the_type_of_their_key() {
    let loaded = check(
        None,
        &[
            // A string key keeps digits as a string.
            ("RECD__SERVE__RECOMMEND__VARIANT", "2"),
            // An enum by name, a float key from an integer, an optional key with no default.
            ("RECD__SERVE__RECOMMEND__DIVERSITY", "mmr"),
            ("RECD__TRAIN__HOLDOUT_DAYS", "3"),
            ("RECD__TRAIN__WINDOW_DAYS", "14"),
            ("RECD__TRAIN__RANKER__HIDDEN", "[8, 4]"),
            ("RECD__STREAM__FOLD_IN__ENABLED", "false"),
            ("recd__store__segment_bytes", "1024"),
        ],
    );
    // Lower-case names are not ours: the prefix is upper case.
    let c = loaded.unwrap().config;
    assert_eq!(c.serve.recommend.variant, "2");
    assert_eq!(c.serve.recommend.diversity, Diversity::Mmr);
    assert_eq!(c.train.holdout_days, 3.0);
    assert_eq!(c.train.window_days, Some(14.0));
    assert_eq!(c.train.ranker.hidden, vec![8, 4]);
    assert!(!c.stream.fold_in.enabled);
    assert_eq!(c.store, StoreConfig::default());
}

#[test]
fn unknown_keys_and_sections_are_refused_with_their_path_and_origin() {
    let e = error(Some("[serve]\nlisen = 1\n"), &[]);
    assert!(e.contains("`serve.lisen`") && e.contains("file "), "{e}");
    let e = error(Some("[trian]\nholdout_days = 3\n"), &[]);
    assert!(e.contains("`trian`") && e.contains("unknown field"), "{e}");
    let e = error(Some("[train.als]\nfactorz = 8\n"), &[]);
    assert!(e.contains("`train.als.factorz`"), "{e}");
    let e = error(Some("[store]\nsegment_byte = 8\n"), &[]);
    assert!(e.contains("`store.segment_byte`"), "{e}");
    let e = error(None, &[("RECD__SERVE__LISEN", "127.0.0.1:1")]);
    assert!(
        e.contains("`serve.lisen`") && e.contains("env RECD__SERVE__LISEN"),
        "{e}"
    );
    let e = error(None, &[("RECD__SERVE__RECOMMEND__CANDIDATES__ALZ", "1")]);
    assert!(e.contains("`serve.recommend.candidates.alz`"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_where_it_was_set() {
    let e = error(None, &[("RECD__SERVE__MAX_BODY_BYTES", "lots")]);
    assert!(
        e.contains("`serve.max_body_bytes`") && e.contains("RECD__SERVE__MAX_BODY_BYTES"),
        "{e}"
    );
    let e = error(Some("[serve]\nlisten = 5\n"), &[]);
    assert!(e.contains("`serve.listen`") && e.contains("file "), "{e}");
    let e = error(Some("serve = 5\n"), &[]);
    assert!(e.contains("`serve`"), "{e}");
    let e = error(Some("[serve\n"), &[]);
    assert!(e.contains("not valid TOML") && e.contains("line 1"), "{e}");
    let e = error(None, &[("RECD__SERVE__LISTEN__PORT", "1")]);
    assert!(e.contains("`serve.listen` is a value"), "{e}");
    let e = error(None, &[("RECD__SERVE____LISTEN", "1")]);
    assert!(e.contains("empty key"), "{e}");
    let missing = PathBuf::from("/nonexistent/recd.toml");
    let e = format!("{:#}", load(Some(&missing), env(&[]), &[]).unwrap_err());
    assert!(e.contains("/nonexistent/recd.toml"), "{e}");
}

#[test]
fn a_flag_can_unset_an_optional_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recd.toml");
    std::fs::write(&path, "[train]\nwindow_days = 30\n").unwrap();
    let all = Override {
        flag: "--output-all",
        key: "serve.recommend.candidates",
        value: None,
    };
    let loaded = load(Some(&path), env(&[]), &[all]).unwrap();
    assert_eq!(loaded.config.serve.recommend.candidates, None);
    let shown = loaded.show().unwrap();
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("# serve.recommend.candidates unset")
                && l.ends_with("# flag --output-all")),
        "{shown}"
    );
    // `recd train --all`: a window of 0 days is all history.
    let all = flag("--all", "train.window_days", "0");
    let loaded = load(Some(&path), env(&[]), &[all]).unwrap();
    assert_eq!(loaded.config.train.window_days, None);
}

#[test]
fn a_file_section_merges_into_the_defaults_key_by_key() {
    let c = check(
        Some("[features.redis]\ncache_ttl_ms = 5\n[serve.recommend.candidates]\nrerank = 7\n"),
        &[],
    )
    .unwrap()
    .config;
    assert_eq!(c.features.redis.cache_ttl_ms, 5);
    assert_eq!(
        c.features.redis.cache_capacity,
        FeatureConfig::default().redis.cache_capacity
    );
    // The optional quota override, given in part, takes the defaults for the rest.
    let quotas = c.serve.recommend.candidates.unwrap();
    assert_eq!(quotas.rerank, 7);
    assert_eq!(
        quotas.als,
        recd_model::pipeline::CandidateConfig::default().als
    );
}
