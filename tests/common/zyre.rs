//! Driving real Zyre C nodes (libzyre 2.0.1 from the pyzyre wheel, fetched by
//! `scripts/fetch-zyre`) from a test, each inside a network namespace of the test's
//! own: czmq never beacons on a loopback interface.

use std::path::{Path, PathBuf};
use std::process::Command;

use zmesh::PeerId;
use zmesh_toolkit::netns::Namespace;

use super::Helper;

/// Set in the re-run inside the namespace: the directory with libzyre.
pub const INNER: &str = "ZMESH_ZYRE_INNER";
/// The veth interface inside the namespace.
pub const IFACE: &str = "zv0";
/// How endpoints on that interface start.
pub const PREFIX: &str = "tcp://10.251.0.1:";

pub use zmesh_toolkit::skip::skip;

/// The directory holding libzyre, or a skip.
pub fn zyre_dir() -> Option<PathBuf> {
    if let Some(why) = zmesh_toolkit::skip::zyre_unsupported() {
        zmesh_toolkit::skip::unsupported(&why);
        return None;
    }
    let dir = std::env::var_os("ZMESH_ZYRE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/zyre"));
    if dir.join("libzyre.so").exists() && dir.join("libpystub.so").exists() {
        Some(dir)
    } else {
        skip(&format!(
            "no libzyre at {} (run scripts/fetch-zyre, or set ZMESH_ZYRE_DIR)",
            dir.display()
        ));
        None
    }
}

/// A namespace with a veth pair (czmq never beacons on loopback), or None (and a
/// skip, outside CI) where this machine cannot make one.
pub fn namespace(tag: &str) -> Option<Namespace> {
    let name = format!("zy{}{tag}", std::process::id());
    match Namespace::with_veth(&name, "10.251.0.1/24") {
        Ok(ns) => Some(ns),
        Err(e) => {
            // As the tester's namespace test: only CI insists on root.
            skip(&format!(
                "cannot create a network namespace (needs root and iproute2): {e}"
            ));
            None
        }
    }
}

/// Runs `body` inside a fresh namespace: outside one, this re-runs the test binary
/// there with only `test` selected.
pub fn in_namespace(test: &str, tag: &str, body: impl FnOnce(PathBuf, PathBuf)) {
    if let Some(dir) = std::env::var_os(INNER) {
        let python = super::python().expect("python inside the namespace");
        body(python, PathBuf::from(dir));
        return;
    }
    if super::python().is_none() {
        return;
    }
    let Some(dir) = zyre_dir() else { return };
    let Some(ns) = namespace(tag) else { return };
    let status = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, &dir)
        .status()
        .expect("run the test inside the namespace");
    assert!(
        status.success(),
        "{test} failed inside namespace {}",
        ns.name()
    );
}

/// Starts a Zyre node driven by `zyre_peer.py` (see its usage for `extra`).
pub fn zyre(python: &PathBuf, dir: &Path, name: &str, port: u16, extra: &[String]) -> Helper {
    let mut args = vec![
        dir.display().to_string(),
        IFACE.to_string(),
        name.to_string(),
        port.to_string(),
    ];
    args.extend_from_slice(extra);
    Helper::spawn(python, "zyre_peer.py", &args)
}

/// Waits for a Zyre helper to start; its UUID.
pub fn started(h: &mut Helper) -> PeerId {
    let v = h.wait("STARTED", |v| v["type"] == "STARTED");
    assert_eq!(v["version"], 20001, "libzyre version");
    v["peer"].as_str().unwrap().parse().unwrap()
}
