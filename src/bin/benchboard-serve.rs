//! `benchboard-serve`: arguments -> `server::Config` -> run until SIGINT/SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use benchboard::server::{ServeArgs, Server};
use clap::Parser;

fn main() -> ExitCode {
    let args = ServeArgs::parse();
    benchboard::logging::init(args.log_level);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: ServeArgs) -> anyhow::Result<()> {
    let server = Server::bind(args.into_config()?)?;
    // The first line is the URL with the real port: scripts and tests read it.
    // Written without println!: a closed stdout (the reader went away) is no reason to
    // stop serving or to panic at exit.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "BenchBoard listening on {}", server.url());
    let _ = writeln!(
        out,
        "data directory: {}",
        server.app().store.root().display()
    );
    let _ = out.flush();
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    server.run();
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(())
}
