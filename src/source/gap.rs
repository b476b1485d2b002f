//! The history one query is missing after failed requests, and when to
//! ask for it again.

use super::poller::Answered;

/// Polls to wait at most between two tries to refill a gap: with a
/// 15 s refresh, a source that stays down is asked for its history about
/// every 8 minutes, not on every poll.
pub const MAX_REFILL_WAIT_POLLS: u32 = 32;

/// The history one query's store is missing: a pure state machine fed with
/// the query's answers, asked once per poll whether to refill now.
///
/// A failed backfill leaves the whole window missing; a failed poll leaves
/// what came after the last answer. The refill is tried on the next poll,
/// then after 2, 4, … up to `MAX_REFILL_WAIT_POLLS` polls while it keeps
/// failing, so a dead source is not asked for days of data every poll.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Gap {
    /// Start of the missing stretch (clock ms), when something is missing.
    since_ms: Option<i64>,
    /// The newest clock time an answer covered.
    last_ok_ms: Option<i64>,
    wait: u32,
    left: u32,
}

impl Gap {
    /// Takes one answer of the query. `history_start_ms`: where the history
    /// window began for this answer.
    pub(super) fn answered(&mut self, a: &Answered, history_start_ms: i64) {
        match (&a.result, a.backfill) {
            (Ok(_), true) => {
                *self = Gap {
                    last_ok_ms: Some(a.at_ms),
                    ..Gap::default()
                };
            }
            (Ok(_), false) => self.last_ok_ms = Some(a.at_ms),
            (Err(_), true) => {
                self.since_ms.get_or_insert(history_start_ms);
                self.wait = (self.wait * 2).clamp(1, MAX_REFILL_WAIT_POLLS);
                self.left = if a.refill { self.wait } else { 0 };
            }
            (Err(_), false) => {
                if self.since_ms.is_none() {
                    self.since_ms = Some(self.last_ok_ms.unwrap_or(history_start_ms));
                    self.wait = 0;
                    self.left = 0;
                }
            }
        }
    }

    /// Called once per poll: the start of the stretch to refill now, if any.
    pub(super) fn due(&mut self) -> Option<i64> {
        let since = self.since_ms?;
        if self.left > 0 {
            self.left -= 1;
            return None;
        }
        Some(since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::poller::Fetch;
    use crate::source::{Answer, SourceError};
    use std::time::Duration;

    const HISTORY_START: i64 = 1_000;

    fn answer(at_ms: i64, ok: bool, fetch: Fetch) -> Answered {
        Answered {
            query: "q".into(),
            source: "prom".into(),
            result: if ok {
                Ok(Answer::default())
            } else {
                Err(SourceError::Connect("refused".into()))
            },
            latency: Duration::ZERO,
            at_ms,
            backfill: fetch != Fetch::Instant,
            refill: matches!(fetch, Fetch::Refill(_)),
        }
    }

    /// Feeds one answer and asks whether the next poll refills.
    fn feed(g: &mut Gap, at_ms: i64, ok: bool, fetch: Fetch) -> Option<i64> {
        g.answered(&answer(at_ms, ok, fetch), HISTORY_START);
        g.due()
    }

    #[test]
    fn nothing_is_refilled_while_every_answer_comes() {
        let mut g = Gap::default();
        assert_eq!(feed(&mut g, 5_000, true, Fetch::Backfill), None);
        for t in 1..10 {
            assert_eq!(feed(&mut g, 5_000 + t * 15_000, true, Fetch::Instant), None);
        }
    }

    #[test]
    fn a_failed_backfill_is_retried_with_growing_waits_until_it_answers() {
        let mut g = Gap::default();
        // The start-up backfill fails: the whole window, on the next poll.
        assert_eq!(
            feed(&mut g, 5_000, false, Fetch::Backfill),
            Some(HISTORY_START)
        );
        // Each failed refill doubles the polls skipped before the next try.
        let mut waits = Vec::new();
        for _ in 0..8 {
            g.answered(
                &answer(5_000, false, Fetch::Refill(HISTORY_START)),
                HISTORY_START,
            );
            let mut skipped = 0;
            while g.due().is_none() {
                skipped += 1;
            }
            waits.push(skipped);
        }
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 32, 32, 32]);
        // Polls that answer meanwhile do not close the gap; a refill does.
        g.answered(&answer(9_000, true, Fetch::Instant), HISTORY_START);
        assert_eq!(g.due(), Some(HISTORY_START));
        assert_eq!(
            feed(&mut g, 9_000, true, Fetch::Refill(HISTORY_START)),
            None
        );
    }

    #[test]
    fn failed_polls_are_refilled_from_the_last_answer() {
        let mut g = Gap::default();
        feed(&mut g, 5_000, true, Fetch::Backfill);
        feed(&mut g, 20_000, true, Fetch::Instant);
        // Down for three polls: the gap starts at the last answer.
        assert_eq!(feed(&mut g, 35_000, false, Fetch::Instant), Some(20_000));
        g.answered(&answer(50_000, false, Fetch::Refill(20_000)), HISTORY_START);
        assert_eq!(g.due(), None, "one poll skipped after a failed refill");
        assert_eq!(feed(&mut g, 50_000, false, Fetch::Instant), Some(20_000));
        // Back: the refill covers it and the gap is closed.
        assert_eq!(feed(&mut g, 65_000, true, Fetch::Refill(20_000)), None);
        assert_eq!(feed(&mut g, 65_000, true, Fetch::Instant), None);
        // A later outage starts a new gap at the newest answer.
        assert_eq!(feed(&mut g, 80_000, false, Fetch::Instant), Some(65_000));
    }
}
