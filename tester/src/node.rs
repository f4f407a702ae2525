//! `node`: one node in its own process (used by `netns`, one per host). It joins a
//! group, whispers every entered peer at a steady rate, and prints every event and
//! every message it sends as one JSON line, so that the orchestrator can account for
//! them. The lines are docs/json.md's: events as the library serializes them (a
//! WHISPER with the `id` its payload carries), STARTED and SENT records, and `t`. A line `quiet` on its standard input stops the whispers; the end of its
//! standard input stops the node politely.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, tick};
use serde_json::json;
use zmesh::{Event, Node};

use crate::common::{parse_payload, payload};

/// How the node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Its name.
    pub name: String,
    /// The interface (name or address).
    pub interface: String,
    /// The beacon port.
    pub port: u16,
    /// Time between whispers to each peer.
    pub interval: Duration,
    /// Evasive timeout.
    pub evasive: Duration,
    /// Expired timeout.
    pub expired: Duration,
    /// Also collect every node's ZRE-LOG records into this file (JSON lines).
    pub collect: Option<std::path::PathBuf>,
}

fn emit(t0: Instant, v: serde_json::Value) {
    let mut v = v;
    v["t"] = json!(t0.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn emit_event(t0: Instant, e: &Event, id: Option<u64>) {
    let Ok(mut v) = serde_json::to_value(e) else {
        return;
    };
    if let Some(id) = id {
        v["id"] = id.into();
    }
    emit(t0, v);
}

/// Runs until standard input ends; returns the process exit code.
pub fn run(cfg: &NodeConfig) -> i32 {
    let t0 = Instant::now();
    let mut node = Node::new(&cfg.name);
    node.set_interface(&cfg.interface);
    node.set_port(cfg.port);
    let timers = node
        .set_evasive_timeout(cfg.evasive)
        .and_then(|()| node.set_expired_timeout(cfg.expired));
    if let Err(e) = timers {
        eprintln!("{e}");
        return 2;
    }
    let _ = node.join("mesh");
    let mut collected = None;
    if let Some(path) = &cfg.collect {
        let file = std::fs::File::create(path).and_then(|f| {
            node.set_log_collector("tcp://*:0")
                .map_err(std::io::Error::other)?;
            Ok(std::io::BufWriter::new(f))
        });
        match file {
            Ok(f) => collected = Some(f),
            Err(e) => {
                eprintln!("{}: --collect: {e}", cfg.name);
                return 2;
            }
        }
    }
    if let Err(e) = node.start() {
        eprintln!("{}: cannot start: {e}", cfg.name);
        return 1;
    }
    emit(
        t0,
        json!({"type": "STARTED", "peer": node.uuid().to_string(), "name": cfg.name, "endpoint": node.endpoint()}),
    );
    // A line "quiet" stops the whispers (so that in-flight ones can land); the end
    // of input stops the node.
    let (quiet_tx, quiet_rx) = crossbeam_channel::bounded::<()>(1);
    let (eof_tx, eof) = crossbeam_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "quiet" => {
                    let _ = quiet_tx.try_send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = eof_tx.send(());
    });
    let mut quiet = false;
    let events = node.events();
    let ticker = tick(cfg.interval);
    let mut entered = Vec::new();
    let mut next_id = 0u64;
    loop {
        select! {
            recv(eof) -> _ => break,
            recv(quiet_rx) -> _ => quiet = true,
            recv(ticker) -> _ => {
                if quiet {
                    continue;
                }
                for &p in &entered {
                    next_id += 1;
                    if node.whisper_report(p, vec![payload(next_id, 0)]).unwrap_or(false) {
                        emit(t0, json!({"type": "SENT", "to": p.to_string(), "id": next_id}));
                    }
                }
            }
            recv(events) -> ev => {
                let Ok(ev) = ev else { break };
                match &ev {
                    Event::Enter { peer, .. } => {
                        entered.push(*peer);
                        emit_event(t0, &ev, None);
                    }
                    Event::Exit { peer, .. } => {
                        entered.retain(|p| p != peer);
                        emit_event(t0, &ev, None);
                    }
                    Event::Whisper { content, .. } => {
                        if let Some((id, _)) = content.first().and_then(parse_payload) {
                            emit_event(t0, &ev, Some(id));
                        }
                    }
                    Event::Log { .. } => {
                        if let (Some(f), Ok(line)) = (collected.as_mut(), serde_json::to_string(&ev)) {
                            let _ = writeln!(f, "{line}");
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    node.stop();
    if let Some(f) = collected.as_mut() {
        let _ = f.flush();
    }
    for ev in events.try_iter() {
        if matches!(ev, Event::Stop { .. }) {
            emit_event(t0, &ev, None);
        }
    }
    0
}
