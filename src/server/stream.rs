//! `GET /api/teams/<id>/history` streamed: the page's report files are read one at
//! a time while the answer is sent, so a page of 1,000 large reports never sits in
//! memory whole (nor 1,000 of them parsed), whatever the number of readers.

use std::collections::VecDeque;
use std::io::Read;

use crate::contest::schedule::Schedule;
use crate::query;
use crate::store::ReportReader;
use crate::team::TeamId;

/// The JSON of a history page (the shape of [`crate::api::HistoryPage`]), produced entry by
/// entry as it is read. A file that vanished or is corrupt is left out, as before.
pub struct HistoryStream {
    reader: ReportReader,
    /// Marks the reports after the end.
    schedule: Option<Schedule>,
    team: TeamId,
    names: VecDeque<query::Named>,
    /// Bytes produced and not yet read.
    buffer: Vec<u8>,
    at: usize,
    first: bool,
    /// What follows the list, once it is done.
    tail: Option<String>,
}

impl HistoryStream {
    /// The page `names` (newest first) of `team`, of `total` reports, at `offset` with `limit`.
    pub fn new(
        reader: ReportReader,
        schedule: Option<Schedule>,
        team: TeamId,
        names: Vec<query::Named>,
        (total, limit, offset): (usize, usize, usize),
    ) -> HistoryStream {
        let head = format!(
            "{{\"team_id\":{},\"history\":[",
            serde_json::to_string(team.as_str()).expect("strings serialize")
        );
        let tail = format!(
            "],\"total\":{total},\"limit\":{limit},\"offset\":{offset},\"has_more\":{}}}",
            offset.saturating_add(limit) < total
        );
        HistoryStream {
            reader,
            schedule,
            team,
            names: names.into(),
            buffer: head.into_bytes(),
            at: 0,
            first: true,
            tail: Some(tail),
        }
    }

    /// Refills the buffer with the next entry (or the tail); false at the end.
    fn refill(&mut self) -> bool {
        self.buffer.clear();
        self.at = 0;
        while let Some(named) = self.names.pop_front() {
            let Ok(stored) = named.read(&self.reader, &self.team) else {
                continue;
            };
            if !self.first {
                self.buffer.push(b',');
            }
            self.first = false;
            serde_json::to_writer(
                &mut self.buffer,
                &query::history_entry(&stored, self.schedule.as_ref()),
            )
            .expect("history entries serialize");
            return true;
        }
        match self.tail.take() {
            Some(tail) => {
                self.buffer.extend_from_slice(tail.as_bytes());
                true
            }
            None => false,
        }
    }
}

impl Read for HistoryStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buffer.len() && !self.refill() {
            return Ok(0);
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
