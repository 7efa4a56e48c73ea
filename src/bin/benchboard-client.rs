//! `benchboard-client`: arguments -> simulated teams (or one report file) -> server.

use benchboard::client::{ClientArgs, StopSignal, run_client};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = ClientArgs::parse();
    let stop = StopSignal::new();
    let on_signal = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || on_signal.stop()) {
        eprintln!("Error: cannot handle Ctrl-C: {e}");
        return std::process::ExitCode::from(2);
    }
    std::process::ExitCode::from(run_client(args, &stop) as u8)
}
