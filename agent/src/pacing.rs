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

pub fn jitter(max: Duration) -> Duration {
    max.mul_f64(rand::rng().random_range(0.0..1.0))
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
}
