//! Tests that cannot run on this machine say so, and where.
//!
//! A test that needs something this machine lacks (Python with pyzmq and Pyre, root
//! for network namespaces, Zyre C's x86-64 build) is skipped with a reason on its
//! standard error, which `cargo test` hides for passing tests. So each skip is also
//! appended to the file named by `ZMESH_SKIP_LOG`, which `scripts/test` prints at the
//! end. With `ZMESH_REQUIRE_INTEROP` set, a skip for a missing setup fails the test
//! instead (CI), but one for an unsupported machine never does.

use std::io::Write;

/// True where a test that cannot run is a failure (`ZMESH_REQUIRE_INTEROP` is set).
pub fn required() -> bool {
    std::env::var_os("ZMESH_REQUIRE_INTEROP").is_some()
}

/// Skips the calling test for a missing setup: panics with `why` where that is
/// not allowed ([`required`]), else records the skip.
pub fn skip(why: &str) {
    assert!(!required(), "this test must run here, but: {why}");
    record(why);
}

/// Skips the calling test because this machine cannot run it at all (no build of
/// a peer implementation for its architecture): recorded, never a failure.
pub fn unsupported(why: &str) {
    record(why);
}

/// The reason the Zyre C interop cannot run on this architecture, if it cannot:
/// `scripts/fetch-zyre` fetches an x86-64 Linux build.
pub fn zyre_unsupported() -> Option<String> {
    let arch = std::env::consts::ARCH;
    (arch != "x86_64" || std::env::consts::OS != "linux")
        .then(|| format!("Zyre C is fetched as an x86-64 Linux build; this machine is {arch}"))
}

fn record(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    eprintln!("SKIPPED: {why}");
    if let Some(path) = std::env::var_os("ZMESH_SKIP_LOG") {
        // Tests run in parallel: one append of one line each.
        let line = format!("{test}: {why}\n");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
