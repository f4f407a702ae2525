//! `perf remote` and `perf local`: twins of Zyre's `perf_remote` and `perf_local`,
//! speaking the same messages, so that either side can be swapped for Zyre's tool.
//!
//! * `perf remote N`: N nodes in this process join `GLOBAL`; each whispers `R:HELLO`
//!   to every newcomer, answers a whisper `S:WHISPER` with `R:WHISPER`, and a shout
//!   `S:SHOUT` with a shout `R:SHOUT` to the same group; everything else is ignored.
//! * `perf local N M`: one node joins `GLOBAL`, waits for N ENTERs and N `R:HELLO`s,
//!   whispers `S:WHISPER` M times round-robin to the remotes while draining replies,
//!   waits for the M `R:WHISPER`s, then shouts `S:SHOUT` M/N times and waits for
//!   (M/N)·N `R:SHOUT`s. It prints each phase's time and rate, then one JSON line.

use std::time::{Duration, Instant};
use zmesh_toolkit::stats::quantile;

use crossbeam_channel::{select, Receiver};
use serde_json::json;
use zmesh::{Event, Node, PeerId};

fn first_frame(e: &Event) -> &[u8] {
    e.content().and_then(|c| c.first()).unwrap_or_default()
}

fn node(name: &str, interface: &str, port: u16) -> Result<Node, String> {
    let mut n = crate::common::bench_node(name, interface, port);
    n.start().map_err(|e| format!("{name}: {e}"))?;
    n.join("GLOBAL").map_err(|e| e.to_string())?;
    Ok(n)
}

/// Runs N remote nodes until standard input ends (or forever without one).
pub fn remote(count: usize, interface: &str, port: u16) -> Result<(), String> {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let mut threads = Vec::new();
    for i in 0..count {
        let n = node(&format!("remote{i}"), interface, port)?;
        let stop: Receiver<()> = stop_rx.clone();
        threads.push(std::thread::spawn(move || serve(n, stop)));
    }
    eprintln!("perf remote: {count} nodes up on port {port}; end of input stops them");
    let mut line = String::new();
    while std::io::stdin()
        .read_line(&mut line)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        line.clear();
    }
    drop(stop_tx);
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn serve(node: Node, stop: Receiver<()>) {
    let events = node.events();
    loop {
        select! {
            recv(stop) -> _ => return,
            recv(events) -> e => {
                let Ok(e) = e else { return };
                let _ = match &e {
                    Event::Enter { peer, .. } => node.whispers(*peer, "R:HELLO"),
                    Event::Whisper { peer, .. } if first_frame(&e) == b"S:WHISPER" => node.whispers(*peer, "R:WHISPER"),
                    Event::Shout { group, .. } if first_frame(&e) == b"S:SHOUT" => node.shouts(group, "R:SHOUT"),
                    _ => Ok(()),
                };
            }
        }
    }
}

fn wait(
    events: &Receiver<Event>,
    limit: Duration,
    mut done: impl FnMut(&Event) -> bool,
) -> Result<(), String> {
    let end = Instant::now() + limit;
    loop {
        let e = events
            .recv_deadline(end)
            .map_err(|_| format!("timed out after {}s", limit.as_secs()))?;
        if done(&e) {
            return Ok(());
        }
    }
}

/// One measured phase: `sends` calls of `send`, draining events as they come, until
/// `expect` whispers or shouts whose first frame is `reply` have arrived.
fn phase(
    events: &Receiver<Event>,
    limit: Duration,
    sends: usize,
    expect: usize,
    reply: &[u8],
    send: impl Fn(usize) -> Result<(), zmesh::Error>,
) -> Result<Duration, String> {
    let is_reply = |e: &Event| e.content().is_some() && first_frame(e) == reply;
    let t = Instant::now();
    let mut got = 0;
    for i in 0..sends {
        send(i).map_err(|e| e.to_string())?;
        while let Ok(e) = events.try_recv() {
            got += is_reply(&e) as usize;
        }
    }
    if got < expect {
        wait(events, limit, |e| {
            got += is_reply(e) as usize;
            got >= expect
        })?;
    }
    Ok(t.elapsed())
}

