//! The contest file (TOML, `benchboard-serve --config contest.toml`): every server
//! flag (section `[server]`; flags win over the file), the admin token (`[admin]`),
//! the registered teams (`[[team]]`) and the viewer token of a private board
//! (`[viewers]`). Other features add their sections here, each as one serde struct
//! plus its checks, listed in [`RawFile`].
//!
//! A file that cannot be used is refused as a whole with one [`ConfigError`] naming
//! the file, the line and the key; what is doubtful but usable (a short token) is a
//! warning. Tokens are hashed as soon as the file is read: only their SHA-256
//! digests are kept, and no message ever shows a token or a digest.
//!
//! ```
//! let file = benchboard::config::ContestFile::parse(
//!     "contest.toml".as_ref(),
//!     r#"
//!     [server]
//!     port = 9000
//!     [[team]]
//!     id = "team1"
//!     name = "第一小组"
//!     token = "0123456789abcdef-team1"
//!     "#,
//! )
//! .unwrap();
//! assert!(!file.access.is_open());
//! assert!(file.describe().contains("第一小组"));
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::auth::{Access, MIN_TOKEN_CHARS, RegisteredTeam, TokenDigest};
use crate::team::{self, MAX_TEAM_NAME_CHARS, TeamId};

/// Why a contest file cannot be used; the message names the file, line and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the contest file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type,
    /// or breaks a rule of its section.
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
    #[serde(default)]
    pub server: ServerSection,
    pub admin: Option<Spanned<SecretSection>>,
    #[serde(default, rename = "team")]
    pub teams: Vec<Spanned<TeamSection>>,
    pub viewers: Option<Spanned<SecretSection>>,
}

/// `[server]`: a key for every `benchboard-serve` flag, named like the flag
/// (`--data-dir` is `data_dir`); a flag given on the command line (or its
/// `BENCHBOARD_*` variable) wins over the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub max_body: Option<Size>,
    pub inactive_after: Option<Seconds>,
    pub evict_after: Option<Seconds>,
    pub max_teams: Option<usize>,
    pub threads: Option<usize>,
    pub request_timeout: Option<Seconds>,
    pub fsync: Option<bool>,
    pub no_websocket: Option<bool>,
    pub max_viewers: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_teams_known: Option<usize>,
    pub min_free_space: Option<Size>,
    pub log_level: Option<LogLevel>,
    pub max_report_rate: Option<u32>,
    pub max_auth_failures: Option<u32>,
}

/// `[admin]` or `[viewers]`: a token, plain (`token`) or as its digest (`token_sha256`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSection {
    pub token: Option<Spanned<String>>,
    pub token_sha256: Option<Spanned<String>>,
}

/// One `[[team]]`: a team that may report, with its token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSection {
    pub id: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
    pub token_sha256: Option<Spanned<String>>,
}

/// A checked contest file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContestFile {
    pub path: PathBuf,
    pub server: ServerSection,
    pub access: Access,
    /// Doubtful but usable settings, one line each (file and line included).
    pub warnings: Vec<String>,
}

/// Where in the file a check is: turns byte offsets into line numbers for errors.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// A TOML or type error, with the key of its line when the message lacks it
    /// (`port: invalid type: string "eighty", expected u16`).
    fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let message = error.message().trim();
        let Some(span) = error.span() else {
            return ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: None,
                message: message.to_string(),
            };
        };
        let line_start = self.text[..span.start.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let key = self.text[line_start..]
            .lines()
            .next()
            .and_then(|line| line.split_once('='))
            .map(|(key, _)| key.trim().trim_matches('"'))
            .filter(|key| !key.is_empty() && !message.contains(&format!("`{key}`")));
        match key {
            Some(key) => self.error(&span, format!("{key}: {message}")),
            None => self.error(&span, message),
        }
    }

    fn error(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: Some(self.line_of(span)),
            message: message.into(),
        }
    }

    fn warning(&self, span: &Range<usize>, message: &str) -> String {
        format!(
            "warning: {} line {}: {message}",
            self.path.display(),
            self.line_of(span)
        )
    }
}

