//! A task that counts while it runs on the test's executor: a wait that blocked
//! tokio's one thread would leave its count at zero.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A running task that counts about once a millisecond.
pub struct Ticker {
    ticks: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    /// Spawns the task on the current runtime.
    pub fn spawn() -> Ticker {
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = ticks.clone();
        let task = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        Ticker { ticks, task }
    }

    /// How often it has run so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Stops the task.
    pub fn stop(self) {
        self.task.abort();
    }
}
