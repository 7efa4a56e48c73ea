//! JSON texts in shared pieces: each team's entry is serialised once per report
//! ([`EncodedTeam`]) and `/api/teams`, `/api/teams/<id>`, the `snapshot` and the
//! `team_update` messages are put together from those bytes ([`Encoded`]) without
//! copying them. Taking the board's list is then a clone of a few pointers per team
//! under the board lock, whatever the size of the teams' reports, and every stuck
//! viewer that holds an old snapshot holds the same team bytes as the others.

use std::io::{IoSlice, Read};
use std::sync::{Arc, LazyLock};

use crate::api;

/// Immutable bytes, shared.
pub type Bytes = Arc<[u8]>;

/// A piece of a shared buffer.
#[derive(Clone, Debug)]
pub struct Chunk {
    bytes: Bytes,
    start: usize,
    end: usize,
}

impl Chunk {
    /// All of `bytes`.
    pub fn whole(bytes: Bytes) -> Chunk {
        let end = bytes.len();
        Chunk {
            bytes,
            start: 0,
            end,
        }
    }

    /// The bytes of the piece.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// Length of the piece in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty piece.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The small fixed pieces between team entries, allocated once.
struct Fixed {
    /// `"is_active":…,"on_board":…` for each (is_active, on_board).
    activity: [Chunk; 4],
    comma: Chunk,
    open_list: Chunk,
    close_list: Chunk,
}

static FIXED: LazyLock<Fixed> = LazyLock::new(|| {
    let text = |s: &str| Chunk::whole(Arc::from(s.as_bytes()));
    Fixed {
        activity: [(false, false), (false, true), (true, false), (true, true)]
            .map(|(a, b)| text(&format!("\"is_active\":{a},\"on_board\":{b}"))),
        comma: text(","),
        open_list: text("["),
        close_list: text("]"),
    }
});

fn activity_chunk(activity: (bool, bool)) -> Chunk {
    FIXED.activity[usize::from(activity.0) * 2 + usize::from(activity.1)].clone()
}

/// A team's entry as `/api/teams` shows it, serialised once: everything but its two
/// activity flags, which change with time and are put in when the entry is shown.
#[derive(Clone, Debug)]
pub struct EncodedTeam {
    /// The entry with `"is_active":false,"on_board":false` at `flags`.
    json: Bytes,
    flags: (usize, usize),
}

/// The activity flags as [`EncodedTeam::encode`] writes them first.
const PLACEHOLDER: &[u8] = b"\"is_active\":false,\"on_board\":false";

impl EncodedTeam {
    /// Serialises a team's entry (its activity flags are ignored: see [`chunks`](Self::chunks)).
    pub fn encode(team: &api::Team<'_>) -> EncodedTeam {
        let team = api::Team {
            is_active: false,
            on_board: false,
            ..team.clone()
        };
        let json = serde_json::to_vec(&team).expect("teams serialize");
        // The flags follow team_id, team_name and last_update, whose quotes inside are
        // escaped: the first unescaped occurrence of the placeholder is the flags.
        let at = json
            .windows(PLACEHOLDER.len())
            .position(|w| w == PLACEHOLDER)
            .expect("a team entry has its activity flags");
        EncodedTeam {
            json: json.into(),
            flags: (at, at + PLACEHOLDER.len()),
        }
    }

    /// An empty entry, replaced by [`encode`](Self::encode) before it is shown.
    pub(super) fn placeholder() -> EncodedTeam {
        EncodedTeam {
            json: Arc::from(&b""[..]),
            flags: (0, 0),
        }
    }

    /// The entry with these activity flags, as pieces.
    pub fn chunks(&self, activity: (bool, bool)) -> [Chunk; 3] {
        [
            Chunk {
                bytes: Arc::clone(&self.json),
                start: 0,
                end: self.flags.0,
            },
            activity_chunk(activity),
            Chunk {
                bytes: Arc::clone(&self.json),
                start: self.flags.1,
                end: self.json.len(),
            },
        ]
    }

    /// Bytes of the entry (without the flags).
    pub fn len(&self) -> usize {
        self.json.len()
    }

    /// Never true: an entry is a JSON object.
    pub fn is_empty(&self) -> bool {
        self.json.is_empty()
    }
}

/// A JSON text put together from shared pieces.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    chunks: Vec<Chunk>,
    len: usize,
}