/// The local side: returns the summary JSON.
pub fn local(
    count: usize,
    messages: usize,
    interface: &str,
    port: u16,
) -> Result<serde_json::Value, String> {
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    let n = node("local", interface, port)?;
    let events = n.events();
    let mut remotes: Vec<PeerId> = Vec::new();
    let mut hellos = 0;
    wait(&events, limit, |e| {
        match e {
            Event::Enter { peer, .. } => remotes.push(*peer),
            Event::Whisper { .. } if first_frame(e) == b"R:HELLO" => hellos += 1,
            _ => {}
        }
        remotes.len() >= count && hellos >= count
    })?;
    let coordinate = t0.elapsed();
    println!(
        "coordinated with {count} remotes and got every greeting in {:.3}s",
        coordinate.as_secs_f64()
    );

    // Whispers, round-robin, draining replies as they come.
    let whisper_time = phase(&events, limit, messages, messages, b"R:WHISPER", |i| {
        n.whispers(remotes[i % remotes.len()], "S:WHISPER")
    })?;
    let whisper_rate = messages as f64 / whisper_time.as_secs_f64();
    println!(
        "{messages} whispers and replies in {:.3}s: {whisper_rate:.0} msg/s",
        whisper_time.as_secs_f64()
    );

    // Shouts: each reaches every remote, and each remote shouts back.
    let shouts = (messages / count.max(1)).max(1);
    let expect = shouts * remotes.len();
    let shout_time = phase(&events, limit, shouts, expect, b"R:SHOUT", |_| {
        n.shouts("GLOBAL", "S:SHOUT")
    })?;
    let shout_rate = expect as f64 / shout_time.as_secs_f64();
    println!(
        "{shouts} shouts to {count} remotes, {expect} replies in {:.3}s: {shout_rate:.0} msg/s",
        shout_time.as_secs_f64()
    );
    Ok(json!({
        "mode": "perf-local", "remotes": count, "messages": messages,
        "coordinate_s": coordinate.as_secs_f64(),
        "whisper": {"messages": messages, "seconds": whisper_time.as_secs_f64(), "per_second": whisper_rate},
        "shout": {"shouts": shouts, "replies": expect, "seconds": shout_time.as_secs_f64(), "per_second": shout_rate},
    }))
}

/// Runs an echo node on its own thread: every whisper goes back to its sender,
/// frames unchanged. Dropping the returned sender stops it.
fn spawn_echo(n: Node) -> (crossbeam_channel::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let t = std::thread::spawn(move || {
        let events = n.events();
        loop {
            select! {
                recv(stop_rx) -> _ => return,
                recv(events) -> e => match e {
                    Ok(Event::Whisper { peer, content, .. }) => {
                        let _ = n.whisper(peer, content);
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
            }
        }
    });
    (stop_tx, t)
}

/// `echo`: one node that whispers every whisper it receives back to its sender,
/// until standard input ends.
pub fn echo(interface: &str, port: u16) -> Result<(), String> {
    let (stop, t) = spawn_echo(node("echo", interface, port)?);
    eprintln!("echo: up on port {port}; end of input stops it");
    let mut line = String::new();
    while std::io::stdin()
        .read_line(&mut line)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        line.clear();
    }
    drop(stop);
    let _ = t.join();
    Ok(())
}

/// `bench latency`: whisper round trips to an echo peer, one at a time, for each
/// payload size; with `local_echo` the echo node runs in this process.
pub fn latency(
    count: usize,
    sizes: &[usize],
    interface: &str,
    port: u16,
    local_echo: bool,
) -> Result<serde_json::Value, String> {
    let limit = Duration::from_secs(60);
    // An in-process echo peer answers from its own thread, as a remote one would.
    let echo_side = if local_echo {
        Some(spawn_echo(node("echo", interface, port)?))
    } else {
        None
    };
    let n = node("latency", interface, port)?;
    let events = n.events();
    let mut echo_peer = None;
    wait(&events, limit, |e| {
        if let Event::Enter { peer, name, .. } = e {
            if name == "echo" {
                echo_peer = Some(*peer);
            }
        }
        echo_peer.is_some()
    })?;
    let peer = echo_peer.expect("waited for it");
    let mut results = Vec::new();
    for &size in sizes {
        let mut rtts = Vec::with_capacity(count);
        for i in 0..count + count / 10 {
            let mut frame = (i as u64).to_be_bytes().to_vec();
            frame.resize(size.max(8), 0xab);
            let t = Instant::now();
            n.whisper(peer, vec![frame.clone()])
                .map_err(|e| e.to_string())?;
            wait(
                &events,
                limit,
                |e| matches!(e, Event::Whisper { content, .. } if content.first() == Some(&frame)),
            )?;
            // The first tenth warms up connections and caches; it is not counted.
            if i >= count / 10 {
                rtts.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        rtts.sort_by(f64::total_cmp);
        let at = |q: f64| quantile(&rtts, q);
        println!(
            "{size} B: round trip p50 {:.0} us, p90 {:.0} us, p99 {:.0} us ({count} round trips)",
            at(0.5),
            at(0.9),
            at(0.99)
        );
        results.push(json!({"bytes": size, "count": count, "p50_us": at(0.5), "p90_us": at(0.9), "p99_us": at(0.99)}));
    }
    drop(n);
    if let Some((stop, t)) = echo_side {
        drop(stop);
        let _ = t.join();
    }
    Ok(
        json!({"mode": "bench-latency", "echo": if local_echo { "in-process" } else { "external" }, "results": results}),
    )
}
