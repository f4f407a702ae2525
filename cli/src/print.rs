//! How the commands print: JSON lines (docs/json.md) or text for people.

use std::io::Write;

use serde::Serialize;
use zmesh::{Event, Node, PeerId, PeerInfo};

/// Writes one JSON line and flushes it, so that a reading script sees it at once.
pub fn line(v: &impl Serialize) {
    // Events, records and strings always serialize; nothing else is printed.
    let Ok(text) = serde_json::to_string(v) else {
        return;
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The tools' own records (docs/json.md), fields in the documented order.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
pub enum Record<'a> {
    /// The node's own id, name and inbox, once started.
    Started {
        peer: PeerId,
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint: Option<&'a str>,
    },
    /// The answer to `/peers`.
    Peers { peers: &'a [PeerInfo] },
    /// The answer to `/groups`.
    Groups {
        groups: &'a [String],
        peer_groups: &'a [String],
    },
}

/// The STARTED record: the node's own id, name and inbox.
pub fn started(node: &Node, json_mode: bool) {
    if json_mode {
        line(&Record::Started {
            peer: node.uuid(),
            name: node.name(),
            endpoint: node.endpoint(),
        });
    } else {
        println!(
            "* {} ({}) on {}",
            node.name(),
            node.uuid(),
            node.endpoint().unwrap_or("no inbox")
        );
    }
}

fn text(content: &zmesh::Frames) -> String {
    content
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An event for people, or as a JSON line.
pub fn event(e: &Event, json_mode: bool) {
    if json_mode {
        return line(e);
    }
    match e {
        Event::Enter { name, endpoint, .. } => println!("* {name} entered ({endpoint})"),
        Event::Exit { name, reason, .. } => println!("* {name} left ({})", reason.as_str()),
        Event::Join { name, group, .. } => println!("* {name} joined {group}"),
        Event::Leave { name, group, .. } => println!("* {name} left {group}"),
        Event::Shout {
            name,
            group,
            content,
            ..
        } => println!("[{group}] {name}: {}", text(content)),
        Event::Whisper { name, content, .. } => println!("(whisper) {name}: {}", text(content)),
        Event::Evasive { name, .. } => println!("* {name} is quiet"),
        Event::Silent { name, .. } => println!("* {name} is silent"),
        Event::Leader { name, group, .. } => println!("* {name} leads {group}"),
        Event::Stop { .. } => println!("* stopped"),
        Event::Log {
            name,
            source,
            record,
            ..
        } => {
            let who: &str = if name.is_empty() { source } else { name };
            println!(
                "[log {who}] {:?} {:?} {}",
                record.level, record.event, record.data
            )
        }
        other => println!("* {} from {}", other.kind(), other.name()),
    }
}

/// Peer records as a table for people: one line each, columns aligned; HEARD is
/// the time since the peer was last heard, RTT its last PING round trip.
pub fn table(peers: &[PeerInfo]) -> String {
    let heads = [
        "NAME",
        "UUID",
        "ENDPOINT",
        "GROUPS",
        "HEARD",
        "RTT",
        "MSGS IN/OUT",
        "RECONN",
        "HEADERS",
    ]
    .map(String::from);
    let mut rows = vec![heads];
    for p in peers {
        let groups: Vec<&str> = p.groups.iter().map(String::as_str).collect();
        let headers: Vec<String> = p.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let f = &p.figures;
        rows.push([
            if p.ready {
                p.name.clone()
            } else {
                "(no HELLO yet)".into()
            },
            p.id.to_string(),
            p.endpoint.clone(),
            groups.join(","),
            format!("{:.1}s", f.since_heard.as_secs_f64()),
            f.round_trip
                .map_or("-".into(), |d| format!("{:.2}ms", d.as_secs_f64() * 1e3)),
            format!("{}/{}", f.messages_in, f.messages_out),
            f.reconnects.to_string(),
            headers.join(" "),
        ]);
    }
    let mut width = [0usize; 9];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
