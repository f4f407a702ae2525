//! `perf remote` and `perf local` talk to each other on loopback and finish; the
//! rates they print are figures, not assertions.

use std::process::{Command, Stdio};

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
