//! The `recd` binary: parse arguments, install logging, run one subcommand, print the error chain.

mod cli;
mod cmd;
mod config;

use clap::Parser;

/// mimalloc instead of glibc's malloc. The server allocates an answer on a compute thread and
/// frees it on a tokio thread; with glibc that cross-thread traffic (`_int_malloc`,
/// `malloc_consolidate`, `unlink_chunk`, ...) was a large share of the HTTP threads' CPU in a
/// profile under load on the 1M x 100k model. Measured end to end in bench/runs/2026-11-23.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(cli.verbose, cli.log_format);
    match cmd::run(cli.config.as_deref(), cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("recd: error: {err:#}");
            // A training that found another one of its fleet running did not fail: the server
            // that started it records it as skipped (recd_serve::jobs::EXIT_BUSY).
            if err.downcast_ref::<cmd::train::Busy>().is_some() {
                return std::process::ExitCode::from(recd_serve::jobs::EXIT_BUSY);
            }
            std::process::ExitCode::FAILURE
        }
    }
}
