//! The announcements of stored reports on [`CHANNEL`](super::CHANNEL): one `NOTIFY`
//! per committed batch (more only when a batch holds very many teams), never the
//! stats. A payload is the storing instance's number (`@<instance>`, so that its own
//! listener skips it), then one line per team of the batch, `<team> <first>-<last>`
//! (the seqs of its reports the batch stored) or `<team> <seq>` for a single report:
//!
//! ```text
//! @9021184417
//! team1 101-164
//! team2 7
//! ```
//!
//! A listener only needs each team's newest seq: it fetches whatever lies between the
//! newest it passed on and that one, so a payload it did not hear (a lost connection)
//! is made up for by the catch-up, and one it hears twice changes nothing. A payload
//! without the instance line (`<team> <seq>`) is read as another instance's.

use crate::team::TeamId;

/// Longest payload built; PostgreSQL refuses 8000 bytes and more.
const MAX_PAYLOAD: usize = 7_000;

/// The payloads by which `instance` announces `ranges` (team, first seq, last seq).
pub fn payloads<'a>(
    instance: u64,
    ranges: impl IntoIterator<Item = (&'a str, i64, i64)>,
) -> Vec<String> {
    let header = format!("@{instance}");
    let mut out: Vec<String> = Vec::new();
    let mut current = header.clone();
    for (team, first, last) in ranges {
        let line = if first == last {
            format!("{team} {last}")
        } else {
            format!("{team} {first}-{last}")
        };
        if current.len() > header.len() && current.len() + 1 + line.len() > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut current, header.clone()));
        }
        current.push('\n');
        current.push_str(&line);
    }
    if current.len() > header.len() {
        out.push(current);
    }
    out
}

/// The instance that sent a report payload (when it says) and the teams and newest
/// seqs it announces; lines that are not ours (someone else's `NOTIFY` on the
/// channel) are left out.
pub fn parse(payload: &str) -> (Option<u64>, Vec<(TeamId, u64)>) {
    let mut lines = payload.lines().peekable();
    let instance = lines
        .peek()
        .and_then(|first| first.strip_prefix('@'))
        .and_then(|number| number.parse().ok());
    if instance.is_some() {
        lines.next();
    }
    (instance, lines.filter_map(parse_line).collect())
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
        let payloads = payloads(42, [("team1", 101, 164), ("team-2", 7, 7)]);
        assert_eq!(payloads, vec!["@42\nteam1 101-164\nteam-2 7".to_string()]);
        let (by, parsed) = parse(&payloads[0]);
        assert_eq!(by, Some(42));
        assert_eq!(parsed.len(), 2);
        assert_eq!((parsed[0].0.as_str(), parsed[0].1), ("team1", 164));
        assert_eq!((parsed[1].0.as_str(), parsed[1].1), ("team-2", 7));
    }

    #[test]
    fn long_batches_are_split_under_the_payload_limit() {
        let teams: Vec<String> = (0..400)
            .map(|i| format!("{}{i:03}", "t".repeat(60)))
            .collect();
        let ranges = teams.iter().map(|t| (t.as_str(), 1_000_000, 1_000_063));
        let payloads = payloads(u64::MAX, ranges);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        assert!(payloads.iter().all(|p| parse(p).0 == Some(u64::MAX)));
        let heard: Vec<(TeamId, u64)> = payloads.iter().flat_map(|p| parse(p).1).collect();
        assert_eq!(heard.len(), 400);
        assert!(heard.iter().all(|(_, seq)| *seq == 1_000_063));
    }

    #[test]
    fn only_our_lines_are_read() {
        let lines = |payload| parse(payload).1;
        assert_eq!(parse("team-1 42"), (None, lines("team-1 42")));
        assert_eq!(lines("team-1 42")[0].1, 42);
        assert!(lines("team 1 2").is_empty());
        assert!(lines("team 9-3").is_empty());
        assert!(lines("team -3").is_empty());
        assert!(lines("../x 1").is_empty());
        assert!(lines("hello").is_empty());
        assert_eq!(lines("hello\nteam 3-4\nx y").len(), 1);
        assert_eq!(parse("@x\nteam 3").0, None);
        assert!(payloads(1, []).is_empty());
    }
}
