use std::time::Duration;

use super::*;
use crate::auth::TokenDigest;
use crate::team::{MAX_TEAM_NAME_CHARS, TeamId};

fn parse(text: &str) -> Result<ContestFile, ConfigError> {
    ContestFile::parse(Path::new("contest.toml"), text)
}

fn error_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const TEAM1_TOKEN: &str = "team1-0123456789abcdef";

#[test]
fn an_empty_file_is_open_mode_with_no_settings() {
    let file = parse("").unwrap();
    assert!(file.access.is_open());
    assert!(!file.access.has_tokens());
    assert_eq!(file.server, ServerSection::default());
    assert!(file.describe().contains("mode: open"));
}

#[test]
fn registered_teams_admin_and_viewers_are_read_with_digests_only() {
    let admin = NewToken::new(&TokenFor::Admin);
    let text = format!(
        r#"
[server]
port = 9000
inactive_after = "5m"
evict_after = 900
max_body = "64KiB"
log_level = "info"
max_report_rate = 5

{}
[[team]]
id = "team1"
name = "第一小组"
token = "{TEAM1_TOKEN}"

[[team]]
id = "team2"
token_sha256 = "{}"

[viewers]
token = "viewers-0123456789abcdef"
"#,
        admin.section,
        TokenDigest::of("team2-0123456789abcdef")
            .to_hex()
            .to_uppercase()
    );
    let file = parse(&text).unwrap();
    assert_eq!(file.server.port, Some(9000));
    assert_eq!(
        file.server.inactive_after,
        Some(Seconds(Duration::from_secs(300)))
    );
    assert_eq!(
        file.server.evict_after,
        Some(Seconds(Duration::from_secs(900)))
    );
    assert_eq!(file.server.max_body, Some(Size(65536)));
    assert_eq!(
        file.server.log_level,
        Some(LogLevel(log::LevelFilter::Info))
    );
    let access = &file.access;
    let team1 = TeamId::parse("team1").unwrap();
    let team2 = TeamId::parse("team2").unwrap();
    assert_eq!(access.team_name(&team1), Some("第一小组"));
    assert_eq!(access.team_name(&team2), Some("Team-team2"));
    assert!(access.team(&team1, Some(TEAM1_TOKEN)).unwrap().is_some());
    assert!(access.team(&team2, Some("team2-0123456789abcdef")).is_ok());
    assert!(access.admin(Some(&admin.token)).is_ok());
    assert!(access.viewer(Some("viewers-0123456789abcdef")).is_ok());
    assert!(access.viewer(Some(&admin.token)).is_ok());
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
    let described = file.describe();
    for expected in [
        "registered: 2 team(s)",
        "team1  第一小组",
        "team2  Team-team2",
        "admin API: on",
        "board: private",
        "at most 5 per second per team, bursts of 10",
        "at most 10 a minute",
        "tokens travel in clear",
        "port = 9000",
        "inactive_after = 300.0",
        "log_level = \"info\"",
    ] {
        assert!(
            described.contains(expected),
            "{expected:?} not in\n{described}"
        );
    }
    assert!(!described.contains(TEAM1_TOKEN));
    assert!(!format!("{file:?}").contains(TEAM1_TOKEN));
}

#[test]
fn team_auth_gives_one_refusal_for_wrong_other_and_unlisted() {
    let text = format!(
        "[[team]]\nid = \"team1\"\ntoken = \"{TEAM1_TOKEN}\"\n[[team]]\nid = \"team2\"\ntoken = \"team2-0123456789abcdef\"\n"
    );
    let access = parse(&text).unwrap().access;
    let team1 = TeamId::parse("team1").unwrap();
    let other = TeamId::parse("nobody").unwrap();
    use crate::auth::Denied;
    assert_eq!(access.team(&team1, None), Err(Denied::Missing));
    assert_eq!(access.team(&team1, Some("wrong")), Err(Denied::NotThisTeam));
    assert_eq!(
        access.team(&team1, Some("team2-0123456789abcdef")),
        Err(Denied::NotThisTeam)
    );
    assert_eq!(
        access.team(&other, Some(TEAM1_TOKEN)),
        Err(Denied::NotThisTeam)
    );
    assert_eq!(access.admin(Some(TEAM1_TOKEN)), Err(Denied::NoAdmin));
    // A public board lets anyone read.
    assert!(access.viewer(None).is_ok());
}

