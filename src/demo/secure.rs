//! `benchboard-demo --secure`: a contest file with a random token for each simulated
//! team (and the admin), so that the demo runs in registered mode.
//!
//! Two files are written beside the data directory (never inside it): the contest
//! file (only SHA-256 digests of the tokens) and a tokens file (`TEAM_ID TOKEN` per
//! line, for `benchboard-client --tokens`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::auth::new_token;
use crate::config::{ContestFile, NewToken, TokenFor};
use crate::team::TeamId;

/// What `--secure` set up.
#[derive(Debug, Clone)]
pub struct SecureContest {
    /// The contest file (`benchboard-serve --config`).
    pub contest_path: PathBuf,
    /// The teams' tokens, one `TEAM_ID TOKEN` per line.
    pub tokens_path: PathBuf,
    /// The same tokens, by team id.
    pub tokens: HashMap<String, String>,
    /// The admin token (for `/admin`).
    pub admin_token: String,
    /// The contest file, read back and checked.
    pub file: ContestFile,
}

/// Writes a contest file for `teams` (id, board name) and its tokens file in `dir`.
pub fn write_secure_contest(
    dir: &Path,
    teams: &[(String, String)],
) -> Result<SecureContest, String> {
    let admin_token = new_token();
    let mut contest = String::from(
        "# Written by benchboard-demo --secure: registered mode, one token per team.\n",
    );
    contest.push_str(&NewToken::with_token(&TokenFor::Admin, admin_token.clone()).section);
    let mut tokens = HashMap::new();
    let mut tokens_text = String::from("# benchboard-client --tokens FILE: TEAM_ID TOKEN\n");
    for (id, name) in teams {
        let team = TokenFor::Team {
            id: TeamId::parse(id).map_err(|e| format!("{id:?}: {e}"))?,
            name: Some(name.clone()),
        };
        let token = new_token();
        contest.push('\n');
        contest.push_str(&NewToken::with_token(&team, token.clone()).section);
        tokens_text.push_str(&format!("{id} {token}\n"));
        tokens.insert(id.clone(), token);
    }
    let contest_path = dir.join("contest.toml");
    let tokens_path = dir.join("tokens.txt");
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&contest_path, &contest)?;
    write(&tokens_path, &tokens_text)?;
    let file = ContestFile::load(&contest_path).map_err(|e| e.to_string())?;
    Ok(SecureContest {
        contest_path,
        tokens_path,
        tokens,
        admin_token,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_team_gets_its_own_token_and_the_file_only_digests() {
        let dir = tempfile::tempdir().unwrap();
        let teams: Vec<(String, String)> = (1..=6)
            .map(|n| (format!("team{n}"), format!("第{n}组")))
            .collect();
        let secure = write_secure_contest(dir.path(), &teams).unwrap();
        assert_eq!(secure.file.access.teams.len(), 6);
        let contest = std::fs::read_to_string(&secure.contest_path).unwrap();
        for (id, token) in &secure.tokens {
            assert!(!contest.contains(token.as_str()));
            let team = TeamId::parse(id).unwrap();
            assert!(secure.file.access.team(&team, Some(token)).is_ok());
        }
        assert!(secure.file.access.admin(Some(&secure.admin_token)).is_ok());
        let parsed = crate::client::Tokens::parse_file(
            &std::fs::read_to_string(&secure.tokens_path).unwrap(),
        )
        .unwrap();
        assert!(matches!(parsed, crate::client::Tokens::PerTeam(map) if map == secure.tokens));
    }
}
