//! The event queue: a radix heap over virtual time.
//!
//! Virtual time never goes back, which a radix heap exploits: an entry sits in the
//! bucket named by the highest bit in which its time differs from the last time
//! taken, so a push is an append and a pop moves entries only towards the front, a
//! few times each, over contiguous memory. A binary heap of the hundreds of
//! thousands of entries a 1,000-node mesh queues while it forms spent most of its
//! time in cache misses. Entries come out in exactly the binary heap's order —
//! by time, then by the sequence number they were queued with — so runs are the
//! same, trace for trace.

use std::collections::VecDeque;

/// What the queue orders by: a time in nanoseconds and a tie-breaking sequence
/// number, unique per entry.
pub(crate) trait Keyed {
    fn at(&self) -> u64;
    fn seq(&self) -> u64;
}

pub(crate) struct Queue<T> {
    /// The time of the last entry taken out of the buckets.
    last: u64,
    /// Entries due no later than `last`, in order.
    due: VecDeque<T>,
    /// `buckets[i]`: entries whose time first differs from `last` in bit `i`.
    buckets: Vec<Vec<T>>,
    /// The earliest time in the buckets, when known: looked at before every
    /// delivery of a broadcast, so it is not worked out each time.
    bucket_min: Option<u64>,
    len: usize,
}

impl<T: Keyed> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            last: 0,
            due: VecDeque::new(),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            bucket_min: None,
            len: 0,
        }
    }
}

impl<T: Keyed> Queue<T> {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, e: T) {
        self.len += 1;
        let at = e.at();
        if at > self.last {
            let bit = 63 - (at ^ self.last).leading_zeros() as usize;
            self.buckets[bit].push(e);
            self.bucket_min = self.bucket_min.map(|m| m.min(at));
            return;
        }
        // Due now (or, never in practice, earlier): in order among the due.
        let key = (at, e.seq());
        if self.due.back().is_none_or(|b| (b.at(), b.seq()) < key) {
            self.due.push_back(e);
        } else {
            let i = self.due.partition_point(|x| (x.at(), x.seq()) < key);
            self.due.insert(i, e);
        }
    }

    /// The time of the next entry.
    pub(crate) fn peek_at(&mut self) -> Option<u64> {
        if let Some(e) = self.due.front() {
            return Some(e.at());
        }
        if self.bucket_min.is_none() {
            let b = self.buckets.iter().find(|b| !b.is_empty())?;
            self.bucket_min = b.iter().map(Keyed::at).min();
        }
        self.bucket_min
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.due.is_empty() {
            self.refill()?;
        }
        self.len -= 1;
        self.due.pop_front()
    }

    /// Moves the earliest entries to `due`: the first non-empty bucket is spread
    /// over the lower ones relative to its earliest time, which becomes `last`.
    fn refill(&mut self) -> Option<()> {
        let i = self.buckets.iter().position(|b| !b.is_empty())?;
        let mut from = std::mem::take(&mut self.buckets[i]);
        let n = from.len();
        // A mesh queues far more while it forms than ever after: memory kept
        // for a burst that has passed is given back (both shrink to twice what
        // they were last asked to hold, and regrow as a `Vec` does).
        let keep = (2 * n).max(256);
        if self.due.capacity() > 2 * keep {
            self.due.shrink_to(keep);
        }
        let min = match self.bucket_min {
            Some(m) => m,
            None => from.iter().map(Keyed::at).min()?,
        };
        self.last = min;
        for e in from.drain(..) {
            let at = e.at();
            if at == min {
                self.due.push_back(e);
            } else {
                let bit = 63 - (at ^ min).leading_zeros() as usize;
                self.buckets[bit].push(e);
            }
        }
        // The bucket keeps its allocation for what comes next, up to twice
        // what it held.
        if from.capacity() > 2 * keep {
            from.shrink_to(keep);
        }
        self.buckets[i] = from;
        self.due.make_contiguous().sort_unstable_by_key(Keyed::seq);
        self.bucket_min = None;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct E(u64, u64);

    impl Keyed for E {
        fn at(&self) -> u64 {
            self.0
        }
        fn seq(&self) -> u64 {
            self.1
        }
    }

    /// Against a binary heap: pushes at or after the last time taken (sometimes
    /// exactly at it, sometimes far ahead, sometimes in bursts of equal times),
    /// pops and peeks interleaved; the same entries come out in the same order.
    #[test]
    fn same_order_as_a_binary_heap() {
        for seed in 1..40u64 {
            let mut rng = zmesh_toolkit::rng::Stream::new(seed, 0);
            let (mut q, mut h) = (Queue::default(), BinaryHeap::new());
            let (mut now, mut seq) = (0u64, 0u64);
            for _ in 0..20_000 {
                let r = rng.below(10);
                if r < 6 {
                    let ahead = match rng.below(4) {
                        0 => 0,
                        1 => rng.below(16),
                        2 => rng.below(1 << 20),
                        _ => rng.below(1 << 40),
                    } as u64;
                    for _ in 0..1 + rng.below(3) * rng.below(2) {
                        seq += 1;
                        q.push(E(now + ahead, seq));
                        h.push(Reverse(E(now + ahead, seq)));
                    }
                } else {
                    assert_eq!(q.peek_at(), h.peek().map(|Reverse(e)| e.0));
                    let got = q.pop();
                    assert_eq!(got, h.pop().map(|Reverse(e)| e));
                    if let Some(e) = got {
                        now = e.0;
                    }
                }
                assert_eq!(q.len(), h.len());
            }
            while let Some(Reverse(e)) = h.pop() {
                assert_eq!(q.pop(), Some(e));
            }
            assert_eq!(q.pop(), None);
            assert_eq!(q.peek_at(), None);
        }
    }

    /// An entry queued for a time before the last one taken still comes out first.
    #[test]
    fn an_entry_in_the_past_comes_first() {
        let mut q = Queue::default();
        q.push(E(100, 1));
        q.push(E(200, 2));
        assert_eq!(q.pop(), Some(E(100, 1)));
        q.push(E(100, 3));
        q.push(E(50, 4));
        assert_eq!(q.peek_at(), Some(50));
        assert_eq!(q.pop(), Some(E(50, 4)));
        assert_eq!(q.pop(), Some(E(100, 3)));
        assert_eq!(q.pop(), Some(E(200, 2)));
    }
}
