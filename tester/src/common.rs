//! Pieces shared by the tester's modes: message payloads, percentiles, a seeded
//! random stream, and this process's CPU time and peak memory.

use std::time::Duration;

/// Every tester message starts with this frame: `ZT`, the message id (unique per run,
/// increasing per sender), and a hop count (replies to replies are not answered).
pub fn payload(id: u64, hop: u8) -> Vec<u8> {
    let mut p = b"ZT".to_vec();
    p.extend_from_slice(&id.to_be_bytes());
    p.push(hop);
    p
}

/// The id and hop of a tester message, if the frame is one.
pub fn parse_payload(frame: &[u8]) -> Option<(u64, u8)> {
    if frame.len() != 11 || &frame[..2] != b"ZT" {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&frame[2..10]);
    Some((u64::from_be_bytes(id), frame[10]))
}

/// A small seeded generator (SplitMix64): the tester's choices are reproducible
/// from `--seed`, though real sockets and threads are not.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for this seed and stream.
    pub fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform below `n` (0 for n = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// p50 / p99 / max of durations, in seconds.
pub fn percentiles(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

/// This process's CPU time (user + system), from /proc on Linux.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A memory figure from /proc/self/status (Linux), in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// This process's peak resident memory in bytes.
pub fn peak_memory() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// This process's resident memory now, in bytes.
pub fn current_memory() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// How many files this process may open (the soft limit), from /proc on Linux.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        assert_eq!(parse_payload(&payload(42, 1)), Some((42, 1)));
        assert_eq!(parse_payload(b"hello"), None);
        let mut r = Rng::new(1, 2);
        assert!((0..100).all(|_| r.below(7) < 7));
        assert_eq!(percentiles(&mut [3.0, 1.0, 2.0]), (2.0, 3.0, 3.0));
    }
}
