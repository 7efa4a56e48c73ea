//! `benchboard-serve`: arguments -> `server::Config` -> run until SIGINT/SIGTERM.

use benchboard::cli::serve::{self, ServeArgs};
use clap::Parser;

fn main() -> std::process::ExitCode {
    serve::run(ServeArgs::parse())
}
