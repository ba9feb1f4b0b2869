//! When an orchestrator (re)connects, and to which edge first: spread over the
//! edges and over time, so a fleet cut off at once does not come back at once.

use std::time::Duration;

use rand::RngExt;

/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where an orchestrator starts in its list of edges: anywhere, so that a fleet
/// handed the same list spreads over every edge instead of piling onto the first.
pub fn start_index(urls: usize) -> usize {
    rand::rng().random_range(0..urls.max(1))
}

/// `min(0.5 s × 2^attempt, 30 s)`, scaled by a random factor in [0.5, 1) so a fleet
/// cut off at once does not come back at once.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1u32 << attempt.min(6));
    let capped = base.min(MAX_BACKOFF);
    capped.mul_f64(rand::rng().random_range(0.5..1.0))
}

/// A random pause in [0, `max`).
pub fn jitter(max: Duration) -> Duration {
    max.mul_f64(rand::rng().random_range(0.0..1.0))
}

/// Longest wait an edge's hint may impose; a larger one is taken as this.
const MAX_HINT: Duration = Duration::from_secs(300);

/// The wait before trying again after an edge said "come back in `hint`": the
/// hint plus up to half of it again, so that a fleet refused in the same instant
/// does not return in the same instant.
pub fn after_hint(hint: Duration) -> Duration {
    hint + hint.mul_f64(rand::rng().random_range(0.0..0.5))
}

/// The delay in a `Retry-After` header: whole seconds (RFC 9110 §10.2.3). The
/// HTTP-date form is not used by our edges and is ignored.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_HINT))
}

/// The delay hint in a close frame: code 1013 (try again later) with
/// `retry_after=N` (seconds) among the words of its reason, as the edges send
/// `try_again_later retry_after=1`.
pub fn hint_in_close(code: u16, reason: &str) -> Option<Duration> {
    if code != moolai_proto::close::TRY_AGAIN_LATER {
        return None;
    }
    reason
        .split_whitespace()
        .find_map(|word| word.strip_prefix("retry_after="))
        .and_then(parse_retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orchestrators_given_two_edges_start_on_both() {
        let mut on = [0u32; 2];
        for _ in 0..200 {
            on[start_index(2)] += 1;
        }
        // Each count is Binomial(200, 1/2): below 60 once in ~10^9 runs.
        assert!(on.iter().all(|&n| n >= 60), "start spread {on:?}");
        assert_eq!(start_index(1), 0);
    }

    #[test]
    fn a_retry_after_header_is_read_as_whole_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999"), Some(MAX_HINT));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn only_a_1013_close_with_retry_after_carries_a_hint() {
        assert_eq!(
            hint_in_close(1013, "try_again_later retry_after=2"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            hint_in_close(1013, "bus_unavailable retry_after=1"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(hint_in_close(1013, "try_again_later"), None);
        assert_eq!(hint_in_close(1013, "retry_after=x"), None);
        assert_eq!(hint_in_close(1012, "server_draining retry_after=2"), None);
    }

    #[test]
    fn the_wait_after_a_hint_is_the_hint_plus_at_most_half_again() {
        let hint = Duration::from_secs(2);
        let waits: Vec<_> = (0..500).map(|_| after_hint(hint)).collect();
        assert!(waits.iter().all(|w| *w >= hint && *w < hint + hint / 2));
        // Spread, not one instant: 500 draws over a second's range.
        let (lo, hi) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*hi - *lo > Duration::from_millis(800), "{lo:?}..{hi:?}");
    }
}
