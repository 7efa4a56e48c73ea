//! `benchboard-history`: arguments -> `history::run` -> exit code (0 ok, 1 nothing
//! found, 2 bad usage or unreadable data).

use std::process::ExitCode;

use benchboard::history::{self, HistoryArgs};
use clap::Parser;

fn main() -> ExitCode {
    let args = HistoryArgs::parse();
    ExitCode::from(history::run(&args) as u8)
}
