//! `recd demo`: the main job on embedded defaults, for a newcomer's first run.
//!
//! Data in (MovieLens 100K if `../shared/datasets/ml-100k` or `--ml100k DIR` is there, else
//! generated data), a model trained, explained recommendations printed, and the server
//! started on the same data dir. It composes the other subcommands by parsing their command
//! lines, so the demo runs exactly what a user would type.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use recd_model::artifact::registry;
use recd_online::{Mode, Request};
use recd_types::UserId;

use crate::cli::Cli;
use crate::config::Config;

/// Flags of `recd demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data (reused on the next run).
    #[arg(long, default_value = "recd-demo")]
    pub data_dir: PathBuf,
    /// The MovieLens 100K directory to import [default: ../shared/datasets/ml-100k if present;
    /// otherwise synthetic data is generated].
    #[arg(long)]
    pub ml100k: Option<PathBuf>,
    /// Address for the server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Stop after printing recommendations instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

/// Runs the subcommand. A data dir another process owns (a server started by an earlier
/// demo, say) is reported as such, whichever step found it.
pub fn run(args: DemoArgs, file: Option<&Path>, config: Config) -> anyhow::Result<()> {
    run_steps(&args, file, config)
        .map_err(|e| super::in_use::explain(e, &args.data_dir, super::in_use::Doing::Write))
}

fn run_steps(args: &DemoArgs, file: Option<&Path>, config: Config) -> anyhow::Result<()> {
    let data = args.data_dir.display().to_string();
    let models = args.data_dir.join("models");
    if registry::current(&models)?.is_none() {
        load_data(args, &data, file)?;
        step(file, &["train", "--data-dir", &data])?;
    } else {
        println!("== {data} already has a model; delete it to start over");
    }
    let examples = show_recommendations(&args.data_dir, config)?;
    if args.no_serve {
        return Ok(());
    }
    println!(
        "\n== serving {data} on http://{} (ctrl-c to stop). Try:",
        args.listen
    );
    for line in example_requests(&args.listen, &examples) {
        println!("  {line}");
    }
    step(
        file,
        &[
            "serve",
            "--data-dir",
            &data,
            "--listen",
            &args.listen,
            "--no-train-schedule",
        ],
    )
}

/// Ids of the demo's own data for the example requests: whatever was imported (MovieLens or
/// generated), the examples name a user and an item that exist in it.
struct Examples {
    /// A user the model knows.
    user: String,
    /// A popular item (the first a new user is offered).
    item: String,
}

/// The example requests printed before serving, one command per line.
fn example_requests(listen: &str, ex: &Examples) -> Vec<String> {
    let event = serde_json::json!({"user_id": "new-user", "item_id": ex.item, "type": "view"});
    vec![
        format!("curl -s http://{listen}/healthz"),
        format!(
            "curl -s 'http://{listen}/v1/recommendations?user_id={}&num_results=5'",
            ex.user
        ),
        format!(
            "curl -s 'http://{listen}/v1/items/{}/similar?num_results=5'",
            ex.item
        ),
        format!(
            "curl -s -X POST http://{listen}/v1/events -H 'content-type: application/json' -d '{event}'"
        ),
        format!("curl -s http://{listen}/v1/users/new-user/features"),
        format!("curl -s 'http://{listen}/v1/recommendations?user_id=new-user&num_results=5'"),
    ]
}

fn load_data(args: &DemoArgs, data: &str, file: Option<&Path>) -> anyhow::Result<()> {
    let default_ml = Path::new("../shared/datasets/ml-100k");
    let ml = args.ml100k.clone().or_else(|| {
        default_ml
            .join("u.data")
            .is_file()
            .then(|| default_ml.to_path_buf())
    });
    match ml {
        Some(dir) => {
            println!("== importing MovieLens 100K from {}", dir.display());
            let path = |f: &str| dir.join(f).display().to_string();
            step(
                file,
                &[
                    "import",
                    "--data-dir",
                    data,
                    "--events",
                    &path("u.data"),
                    "--items",
                    &path("u.item"),
                    "--users",
                    &path("u.user"),
                    "--format",
                    "ml100k",
                ],
            )
        }
        None => {
            println!("== no MovieLens found; generating synthetic data");
            step(
                file,
                &[
                    "gen",
                    "--users",
                    "3000",
                    "--items",
                    "1000",
                    "--events",
                    "200000",
                    "--seed",
                    "1",
                    "--data-dir",
                    data,
                ],
            )
        }
    }
}

/// Runs one subcommand as `recd ARGV` would, with the demo's own `--config` file.
fn step(file: Option<&Path>, argv: &[&str]) -> anyhow::Result<()> {
    println!("\n$ recd {}", argv.join(" "));
    let cli = Cli::try_parse_from(std::iter::once("recd").chain(argv.iter().copied()))?;
    super::run(file, cli.command)
}

/// Prints recommendations for the first users and a new one, answered by the engine the
/// server runs (deterministic mode); returns ids for the examples.
fn show_recommendations(data_dir: &Path, config: Config) -> anyhow::Result<Examples> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let (online, served, catalog) = super::recommend::engine(data_dir, config, None).await?;
        let model = &served.model;
        let title = |id: &str| {
            catalog
                .item(id)
                .map(|i| i.title.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| id.to_string())
        };
        println!("\n== recommendations from model {}", served.version());
        let mut users: Vec<String> = (0..model.users.len().min(3) as u32)
            .map(|row| model.users.name(row).to_string())
            .collect();
        users.push("someone-new".into());
        let mut cold_first = None;
        for user in &users {
            let request = Request {
                user_id: UserId::parse(user.clone())?,
                n: 5,
                context: "homepage".into(),
                device: None,
                category: None,
                request_id: Some(super::recommend::request_id_of(&UserId::parse(
                    user.clone(),
                )?)),
                now_ms: jiff::Timestamp::now().as_millisecond(),
                at_ms: None,
                mode: Mode::Deterministic,
                offset: 0,
            };
            let answer = online.recommend(request).await?;
            if user == "someone-new" {
                println!("a new user with no history:");
                cold_first = answer.items.first().map(|i| i.item_id.clone());
            } else {
                println!("user {user}:");
            }
            for item in &answer.items {
                println!(
                    "  {:<45} {:.3}  {}",
                    title(&item.item_id),
                    item.score,
                    item.reason
                );
            }
        }
        let item = cold_first
            .or_else(|| (!model.items.is_empty()).then(|| model.items.name(0).to_string()))
            .context("the model has no items")?;
        Ok(Examples {
            user: users.first().cloned().unwrap_or_else(|| "new-user".into()),
            item,
        })
    })
}
