//! The perf and bench tools run against each other (and against Zyre C's and Pyre's
//! twins where those are installed) and finish with the expected counts; the rates
//! they print are figures, not assertions.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use zmesh_toolkit::netns::Namespace;
use zmesh_toolkit::skip::skip;

const EXE: &str = env!("CARGO_BIN_EXE_zmesh-tester");

/// Runs `client` while `server` (if any) runs beside it; both under `prefix` (for
/// example `ip netns exec NS`). Returns the client's last JSON line.
fn run_pair(prefix: &[&str], server: Option<&[&str]>, client: &[&str]) -> serde_json::Value {
    let cmd = |argv: &[&str]| {
        let all: Vec<&str> = prefix.iter().chain(argv).copied().collect();
        let mut c = Command::new(all[0]);
        c.args(&all[1..]);
        c
    };
    let mut srv = server.map(|argv| {
        cmd(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server side")
    });
    let out: Output = cmd(client).output().expect("run the client side");
    if let Some(srv) = srv.as_mut() {
        drop(srv.stdin.take()); // the end of input stops it
        assert!(srv.wait().expect("server ends").success(), "server failed");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{client:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("a JSON line");
    serde_json::from_str(last).expect("JSON")
}

#[test]
fn perf_local_against_perf_remote() {
    let exe = env!("CARGO_BIN_EXE_zmesh-tester");
    let mut remote = Command::new(exe)
        .args([
            "perf",
            "remote",
            "3",
            "--interface",
            "lo",
            "--port",
            "46503",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perf remote");
    let out = Command::new(exe)
        .args([
            "perf",
            "local",
            "3",
            "3000",
            "--interface",
            "lo",
            "--port",
            "46503",
        ])
        .output()
        .expect("run perf local");
    drop(remote.stdin.take()); // end of input stops the remotes
    let status = remote.wait().expect("perf remote ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(status.success());
    let last = stdout.lines().last().expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(v["whisper"]["messages"], 3000);
    assert_eq!(v["shout"]["replies"], 3000);
    assert!(v["whisper"]["per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_latency_against_an_external_echo() {
    let exe = env!("CARGO_BIN_EXE_zmesh-tester");
    let mut echo = Command::new(exe)
        .args(["echo", "--interface", "lo", "--port", "46504"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start echo");
    let out = Command::new(exe)
        .args([
            "bench",
            "latency",
            "--count",
            "200",
            "--sizes",
            "16,1024",
            "--port",
            "46504",
            "--external-echo",
        ])
        .output()
        .expect("run bench");
    drop(echo.stdin.take());
    assert!(echo.wait().expect("echo ends").success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).expect("JSON");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1]["bytes"], 1024);
    assert!(r[0]["p50_us"].as_f64().unwrap() <= r[0]["p99_us"].as_f64().unwrap());
}

/// `bench throughput` of 3,000 16 B and 64 MiB of 64 KiB whispers against a
/// `sink` started on its own, with `window` as `--window`.
fn throughput_against_a_sink(port: &str, window: &str) -> serde_json::Value {
    let v = run_pair(
        &[],
        Some(&[EXE, "sink", "--interface", "lo", "--port", port]),
        &[
            EXE,
            "bench",
            "throughput",
            "--count",
            "3000",
            "--sizes",
            "16,65536",
            "--mib",
            "64",
            "--port",
            port,
            "--external-sink",
            "--window",
            window,
        ],
    );
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["count"], 3000);
    assert_eq!(r[1]["count"], 1024, "64 MiB of 64 KiB payloads");
    assert!(r[1]["mib_per_s"].as_f64().unwrap() > 0.0);
    v
}

#[test]
fn bench_throughput_against_an_external_sink() {
    assert_eq!(throughput_against_a_sink("46505", "512")["window"], 512);
}

/// Without the sink's acknowledgement window: the sender paces on its node's own
/// backlog, and the sink still counts every payload (the client checks the count).
#[test]
fn bench_throughput_paced_by_the_backlog() {
    assert_eq!(throughput_against_a_sink("46559", "0")["window"], 0);
}

#[test]
fn bench_tcp_mesh_and_idle() {
    let v = run_pair(
        &[],
        None,
        &[
            EXE, "bench", "tcp", "--count", "300", "--sizes", "16,65536", "--mib", "16",
        ],
    );
    assert_eq!(v["latency"].as_array().unwrap().len(), 2);
    assert_eq!(v["throughput"][1]["count"], 256);
    // The same bytes through thread hand-offs: every message made the trip.
    for l in v["latency"].as_array().unwrap() {
        assert!(l["handoff_p50_us"].as_f64().unwrap() > 0.0, "{l}");
    }
    for t in v["throughput"].as_array().unwrap() {
        assert!(t["handoff_msgs_per_s"].as_f64().unwrap() > 0.0, "{t}");
    }
    let v = run_pair(
        &[],
        None,
        &[EXE, "bench", "mesh", "--nodes", "2,6", "--port", "46506"],
    );
    assert_eq!(v["results"][1]["nodes"], 6);
    assert!(v["results"][1]["max_s"].as_f64().unwrap() > 0.0);
    // The same through one gossip server, with no beacons at all.
    let v = run_pair(
        &[],
        None,
        &[
            EXE, "bench", "mesh", "--nodes", "2,6", "--port", "46516", "--gossip", "46526",
        ],
    );
    assert_eq!(v["discovery"], "gossip");
    assert_eq!(v["results"][1]["nodes"], 6);
    let v = run_pair(
        &[],
        None,
        &[
            EXE,
            "bench",
            "idle",
            "--nodes",
            "4",
            "--seconds",
            "1",
            "--port",
            "46508",
        ],
    );
    assert_eq!(v["nodes"], 4);
    assert!(v["rss_bytes"].as_u64().unwrap() > v["rss_before_bytes"].as_u64().unwrap());
}

/// zmesh's latency and throughput clients against Pyre's echo and sink twins
/// (`tests/interop/pyre_bench.py`), as `scripts/bench` runs them.
#[test]
fn bench_clients_against_pyre_twins() {
    let python = std::env::var_os("ZMESH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let has_pyre = Command::new(&python)
        .args(["-c", "import pyre"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pyre {
        skip(&format!("no Python with Pyre at {}", python.display()));
        return;
    }
    let py = python.to_str().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/pyre_bench.py"
    );
    let v = run_pair(
        &[],
        Some(&[py, script, "echo", "46509"]),
        &[
            EXE,
            "bench",
            "latency",
            "--count",
            "100",
            "--sizes",
            "16",
            "--port",
            "46509",
            "--external-echo",
        ],
    );
    assert_eq!(v["results"][0]["count"], 100);
    let v = run_pair(
        &[],
        Some(&[py, script, "sink", "46510"]),
        &[
            EXE,
            "bench",
            "throughput",
            "--count",
            "1000",
            "--sizes",
            "1024",
            "--port",
            "46510",
            "--external-sink",
        ],
    );
    assert_eq!(v["results"][0]["count"], 1000);
}

/// Zyre's side of the perf protocol and of the bench patterns
/// (`tester/zyre/zyre-perf.c`, built by `scripts/fetch-zyre` against libzyre 2.0.1)
/// swapped in for zmesh's, each way, inside a namespace of its own.
#[test]
fn perf_and_bench_tools_mix_with_zyre_c() {
    let dir = std::env::var_os("ZMESH_ZYRE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/zyre"));
    let zyre = dir.join("zyre-perf");
    if let Some(why) = zmesh_toolkit::skip::zyre_unsupported() {
        zmesh_toolkit::skip::unsupported(&why);
        return;
    }
    if !zyre.exists() {
        skip(&format!("no {} (run scripts/fetch-zyre)", zyre.display()));
        return;
    }
    let name = format!("zp{}", std::process::id());
    let Ok(ns) = Namespace::with_veth(&name, "10.251.0.1/24") else {
        skip("cannot create a network namespace (needs root and iproute2)");
        return;
    };
    let prefix = ns.exec_prefix();
    let z = zyre.to_str().unwrap();
    let zmesh = |a: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![EXE];
        v.extend_from_slice(a);
        v.extend_from_slice(&["--interface", "zv0"]);
        v
    };
    // zmesh perf local against Zyre remotes, and Zyre's local against zmesh remotes.
    let v = run_pair(
        &prefix,
        Some(&[z, "zv0", "46511", "remote", "3"]),
        &zmesh(&["perf", "local", "3", "3000", "--port", "46511"]),
    );
    assert_eq!(v["whisper"]["messages"], 3000);
    assert_eq!(v["shout"]["replies"], 3000);
    let v = run_pair(
        &prefix,
        Some(&zmesh(&["perf", "remote", "3", "--port", "46512"])),
        &[z, "zv0", "46512", "local", "3", "3000"],
    );
    assert_eq!(v["impl"], "zyre");
    assert_eq!(v["shout"]["replies"], 3000);
    // zmesh's clients against Zyre's echo and sink, and Zyre's against zmesh's.
    let v = run_pair(
        &prefix,
        Some(&[z, "zv0", "46513", "echo"]),
        &zmesh(&[
            "bench",
            "latency",
            "--count",
            "100",
            "--port",
            "46513",
            "--external-echo",
        ]),
    );
    assert_eq!(v["results"][1]["bytes"], 1024);
    let v = run_pair(
        &prefix,
        Some(&zmesh(&["echo", "--port", "46514"])),
        &[z, "zv0", "46514", "rtt", "100", "1024"],
    );
    assert_eq!(v["count"], 100);
    let v = run_pair(
        &prefix,
        Some(&[z, "zv0", "46515", "sink"]),
        &zmesh(&[
            "bench",
            "throughput",
            "--count",
            "2000",
            "--sizes",
            "16,65536",
            "--mib",
            "64",
            "--port",
            "46515",
            "--external-sink",
        ]),
    );
    assert_eq!(v["results"][1]["count"], 1024);
    let v = run_pair(
        &prefix,
        Some(&zmesh(&["sink", "--port", "46516"])),
        &[z, "zv0", "46516", "send", "2000", "1024"],
    );
    assert_eq!(v["received"], 2000);
}