impl ContestFile {
    /// Reads and checks a contest file.
    pub fn load(path: &Path) -> Result<ContestFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ContestFile::parse(path, &text)
    }

    /// Checks the text of a contest file (`path` is only used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<ContestFile, ConfigError> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| source.toml_error(&e))?;
        let mut warnings = Vec::new();
        let server = raw.server.clone();
        let access = check_access(&raw, &source, &mut warnings)?;
        Ok(ContestFile {
            path: path.to_path_buf(),
            server,
            access,
            warnings,
        })
    }

    /// What the server would do with this file, for `--check-config`: the mode, the
    /// teams, the admin API, the board's privacy, the limits and the `[server]` keys.
    pub fn describe(&self) -> String {
        let mut out = format!("contest file {}: valid\n", self.path.display());
        let access = &self.access;
        if access.is_open() {
            out.push_str("mode: open (no [[team]]): anyone can report as any team\n");
        } else {
            out.push_str(&format!(
                "mode: registered: {} team(s) may report, each with its own token:\n",
                access.teams.len()
            ));
            for team in access.teams.values() {
                out.push_str(&format!("  {}  {}\n", team.id, team.name));
            }
        }
        out.push_str(match access.admin {
            Some(_) => "admin API: on (/api/admin/ and the page /admin, with the admin token)\n",
            None => "admin API: off (no [admin] section)\n",
        });
        out.push_str(match access.viewers {
            Some(_) => {
                "board: private: every read needs the viewer token (Bearer or the login form)\n"
            }
            None => "board: public: anyone may read it\n",
        });
        out.push_str(&self.describe_limits());
        out.push_str(&self.describe_server_keys());
        for warning in &self.warnings {
            out.push_str(warning);
            out.push('\n');
        }
        out
    }

    fn describe_limits(&self) -> String {
        let mut out = String::new();
        if !self.access.is_open() {
            let rate = self
                .server
                .max_report_rate
                .unwrap_or(crate::auth::DEFAULT_MAX_REPORT_RATE);
            out.push_str(&match rate {
                0 => "report rate: unlimited (max_report_rate = 0)\n".to_string(),
                rate => format!(
                    "report rate: at most {rate} per second per team, bursts of {}\n",
                    rate.saturating_mul(2)
                ),
            });
        }
        if self.access.has_tokens() {
            let failures = self
                .server
                .max_auth_failures
                .unwrap_or(crate::auth::DEFAULT_MAX_AUTH_FAILURES_PER_MIN);
            out.push_str(&format!(
                "failed authentications: at most {failures} a minute per client address\n"
            ));
            out.push_str(
                "TLS: tokens travel in clear unless clients reach the server through a TLS reverse proxy (README: nginx)\n",
            );
        }
        out
    }

    fn describe_server_keys(&self) -> String {
        let shown = toml::to_string(&self.server.set_keys()).unwrap_or_default();
        if shown.trim().is_empty() {
            return String::new();
        }
        let mut out = "[server] settings (a flag given on the command line wins):\n".to_string();
        for line in shown.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out
    }
}

impl ServerSection {
    /// The keys that are set, with their values (to show them, or to compare two
    /// versions of the file).
    pub fn set_keys(&self) -> toml::Table {
        toml::Table::try_from(ServerKeys(self)).unwrap_or_default()
    }
}

/// The `[server]` keys that are set, for [`ContestFile::describe`].
struct ServerKeys<'a>(&'a ServerSection);

impl serde::Serialize for ServerKeys<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let s = self.0;
        let mut map = serializer.serialize_map(None)?;
        macro_rules! entry {
            ($key:ident, $shown:expr) => {
                if let Some(value) = &s.$key {
                    map.serialize_entry(stringify!($key), &$shown(value))?;
                }
            };
        }
        entry!(host, |v: &String| v.clone());
        entry!(port, |v: &u16| *v);
        entry!(data_dir, |v: &PathBuf| v.display().to_string());
        entry!(max_body, |v: &Size| v.0);
        entry!(inactive_after, |v: &Seconds| v.0.as_secs_f64());
        entry!(evict_after, |v: &Seconds| v.0.as_secs_f64());
        entry!(max_teams, |v: &usize| *v as u64);
        entry!(threads, |v: &usize| *v as u64);
        entry!(request_timeout, |v: &Seconds| v.0.as_secs_f64());
        entry!(fsync, |v: &bool| *v);
        entry!(no_websocket, |v: &bool| *v);
        entry!(max_viewers, |v: &usize| *v as u64);
        entry!(max_connections, |v: &usize| *v as u64);
        entry!(max_teams_known, |v: &usize| *v as u64);
        entry!(min_free_space, |v: &Size| v.0);
        entry!(log_level, |v: &LogLevel| v.0.to_string().to_lowercase());
        entry!(max_report_rate, |v: &u32| *v);
        entry!(max_auth_failures, |v: &u32| *v);
        map.end()
    }
}

