//! The record of delivered messages: each message id is delivered to a receiver
//! once, and from one sender to one receiver ids arrive in increasing order.
//! The tester's churn oracle keeps one (the simulator's oracle applies the same
//! rules with dense tables of its own).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use zmesh::engine::hash::{FixedMap, FixedSet};

/// What a delivery broke, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    /// The receiver had this id already.
    pub twice: bool,
    /// The id is not above an id the receiver had from the same sender: the
    /// highest one before it.
    pub after: Option<u64>,
}

impl Delivery {
    /// True if the delivery broke neither rule.
    pub fn ok(&self) -> bool {
        !self.twice && self.after.is_none()
    }
}

/// Deliveries of messages from senders `S` to receivers `R`.
///
/// ```
/// use zmesh_toolkit::ledger::Ledger;
/// let mut l: Ledger<u8, u8> = Ledger::default();
/// assert!(l.deliver(1, 2, 10).ok());
/// assert!(l.deliver(1, 2, 12).ok());
/// let late = l.deliver(1, 2, 11);
/// assert_eq!((late.twice, late.after), (false, Some(12)));
/// assert!(l.deliver(1, 2, 12).twice);
/// assert!(l.delivered(12, &2));
/// ```
#[derive(Debug)]
pub struct Ledger<S, R> {
    delivered: FixedSet<(u64, R)>,
    /// Per (sender, receiver): one more than the highest id delivered.
    next: FixedMap<(S, R), u64>,
}

impl<S, R> Default for Ledger<S, R> {
    fn default() -> Self {
        Ledger {
            delivered: HashSet::default(),
            next: HashMap::default(),
        }
    }
}

impl<S: Hash + Eq, R: Hash + Eq + Clone> Ledger<S, R> {
    /// Records that `to` got message `id` from `from`, and says which rule it broke.
    pub fn deliver(&mut self, from: S, to: R, id: u64) -> Delivery {
        let twice = !self.delivered.insert((id, to.clone()));
        Delivery {
            twice,
            after: self.order(from, to, id),
        }
    }

    /// The order rule alone, for an owner that keeps the record of which ids
    /// arrived itself: records `id` from `from` at `to`, and returns the highest
    /// id `to` had from `from` before it if that is not below `id`.
    ///
    /// ```
    /// use zmesh_toolkit::ledger::Ledger;
    /// let mut l: Ledger<u8, u8> = Ledger::default();
    /// assert_eq!(l.order(1, 2, 12), None);
    /// assert_eq!(l.order(1, 2, 11), Some(12));
    /// assert!(l.is_empty(), "nothing recorded as delivered");
    /// ```
    pub fn order(&mut self, from: S, to: R, id: u64) -> Option<u64> {
        let next = self.next.entry((from, to)).or_insert(0);
        let last = *next;
        *next = last.max(id + 1);
        (id < last).then(|| last - 1)
    }

    /// True if `to` got message `id`.
    pub fn delivered(&self, id: u64, to: &R) -> bool {
        self.delivered.contains(&(id, to.clone()))
    }

    /// How many deliveries were recorded (each id once per receiver).
    pub fn len(&self) -> usize {
        self.delivered.len()
    }

    /// True before the first delivery.
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty()
    }
}
