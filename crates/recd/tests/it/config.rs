//! One configuration for every subcommand: environment overrides, origins, unknown keys.

use std::process::{Command, Output};

use crate::util::{Server, arg};

fn recd_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the recd binary runs")
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_environment_variable_sets_where_the_server_listens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let server = Server::spawn(
        &["serve", "--data-dir", arg(&data)],
        &[("RECD__SERVE__LISTEN", &listen)],
    );
    assert_eq!(server.addr, listen);
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
}

#[test]
fn config_show_names_each_values_origin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recd.toml");
    std::fs::write(&file, "[train]\nholdout_days = 3\n").unwrap();
    let out = recd_env(
        &["config", "show", "--config", arg(&file)],
        &[("RECD__SERVE__LISTEN", "127.0.0.1:9999")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing:\n{text}"))
    };
    assert!(
        line("serve.listen").contains("\"127.0.0.1:9999\""),
        "{text}"
    );
    assert!(
        line("serve.listen").ends_with("# env RECD__SERVE__LISTEN"),
        "{text}"
    );
    assert!(line("train.holdout_days").ends_with(&format!("# file {}", file.display())));
    assert!(line("features.store").ends_with("# default"), "{text}");
    // Every section is there.
    for section in ["serve.", "features.", "stream.", "train.", "store."] {
        assert!(
            text.lines().any(|l| l.starts_with(section)),
            "{section}:\n{text}"
        );
    }
}

#[test]
fn every_subcommand_refuses_a_misspelt_key_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("recd.toml");
    std::fs::write(&file, "[trian]\nholdout_days = 3\n").unwrap();
    for args in [
        vec!["train", "--data-dir", arg(&data)],
        vec!["serve", "--data-dir", arg(&data)],
        vec!["events", "tail", "--data-dir", arg(&data)],
        vec!["config", "show"],
    ] {
        let mut args = args.clone();
        args.extend(["--config", arg(&file)]);
        let out = recd_env(&args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted [trian]");
        assert!(err.contains("`trian`"), "{args:?}: {err}");
    }
    let out = recd_env(&["config", "show"], &[("RECD__STREAM__FOLD_IN__VIEW", "1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("`stream.fold_in.view`") && err.contains("RECD__STREAM__FOLD_IN__VIEW"),
        "{err}"
    );
}

/// The `recd.toml` embedded in a Kubernetes ConfigMap (`recd.toml: |` and its indented lines).
fn configmap_toml(yaml: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "recd.toml: |");
    let header = lines.next().expect("a recd.toml key");
    let indent = header.len() - header.trim_start().len() + 2;
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_deployment_files_configurations_load() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![
        root.join("deploy/docker/recd.toml"),
        root.join("deploy/compose/recd.toml"),
    ];
    for name in ["recd", "recd-scaled"] {
        let k8s = std::fs::read_to_string(root.join(format!("deploy/k8s/{name}.yaml"))).unwrap();
        let from_k8s = dir.path().join(format!("{name}.toml"));
        std::fs::write(&from_k8s, configmap_toml(&k8s)).unwrap();
        files.push(from_k8s);
    }
    for file in files {
        let out = recd_env(&["config", "show", "--config", arg(&file)], &[]);
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("serve.listen = \"0.0.0.0:7878\"")),
            "{}: {text}",
            file.display()
        );
    }
}
