//! `recd experiments list|show|start|stop|ramp --server URL`: the experiments of a running
//! server, through its admin API (`/v1/admin/experiments`), which checks every change against
//! all the others and stores it (nothing half-applied; a refusal names the field).

use anyhow::Context;
use hyper::Method;
use serde_json::Value;

use super::import::http::ServerSink;

/// Subcommands of `recd experiments`.
#[derive(Debug, clap::Subcommand)]
pub enum ExperimentsCommand {
    /// One line per experiment: name, status, where it is defined, variants and shares.
    List(Target),
    /// An experiment's definition and its report (per variant metrics, comparisons with
    /// control, sample-ratio check), as one JSON object.
    Show(Named),
    /// Start assigning users (status `running`).
    Start(Named),
    /// Stop assigning users (status `stopped`; the report stays).
    Stop(Named),
    /// Change variants' shares, e.g. `--share control=90 --share canary=10`; variants not
    /// named keep theirs, and the shares must still sum to 100. Users whose bucket stays in
    /// their variant's range keep their variant.
    Ramp(RampArgs),
}

/// The server to talk to.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The running server, e.g. http://127.0.0.1:7878.
    #[arg(long)]
    pub server: String,
    /// An API key with the admin scope (sent as `Authorization: Bearer KEY`).
    #[arg(long, env = "RECD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// A server and an experiment.
#[derive(Debug, clap::Args)]
pub struct Named {
    #[command(flatten)]
    target: Target,
    /// The experiment's name.
    name: String,
}

/// Flags of `recd experiments ramp`.
#[derive(Debug, clap::Args)]
pub struct RampArgs {
    #[command(flatten)]
    named: Named,
    /// `VARIANT=PERCENT`, once per variant to change.
    #[arg(long = "share", value_parser = parse_share, required = true)]
    shares: Vec<(String, f64)>,
}

fn parse_share(s: &str) -> Result<(String, f64), String> {
    let (name, share) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected VARIANT=PERCENT"))?;
    let share: f64 = share
        .parse()
        .map_err(|_| format!("{s:?}: {share:?} is not a number"))?;
    Ok((name.to_string(), share))
}

/// Runs the subcommand.
pub fn run(command: ExperimentsCommand) -> anyhow::Result<()> {
    match command {
        ExperimentsCommand::List(target) => {
            let server = connect(&target)?;
            let all = server.call(Method::GET, "/v1/admin/experiments", None)?;
            for e in all["experiments"].as_array().into_iter().flatten() {
                println!("{}", line(e));
            }
            Ok(())
        }
        ExperimentsCommand::Show(named) => {
            let server = connect(&named.target)?;
            let path = path(&named.name);
            let definition = server.call(Method::GET, &path, None)?;
            let report = server.call(Method::GET, &format!("{path}/report"), None)?;
            let both = serde_json::json!({ "experiment": definition, "report": report });
            println!("{}", serde_json::to_string_pretty(&both)?);
            Ok(())
        }
        ExperimentsCommand::Start(named) => set_status(&named, "running"),
        ExperimentsCommand::Stop(named) => set_status(&named, "stopped"),
        ExperimentsCommand::Ramp(args) => change(&args.named, |definition| {
            let variants = definition["variants"]
                .as_array_mut()
                .context("the server's definition has no variants")?;
            for (name, share) in &args.shares {
                let v = variants
                    .iter_mut()
                    .find(|v| v["name"] == name.as_str())
                    .with_context(|| format!("--share {name}=...: no variant {name:?}"))?;
                v["share"] = serde_json::json!(share);
            }
            Ok(())
        }),
    }
}

fn connect(target: &Target) -> anyhow::Result<ServerSink> {
    ServerSink::connect(&target.server, target.api_key.as_deref())
}

fn path(name: &str) -> String {
    format!(
        "/v1/admin/experiments/{}",
        super::import::wire::path_segment(name)
    )
}

/// Reads the definition, lets `edit` change it, and puts it back; prints the stored line.
fn change(
    named: &Named,
    edit: impl FnOnce(&mut Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let server = connect(&named.target)?;
    let path = path(&named.name);
    let mut definition = server.call(Method::GET, &path, None)?["definition"].take();
    edit(&mut definition)?;
    let stored = server.call(Method::PUT, &path, Some(&definition))?;
    println!("{}", line(&stored));
    Ok(())
}

fn set_status(named: &Named, status: &str) -> anyhow::Result<()> {
    change(named, |definition| {
        definition["status"] = Value::String(status.into());
        Ok(())
    })
}

/// `name  status  source  variant=share ...`.
fn line(e: &Value) -> String {
    let d = &e["definition"];
    let variants: Vec<String> = d["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let base = v["baseline"]
                .as_str()
                .map_or(String::new(), |b| format!(" ({b})"));
            format!("{}={}{base}", v["name"].as_str().unwrap_or("?"), v["share"])
        })
        .collect();
    format!(
        "{}\t{}\t{}\t{}",
        e["name"].as_str().unwrap_or("?"),
        d["status"].as_str().unwrap_or("draft"),
        e["source"].as_str().unwrap_or("?"),
        variants.join(" ")
    )
}
