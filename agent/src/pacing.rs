//! When an orchestrator (re)connects, and to which edge first: spread over the
//! edges and over time, so a fleet cut off at once does not come back at once.

use std::time::Duration;

use rand::RngExt;

/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The order in which an orchestrator tries its `urls` edges, as indices: a
/// random permutation of its own, with index 0 first when `keep_first`; without
/// it, a fleet handed the same list starts spread over every edge instead of
/// piling onto the first. Not the
/// list's order rotated: then every orchestrator of a dead edge would fail over
/// to the same next edge (the one after it in the list) and double its load,
/// while a permutation per orchestrator spreads them over all the others.
pub fn edge_order(urls: usize, keep_first: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..urls.max(1)).collect();
    let from = usize::from(keep_first);
    let mut rng = rand::rng();
    // Fisher–Yates over order[from..].
    for i in (from + 1..order.len()).rev() {
        let j = rng.random_range(from..=i);
        order.swap(i, j);
    }
    order
}

/// `min(0.5 s × 2^attempt, 30 s)`, scaled by a random factor in [0.5, 1) so a fleet
/// cut off at once does not come back at once.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1u32 << attempt.min(6));
    let capped = base.min(MAX_BACKOFF);
    capped.mul_f64(rand::rng().random_range(0.5..1.0))
}

/// First wait before an orchestrator deregistered by an administrator (close
/// 4001) tries again, when told to keep trying (`--retry-deregistered`).
const DEREGISTERED_FIRST: Duration = Duration::from_secs(60);
/// Longest such wait.
const DEREGISTERED_MAX: Duration = Duration::from_secs(15 * 60);

/// The wait after the `times`-th 4001 in a row: a minute, doubling to 15
/// minutes, plus up to half of it again. A deregistration lasts until an
/// administrator acts, so minutes apart is soon enough, and a fleet an
/// administrator removed does not hammer the edges meanwhile.
pub fn after_deregistered(times: u32) -> Duration {
    let base = DEREGISTERED_FIRST
        .saturating_mul(1u32 << times.saturating_sub(1).min(5))
        .min(DEREGISTERED_MAX);
    base + base.mul_f64(rand::rng().random_range(0.0..0.5))
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
    fn the_orchestrators_of_a_dead_edge_fail_over_to_every_other_edge() {
        let mut next = [0u32; 4];
        for _ in 0..300 {
            let order = edge_order(4, true);
            assert_eq!(order[0], 0, "keeps its first edge first");
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2, 3], "every edge once");
            next[order[1]] += 1;
        }
        // Each of edges 1..3 is Binomial(300, 1/3) (mean 100): below 50 once in ~10^9.
        assert_eq!(next[0], 0);
        assert!(
            next[1..].iter().all(|&n| n >= 50),
            "fail-over spread {next:?}"
        );
        let mut first = [0u32; 3];
        for _ in 0..300 {
            first[edge_order(3, false)[0]] += 1;
        }
        assert!(first.iter().all(|&n| n >= 50), "start spread {first:?}");
        assert_eq!(edge_order(1, true), vec![0]);
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
    fn a_deregistered_orchestrator_told_to_keep_trying_waits_minutes() {
        for times in 1..20 {
            let wait = after_deregistered(times);
            assert!(wait >= DEREGISTERED_FIRST, "#{times}: {wait:?}");
            assert!(wait < DEREGISTERED_MAX * 3 / 2, "#{times}: {wait:?}");
        }
        assert!(after_deregistered(6) >= DEREGISTERED_MAX);
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
