//! `bench throughput | mesh | idle | tcp` and `sink`: the figures beside Zyre's perf
//! protocol. Every pattern here has a twin in `tester/zyre/zyre-perf.c` (Zyre C) and
//! in `tests/interop/pyre_bench.py` (Pyre) that speaks the same messages, so one
//! implementation's client can measure another's peer.
//!
//! One-way throughput: the sender whispers single-frame payloads to the peer named
//! `sink`. The sink whispers `ACK <n>` after every [`ACK_EVERY`] payloads and the
//! sender keeps at most [`WINDOW`] unacknowledged, because neither Zyre nor zmesh
//! blocks a sender: a link whose output outgrows its bound drops the peer instead.
//! A whisper `END` makes the sink answer `COUNT <messages> <bytes>` and start over.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use zmesh_toolkit::stats::quantile;

use crossbeam_channel::{select, Receiver, Sender};
use serde_json::json;
use zmesh::wire::zmtp::{encode_message_into, Decoder, Greeting, Item};
use zmesh::wire::zre::{Body, ZreMessage};
use zmesh::{Event, Node, PeerId};

use zmesh_toolkit::proc::{cpu_time, current_memory, open_files_limit};

/// The sink acknowledges every this many payloads.
pub const ACK_EVERY: u64 = 128;
/// The sender keeps at most this many payloads unacknowledged.
pub const WINDOW: u64 = 512;
/// Without a window (`--window 0`), the sender waits whenever its node holds more
/// than this many bytes unsent, until it holds at most half of it.
pub const ROOM: usize = 1 << 20;

fn node(name: &str, interface: &str, port: u16) -> Result<Node, String> {
    let mut n = crate::common::bench_node(name, interface, port);
    n.start().map_err(|e| format!("{name}: {e}"))?;
    Ok(n)
}

fn first(e: &Event) -> &[u8] {
    e.content().and_then(|c| c.first()).unwrap_or_default()
}

/// Waits for the peer called `name` to enter.
fn find(events: &Receiver<Event>, name: &str, limit: Duration) -> Result<PeerId, String> {
    let end = Instant::now() + limit;
    loop {
        match events.recv_deadline(end) {
            Ok(Event::Enter { peer, name: n, .. }) if n == name => return Ok(peer),
            Ok(_) => {}
            Err(_) => return Err(format!("no peer called {name}")),
        }
    }
}

/// The next whisper from `peer` whose first frame starts with `prefix`, parsed as
/// space-separated numbers after it.
fn numbers(
    events: &Receiver<Event>,
    peer: PeerId,
    prefix: &str,
    limit: Duration,
) -> Result<Vec<u64>, String> {
    let end = Instant::now() + limit;
    loop {
        let e = events
            .recv_deadline(end)
            .map_err(|_| format!("no {prefix} from the sink"))?;
        if e.kind() == "WHISPER" && e.peer() == peer {
            let text = String::from_utf8_lossy(first(&e)).into_owned();
            if let Some(rest) = text.strip_prefix(prefix) {
                return Ok(rest
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect());
            }
        }
    }
}