impl Encoded {
    /// The text parsed back (tests look into answers this way).
    #[cfg(test)]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.to_vec()).expect("Encoded is JSON")
    }

    /// An empty text, to be added to.
    pub fn new() -> Encoded {
        Encoded::default()
    }

    /// Adds a piece at the end.
    pub fn push(&mut self, chunk: Chunk) {
        self.len += chunk.len();
        self.chunks.push(chunk);
    }

    /// Adds fixed text at the end (copied once into a new piece).
    pub fn push_text(&mut self, text: &str) {
        self.push(Chunk::whole(Arc::from(text.as_bytes())));
    }

    /// Adds a team's entry with its activity flags.
    pub fn push_team(&mut self, team: &EncodedTeam, activity: (bool, bool)) {
        for chunk in team.chunks(activity) {
            self.push(chunk);
        }
    }

    /// `[team, team, ...]`.
    pub fn team_list<'a>(
        teams: impl IntoIterator<Item = (&'a EncodedTeam, (bool, bool))>,
    ) -> Encoded {
        let mut list = Encoded::new();
        list.push(FIXED.open_list.clone());
        for (i, (team, activity)) in teams.into_iter().enumerate() {
            if i > 0 {
                list.push(FIXED.comma.clone());
            }
            list.push_team(team, activity);
        }
        list.push(FIXED.close_list.clone());
        list
    }

    /// Adds all pieces of another text.
    pub fn append(&mut self, other: &Encoded) {
        for chunk in &other.chunks {
            self.push(chunk.clone());
        }
    }

    /// Length of the text in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty text.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, in order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The pieces from byte `offset` on, as slices for a vectored write (at most
    /// `max` of them).
    pub fn slices_from(&self, offset: usize, max: usize) -> Vec<IoSlice<'_>> {
        let mut skip = offset;
        let mut slices = Vec::new();
        for chunk in &self.chunks {
            if slices.len() == max {
                break;
            }
            let bytes = chunk.as_slice();
            if skip >= bytes.len() {
                skip -= bytes.len();
                continue;
            }
            slices.push(IoSlice::new(&bytes[skip..]));
            skip = 0;
        }
        slices
    }

    /// The whole text in one buffer (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for chunk in &self.chunks {
            out.extend_from_slice(chunk.as_slice());
        }
        out
    }

    /// A reader of the text that copies each piece only as it is read.
    pub fn into_reader(self) -> EncodedReader {
        EncodedReader {
            text: self,
            chunk: 0,
            offset: 0,
        }
    }
}

/// Reads an [`Encoded`] text piece by piece (an answer streamed without a copy).
pub struct EncodedReader {
    text: Encoded,
    chunk: usize,
    offset: usize,
}

impl Read for EncodedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            let Some(chunk) = self.text.chunks.get(self.chunk) else {
                break;
            };
            let bytes = &chunk.as_slice()[self.offset..];
            let n = bytes.len().min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&bytes[..n]);
            written += n;
            self.offset += n;
            if self.offset == chunk.len() {
                self.chunk += 1;
                self.offset = 0;
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::borrow::Cow;

    fn team(name: &str) -> api::Team<'static> {
        api::Team {
            team_id: Cow::Owned("t1".into()),
            team_name: Cow::Owned(name.into()),
            last_update: Cow::Owned("2025-08-01T10:00:00+08:00".into()),
            is_active: true,
            on_board: true,
            qps: 1.0,
            avg_latency: 2.0,
            p99_latency: 3.0,
            data_loss_rate: 0.0,
            metrics: json!({}),
            stats: Cow::Owned(json!({"is_active": true, "x": "\"is_active\":false"})),
            report_count: 1,
            best: api::Best::default(),
            run: 2,
            run_best: api::Best::default(),
            warnings: Cow::Owned(Vec::new()),
            alerts: Cow::Owned(Vec::new()),
            ranking: None,
        }
    }

    #[test]
    fn an_encoded_team_shows_any_activity_and_equals_its_serialisation() {
        // A name that looks like the flags must not be mistaken for them.
        let original = team("\",\"is_active\":false,\"on_board\":false,\"");
        let encoded = EncodedTeam::encode(&original);
        for (is_active, on_board) in [(true, false), (false, true), (true, true)] {
            let mut text = Encoded::new();
            text.push_team(&encoded, (is_active, on_board));
            let shown = api::Team {
                is_active,
                on_board,
                ..original.clone()
            };
            assert_eq!(text.to_vec(), serde_json::to_vec(&shown).unwrap());
        }
    }

    #[test]
    fn a_list_reads_back_piece_by_piece_and_shares_the_team_bytes() {
        let a = EncodedTeam::encode(&team("a"));
        let b = EncodedTeam::encode(&team("b"));
        let list = Encoded::team_list([(&a, (true, true)), (&b, (false, false))]);
        let whole = list.to_vec();
        let parsed: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(parsed[1]["team_name"], "b");
        assert_eq!(parsed[1]["is_active"], false);
        let mut read = Vec::new();
        let mut reader = list.clone().into_reader();
        let mut buf = [0u8; 7];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            read.extend_from_slice(&buf[..n]);
        }
        assert_eq!(read, whole);
        let from_10: Vec<u8> = list
            .slices_from(10, usize::MAX)
            .iter()
            .flat_map(|s| s.to_vec())
            .collect();
        assert_eq!(from_10, whole[10..]);
        assert!(Arc::strong_count(&a.json) >= 3);
    }
}
