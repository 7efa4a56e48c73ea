//! Log lines on stderr, for the binaries.

/// Logs at `level` and above to stderr, one line each with a timestamp.
pub fn init(level: log::LevelFilter) {
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .format_target(false)
        .try_init();
}