#[test]
fn unknown_keys_and_sections_are_named_with_their_line() {
    let message = error_of("[server]\nport = 1\nprot = 2\n");
    assert!(message.starts_with("contest.toml line 3: "), "{message}");
    assert!(message.contains("prot"), "{message}");
    let message =
        error_of("[[team]]\nid = \"a\"\ntoken = \"0123456789abcdefgh\"\ncolour = \"red\"\n");
    assert!(
        message.contains("line 4") && message.contains("colour"),
        "{message}"
    );
    let message = error_of("\n\n[sever]\nport = 1\n");
    assert!(
        message.contains("line 3") && message.contains("sever"),
        "{message}"
    );
}

#[test]
fn wrong_types_and_bad_values_are_named_with_their_line() {
    let message = error_of("[server]\nport = \"eighty\"\n");
    assert!(message.contains("line 2"), "{message}");
    let message = error_of("[server]\n\ninactive_after = \"soon\"\n");
    assert!(
        message.contains("line 3") && message.contains("soon"),
        "{message}"
    );
    let message = error_of("[server]\nmax_body = -5\n");
    assert!(
        message.contains("line 2") && message.contains("negative"),
        "{message}"
    );
    let message = error_of("[server]\nlog_level = \"loud\"\n");
    assert!(
        message.contains("line 2") && message.contains("loud"),
        "{message}"
    );
    let message = error_of("[server\nport = 1\n");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn invalid_and_duplicate_team_ids_are_refused() {
    let message = error_of("[[team]]\nid = \"../etc\"\ntoken = \"0123456789abcdefgh\"\n");
    assert!(
        message.contains("line 2") && message.contains("../etc"),
        "{message}"
    );
    let text = "[[team]]\nid = \"t1\"\ntoken = \"0123456789abcdefgh\"\n\n[[team]]\nid = \"t1\"\ntoken = \"0123456789abcdefgX\"\n";
    let message = error_of(text);
    assert!(
        message.contains("line 6") && message.contains("twice") && message.contains("line 2"),
        "{message}"
    );
}

#[test]
fn tokens_must_be_given_once_and_well_formed() {
    let message = error_of("[[team]]\nid = \"t1\"\nname = \"x\"\n");
    assert!(
        message.contains("token_sha256") && message.contains("missing"),
        "{message}"
    );
    let message = error_of("[admin]\ntoken = \"0123456789abcdefgh\"\ntoken_sha256 = \"00\"\n");
    assert!(
        message.contains("line 3") && message.contains("not both"),
        "{message}"
    );
    let message = error_of("[admin]\ntoken_sha256 = \"not-hex\"\n");
    assert!(
        message.contains("line 2") && message.contains("64 hex"),
        "{message}"
    );
    assert!(
        !message.contains("not-hex"),
        "a secret-looking value is never echoed: {message}"
    );
    let message = error_of("[viewers]\ntoken = \"\"\n");
    assert!(message.contains("non-empty"), "{message}");
}

#[test]
fn a_short_token_is_accepted_with_a_warning() {
    let file = parse("[[team]]\nid = \"t1\"\ntoken = \"short\"\n").unwrap();
    assert_eq!(file.warnings.len(), 1);
    assert!(file.warnings[0].contains("line 3"), "{:?}", file.warnings);
    assert!(
        file.warnings[0].contains("shorter than 16"),
        "{:?}",
        file.warnings
    );
    assert!(!file.warnings[0].contains("short\""));
    assert!(file.describe().contains("shorter than 16"));
}

#[test]
fn one_token_for_two_roles_is_refused() {
    let text = format!(
        "[admin]\ntoken = \"{TEAM1_TOKEN}\"\n[[team]]\nid = \"t1\"\ntoken = \"{TEAM1_TOKEN}\"\n"
    );
    let message = error_of(&text);
    assert!(message.contains("same token"), "{message}");
    assert!(!message.contains(TEAM1_TOKEN));
}

#[test]
fn team_names_are_checked() {
    let long = "名".repeat(MAX_TEAM_NAME_CHARS + 1);
    let message = error_of(&format!(
        "[[team]]\nid = \"t1\"\nname = \"{long}\"\ntoken = \"0123456789abcdefgh\"\n"
    ));
    assert!(
        message.contains("line 3") && message.contains("at most"),
        "{message}"
    );
    let message =
        error_of("[[team]]\nid = \"t1\"\nname = \"a\\u001bb\"\ntoken = \"0123456789abcdefgh\"\n");
    assert!(message.contains("control"), "{message}");
}

#[test]
fn a_new_team_token_section_reads_back_and_matches_the_token() {
    let holder = TokenFor::Team {
        id: TeamId::parse("team1").unwrap(),
        name: Some("第一\"小组\"".into()),
    };
    let new = NewToken::new(&holder);
    assert!(
        new.token.len() >= 22,
        "at least 128 bits in URL-safe base64"
    );
    assert!(!new.section.contains(&new.token));
    assert!(new.note(&holder).contains(&new.token));
    let file = parse(&new.section).unwrap();
    let id = TeamId::parse("team1").unwrap();
    assert_eq!(file.access.team_name(&id), Some("第一\"小组\""));
    assert!(file.access.team(&id, Some(&new.token)).is_ok());
    let admin = NewToken::new(&TokenFor::Admin);
    let file = parse(&admin.section).unwrap();
    assert!(file.access.admin(Some(&admin.token)).is_ok());
}

#[test]
fn a_missing_file_names_its_path() {
    let message = ContestFile::load(Path::new("/nonexistent/contest.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("/nonexistent/contest.toml"), "{message}");
}
#[test]
fn type_errors_name_the_key() {
    let message = error_of("[server]\nport = \"eighty\"\n");
    assert!(
        message.starts_with("contest.toml line 2: port: "),
        "{message}"
    );
}

#[test]
fn rules_and_receivers_are_read_and_described_without_urls_or_secrets() {
    let file = parse(
        "[[rule]]\nname = \"P99\"\nwhen = \"p99_latency > 200\"\nfor = \"30s\"\nteams = [\"team1\"]\n\
         [[notify]]\nname = \"organisers\"\nkind = \"feishu\"\n\
         url = \"https://open.feishu.cn/open-apis/bot/v2/hook/hook-token-123\"\nsecret = \"sign-secret-456\"\n",
    )
    .unwrap();
    assert_eq!(file.alerts.rules[0].name, "P99");
    assert_eq!(file.alerts.destinations[0].name, "organisers");
    let described = file.describe();
    assert!(
        described
            .contains("alerts: 1 rule(s):\n  \"P99\": p99_latency > 200 for 30s, team1, warning\n")
            && described.contains("\"organisers\": feishu to open.feishu.cn, signed, every rule"),
        "{described}"
    );
    assert!(!described.contains("hook-token-123") && !described.contains("sign-secret-456"));
    assert!(
        parse("")
            .unwrap()
            .describe()
            .contains("alerts: none (no [[rule]])")
    );
}

#[test]
fn a_wrong_alert_section_names_the_file_and_what_is_wrong() {
    let error = error_of("[[rule]]\nname = \"r\"\nwhen = \"p99 > 1\"\n");
    assert!(
        error.starts_with("contest.toml: ") && error.contains("unknown metric \"p99\""),
        "{error}"
    );
    let error = error_of("[[rules]]\nname = \"r\"\n");
    assert!(
        error.starts_with("contest.toml line 1: ") && error.contains("unknown field `rules`"),
        "{error}"
    );
    let error = error_of(
        "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nrules = [\"none\"]\n",
    );
    assert!(error.contains("none"), "{error}");
}

#[test]
fn tls_paths_are_taken_from_the_files_directory_both_or_neither() {
    let text = "[server]\ntls_cert = \"cert.pem\"\ntls_key = \"/etc/ssl/key.pem\"\n";
    let file = ContestFile::parse(Path::new("/srv/contest/contest.toml"), text).unwrap();
    let files = file.server.tls_files().unwrap();
    assert_eq!(files.cert, Path::new("/srv/contest/cert.pem"));
    assert_eq!(files.key, Path::new("/etc/ssl/key.pem"));
    assert!(file.describe().contains("TLS: HTTPS"));
    let half = error_of("[server]\nport = 1\n\ntls_cert = \"cert.pem\"\n");
    assert_eq!(
        half,
        "contest.toml line 4: tls_cert: [server] needs tls_key too (HTTPS takes both or neither)"
    );
    let unreadable = parse("[server]\ntls_cert = \"/no/cert.pem\"\ntls_key = \"/no/key.pem\"\n")
        .unwrap()
        .check_tls()
        .unwrap_err()
        .to_string();
    assert!(
        unreadable.starts_with(
            "contest.toml: [server] tls_cert/tls_key cannot be served with: --tls-cert /no/cert.pem: cannot read it"
        ),
        "{unreadable}"
    );
}

#[test]
fn contest_and_ranking_sections_are_checked_and_described() {
    let file = parse(
        "[contest]\nstart = \"2026-12-01T14:00:00+08:00\"\nfreeze = \"2026-12-01T17:00:00+08:00\"\nend = 2026-12-01T18:00:00+08:00\n\n[ranking]\nscore = \"qps * (1 - data_loss_rate / 100)\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
    )
    .unwrap();
    let schedule = file.schedule.unwrap();
    assert_eq!(
        schedule
            .phase_at(chrono::DateTime::parse_from_rfc3339("2026-12-01T17:30:00+08:00").unwrap()),
        crate::contest::schedule::Phase::Frozen
    );
    let rule = file.ranking_rule();
    assert_eq!(rule.basis_text(), "qps * (1 - data_loss_rate / 100)");
    let described = file.describe();
    for expected in [
        "contest: from 2026-12-01T14:00:00.000+08:00 to 2026-12-01T18:00:00.000+08:00",
        "freeze: from 2026-12-01T17:00:00.000+08:00",
        "ranking: by qps * (1 - data_loss_rate / 100) (higher is better, the team's best report)",
        "disqualified (ranked after the others) when: data_loss_rate > 1",
    ] {
        assert!(
            described.contains(expected),
            "{expected:?} not in\n{described}"
        );
    }
    let plain = parse("").unwrap();
    assert!(plain.schedule.is_none() && plain.ranking.is_none());
    assert_eq!(
        plain.ranking_rule(),
        crate::contest::ranking::RankingRule::default()
    );
    let described = plain.describe();
    assert!(
        described.contains("contest: off (no [contest])"),
        "{described}"
    );
    assert!(described.contains("ranking: the latest QPS"), "{described}");
}

#[test]
fn a_bad_contest_or_ranking_section_is_one_line_naming_file_line_and_key() {
    let error = error_of(
        "[server]\nport = 1\n[contest]\nstart = \"2026-12-01 14:00:00\"\nend = \"2026-12-01 13:00:00\"\n",
    );
    assert!(
        error.starts_with("contest.toml line 3: [contest] end = ")
            && error.contains("must be after start"),
        "{error}"
    );
    let error = error_of("[contest]\nstart = \"soon\"\nend = \"2026-12-01 13:00:00\"\n");
    assert!(
        error.contains("[contest] start = \"soon\": not a time"),
        "{error}"
    );
    let error = error_of(
        "[contest]\nstart = \"2026-12-01 12:00:00\"\nend = \"2026-12-01 13:00:00\"\nfreeze = \"2026-12-01 13:30:00\"\n",
    );
    assert!(error.contains("[contest] freeze = "), "{error}");
    let error = error_of("\n[ranking]\nby = \"speed\"\n");
    assert!(
        error.starts_with("contest.toml line 2: [ranking] by = \"speed\": unknown metric"),
        "{error}"
    );
    for error in [
        error_of("[contest]\nbegin = 1\n"),
        error_of("[ranking]\ncolour = 1\n"),
    ] {
        assert!(
            error.contains("unknown field") && !error.contains('\n'),
            "{error}"
        );
    }
}
