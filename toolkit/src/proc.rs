//! Readings of this process from `/proc` (Linux; `None` elsewhere). CPU time is
//! steadier than wall time on a shared machine.

use std::time::Duration;

/// This process's CPU time (user + system).
///
/// ```
/// if let Some(t) = zmesh_toolkit::proc::cpu_time() {
///     assert!(t < std::time::Duration::from_secs(1 << 30));
/// }
/// ```
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // The kernel reports clock ticks of 1/100 s (USER_HZ) on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// A memory figure from /proc/self/status, in bytes.
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

/// How many files this process may open (the soft limit).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn readings_exist_on_linux() {
        assert!(super::cpu_time().is_some());
        assert!(super::peak_memory().unwrap() >= super::current_memory().unwrap() / 2);
        assert!(super::open_files_limit().unwrap() > 0);
    }
}
