//! `benchboard-serve token`: a new random token and the contest-file lines that
//! register it.

use crate::auth::TokenDigest;
use crate::team::{self, TeamId};

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

    /// The line that shows the token, for the terminal only (the command writes it
    /// to stderr, the section to stdout, so that `>> contest.toml` keeps no token).
    pub fn note(&self, holder: &TokenFor) -> String {
        let whose = match holder {
            TokenFor::Team { id, .. } => {
                format!("team {id}'s token (for benchboard-client --token or BENCHBOARD_TOKEN)")
            }
            TokenFor::Admin => "the admin token (for /admin and /api/admin/)".to_string(),
            TokenFor::Viewers => "the viewer token of the private board".to_string(),
        };
        format!(
            "{whose}, shown only now (the contest file keeps only its SHA-256): {}\n",
            self.token
        )
    }
}

/// A TOML basic string (quoted and escaped).
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
