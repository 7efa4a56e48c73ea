//! Changes other than new reports that every instance's viewers must see: an
//! organiser's action on a team's reports, on the hidden teams and names, the audit
//! entry pushed to viewers, an alert state change and the contest state (the reveal). Each is announced on the
//! report channel in the transaction that makes it, as `!<kind> <instance> <detail>`
//! (a `!` never starts a team id, so no report announcement reads like one); the
//! instance that made it already applied it and skips its own.

use postgres::Transaction;
use serde_json::Value;

use super::CHANNEL;
use crate::team::TeamId;

/// A change announced on the channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The team's reports changed (trash, restore, reset): read its state again.
    Team(TeamId),
    /// The hidden teams or given names changed: read them again.
    Presentation,
    /// An audit entry as viewers get it (`admin_action`, without the address).
    AdminAction(Value),
    /// An alert state change as viewers get it (the whole message).
    Alert(Value),
    /// The contest state (the reveal) changed: read it again.
    Contest,
}

impl Change {
    fn payload(&self, instance: u64) -> String {
        match self {
            Change::Team(id) => format!("!team {instance} {id}"),
            Change::Presentation => format!("!presentation {instance} -"),
            Change::AdminAction(entry) => format!("!admin {instance} {entry}"),
            Change::Alert(message) => format!("!alert {instance} {message}"),
            Change::Contest => format!("!contest {instance} -"),
        }
    }
}

/// Announces `change` of `instance` when `tx` commits.
pub fn announce(
    tx: &mut Transaction<'_>,
    instance: u64,
    change: &Change,
) -> Result<(), postgres::Error> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &change.payload(instance)],
    )
    .map(|_| ())
}

/// The instance and change of a `!` payload; `None` for anything else.
pub fn parse(payload: &str) -> Option<(u64, Change)> {
    let rest = payload.strip_prefix('!')?;
    let mut parts = rest.splitn(3, ' ');
    let (kind, instance, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let instance = instance.parse().ok()?;
    let change = match kind {
        "team" => Change::Team(TeamId::parse(detail).ok()?),
        "presentation" => Change::Presentation,
        "admin" => Change::AdminAction(serde_json::from_str(detail).ok()?),
        "alert" => Change::Alert(serde_json::from_str(detail).ok()?),
        "contest" => Change::Contest,
        _ => return None,
    };
    Some((instance, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back_and_never_look_like_a_report() {
        let team = Change::Team(TeamId::parse("t-1").unwrap());
        let entry = Change::AdminAction(serde_json::json!({"action": "hide", "name": "a b"}));
        for change in [team, Change::Presentation, entry, Change::Contest] {
            let payload = change.payload(7);
            assert!(payload.starts_with('!'));
            assert_eq!(parse(&payload), Some((7, change)));
        }
        assert_eq!(parse("!team x ../y"), None);
        assert_eq!(parse("team-1 42"), None);
    }
}
