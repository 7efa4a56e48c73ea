//! `benchboard-serve`: arguments (and the contest file) -> `server::Config` -> run
//! until SIGINT/SIGTERM; also `token` and `--check-config`.

fn main() -> std::process::ExitCode {
    benchboard::cli::serve::main()
}
