//! The contest on the board: the snapshot carries it, and a change (a phase
//! boundary, a reload) goes to every viewer as a `contest` message.

use std::sync::Arc;

use super::LiveBoard;
use crate::api::WsMessage;
use crate::contest::live::ContestInfo;
use crate::contest::ranking::RuleDescription;

impl LiveBoard {
    /// Shows the contest (`None`: no `[contest]`) and publishes a `contest` message
    /// with the server's time `now_ms`; under the board's lock, so a new viewer gets
    /// either the old contest in its snapshot and then the message, or the new one.
    pub fn set_contest(
        &self,
        contest: Option<&ContestInfo>,
        ranking: Option<&RuleDescription>,
        now_ms: i64,
    ) {
        let _teams = self.teams.lock().expect("board lock poisoned");
        let json = format!(
            "\"contest\":{},\"ranking\":{}",
            serde_json::to_string(&contest).expect("the contest serializes"),
            serde_json::to_string(&ranking).expect("the rule serializes")
        );
        *self.contest.lock().expect("contest lock poisoned") = Arc::from(json);
        let message = WsMessage::Contest {
            contest: contest.cloned(),
            ranking: ranking.cloned(),
            now: now_ms,
        };
        self.hub.publish(None, message.to_text().into());
    }

    /// The snapshot's `"contest":…,"ranking":…` members.
    pub(super) fn contest_json(&self) -> Arc<str> {
        Arc::clone(&self.contest.lock().expect("contest lock poisoned"))
    }
}
