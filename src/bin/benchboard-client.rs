//! `benchboard-client`: arguments -> simulated teams (or one report file) -> server.

use benchboard::cli::client::{self, ClientArgs};
use clap::Parser;

fn main() -> std::process::ExitCode {
    client::run(ClientArgs::parse())
}
