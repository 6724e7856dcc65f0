//! The `recd` binary: parse arguments, install logging, run one subcommand, print the error chain.

mod cli;
mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(cli.verbose);
    match cmd::run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("recd: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