/// The digest of a `token` / `token_sha256` pair; `what` names the section in messages.
fn check_secret(
    what: &str,
    span: &Range<usize>,
    token: &Option<Spanned<String>>,
    token_sha256: &Option<Spanned<String>>,
    source: &Source,
    warnings: &mut Vec<String>,
) -> Result<TokenDigest, ConfigError> {
    match (token, token_sha256) {
        (Some(_), Some(digest)) => Err(source.error(
            &digest.span(),
            format!("{what}: give token or token_sha256, not both"),
        )),
        (None, None) => Err(source.error(
            span,
            format!(
                "{what}: token_sha256 (or token) is missing; benchboard-serve token prints a new one"
            ),
        )),
        (Some(token), None) => {
            let plain = token.get_ref();
            if plain.is_empty() || plain.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(source.error(
                    &token.span(),
                    format!("{what}: token must be non-empty, without spaces or control characters"),
                ));
            }
            if plain.chars().count() < MIN_TOKEN_CHARS {
                warnings.push(source.warning(
                    &token.span(),
                    &format!(
                        "{what}: token is shorter than {MIN_TOKEN_CHARS} characters and easy to guess; benchboard-serve token prints a random one"
                    ),
                ));
            }
            Ok(TokenDigest::of(plain))
        }
        (None, Some(digest)) => TokenDigest::from_hex(digest.get_ref().trim()).ok_or_else(|| {
            source.error(
                &digest.span(),
                format!(
                    "{what}: token_sha256 must be 64 hex digits (the SHA-256 of the token, as sha256sum prints it)"
                ),
            )
        }),
    }
}

/// One `[[team]]`, checked: a valid id and name, and its token.
fn check_team(
    entry: &Spanned<TeamSection>,
    source: &Source,
    warnings: &mut Vec<String>,
) -> Result<RegisteredTeam, ConfigError> {
    let team = entry.get_ref();
    let raw_id = team.id.get_ref();
    let id = TeamId::parse(raw_id).map_err(|_| {
        source.error(
            &team.id.span(),
            format!(
                "[[team]] id {raw_id:?}: must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (it becomes a directory name)"
            ),
        )
    })?;
    let name = match &team.name {
        None => team::default_team_name(&id),
        Some(name) => check_team_name(&id, name, source)?,
    };
    let what = format!("[[team]] {id}");
    let token = check_secret(
        &what,
        &entry.span(),
        &team.token,
        &team.token_sha256,
        source,
        warnings,
    )?;
    Ok(RegisteredTeam { id, name, token })
}

fn check_team_name(
    id: &TeamId,
    name: &Spanned<String>,
    source: &Source,
) -> Result<String, ConfigError> {
    match team::check_team_name(name.get_ref()) {
        Ok(name) => Ok(name.unwrap_or_else(|| team::default_team_name(id))),
        Err(_) => Err(source.error(
            &name.span(),
            format!(
                "[[team]] {id}: name must be at most {MAX_TEAM_NAME_CHARS} characters, without control characters"
            ),
        )),
    }
}

/// The trust sections: teams (no id twice), admin and viewers, and no token used
/// for two roles (a team's token must not open the admin API).
fn check_access(
    raw: &RawFile,
    source: &Source,
    warnings: &mut Vec<String>,
) -> Result<Access, ConfigError> {
    // Every token with the line it is on and what it is for.
    let mut tokens: Vec<(TokenDigest, usize, String)> = Vec::new();
    let mut teams = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for entry in &raw.teams {
        let team = check_team(entry, source, warnings)?;
        let line = source.line_of(&entry.get_ref().id.span());
        if let Some(first) = lines.insert(team.id.clone(), line) {
            return Err(source.error(
                &entry.get_ref().id.span(),
                format!(
                    "[[team]] id {:?} is listed twice (first on line {first}); give each team one entry",
                    team.id.as_str()
                ),
            ));
        }
        tokens.push((team.token, line, format!("[[team]] {}", team.id)));
        teams.insert(team.id.clone(), team);
    }
    let mut section = |name: &str, section: &Option<Spanned<SecretSection>>| {
        section
            .as_ref()
            .map(|s| {
                let digest = check_secret(
                    &format!("[{name}]"),
                    &s.span(),
                    &s.get_ref().token,
                    &s.get_ref().token_sha256,
                    source,
                    warnings,
                )?;
                tokens.push((digest, source.line_of(&s.span()), format!("[{name}]")));
                Ok::<_, ConfigError>(digest)
            })
            .transpose()
    };
    let admin = section("admin", &raw.admin)?;
    let viewers = section("viewers", &raw.viewers)?;
    for (i, (digest, line, what)) in tokens.iter().enumerate() {
        if let Some((_, first_line, first)) = tokens[..i].iter().find(|(d, ..)| d == digest) {
            return Err(ConfigError::Invalid {
                path: source.path.to_path_buf(),
                line: Some(*line),
                message: format!(
                    "{what} has the same token as {first} (line {first_line}); give each its own"
                ),
            });
        }
    }
    Ok(Access {
        admin,
        teams,
        viewers,
    })
}

