//! `benchboard-demo`: arguments -> a server plus simulated teams (or `--check`).

use std::process::ExitCode;

use benchboard::demo::{DemoArgs, check, run_demo};
use benchboard::stop::StopSignal;
use clap::Parser;

fn main() -> ExitCode {
    let args = DemoArgs::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.check {
        let outcome = check::run_check(args.server.as_deref(), &mut std::io::stdout())?;
        return Ok(if outcome.all_passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let stop = StopSignal::new();
    let on_signal = stop.clone();
    ctrlc::set_handler(move || on_signal.stop())?;
    run_demo(&args, &stop)?;
    Ok(ExitCode::SUCCESS)
}
