//! The files in `scripts/` stay true to the binaries: the systemd unit's command line
//! is one `benchboard-serve` accepts, and the unit sets what running it for real needs.

use benchboard::cli::serve::ServeArgs;
use clap::Parser;

const UNIT: &str = include_str!("../scripts/benchboard.service");

/// The values of `key=` in the unit, in order (comments left out).
fn values(key: &str) -> Vec<&'static str> {
    UNIT.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

fn one(key: &str) -> &'static str {
    let found = values(key);
    assert_eq!(found.len(), 1, "{key}= must be set once: {found:?}");
    found[0]
}

#[test]
fn the_systemd_units_command_line_is_accepted_by_benchboard_serve() {
    let words: Vec<&str> = one("ExecStart").split_whitespace().collect();
    assert!(words[0].ends_with("/benchboard-serve"), "{words:?}");
    let args = ServeArgs::try_parse_from(&words).expect("benchboard-serve takes the unit's flags");
    let data_dir = args.data_dir.clone();
    args.into_config(None).expect("the unit's flags check out");
    // The data directory lies in the StateDirectory= that systemd creates for User=.
    let state = format!("/var/lib/{}", one("StateDirectory"));
    assert!(
        data_dir.starts_with(&state),
        "{} is not under {state}",
        data_dir.display()
    );
}

#[test]
fn the_systemd_unit_restarts_on_failure_as_a_dedicated_user_with_limits() {
    assert_eq!(one("Restart"), "on-failure");
    // Exit 2 (bad usage, data directory in use) would fail the same way again.
    assert_eq!(one("RestartPreventExitStatus"), "2");
    let user = one("User");
    assert!(!user.is_empty() && user != "root", "{user}");
    let files: u64 = one("LimitNOFILE").parse().unwrap();
    assert!(
        files > benchboard::server::config::DEFAULT_MAX_CONNECTIONS as u64,
        "LimitNOFILE={files} leaves no room for --max-connections' default"
    );
    let tasks: usize = one("TasksMax").parse().unwrap();
    assert!(tasks >= 4 * benchboard::server::config::default_threads());
    assert_eq!(one("KillSignal"), "SIGTERM");
}
