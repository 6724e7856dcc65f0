//! One module per subcommand; each owns its flags (`*Args`) and a `run` function.

pub mod bench;
pub mod demo;
pub mod events;
pub mod export;
pub mod gen_data;
pub mod import;
pub mod models;
pub mod online;
pub mod recommend;
pub mod serve;
pub mod train;

use crate::cli::Command;

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo(args) => demo::run(args),
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Gen(args) => gen_data::run(args),
        Command::Events(command) => events::run(command),
        Command::Train(args) => train::run(args),
        Command::Recommend(args) => recommend::run(args),
        Command::Models(command) => models::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
