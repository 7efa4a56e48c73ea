//! The contest file (DESIGN §7): one TOML file given with `--config`.
//!
//! A minimal loader holding only the alert sections of issue 13: `[[rule]]` (see
//! [`crate::alerts::rules`]) and `[[notify]]` (see [`crate::alerts::notify`]). The
//! sections themselves live in [`crate::alerts`] ([`AlertSections`] as written,
//! [`AlertSections::check`] into [`AlertSettings`]); this file only reads the TOML.
//! Its names follow the full loader of the trust issue (branch `integrate`:
//! [`ContestFile::load`], [`ContestFile::parse`], [`RawFile`], [`ConfigError`]), so
//! that merging into it means: two fields in its `RawFile` (`rules`, `notify`, as
//! below), `alerts` in its `ContestFile`, and the one [`check_alerts`] call in its
//! `parse`. Anything the file holds beyond its known sections is an error, so a typo
//! never goes unnoticed.
//!
//! ```
//! let file = benchboard::config::ContestFile::parse(
//!     "contest.toml".as_ref(),
//!     r#"
//!     [[rule]]
//!     name = "P99 under 200 ms"
//!     when = "p99_latency > 200"
//!     for = "30s"
//!
//!     [[notify]]
//!     name = "organisers"
//!     kind = "feishu"
//!     url = "https://open.feishu.cn/open-apis/bot/v2/hook/x"
//!     secret = "s"
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(file.alerts.rules[0].name, "P99 under 200 ms");
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::alerts::notify::NotifyConfig;
use crate::alerts::rules::RuleConfig;
use crate::alerts::{AlertSections, AlertSettings};

/// Largest contest file read; a bigger one is surely not a contest file.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a contest file cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the contest file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is too large, not valid TOML, has an unknown key or a value of the
    /// wrong type, or breaks a rule of its section.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// The file as written: one field per section. Unknown sections and keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// `[[rule]]` (issue 13).
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// `[[notify]]` (issue 13).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
}

/// A checked contest file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContestFile {
    pub path: PathBuf,
    /// The alert rules and their destinations (issue 13).
    pub alerts: AlertSettings,
}

impl ContestFile {
    /// Reads and checks a contest file (at most [`MAX_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<ContestFile, ConfigError> {
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
            return Err(invalid(path, None, "larger than 1 MiB: not a contest file"));
        }
        ContestFile::parse(path, &text)
    }

    /// Checks the text of a contest file (`path` is only used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<ContestFile, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let alerts = check_alerts(path, raw.rules, raw.notify)?;
        Ok(ContestFile {
            path: path.to_path_buf(),
            alerts,
        })
    }
}

/// The alert sections, checked: the rules, then the destinations against them.
pub fn check_alerts(
    path: &Path,
    rules: Vec<RuleConfig>,
    notify: Vec<NotifyConfig>,
) -> Result<AlertSettings, ConfigError> {
    AlertSections { rules, notify }
        .check()
        .map_err(|e| invalid(path, None, &e.to_string()))
}

fn invalid(path: &Path, line: Option<usize>, message: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        message: message.to_string(),
    }
}

/// A TOML or type error with the line it is on.
fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let line = error.span().map(|span| {
        let end = span.start.min(text.len());
        text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    });
    invalid(path, line, error.message().trim())
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
        let contest = ContestFile::load(&path).unwrap();
        assert_eq!(contest.alerts.rules.len(), 1);
        assert_eq!(contest.alerts.destinations[0].name, "webhook");
    }

    #[test]
    fn an_empty_file_is_the_open_mode() {
        let (_dir, path) = write("");
        let file = ContestFile::load(&path).unwrap();
        assert_eq!(file.alerts, AlertSettings::default());
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let (_dir, path) = write("[[rule]]\nname = \"r\"\nwhen = \"p99 > 1\"\n");
        let error = ContestFile::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}: ", path.display()))
                && error.contains("unknown metric \"p99\""),
            "{error}"
        );
        let (_dir, path) = write("[[rules]]\nname = \"r\"\n");
        let error = ContestFile::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{} line 1: ", path.display()))
                && error.contains("unknown field `rules`"),
            "{error}"
        );
        let error = ContestFile::load(Path::new("/nonexistent/contest.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("cannot read the contest file /nonexistent/contest.toml"),
            "{error}"
        );
    }
}
