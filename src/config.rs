//! The contest file (DESIGN §7): one TOML file given with `--config`.
//!
//! This is the minimal loader of the alert sections (issue 13): `[[rule]]` (see
//! [`crate::alerts::rules`]) and `[[notify]]` (see [`crate::alerts::notify`]). The
//! contest's other sections (teams and tokens, the schedule) join this loader.
//! Anything the file holds beyond its known sections is an error, so a typo never
//! goes unnoticed.
//!
//! ```toml
//! [[rule]]
//! name = "P99 under 200 ms"
//! when = "p99_latency > 200"
//! for = "30s"
//!
//! [[notify]]
//! name = "organisers"
//! kind = "feishu"
//! url = "https://open.feishu.cn/open-apis/bot/v2/hook/…"
//! secret = "…"
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::alerts::notify::NotifyConfig;
use crate::alerts::rules::RuleConfig;
use crate::alerts::{AlertConfigError, AlertSections, AlertSettings};

/// Largest contest file read; a bigger one is surely not a contest file.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why the contest file is refused; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the contest file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the contest file {} is larger than 1 MiB", path.display())]
    TooLarge { path: PathBuf },
    /// It is not TOML, or a section has a field of the wrong type or an unknown one.
    #[error("the contest file {} is not valid: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// A section breaks its rules.
    #[error("the contest file {}: {source}", path.display())]
    Alerts {
        path: PathBuf,
        source: AlertConfigError,
    },
}

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContestFile {
    #[serde(default)]
    rule: Vec<RuleConfig>,
    #[serde(default)]
    notify: Vec<NotifyConfig>,
}

/// The checked contest settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contest {
    pub alerts: AlertSettings,
}

/// Reads and checks a contest file.
pub fn load(path: &Path) -> Result<Contest, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse(&text).map_err(|e| match e {
        ParseError::Syntax(message) => ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        },
        ParseError::Alerts(source) => ConfigError::Alerts {
            path: path.to_path_buf(),
            source,
        },
    })
}

enum ParseError {
    Syntax(String),
    Alerts(AlertConfigError),
}

fn parse(text: &str) -> Result<Contest, ParseError> {
    let file: ContestFile = toml::from_str(text).map_err(|e| ParseError::Syntax(e.to_string()))?;
    let sections = AlertSections {
        rules: file.rule,
        notify: file.notify,
    };
    let alerts = sections.check().map_err(ParseError::Alerts)?;
    Ok(Contest { alerts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contest.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn loads_rules_and_destinations() {
        let (_dir, path) = write(
            "[[rule]]\nname = \"P99\"\nwhen = \"p99_latency > 200\"\nfor = \"30s\"\n\
             [[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
        );
        let contest = load(&path).unwrap();
        assert_eq!(contest.alerts.rules.len(), 1);
        assert_eq!(contest.alerts.destinations[0].name, "webhook");
    }

    #[test]
    fn an_empty_file_is_the_open_mode() {
        let (_dir, path) = write("");
        assert_eq!(load(&path).unwrap(), Contest::default());
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let (_dir, path) = write("[[rule]]\nname = \"r\"\nwhen = \"p99 > 1\"\n");
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with("the contest file ") && error.contains("unknown metric \"p99\""),
            "{error}"
        );
        let (_dir, path) = write("[[rules]]\nname = \"r\"\n");
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.contains("is not valid") && error.contains("unknown field `rules`"),
            "{error}"
        );
        let error = load(Path::new("/nonexistent/contest.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("cannot read the contest file /nonexistent/contest.toml"),
            "{error}"
        );
    }
}
