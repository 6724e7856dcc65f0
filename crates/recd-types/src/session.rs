//! When a user's event continues their current session: the one rule the speed layer's
//! session features and the trainer's session context both follow.

use crate::TimestampMs;

/// True when an event stamped `ts` with client session id `id` continues a session whose
/// newest event was stamped `last_ms` with id `session_id`: it names no other session id, and
/// comes at most `gap_ms` after. Ids are compared as given (strings, or their hashes).
pub fn continues_session<T: PartialEq>(
    session_id: Option<T>,
    last_ms: TimestampMs,
    id: Option<T>,
    ts: TimestampMs,
    gap_ms: i64,
) -> bool {
    let other_id = id.is_some() && id != session_id;
    !other_id && ts.saturating_sub(last_ms) <= gap_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_other_id_or_a_long_gap_starts_a_new_session() {
        assert!(continues_session(Some("a"), 0, Some("a"), 10, 10));
        assert!(!continues_session(Some("a"), 0, Some("a"), 11, 10));
        assert!(!continues_session(Some("a"), 0, Some("b"), 1, 10));
        // An event without an id continues the session it falls in, whatever its id.
        assert!(continues_session(Some("a"), 0, None, 5, 10));
        assert!(continues_session::<&str>(None, 0, None, 5, 10));
        assert!(!continues_session(None, 0, Some("b"), 5, 10));
    }
}
