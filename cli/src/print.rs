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

fn text(content: &[Vec<u8>]) -> String {
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
        other => println!("* {} from {}", other.kind(), other.name()),
    }
}

/// Peer records as a table for people: one line each, columns aligned.
pub fn table(peers: &[PeerInfo]) -> String {
    let rows: Vec<[String; 5]> = peers
        .iter()
        .map(|p| {
            let groups: Vec<&str> = p.groups.iter().map(String::as_str).collect();
            let headers: Vec<String> = p.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
            [
                if p.ready {
                    p.name.clone()
                } else {
                    "(no HELLO yet)".into()
                },
                p.id.to_string(),
                p.endpoint.clone(),
                groups.join(","),
                headers.join(" "),
            ]
        })
        .collect();
    let heads = ["NAME", "UUID", "ENDPOINT", "GROUPS", "HEADERS"];
    let mut width = heads.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let fmt = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = fmt(heads);
    for r in &rows {
        out.push_str(&fmt([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}
