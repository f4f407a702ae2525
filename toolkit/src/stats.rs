//! Percentiles of a sample.

use std::fmt;

/// p50 / p99 / max of a sample (of seconds, in the tools).
///
/// ```
/// use zmesh_toolkit::stats::Percentiles;
/// let p = Percentiles::of(&mut [3.0, 1.0, 2.0]);
/// assert_eq!((p.count, p.p50, p.p99, p.max), (3, 2.0, 3.0, 3.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Percentiles {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `v` (sorted in place), nearest rank.
    pub fn of(v: &mut [f64]) -> Percentiles {
        if v.is_empty() {
            return Percentiles::default();
        }
        // In place: a stable sort would allocate half the sample again (a
        // 1,000-node run has a million samples), and under a total order
        // only equal values tie.
        v.sort_unstable_by(f64::total_cmp);
        Percentiles {
            count: v.len(),
            p50: quantile(v, 0.5),
            p99: quantile(v, 0.99),
            max: v[v.len() - 1],
        }
    }
}

/// The value at quantile `q` of a sorted, non-empty sample (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return write!(f, "none");
        }
        write!(
            f,
            "p50 {:.3}s  p99 {:.3}s  max {:.3}s  (n={})",
            self.p50, self.p99, self.max, self.count
        )
    }
}
