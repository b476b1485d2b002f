//! One source's circuit breaker: a source that keeps failing is left alone
//! for a while, then probed with one request. The poller asks it before
//! each request and tells it each outcome.

use std::time::{Duration, Instant};

use super::{Answer, SourceError};

/// Requests in a row that find a source down before it is left alone.
pub const TRIP_AFTER: u32 = 3;
/// The longest a tripped source is left alone before one request probes it.
const MAX_COOL_DOWN: Duration = Duration::from_secs(60);

/// Whether a failure says the source itself is down or overloaded (and not
/// that one query is wrong).
fn says_down(e: &SourceError) -> bool {
    match e {
        SourceError::Timeout(_) | SourceError::Connect(_) => true,
        SourceError::Http { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// One source's circuit breaker, shared by its queries: a pure state
/// machine over real time. Closed, it lets every request go; after
/// `TRIP_AFTER` requests in a row found the source down it opens for a
/// cool-down (the refresh interval, doubling on each failed probe up to
/// `MAX_COOL_DOWN`); then one request goes as a probe and its answer
/// closes it or opens it again.
#[derive(Debug, Clone)]
pub(super) struct Breaker {
    first_cool: Duration,
    cool: Duration,
    in_row: u32,
    open_until: Option<Instant>,
    probing: bool,
    last: String,
}

impl Breaker {
    pub(super) fn new(refresh: Duration) -> Breaker {
        let first_cool = refresh.min(MAX_COOL_DOWN);
        Breaker {
            first_cool,
            cool: first_cool,
            in_row: 0,
            open_until: None,
            probing: false,
            last: String::new(),
        }
    }

    /// May a request go now? The error says why not.
    pub(super) fn admit(&mut self, now: Instant) -> Result<(), SourceError> {
        let Some(until) = self.open_until else {
            return Ok(());
        };
        if now >= until && !self.probing {
            self.probing = true;
            return Ok(());
        }
        let next = if now < until {
            format!("next try in {:.0}s", (until - now).as_secs_f64().ceil())
        } else {
            "a probe is under way".into()
        };
        Err(SourceError::NotAsked(format!(
            "{} requests in a row found the source down ({}); {next}",
            self.in_row, self.last
        )))
    }

    /// Takes the outcome of a request that went.
    pub(super) fn record(&mut self, now: Instant, result: &Result<Answer, SourceError>) {
        match result {
            Err(e) if says_down(e) => {
                self.in_row += 1;
                self.last = e.to_string();
                if self.probing {
                    self.probing = false;
                    self.cool = (self.cool * 2).min(MAX_COOL_DOWN);
                    self.open_until = Some(now + self.cool);
                } else if self.in_row >= TRIP_AFTER && self.open_until.is_none() {
                    self.open_until = Some(now + self.cool);
                }
            }
            // An answer, even an error about the query, shows it is up.
            _ => {
                self.in_row = 0;
                self.open_until = None;
                self.probing = false;
                self.cool = self.first_cool;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Result<Answer, SourceError> {
        Err(SourceError::Connect("refused".into()))
    }

    #[test]
    fn a_breaker_opens_after_failures_in_a_row_and_probes_with_one_request() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut b = Breaker::new(Duration::from_secs(15));
        for _ in 0..TRIP_AFTER {
            assert!(b.admit(at(0)).is_ok());
            b.record(at(0), &refused());
        }
        let e = b.admit(at(1)).expect_err("open").to_string();
        assert_eq!(
            e,
            "not asked: 3 requests in a row found the source down (cannot connect: refused); next try in 14s"
        );
        // After the cool-down one probe goes; the others wait for it.
        assert!(b.admit(at(15)).is_ok());
        assert!(
            b.admit(at(15))
                .expect_err("probing")
                .to_string()
                .contains("a probe is under way")
        );
        // A failed probe doubles the cool-down, up to a minute.
        b.record(at(16), &refused());
        assert!(b.admit(at(45)).is_err());
        assert!(b.admit(at(46)).is_ok());
        b.record(at(46), &refused());
        assert!(b.admit(at(105)).is_err());
        assert!(b.admit(at(106)).is_ok());
        b.record(at(106), &refused());
        assert!(b.admit(at(165)).is_err());
        assert!(b.admit(at(166)).is_ok(), "capped at 60 s");
        // The probe answers: closed, and the cool-down starts over.
        b.record(at(166), &Ok(Answer::default()));
        assert!(b.admit(at(166)).is_ok());
        for _ in 0..TRIP_AFTER {
            b.record(at(170), &refused());
        }
        assert!(b.admit(at(184)).is_err());
        assert!(b.admit(at(185)).is_ok());
    }

    #[test]
    fn errors_about_the_query_do_not_trip_the_breaker() {
        let now = Instant::now();
        let mut b = Breaker::new(Duration::from_secs(15));
        for _ in 0..10 {
            b.record(
                now,
                &Err(SourceError::Api {
                    error_type: "bad_data".into(),
                    error: "parse error".into(),
                }),
            );
            b.record(
                now,
                &Err(SourceError::Http {
                    status: 404,
                    body: "not found".into(),
                }),
            );
        }
        assert!(b.admit(now).is_ok());
        // Overload does: 503 and 429, and timeouts.
        b.record(
            now,
            &Err(SourceError::Http {
                status: 503,
                body: String::new(),
            }),
        );
        b.record(
            now,
            &Err(SourceError::Http {
                status: 429,
                body: String::new(),
            }),
        );
        b.record(now, &Err(SourceError::Timeout("1.0s".into())));
        assert!(b.admit(now).is_err());
    }
}
