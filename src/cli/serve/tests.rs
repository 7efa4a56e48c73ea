use super::*;
use clap::{CommandFactory, Parser};

#[test]
fn verify_cli() {
    ServeArgs::command().debug_assert();
}

/// Every flag of the server is also a `[server]` key of the contest file.
#[test]
fn every_flag_is_a_server_key() {
    let command = ServeArgs::command();
    let flags = command
        .get_arguments()
        .filter(|arg| arg.get_long().is_some())
        .map(|arg| arg.get_id().as_str())
        .filter(|id| {
            !matches!(
                *id,
                "help" | "version" | "config" | "check_config" | "test_notify"
            )
        });
    for id in flags {
        let text = format!("[server]\n{id} = 0\n");
        let error = toml::from_str::<crate::config::RawFile>(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!error.contains("unknown field"), "--{id}: {error}");
    }
}

#[test]
fn refuses_evict_before_inactive() {
    let args =
        ServeArgs::try_parse_from(["x", "--inactive-after", "60", "--evict-after", "30"]).unwrap();
    assert!(
        args.into_config(None)
            .unwrap_err()
            .to_string()
            .contains("--evict-after")
    );
}
