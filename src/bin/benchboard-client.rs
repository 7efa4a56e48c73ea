//! `benchboard-client`: arguments -> simulated teams (or one report file) -> server.

use benchboard::client::{ClientArgs, StopSignal, run_client};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = ClientArgs::parse();
    let stop = StopSignal::new();
    let on_signal = stop.clone();
    let handler = move || {
        on_signal.stop();
        // Teams stop at once; a request still in flight is not waited for (up to
        // --timeout): past a short grace the process ends, as "stopped with Ctrl-C".
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(500));
            println!("stopped: the request in flight was abandoned");
            std::process::exit(0);
        });
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        eprintln!("Error: cannot handle Ctrl-C: {e}");
        return std::process::ExitCode::from(2);
    }
    std::process::ExitCode::from(run_client(args, &stop) as u8)
}
