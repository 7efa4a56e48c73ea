//! The trust sections, `[admin]`, `[[team]]` and `[viewers]`: as written, and their
//! checks into an [`Access`] (tokens hashed at once; messages never show one).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, RawFile, Source};
use crate::auth::{Access, MIN_TOKEN_CHARS, RegisteredTeam, TokenDigest};
use crate::team::{self, MAX_TEAM_NAME_CHARS, TeamId};

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
pub(super) fn check_access(
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
