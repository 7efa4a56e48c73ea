//! The announcements of stored reports on [`CHANNEL`](super::CHANNEL): one `NOTIFY`
//! per committed batch (more only when a batch holds very many teams), never the
//! stats. A payload is one line per team of the batch, `<team> <first>-<last>` (the
//! seqs of its reports the batch stored) or `<team> <seq>` for a single report:
//!
//! ```text
//! team1 101-164
//! team2 7
//! ```
//!
//! A listener only needs each team's newest seq: it fetches whatever lies between the
//! newest it passed on and that one, so a payload it did not hear (a lost connection)
//! is made up for by the catch-up, and one it hears twice changes nothing.

use crate::team::TeamId;

/// Longest payload built; PostgreSQL refuses 8000 bytes and more.
const MAX_PAYLOAD: usize = 7_000;

/// The payloads announcing `ranges` (team, first seq, last seq), in their order.
pub fn payloads<'a>(ranges: impl IntoIterator<Item = (&'a str, i64, i64)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (team, first, last) in ranges {
        let line = if first == last {
            format!("{team} {last}")
        } else {
            format!("{team} {first}-{last}")
        };
        if !current.is_empty() && current.len() + 1 + line.len() > MAX_PAYLOAD {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The teams and newest seqs a report payload announces; lines that are not ours
/// (someone else's `NOTIFY` on the channel) are left out.
pub fn parse(payload: &str) -> Vec<(TeamId, u64)> {
    payload.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<(TeamId, u64)> {
    let (team, seqs) = line.split_once(' ')?;
    let last = match seqs.split_once('-') {
        Some((first, last)) => {
            let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            (first <= last).then_some(last)?
        }
        None => seqs.parse().ok()?,
    };
    Some((TeamId::parse(team).ok()?, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        let payloads = payloads([("team1", 101, 164), ("team-2", 7, 7)]);
        assert_eq!(payloads, vec!["team1 101-164\nteam-2 7".to_string()]);
        let parsed = parse(&payloads[0]);
        assert_eq!(parsed.len(), 2);
        assert_eq!((parsed[0].0.as_str(), parsed[0].1), ("team1", 164));
        assert_eq!((parsed[1].0.as_str(), parsed[1].1), ("team-2", 7));
    }

    #[test]
    fn long_batches_are_split_under_the_payload_limit() {
        let teams: Vec<String> = (0..400)
            .map(|i| format!("{}{i:03}", "t".repeat(60)))
            .collect();
        let payloads = payloads(teams.iter().map(|t| (t.as_str(), 1_000_000, 1_000_063)));
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let heard: Vec<(TeamId, u64)> = payloads.iter().flat_map(|p| parse(p)).collect();
        assert_eq!(heard.len(), 400);
        assert!(heard.iter().all(|(_, seq)| *seq == 1_000_063));
    }

    #[test]
    fn only_our_lines_are_read() {
        assert_eq!(parse("team-1 42")[0].1, 42);
        assert!(parse("team 1 2").is_empty());
        assert!(parse("team 9-3").is_empty());
        assert!(parse("team -3").is_empty());
        assert!(parse("../x 1").is_empty());
        assert!(parse("hello").is_empty());
        assert_eq!(parse("hello\nteam 3-4\nx y").len(), 1);
    }
}