fn spawn_sink(n: Node) -> (Sender<()>, std::thread::JoinHandle<()>) {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let t = std::thread::spawn(move || {
        let events = n.events();
        let (mut count, mut bytes) = (0u64, 0u64);
        loop {
            select! {
                recv(stop_rx) -> _ => return,
                recv(events) -> e => match e {
                    Ok(Event::Whisper { peer, content, .. }) => {
                        let f = content.first().unwrap_or_default();
                        if f == b"END" {
                            let _ = n.whispers(peer, &format!("COUNT {count} {bytes}"));
                            (count, bytes) = (0, 0);
                        } else {
                            count += 1;
                            bytes += f.len() as u64;
                            if count % ACK_EVERY == 0 {
                                let _ = n.whispers(peer, &format!("ACK {count}"));
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
            }
        }
    });
    (stop_tx, t)
}

fn until_stdin_ends() {
    let mut line = String::new();
    while std::io::stdin()
        .read_line(&mut line)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        line.clear();
    }
}

/// `sink`: one node called `sink` until standard input ends.
pub fn sink(interface: &str, port: u16) -> Result<(), String> {
    let (stop, t) = spawn_sink(node("sink", interface, port)?);
    eprintln!("sink: up on port {port}; end of input stops it");
    until_stdin_ends();
    drop(stop);
    let _ = t.join();
    Ok(())
}

/// How many payloads of `size` bytes to send: `count`, or fewer so that no size
/// moves more than `mib` MiB.
pub fn count_for(size: usize, count: usize, mib: usize) -> usize {
    count.min((mib << 20) / size.max(1)).max(100)
}

/// `bench throughput`: one-way whispers to a sink, per payload size.
pub fn throughput(
    count: usize,
    sizes: &[usize],
    mib: usize,
    interface: &str,
    port: u16,
    local_sink: bool,
    window: u64,
) -> Result<serde_json::Value, String> {
    let limit = Duration::from_secs(120);
    let sink_side = if local_sink {
        Some(spawn_sink(node("sink", interface, port)?))
    } else {
        None
    };
    let n = node("sender", interface, port)?;
    let events = n.events();
    let peer = find(&events, "sink", limit)?;
    let mut results = Vec::new();
    for &size in sizes {
        let count = count_for(size, count, mib);
        let payload = vec![0xcd; size];
        let t = Instant::now();
        let mut acked = 0u64;
        for i in 0..count as u64 {
            if window == 0 {
                // The sink's ACKs wait in the event queue until COUNT is looked for.
                if n.queued_bytes() > ROOM
                    && !n.wait_queued(ROOM / 2, limit).map_err(|e| e.to_string())?
                {
                    return Err("the sink took nothing for two minutes".into());
                }
            }
            while window > 0 && i - acked >= window {
                acked = numbers(&events, peer, "ACK ", limit)?[0];
            }
            n.whisper(peer, [&payload]).map_err(|e| e.to_string())?;
        }
        n.whispers(peer, "END").map_err(|e| e.to_string())?;
        let got = loop {
            // ACKs still in flight come first.
            let e = events
                .recv_deadline(Instant::now() + limit)
                .map_err(|_| "no COUNT")?;
            if e.kind() == "WHISPER" && e.peer() == peer && first(&e).starts_with(b"COUNT ") {
                let text = String::from_utf8_lossy(first(&e)).into_owned();
                let v: Vec<u64> = text[6..]
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                break v;
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let (received, bytes) = (got[0], got.get(1).copied().unwrap_or(0));
        if received != count as u64 {
            return Err(format!("sink got {received} of {count} payloads"));
        }
        let rate = received as f64 / secs;
        let mib_s = bytes as f64 / secs / 1048576.0;
        println!("{size} B: {count} whispers in {secs:.3}s: {rate:.0} msg/s, {mib_s:.1} MiB/s");
        results.push(json!({"bytes": size, "count": count, "seconds": secs, "msgs_per_s": rate, "mib_per_s": mib_s}));
    }
    drop(n);
    if let Some((stop, t)) = sink_side {
        drop(stop);
        let _ = t.join();
    }
    Ok(
        json!({"mode": "bench-throughput", "sink": if local_sink { "in-process" } else { "external" }, "window": window, "results": results}),
    )
}

/// Starts `count` nodes in this process and returns them with the time each took
/// to see all the others enter (seconds from the first start). With `gossip`, no
/// node beacons: the first serves gossip on that port and the others are its
/// clients.
fn full_mesh(
    count: usize,
    interface: &str,
    port: u16,
    gossip: Option<u16>,
    limit: Duration,
) -> Result<(Vec<Node>, Vec<f64>), String> {
    // Each node holds two TCP connections per peer (its DEALER to the peer, the
    // peer's DEALER to it) and about four more (listener, beacon socket, poller,
    // waker): a full mesh in one process needs about 2·N² descriptors.
    let need = (count * (2 * count.saturating_sub(1) + 4) + 16) as u64;
    if let Some(limit) = open_files_limit().filter(|&l| l < need) {
        return Err(format!(
            "a full mesh of {count} nodes in one process needs about {need} file descriptors; \
             this process may open {limit} (ulimit -n)"
        ));
    }
    let t0 = Instant::now();
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("m{i}");
        let n = match gossip {
            None => node(&name, interface, port)?,
            Some(gp) => {
                let mut n = Node::new(&name);
                n.set_interface(interface);
                n.set_port(port);
                n.set_beacon(false);
                let r = if i == 0 {
                    n.gossip_bind(&format!("tcp://*:{gp}"))
                } else {
                    n.gossip_connect(&format!("tcp://127.0.0.1:{gp}"))
                };
                r.and_then(|()| n.start())
                    .map_err(|e| format!("{name}: {e}"))?;
                n
            }
        };
        nodes.push(n);
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    for n in &nodes {
        let events = n.events();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            let mut entered = 0;
            while entered + 1 < count {
                match events.recv_deadline(end) {
                    Ok(Event::Enter { .. }) => entered += 1,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send((entered + 1 == count, t0.elapsed().as_secs_f64()));
        });
    }
    drop(tx);
    let mut times = Vec::new();
    for (done, t) in rx.iter() {
        if !done {
            return Err(format!(
                "no full mesh of {count} within {}s",
                limit.as_secs()
            ));
        }
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    Ok((nodes, times))
}

/// `bench mesh`: time for N nodes started together to reach a full mesh, found by
/// beacons, or with `gossip` (a port) through one gossip server and no beacons.
pub fn mesh(
    counts: &[usize],
    interface: &str,
    port: u16,
    gossip: Option<u16>,
) -> Result<serde_json::Value, String> {
    let mut results = Vec::new();
    for (i, &count) in counts.iter().enumerate() {
        let step = i as u16;
        let (nodes, times) = full_mesh(
            count,
            interface,
            port + step,
            gossip.map(|g| g + step),
            Duration::from_secs(120),
        )?;
        let at = |q: f64| quantile(&times, q);
        println!(
            "{count} nodes: every node saw all others after p50 {:.3}s, max {:.3}s",
            at(0.5),
            at(1.0)
        );
        results.push(json!({"nodes": count, "p50_s": at(0.5), "max_s": at(1.0)}));
        drop(nodes);
    }
    let discovery = if gossip.is_some() {
        "gossip"
    } else {
        "beacons"
    };
    Ok(json!({"mode": "bench-mesh", "discovery": discovery, "results": results}))
}

/// `bench idle`: CPU and resident memory of N idle nodes in a full mesh.
pub fn idle(
    count: usize,
    seconds: u64,
    interface: &str,
    port: u16,
) -> Result<serde_json::Value, String> {
    let base = current_memory().unwrap_or(0);
    let (nodes, _) = full_mesh(count, interface, port, None, Duration::from_secs(120))?;
    // Let the start-up traffic (HELLOs, first heartbeats) settle.
    std::thread::sleep(Duration::from_secs(2));
    let cpu0 = cpu_time().unwrap_or_default();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = (cpu_time().unwrap_or_default() - cpu0).as_secs_f64();
    let wall = t.elapsed().as_secs_f64();
    let rss = current_memory().unwrap_or(0);
    let pct = cpu / wall * 100.0;
    println!(
        "{count} idle nodes: {pct:.2}% of one core, {:.1} MiB resident ({:.1} MiB before starting them)",
        rss as f64 / 1048576.0,
        base as f64 / 1048576.0
    );
    drop(nodes);
    Ok(
        json!({"mode": "bench-idle", "nodes": count, "seconds": wall, "cpu_percent": pct,
        "rss_bytes": rss, "rss_before_bytes": base}),
    )
}

/// The bytes of one whisper as zmesh puts them on the wire: a ZMTP message with the
/// ZRE header frame and one payload frame.
/// `header` is scratch space reused between messages.
pub(crate) fn wire_whisper(seq: u16, payload: &[u8], header: &mut Vec<u8>, out: &mut Vec<u8>) {
    header.clear();
    ZreMessage::new(
        seq,
        Body::Whisper {
            content: zmesh::Frames::new(),
        },
    )
    .encode_header_into(header)
    .expect("a whisper header");
    encode_message_into(out, &[header.as_slice(), payload]);
}

/// Reads from `s` until `want` whole messages have been decoded; calls `each` on
/// every message. Returns false if the stream ended first.
pub(crate) fn read_messages(
    s: &mut TcpStream,
    d: &mut Decoder,
    buf: &mut [u8],
    want: u64,
    mut each: impl FnMut(zmesh::Frames),
) -> bool {
    let mut got = 0;
    while got < want {
        loop {
            match d.next_item() {
                Ok(Some(Item::Message(m))) => {
                    got += 1;
                    each(m);
                    if got == want {
                        return true;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return false,
            }
        }
        match s.read(buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => d.feed(&buf[..n]),
        }
    }
    true
}

pub(crate) fn tcp_pair() -> Result<(TcpStream, TcpStream), String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let a = TcpStream::connect(l.local_addr().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let (b, _) = l.accept().map_err(|e| e.to_string())?;
    for s in [&a, &b] {
        s.set_nodelay(true).map_err(|e| e.to_string())?;
    }
    Ok((a, b))
}

pub(crate) fn greeted_decoder() -> Decoder {
    let mut d = Decoder::new(usize::MAX);
    d.feed(&Greeting::null().encode());
    let _ = d.next_item();
    d
}

/// `bench tcp`: the same whisper bytes over one plain TCP connection on 127.0.0.1,
/// with no mesh logic: round trips (one message at a time, echoed by a thread) and
/// one-way throughput (the sender batches writes up to 64 KiB; the reader decodes
/// every message). The ceiling the mesh figures are read against; beside each
/// figure, the same bytes through the thread hand-offs of [`crate::floor`].
pub fn tcp(
    count: usize,
    latency_sizes: &[usize],
    sizes: &[usize],
    mib: usize,
) -> Result<serde_json::Value, String> {
    let mut latency = Vec::new();
    for &size in latency_sizes {
        let (mut a, mut b) = tcp_pair()?;
        let echo = std::thread::spawn(move || {
            let mut d = greeted_decoder();
            let mut buf = vec![0; 1 << 16];
            let (mut header, mut out) = (Vec::new(), Vec::new());
            let mut seq = 0u16;
            let mut b2 = b.try_clone().expect("clone");
            read_messages(&mut b, &mut d, &mut buf, u64::MAX, |m| {
                out.clear();
                seq = seq.wrapping_add(1);
                wire_whisper(seq, &m[1], &mut header, &mut out);
                let _ = b2.write_all(&out);
            });
        });
        let mut d = greeted_decoder();
        let mut buf = vec![0; 1 << 16];
        let (mut header, mut out) = (Vec::new(), Vec::new());
        let payload = vec![0xab; size];
        let mut rtts = Vec::with_capacity(count);
        for i in 0..count + count / 10 {
            out.clear();
            wire_whisper(i as u16, &payload, &mut header, &mut out);
            let t = Instant::now();
            a.write_all(&out).map_err(|e| e.to_string())?;
            if !read_messages(&mut a, &mut d, &mut buf, 1, |_| {}) {
                return Err("the echo thread stopped".into());
            }
            if i >= count / 10 {
                rtts.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        drop(a);
        let _ = echo.join();
        rtts.sort_by(f64::total_cmp);
        let at = |q: f64| quantile(&rtts, q);
        let h = crate::floor::latency(size, count)?;
        println!(
            "tcp {size} B: round trip p50 {:.0} us, p90 {:.0} us, p99 {:.0} us; through thread hand-offs p50 {:.0} us, p90 {:.0} us, p99 {:.0} us",
            at(0.5),
            at(0.9),
            at(0.99),
            h[0],
            h[1],
            h[2]
        );
        latency.push(json!({"bytes": size, "count": count, "p50_us": at(0.5), "p90_us": at(0.9), "p99_us": at(0.99),
            "handoff_p50_us": h[0], "handoff_p90_us": h[1], "handoff_p99_us": h[2]}));
    }
    let mut throughput = Vec::new();
    for &size in sizes {
        let count = count_for(size, count * 10, mib) as u64;
        let (mut a, mut b) = tcp_pair()?;
        let reader = std::thread::spawn(move || {
            let mut d = greeted_decoder();
            let mut buf = vec![0; 1 << 16];
            let mut bytes = 0u64;
            let ok = read_messages(&mut b, &mut d, &mut buf, count, |m| {
                bytes += m[1].len() as u64
            });
            (ok, bytes)
        });
        let payload = vec![0xcd; size];
        let (mut header, mut out) = (Vec::new(), Vec::with_capacity(1 << 17));
        let t = Instant::now();
        for i in 0..count {
            wire_whisper(i as u16, &payload, &mut header, &mut out);
            if out.len() >= 1 << 16 {
                a.write_all(&out).map_err(|e| e.to_string())?;
                out.clear();
            }
        }
        a.write_all(&out).map_err(|e| e.to_string())?;
        let (ok, bytes) = reader.join().map_err(|_| "reader panicked")?;
        let secs = t.elapsed().as_secs_f64();
        if !ok {
            return Err("the reader stopped early".into());
        }
        let rate = count as f64 / secs;
        let mib_s = bytes as f64 / secs / 1048576.0;
        let handoff = crate::floor::throughput(size, count)?;
        println!("tcp {size} B: {count} messages in {secs:.3}s: {rate:.0} msg/s, {mib_s:.1} MiB/s; through thread hand-offs {handoff:.0} msg/s");
        throughput.push(json!({"bytes": size, "count": count, "seconds": secs, "msgs_per_s": rate, "mib_per_s": mib_s,
            "handoff_msgs_per_s": handoff}));
    }
    Ok(json!({"mode": "bench-tcp", "latency": latency, "throughput": throughput}))
}
