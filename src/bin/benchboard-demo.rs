//! `benchboard-demo`: arguments -> a server plus simulated teams (or `--check`).

use benchboard::cli::demo::{self, DemoArgs};
use clap::Parser;

fn main() -> std::process::ExitCode {
    demo::run(DemoArgs::parse())
}
