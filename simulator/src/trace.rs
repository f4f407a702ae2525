//! The trace: every event and action of a run, hashed as it happens (so that two
//! runs can be compared by one number) and kept as text only when asked for.

use std::time::Instant;

use crate::rng::mix;

/// The trace of one run.
#[derive(Debug)]
pub struct Trace {
    epoch: Instant,
    hash: u64,
    keep: bool,
    lines: Vec<String>,
}

impl Trace {
    /// An empty trace of a run that started at `epoch`; `keep` keeps the text.
    pub fn new(epoch: Instant, keep: bool) -> Trace {
        Trace {
            epoch,
            hash: 0xcbf2_9ce4_8422_2325,
            keep,
            lines: Vec::new(),
        }
    }

    /// Adds one record at `now`: the hash takes its time and `key`, cheaply; the
    /// text is only built when the trace is kept.
    pub fn log(&mut self, now: Instant, key: [u64; 3], text: impl FnOnce() -> String) {
        let t = (now - self.epoch).as_nanos() as u64;
        for k in [t, key[0], key[1], key[2]] {
            self.hash = mix(self.hash ^ k);
        }
        if self.keep {
            let line = format!("{:.6} {}", (now - self.epoch).as_secs_f64(), text());
            self.lines.push(line);
        }
    }

    /// The hash of every record so far, as 16 hex digits.
    pub fn hash(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// The kept lines (empty unless kept).
    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }

    /// The lines kept so far, leaving none.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }
}

/// FNV-1a of some bytes, for trace keys.
pub fn str_key(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_records_same_hash_and_text_only_when_kept() {
        let t0 = Instant::now();
        let mut a = Trace::new(t0, true);
        let mut b = Trace::new(t0, false);
        for t in [&mut a, &mut b] {
            t.log(t0, [1, 2, 3], || "x".into());
        }
        assert_eq!(a.hash(), b.hash());
        b.log(t0, [1, 2, 4], || "y".into());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.into_lines(), ["0.000000 x"]);
        assert!(b.into_lines().is_empty());
    }
}
