//! Latency percentiles and throughput of a run.

use std::time::Duration;

/// Nearest-rank percentile (`p` in 0..=100) of an ascending slice; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 / p99 / max of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Latency {
    /// Summarise (sorts in place).
    pub fn of(samples: &mut [Duration]) -> Latency {
        samples.sort_unstable();
        Latency {
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// Milliseconds with two decimals, for reports.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Completed logins per second of wall time.
pub fn rate(count: usize, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    count as f64 / wall.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = ms_list(&(1..=100).rev().collect::<Vec<_>>());
        let l = Latency::of(&mut s);
        assert_eq!(l.p50, Duration::from_millis(50));
        assert_eq!(l.p99, Duration::from_millis(99));
        assert_eq!(l.max, Duration::from_millis(100));
    }

    #[test]
    fn small_and_empty_samples() {
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        let one = ms_list(&[7]);
        assert_eq!(percentile(&one, 0.0), Duration::from_millis(7));
        assert_eq!(percentile(&one, 99.0), Duration::from_millis(7));
        let two = ms_list(&[1, 9]);
        assert_eq!(percentile(&two, 50.0), Duration::from_millis(1));
        assert_eq!(percentile(&two, 99.0), Duration::from_millis(9));
    }

    #[test]
    fn rate_and_rounding() {
        assert_eq!(rate(3000, Duration::from_secs(2)), 1500.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
        assert_eq!(ms(Duration::from_micros(1234)), 1.23);
    }
}
