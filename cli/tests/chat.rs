//! `zmesh chat` in `--json` mode, driven through stdin, on loopback and in network
//! namespaces. Every line it prints is checked against docs/json.md's schema.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_zmesh");

/// A line of `zmesh chat --json` is an event (it parses as `zmesh::Event` and prints
/// back the same) or one of the tool records of docs/json.md.
fn check_schema(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).expect("every line is JSON");
    match v["type"].as_str() {
        Some("STARTED") => {
            assert!(
                v["peer"]
                    .as_str()
                    .is_some_and(|p| p.parse::<zmesh::PeerId>().is_ok()),
                "{line}"
            );
            assert!(v["name"].is_string(), "{line}");
        }
        Some("PEERS") => {
            for p in v["peers"].as_array().expect("PEERS has peers") {
                let _: zmesh::PeerInfo = serde_json::from_value(p.clone()).expect(line);
            }
        }
        Some("GROUPS") => assert!(
            v["groups"].is_array() && v["peer_groups"].is_array(),
            "{line}"
        ),
        _ => {
            let e: zmesh::Event =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(serde_json::to_string(&e).unwrap(), line);
        }
    }
    v
}

struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Chat {
    fn start(args: &[&str]) -> Chat {
        Chat::start_in(&[], args)
    }

    /// Starts the shell under `prefix` (for example `ip netns exec NS`).
    fn start_in(prefix: &[&str], args: &[&str]) -> Chat {
        let mut argv: Vec<&str> = prefix.to_vec();
        argv.extend([EXE, "chat"]);
        argv.extend_from_slice(args);
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("zmesh built by cargo test");
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v = check_schema(&line);
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Chat {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn say(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pred) {
            return self.seen.remove(i);
        }
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(v) if pred(&v) => return v,
                Ok(v) => self.seen.push(v),
                Err(_) => panic!("chat never printed it; printed {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_chat_shells_talk_in_json() {
    let port = "46401";
    let mut a = Chat::start(&[
        "--name",
        "alice",
        "--interface",
        "lo",
        "--port",
        port,
        "--group",
        "room",
        "--json",
        "--header",
        "X-K=v",
    ]);
    let a_id = a.wait(|v| v["type"] == "STARTED")["peer"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Chat::start(&[
        "--name",
        "bob",
        "--interface",
        "lo",
        "--port",
        port,
        "--json",
    ]);
    let enter = b.wait(|v| v["type"] == "ENTER");
    assert_eq!(enter["name"], "alice");
    assert_eq!(enter["peer"], a_id.as_str());
    assert_eq!(enter["headers"]["X-K"], "v");
    assert!(enter["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("tcp://127.0.0.1:"));
    b.wait(|v| v["type"] == "JOIN" && v["group"] == "room");
    a.wait(|v| v["type"] == "ENTER" && v["name"] == "bob");

    b.say("/join room");
    a.wait(|v| v["type"] == "JOIN" && v["name"] == "bob");
    a.say("hello room");
    let s = b.wait(|v| v["type"] == "SHOUT");
    assert_eq!(s["group"], "room");
    assert_eq!(s["content"], serde_json::json!(["hello room"]));
    b.say("/whisper alice psst");
    let w = a.wait(|v| v["type"] == "WHISPER");
    assert_eq!(w["name"], "bob");
    assert_eq!(w["content"], serde_json::json!(["psst"]));

    // End of input stops politely: alice sees bob's EXIT, bob prints STOP and exits 0.
    drop(b.stdin.take());
    b.wait(|v| v["type"] == "STOP");
    assert!(b.child.wait().unwrap().success());
    a.wait(|v| v["type"] == "EXIT" && v["name"] == "bob");
    a.say("/quit");
    a.wait(|v| v["type"] == "STOP");
    assert!(a.child.wait().unwrap().success());
}

/// SIGTERM (as Ctrl-C) stops a shell politely: it prints STOP and exits 0, and its
/// peer sees it leave (reason "left", not an expiry after 30 s).
#[test]
fn a_terminated_shell_says_goodbye() {
    let port = "46405";
    let args = |name| {
        [
            "--name",
            name,
            "--interface",
            "lo",
            "--port",
            port,
            "--json",
        ]
    };
    let mut a = Chat::start(&args("alice"));
    let mut b = Chat::start(&args("bob"));
    a.wait(|v| v["type"] == "ENTER" && v["name"] == "bob");
    b.wait(|v| v["type"] == "ENTER" && v["name"] == "alice");
    let pid = b.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    b.wait(|v| v["type"] == "STOP");
    assert!(b.child.wait().unwrap().success());
    let exit = a.wait(|v| v["type"] == "EXIT" && v["name"] == "bob");
    assert_eq!(exit["reason"], "left");
}

/// `--contest` (repeatable): two shells contesting two groups both print the
/// same LEADER for each, the lower UUID, in `--json` mode.
#[test]
fn contesting_shells_agree_on_a_leader() {
    let port = "46404";
    let args = |name: &'static str| {
        vec![
            "--name",
            name,
            "--interface",
            "lo",
            "--port",
            port,
            "--group",
            "room",
            "--group",
            "ops",
            "--contest",
            "room",
            "--contest",
            "ops",
            "--json",
        ]
    };
    let mut a = Chat::start(&args("alice"));
    let a_id = a.wait(|v| v["type"] == "STARTED")["peer"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Chat::start(&args("bob"));
    let b_id = b.wait(|v| v["type"] == "STARTED")["peer"]
        .as_str()
        .unwrap()
        .to_string();
    let lower = a_id.clone().min(b_id.clone());
    for chat in [&mut a, &mut b] {
        for group in ["room", "ops"] {
            let l = chat.wait(|v| {
                v["type"] == "LEADER" && v["group"] == group && v["peer"] == lower.as_str()
            });
            let name = if lower == a_id { "alice" } else { "bob" };
            assert_eq!(l["name"], name, "{l}");
        }
    }
}

/// `--curve` on loopback: two CURVE shells meet and whisper over sealed links; a
/// plain shell on the same beacon port meets neither.
#[test]
fn curve_shells_meet_each_other_only() {
    let args = |name: &'static str, curve: bool| {
        let mut v = vec![
            "--name",
            name,
            "--interface",
            "lo",
            "--port",
            "46402",
            "--json",
        ];
        if curve {
            v.push("--curve");
        }
        v
    };
    let mut a = Chat::start(&args("ann", true));
    let mut b = Chat::start(&args("ben", true));
    let mut p = Chat::start(&args("pat", false));
    let enter = b.wait(|v| v["type"] == "ENTER");
    assert_eq!(enter["name"], "ann");
    assert_eq!(
        enter["headers"]["X-PUBLICKEY"].as_str().map(str::len),
        Some(40)
    );
    a.wait(|v| v["type"] == "ENTER" && v["name"] == "ben");
    b.say("/whisper ann sealed");
    let w = a.wait(|v| v["type"] == "WHISPER");
    assert_eq!(w["content"], serde_json::json!(["sealed"]));
    // Some beacon rounds later, the plain shell still knows nobody.
    std::thread::sleep(Duration::from_secs(2));
    p.say("/peers");
    let peers = p.wait(|v| v["type"] == "PEERS");
    assert_eq!(peers["peers"], serde_json::json!([]), "{peers}");
    a.say("/peers");
    let peers = a.wait(|v| v["type"] == "PEERS");
    assert_eq!(peers["peers"].as_array().unwrap().len(), 1, "{peers}");
}

/// `--cert` makes a certificate in czmq's format the first time and uses it after;
/// `--allow DIR` lets in only the keys of the certificates in DIR.
#[test]
fn certificates_and_an_allow_list() {
    let d = std::env::temp_dir().join(format!("zmesh-chat-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("allow")).unwrap();
    let path = |n: &str| d.join(n).to_str().unwrap().to_string();
    let start = |name: &str, extra: &[&str]| {
        let cert = path(name);
        let mut v = vec![
            "--name",
            name,
            "--interface",
            "lo",
            "--port",
            "46403",
            "--json",
        ];
        v.extend_from_slice(&["--cert", &cert]);
        v.extend_from_slice(extra);
        Chat::start(&v)
    };
    let mut ann = start("ann", &[]);
    let mut ben = start("ben", &[]);
    ann.wait(|v| v["type"] == "ENTER" && v["name"] == "ben");
    ben.wait(|v| v["type"] == "ENTER" && v["name"] == "ann");
    let ann_key = public_key_in(&path("ann"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path("ann_secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::copy(path("ann"), d.join("allow").join("ann")).unwrap();
    let allow = path("allow");
    let mut cal = start("cal", &["--allow", &allow]);
    let enter = cal.wait(|v| v["type"] == "ENTER");
    assert_eq!(enter["name"], "ann");
    assert_eq!(enter["headers"]["X-PUBLICKEY"], ann_key.as_str());
    std::thread::sleep(Duration::from_secs(2));
    cal.say("/peers");
    let peers = cal.wait(|v| v["type"] == "PEERS");
    assert_eq!(peers["peers"].as_array().unwrap().len(), 1, "{peers}");
    ben.say("/peers");
    let peers = ben.wait(|v| v["type"] == "PEERS");
    assert!(!peers.to_string().contains("cal"), "{peers}");
    // The same certificate again: the same key.
    drop(ann);
    let mut ann = start("ann", &[]);
    let enter = ben.wait(|v| v["type"] == "ENTER" && v["name"] == "ann");
    assert_eq!(enter["headers"]["X-PUBLICKEY"], ann_key.as_str());
    drop(ann.stdin.take());
    let _ = std::fs::remove_dir_all(&d);
}

/// The public key written in a certificate file.
fn public_key_in(path: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().find(|l| l.contains("public-key")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// The namespaces a test built, or None (and a skip, outside CI) where this
/// machine cannot build them.
fn built<T>(made: Result<T, String>) -> Option<T> {
    match made {
        Ok(n) => Some(n),
        Err(e) => {
            zmesh_toolkit::skip::skip(&format!(
                "cannot create network namespaces (needs root and iproute2): {e}"
            ));
            None
        }
    }
}

/// `--interface '*'` in namespaces: a host on two networks (and with a third
/// interface that is down) beacons on both and meets a host on each; those two,
/// in different broadcast domains, never meet each other.
#[test]
fn every_interface_reaches_both_networks_and_skips_one_that_is_down() {
    use zmesh_toolkit::netns::{run, Namespace};
    let tag = std::process::id();
    let (mid, a, b) = (
        format!("zi{tag}m"),
        format!("zi{tag}a"),
        format!("zi{tag}b"),
    );
    let made = (|| -> Result<_, String> {
        let nss = (
            Namespace::add(&mid)?,
            Namespace::add(&a)?,
            Namespace::add(&b)?,
        );
        for (side, net) in [(&a, 1), (&b, 2)] {
            let inner = format!("e{net}");
            run(&[
                "ip", "-n", &mid, "link", "add", &inner, "type", "veth", "peer", "name", "eth0",
                "netns", side,
            ])?;
            run(&[
                "ip",
                "-n",
                &mid,
                "addr",
                "add",
                &format!("10.81.{net}.1/24"),
                "brd",
                "+",
                "dev",
                &inner,
            ])?;
            run(&["ip", "-n", &mid, "link", "set", &inner, "up"])?;
            run(&[
                "ip",
                "-n",
                side,
                "addr",
                "add",
                &format!("10.81.{net}.2/24"),
                "brd",
                "+",
                "dev",
                "eth0",
            ])?;
            run(&["ip", "-n", side, "link", "set", "eth0", "up"])?;
        }
        // Down, with an address and a broadcast: never chosen.
        run(&[
            "ip", "-n", &mid, "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ])?;
        run(&[
            "ip",
            "-n",
            &mid,
            "addr",
            "add",
            "10.81.9.1/24",
            "brd",
            "+",
            "dev",
            "d0",
        ])?;
        Ok(nss)
    })();
    let Some(_nss) = built(made) else {
        return;
    };
    let exec = |ns: &str| ["ip", "netns", "exec", ns].map(String::from);
    let listed = run(&[
        "ip",
        "netns",
        "exec",
        &mid,
        EXE,
        "chat",
        "--list-interfaces",
    ])
    .unwrap();
    assert!(listed.contains("e1") && listed.contains("e2"), "{listed}");
    assert!(
        !listed.contains("d0"),
        "a down interface is skipped: {listed}"
    );
    let port = "46431";
    let (pm, pa, pb) = (exec(&mid), exec(&a), exec(&b));
    let pm: Vec<&str> = pm.iter().map(String::as_str).collect();
    let pa: Vec<&str> = pa.iter().map(String::as_str).collect();
    let pb: Vec<&str> = pb.iter().map(String::as_str).collect();
    let args = |name: &'static str, iface: &'static str| {
        vec![
            "--name",
            name,
            "--interface",
            iface,
            "--port",
            port,
            "--json",
        ]
    };
    let mut both = Chat::start_in(&pm, &args("both", "*"));
    let mut left = Chat::start_in(&pa, &args("left", "eth0"));
    let mut right = Chat::start_in(&pb, &args("right", "eth0"));
    let enter = |who: &'static str| move |v: &Value| v["type"] == "ENTER" && v["name"] == who;
    both.wait(enter("left"));
    both.wait(enter("right"));
    left.wait(enter("both"));
    right.wait(enter("both"));
    // Give beacons a few more rounds: the two sides still never meet.
    std::thread::sleep(Duration::from_secs(3));
    left.say("/peers");
    let peers = left.wait(|v| v["type"] == "PEERS");
    let names = peers["peers"].to_string();
    assert!(
        names.contains("both") && !names.contains("right"),
        "{names}"
    );
}

/// Gossip across a router, in namespaces: two subnets joined by a router that
/// forwards unicast but not broadcast, one gossip server on the first. Every host
/// meets every other, a host that joins later meets them all, and killing the
/// server leaves the links already formed alone.
#[test]
fn gossip_joins_two_routed_subnets() {
    use zmesh_toolkit::netns::{run, Namespace};
    let tag = std::process::id();
    let router = format!("zg{tag}r");
    let hosts = [
        ("a1", 1, 2),
        ("a2", 1, 3),
        ("b1", 2, 2),
        ("b2", 2, 3),
        ("b3", 2, 4),
    ];
    let ns_of = |h: &str| format!("zg{tag}{h}");
    let made = (|| -> Result<Vec<Namespace>, String> {
        let mut nss = vec![Namespace::add(&router)?];
        run(&[
            "ip",
            "netns",
            "exec",
            &router,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])?;
        for net in [1, 2] {
            let br = format!("br{net}");
            run(&["ip", "-n", &router, "link", "add", &br, "type", "bridge"])?;
            run(&[
                "ip",
                "-n",
                &router,
                "addr",
                "add",
                &format!("10.82.{net}.1/24"),
                "brd",
                "+",
                "dev",
                &br,
            ])?;
            run(&["ip", "-n", &router, "link", "set", &br, "up"])?;
        }
        for (h, net, last) in hosts {
            let ns = ns_of(h);
            nss.push(Namespace::add(&ns)?);
            let outer = format!("v{h}");
            run(&[
                "ip", "-n", &router, "link", "add", &outer, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ])?;
            run(&[
                "ip",
                "-n",
                &router,
                "link",
                "set",
                &outer,
                "master",
                &format!("br{net}"),
            ])?;
            run(&["ip", "-n", &router, "link", "set", &outer, "up"])?;
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.82.{net}.{last}/24"),
                "brd",
                "+",
                "dev",
                "eth0",
            ])?;
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
            run(&[
                "ip",
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.82.{net}.1"),
            ])?;
        }
        Ok(nss)
    })();
    let Some(_nss) = built(made) else {
        return;
    };
    let start = |h: &'static str| {
        let ns = ns_of(h);
        let gossip = if h == "a1" {
            ["--gossip-bind", "tcp://*:46441"]
        } else {
            ["--gossip-connect", "tcp://10.82.1.2:46441"]
        };
        let mut args = vec![
            "--name",
            h,
            "--interface",
            "eth0",
            "--port",
            "46442",
            "--json",
        ];
        args.extend_from_slice(&gossip);
        Chat::start_in(&["ip", "netns", "exec", &ns], &args)
    };
    let enter = |who: &str| {
        let who = who.to_string();
        move |v: &Value| v["type"] == "ENTER" && v["name"] == who.as_str()
    };
    let mut chats: Vec<(&str, Chat)> = ["a1", "a2", "b1", "b2"].map(|h| (h, start(h))).into();
    for (me, chat) in chats.iter_mut() {
        for other in ["a1", "a2", "b1", "b2"].iter().filter(|o| *o != me) {
            chat.wait(enter(other));
        }
    }
    // A latecomer learns everyone from the server, and everyone meets it.
    let mut late = start("b3");
    for other in ["a1", "a2", "b1", "b2"] {
        late.wait(enter(other));
    }
    for (_, chat) in chats.iter_mut() {
        chat.wait(enter("b3"));
    }
    // The server goes; links across the router stay and carry whispers.
    drop(chats.remove(0));
    let (_, a2) = &mut chats[0];
    a2.say("/whisper b1 over the router");
    let (_, b1) = &mut chats[1];
    let w = b1.wait(|v| v["type"] == "WHISPER" && v["name"] == "a2");
    assert!(w.to_string().contains("over the router"), "{w}");
    late.say("/whisper a2 late too");
    let (_, a2) = &mut chats[0];
    a2.wait(|v| v["type"] == "WHISPER" && v["name"] == "b3");
}

/// An address change on a live host, in namespaces: its address goes and another
/// comes on the same interface (a DHCP renewal, roaming). Within seconds the node
/// rebinds and tells its peer, which keeps it (no EXIT, no second ENTER) and
/// whispers both ways still arrive.
#[test]
fn a_host_whose_address_changes_keeps_its_peer() {
    address_change(false);
}

/// The same over IPv6 alone: the host's link-local address changes (a new MAC
/// address, or one the administrator set).
#[test]
fn a_host_whose_ipv6_address_changes_keeps_its_peer() {
    address_change(true);
}

fn address_change(v6: bool) {
    use zmesh_toolkit::netns::Namespace;
    let tag = std::process::id();
    let (stay, go) = (format!("zm{tag}s{v6}"), format!("zm{tag}m{v6}"));
    // (address of the stayer, of the mover, and the mover's new one)
    let (a, b, c) = if v6 {
        ("fe80::84:2/64", "fe80::84:3/64", "fe80::84:9/64")
    } else {
        ("10.84.1.2/24", "10.84.1.3/24", "10.84.1.9/24")
    };
    let made = (|| -> Result<_, String> {
        let nss = (Namespace::add(&stay)?, Namespace::add(&go)?);
        nss.0.ip(&format!(
            "link add eth0 type veth peer name eth0 netns {go}"
        ))?;
        for (ns, addr) in [(&nss.0, a), (&nss.1, b)] {
            if v6 {
                // Only the link-local address given, usable at once.
                for knob in ["accept_dad=0", "addr_gen_mode=1"] {
                    ns.exec(&["sysctl", "-qw", &format!("net.ipv6.conf.eth0.{knob}")])?;
                }
                ns.ip(&format!("addr add {addr} dev eth0 nodad"))?;
            } else {
                ns.ip(&format!("addr add {addr} brd + dev eth0"))?;
            }
            ns.ip("link set eth0 up")?;
        }
        Ok(nss)
    })();
    let Some((s, m)) = built(made) else {
        return;
    };
    let port = if v6 { "46452" } else { "46451" };
    let args = |name: &'static str| {
        let mut v = vec!["--name", name, "--interface", "eth0", "--port", port];
        if v6 {
            v.push("--ipv6");
        }
        v.push("--json");
        v
    };
    let mut stayer = Chat::start_in(&s.exec_prefix(), &args("stayer"));
    let mut mover = Chat::start_in(&m.exec_prefix(), &args("mover"));
    stayer.wait(|v| v["type"] == "ENTER" && v["name"] == "mover");
    mover.wait(|v| v["type"] == "ENTER" && v["name"] == "stayer");
    m.ip(&format!("addr del {b} dev eth0")).unwrap();
    let extra = if v6 { "nodad" } else { "brd +" };
    m.ip(&format!("addr add {c} {extra} dev eth0")).unwrap();
    // The move takes a look at the interface (every 2 s) and a HELLO: whisper
    // until one gets through, from each side.
    let deadline = Instant::now() + Duration::from_secs(30);
    let through = |from: &mut Chat, to: &mut Chat, to_name: &str, text: &str| loop {
        from.say(&format!("/whisper {to_name} {text}"));
        let got = to.lines.recv_timeout(Duration::from_millis(500));
        match got {
            Ok(v) if v["type"] == "WHISPER" && v.to_string().contains(text) => return,
            Ok(v) => to.seen.push(v),
            Err(_) => assert!(Instant::now() < deadline, "no whisper: {:#?}", to.seen),
        }
    };
    through(&mut stayer, &mut mover, "mover", "to-the-new-address");
    through(&mut mover, &mut stayer, "stayer", "from-the-new-address");
    // Heartbeats go on for a while over the new links: still no EXIT.
    std::thread::sleep(Duration::from_secs(3));
    for (chat, other) in [(&mut stayer, "mover"), (&mut mover, "stayer")] {
        while let Ok(v) = chat.lines.try_recv() {
            chat.seen.push(v);
        }
        let of_other = |kind: &str| {
            chat.seen
                .iter()
                .filter(|v| v["type"] == kind && v["name"] == other)
                .count()
        };
        assert_eq!(of_other("EXIT"), 0, "{:#?}", chat.seen);
        assert_eq!(of_other("ENTER"), 0, "entered once only: {:#?}", chat.seen);
    }
}

/// IPv6 in namespaces: one LAN where two hosts have IPv4 and IPv6 (`--ipv6`), one
/// has IPv6 only, one a link-local IPv6 address only, and one IPv4 only (no
/// `--ipv6`). The IPv6 hosts meet each other and the dual-stack hosts over IPv6
/// alone, the IPv4-only one meets the dual-stack hosts over IPv4, and each
/// dual-stack host, heard on both, enters once at each of its peers.
#[test]
fn ipv6_only_dual_stack_and_ipv4_hosts_share_a_lan() {
    use zmesh_toolkit::netns::Namespace;
    let tag = std::process::id();
    // (name, IPv4, IPv6)
    let hosts = [
        ("d1", Some("10.85.1.2"), Some("fd85::2")),
        ("d2", Some("10.85.1.3"), Some("fd85::3")),
        ("six", None, Some("fd85::4")),
        ("four", Some("10.85.1.5"), None),
        ("ll", None, Some("fe80::85:6")),
    ];
    let made = (|| -> Result<_, String> {
        let br = Namespace::add(&format!("z6{tag}br"))?;
        br.ip("link add br0 type bridge")?;
        br.ip("link set br0 up")?;
        let mut nss = vec![];
        for (h, v4, v6) in hosts {
            let ns = Namespace::add(&format!("z6{tag}{h}"))?;
            br.ip(&format!(
                "link add v{h} type veth peer name eth0 netns {}",
                ns.name()
            ))?;
            br.ip(&format!("link set v{h} master br0"))?;
            br.ip(&format!("link set v{h} up"))?;
            if let Some(a) = v4 {
                ns.ip(&format!("addr add {a}/24 brd + dev eth0"))?;
            }
            if let Some(a) = v6 {
                ns.ip(&format!("addr add {a}/64 dev eth0 nodad"))?;
            }
            // The link-local address the kernel adds is usable at once: beacons
            // leave from it, not from a unique-local address a link-local-only
            // host has no route to.
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"])?;
            ns.ip("link set eth0 up")?;
            nss.push(ns);
        }
        Ok((br, nss))
    })();
    let Some((_br, nss)) = built(made) else {
        return;
    };
    let mut chats: Vec<Chat> = hosts
        .iter()
        .zip(&nss)
        .map(|((h, _, v6), ns)| {
            let mut args = vec!["--name", h, "--interface", "eth0", "--port", "46461"];
            if v6.is_some() {
                args.push("--ipv6");
            }
            args.push("--json");
            Chat::start_in(&ns.exec_prefix(), &args)
        })
        .collect();
    let meets: [(usize, &[&str]); 5] = [
        (0, &["d2", "six", "four", "ll"]),
        (1, &["d1", "six", "four", "ll"]),
        (2, &["d1", "d2", "ll"]),
        (3, &["d1", "d2"]),
        (4, &["d1", "d2", "six"]),
    ];
    for (i, others) in meets {
        for o in others {
            let v = chats[i].wait(|v| v["type"] == "ENTER" && v["name"] == *o);
            // IPv6-only hosts are told their peers' IPv6 addresses, and they
            // theirs (a link-local one without its scope).
            let ep = v["endpoint"].to_string();
            if *o == "ll" {
                assert!(ep.contains("[fe80::"), "{v}");
            } else if i == 2 || i == 4 || *o == "six" {
                assert!(ep.contains("[fd85::") || ep.contains("[fe80::"), "{v}");
            }
        }
    }
    chats[2].say("/whisper d1 over-ipv6");
    chats[0].wait(|v| v["type"] == "WHISPER" && v.to_string().contains("over-ipv6"));
    chats[3].say("/whisper d2 over-ipv4");
    chats[1].wait(|v| v["type"] == "WHISPER" && v.to_string().contains("over-ipv4"));
    chats[4].say("/whisper six link-local");
    chats[2].wait(|v| v["type"] == "WHISPER" && v.to_string().contains("link-local"));
    // A few more beacon rounds: no one enters twice, and the single-stack hosts
    // never meet.
    std::thread::sleep(Duration::from_secs(3));
    for (i, others) in meets {
        let chat = &mut chats[i];
        while let Ok(v) = chat.lines.try_recv() {
            chat.seen.push(v);
        }
        let enters = chat.seen.iter().filter(|v| v["type"] == "ENTER").count();
        assert_eq!(enters, 0, "{} entered again: {:#?}", hosts[i].0, chat.seen);
        chat.say("/peers");
        let peers = chat.wait(|v| v["type"] == "PEERS");
        let list = peers["peers"].as_array().unwrap();
        assert_eq!(list.len(), others.len(), "{}: {peers}", hosts[i].0);
    }
}
