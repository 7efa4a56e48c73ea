//! Team identity: the checked id (a directory name) and the decoded display name.

use std::fmt;

/// Longest team id, in characters.
pub const MAX_TEAM_ID_LEN: usize = 64;
/// Longest team name once decoded, in characters.
pub const MAX_TEAM_NAME_CHARS: usize = 128;

/// Why a team id or name was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TeamError {
    /// `X-Team-ID` was not sent.
    #[error("X-Team-ID header is required")]
    MissingId,
    /// The id breaks `[A-Za-z0-9_-]{1,64}`; it becomes a directory name.
    #[error("X-Team-ID must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")]
    BadId,
    /// `X-Team-Name` is not valid percent-encoded UTF-8.
    #[error("X-Team-Name must be percent-encoded UTF-8 (for example urllib.parse.quote(name))")]
    BadNameEncoding,
    /// `X-Team-Name` decodes to more than [`MAX_TEAM_NAME_CHARS`] characters.
    #[error("X-Team-Name is longer than {MAX_TEAM_NAME_CHARS} characters once decoded")]
    NameTooLong,
    /// `X-Team-Name` holds control characters.
    #[error("X-Team-Name must not contain control characters")]
    NameControlChars,
}

/// A team id that is safe as a directory name: `[A-Za-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamId(String);

impl TeamId {
    /// Checks an id as sent in `X-Team-ID` or in a URL path.
    pub fn parse(raw: &str) -> Result<TeamId, TeamError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_TEAM_ID_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(TeamId(raw.to_string()))
        } else {
            Err(TeamError::BadId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The display name of a team: `X-Team-Name` percent-decoded, or `Team-<id>` when absent.
pub fn decode_team_name(header: Option<&str>, id: &TeamId) -> Result<String, TeamError> {
    let raw = match header.map(str::trim) {
        None | Some("") => return Ok(default_team_name(id)),
        Some(raw) => raw,
    };
    if !well_formed_percent_escapes(raw) {
        return Err(TeamError::BadNameEncoding);
    }
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| TeamError::BadNameEncoding)?;
    Ok(check_team_name(&name)?.unwrap_or_else(|| default_team_name(id)))
}

/// Checks a display name (at most [`MAX_TEAM_NAME_CHARS`] characters, no control
/// characters) and trims it; `None` when nothing is left.
pub fn check_team_name(name: &str) -> Result<Option<String>, TeamError> {
    if name.chars().count() > MAX_TEAM_NAME_CHARS {
        return Err(TeamError::NameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(TeamError::NameControlChars);
    }
    let name = name.trim();
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// True when every `%` starts an escape of two hex digits (`percent_decode` would
/// pass `%zz` or a lone `%` through unchanged instead of refusing it).
fn well_formed_percent_escapes(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// The name a team has when it sends none, as the original: `Team-<id>`.
pub fn default_team_name(id: &TeamId) -> String {
    format!("Team-{id}")
}

/// Percent-encodes a team name for `X-Team-Name`, as Python's `urllib.parse.quote` does.
pub fn encode_team_name(name: &str) -> String {
    // quote() leaves letters, digits and `_.-~/` alone; '/' is harmless in a header.
    const QUOTE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(name, QUOTE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_id_rules() {
        assert!(TeamId::parse("team-1_A").is_ok());
        for bad in ["", "..", "a/b", "%2e%2e", "a b", &"t".repeat(65), "团队"] {
            assert_eq!(TeamId::parse(bad), Err(TeamError::BadId), "{bad:?}");
        }
        assert!(TeamId::parse(&"t".repeat(64)).is_ok());
    }

    #[test]
    fn decodes_percent_encoded_chinese_name() {
        let id = TeamId::parse("team1").unwrap();
        let name = decode_team_name(Some("%E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84"), &id).unwrap();
        assert_eq!(name, "第一小组");
        assert_eq!(
            encode_team_name("第一小组"),
            "%E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84"
        );
        assert_eq!(decode_team_name(None, &id).unwrap(), "Team-team1");
    }

    #[test]
    fn refuses_bad_names() {
        let id = TeamId::parse("t").unwrap();
        assert_eq!(
            decode_team_name(Some("%FF"), &id),
            Err(TeamError::BadNameEncoding)
        );
        assert_eq!(
            decode_team_name(Some("a%0Ab"), &id),
            Err(TeamError::NameControlChars)
        );
        assert_eq!(
            decode_team_name(Some(&"x".repeat(129)), &id),
            Err(TeamError::NameTooLong)
        );
        assert!(decode_team_name(Some(&"队".repeat(128)), &id).is_ok());
    }
}