/// A duration in the file: seconds (`300`, `0.5`) or a string with a unit (`"5m"`),
/// as the flags take it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Duration);

/// A size in the file: bytes (`1048576`) or a string with a unit (`"1MiB"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size(pub u64);

/// A log level in the file: `"error"`, `"warn"`, `"info"`, `"debug"`, ….
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLevel(pub log::LevelFilter);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Seconds, D::Error> {
        let text = match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => n.to_string(),
            NumberOrText::Float(x) => x.to_string(),
            NumberOrText::Text(text) => text,
        };
        crate::cli::parse::parse_duration(&text)
            .map(Seconds)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => u64::try_from(n)
                .map(Size)
                .map_err(|_| serde::de::Error::custom("a size must not be negative")),
            NumberOrText::Float(_) => Err(serde::de::Error::custom(
                "a size is a whole number of bytes or a string such as \"1MiB\"",
            )),
            NumberOrText::Text(text) => crate::cli::parse::parse_size(&text)
                .map(Size)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LogLevel, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(LogLevel).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a log level: off, error, warn, info, debug or trace"
            ))
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a number or a string with a unit")]
enum NumberOrText {
    Integer(i64),
    Float(f64),
    Text(String),
}

/// What `benchboard-serve token` prints: a new token and the contest-file lines
/// that register it (only its digest).
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token itself: handed to whoever uses it, written nowhere else.
    pub token: String,
    /// The section to add to the contest file, with `token_sha256`.
    pub section: String,
}

/// Whom a new token is for.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenFor {
    /// A `[[team]]` with its id and board name (`Team-<id>` when none is given).
    Team { id: TeamId, name: Option<String> },
    /// The `[admin]` section.
    Admin,
    /// The `[viewers]` section (a private board).
    Viewers,
}

impl NewToken {
    /// A new random token and its section.
    pub fn new(holder: &TokenFor) -> NewToken {
        NewToken::with_token(holder, crate::auth::new_token())
    }

    /// The section for a given token.
    pub fn with_token(holder: &TokenFor, token: String) -> NewToken {
        let digest = TokenDigest::of(&token).to_hex();
        let section = match holder {
            TokenFor::Team { id, name } => {
                let name = name.clone().unwrap_or_else(|| team::default_team_name(id));
                format!(
                    "[[team]]\nid = {}\nname = {}\ntoken_sha256 = \"{digest}\"\n",
                    toml_string(id.as_str()),
                    toml_string(&name)
                )
            }
            TokenFor::Admin => format!("[admin]\ntoken_sha256 = \"{digest}\"\n"),
            TokenFor::Viewers => format!("[viewers]\ntoken_sha256 = \"{digest}\"\n"),
        };
        NewToken { token, section }
    }

    /// The command's whole output: the token in a comment, then the section.
    pub fn render(&self, holder: &TokenFor) -> String {
        let whose = match holder {
            TokenFor::Team { id, .. } => {
                format!("team {id}'s token (for benchboard-client --token or BENCHBOARD_TOKEN)")
            }
            TokenFor::Admin => "the admin token (for /admin and /api/admin/)".to_string(),
            TokenFor::Viewers => "the viewer token of the private board".to_string(),
        };
        format!(
            "# {whose}; shown only now, the file keeps only its SHA-256:\n#   {}\n{}",
            self.token, self.section
        )
    }
}

/// A TOML basic string (quoted and escaped).
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests;
