//! The `conform` command line: parse arguments, set up logging, run one command, map the outcome
//! to a documented exit code (see `cli::exit`).

mod cli;

use std::process::ExitCode;

/// mimalloc rather than the system allocator: ingest and scans allocate and free small blocks by
/// the million, across threads, and glibc's malloc took a quarter of a `conform check`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    match cli::run(args) {
        Ok(code) => code,
        // Only commands that write before deciding an exit code get here with a closed pipe,
        // and they would have exited 0; commands that decide first go through `exit::settle`.
        Err(error) if cli::exit::is_broken_pipe(&error) => cli::exit::OK,
        Err(error) => {
            // Messages quote inputs: what could act on a terminal is escaped.
            eprintln!(
                "error: {}",
                conform::escape::terminal_lines(&format!("{error:#}"))
            );
            cli::exit::tool_failed()
        }
    }
}
