//! One module per subcommand; each owns its flags (`*Args`) and a `run` function, which gets
//! the configuration loaded once here, with the flags that set config keys applied.

pub mod bench;
pub mod config;
pub mod demo;
pub mod eval;
pub mod events;
pub mod experiments;
pub mod export;
mod fleet_state;
pub mod gen_data;
pub mod import;
mod in_use;
pub mod keys;
pub mod log;
pub mod model_store;
pub mod models;
pub mod online;
pub mod recommend;
mod retention;
pub mod serve;
pub mod shared_catalog;
pub mod simulate;
pub mod sink;
pub mod stream;
mod stream_http;
pub mod train;

use std::path::Path;

use crate::cli::Command;
use crate::config::{self as cfg, Override};

/// Loads the configuration (`file`, the environment, the subcommand's flags) and runs one
/// subcommand.
pub fn run(file: Option<&Path>, command: Command) -> anyhow::Result<()> {
    let loaded = cfg::load(file, std::env::vars(), &overrides(&command))?;
    match command {
        Command::Demo(args) => demo::run(args, file, loaded.config),
        Command::Import(args) => import::run(args, loaded.config.store),
        Command::Export(args) => export::run(args, loaded.config.bus),
        Command::Gen(args) => gen_data::run(args, loaded.config.store),
        Command::Events(command) => events::run(command),
        Command::Experiments(command) => experiments::run(command),
        Command::Log(command) => log::run(command),
        Command::Train(args) => train::run(args, loaded.config),
        Command::Recommend(args) => recommend::run(args, loaded.config),
        Command::Eval(command) => eval::run(command, loaded.config),
        Command::Models(command) => models::run(command, &loaded.config),
        Command::Serve(args) => serve::run(args, file, loaded.config),
        Command::Simulate(args) => simulate::run(args),
        Command::Stream(args) => stream::run(args, loaded.config),
        Command::Sink(args) => sink::run(args, loaded.config),
        Command::Bench(args) => bench::run(args),
        Command::Config(command) => config::run(command, &loaded),
        Command::Keys(command) => keys::run(command, &loaded.config),
    }
}

/// The flags of `command` that set config keys (they win over the file and the environment).
fn overrides(command: &Command) -> Vec<Override> {
    match command {
        Command::Serve(args) => args.overrides(),
        Command::Stream(args) => args.overrides(),
        Command::Sink(args) => args.overrides(),
        Command::Train(args) => args.overrides(),
        Command::Export(args) => args.overrides(),
        Command::Models(command) => command.overrides(),
        _ => Vec::new(),
    }
}
