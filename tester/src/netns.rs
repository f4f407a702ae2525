//! `netns`: real hosts, real broadcast, real loss. Each host is a network namespace
//! with one `zmesh-tester node` process; the hosts share a bridge that lives in a
//! namespace of its own, so nothing touches this machine's interfaces. Loss is
//! applied with nftables on each host's ingress (this kernel has no netem), and a
//! partition drops everything to and from one host until it is healed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::{json, Value};

/// What to run.
#[derive(Debug, Clone)]
pub struct NetnsConfig {
    /// Number of hosts (2..=200).
    pub hosts: usize,
    /// Ingress loss in percent (0..=99), on host 1 only (as the reference
    /// measurements were made) or, with `loss_everywhere`, on every host.
    pub loss: u32,
    /// Apply the loss on every host's ingress. Harsh: every TCP path then loses
    /// both ways, and streams stall for 20–30 s at 30 %.
    pub loss_everywhere: bool,
    /// Time with traffic before and after the partition.
    pub duration: Duration,
    /// Partition host 0 (for longer than the expired timeout), then heal.
    pub partition: bool,
    /// Beacon port.
    pub port: u16,
    /// The nodes' evasive timeout.
    pub evasive: Duration,
    /// The nodes' expired timeout.
    pub expired: Duration,
    /// This program, run inside each namespace as `node`.
    pub exe: PathBuf,
    /// Write every line the nodes printed here.
    pub log: Option<PathBuf>,
    /// The last host's node also collects every node's ZRE-LOG records here.
    pub collect: Option<PathBuf>,
}

/// The namespaces of one run; torn down on drop, on Ctrl-C and on failure.
#[derive(Clone)]
struct Netns {
    prefix: String,
    created: Arc<Mutex<Vec<String>>>,
}

use zmesh_toolkit::netns::run as run_cmd;

impl Netns {
    fn host(&self, i: usize) -> String {
        format!("{}-h{i}", self.prefix)
    }

    fn bridge(&self) -> String {
        format!("{}-br", self.prefix)
    }

    fn add(&self, name: &str) -> Result<(), String> {
        run_cmd(&["ip", "netns", "add", name])?;
        self.created
            .lock()
            .expect("netns list")
            .push(name.to_string());
        run_cmd(&["ip", "-n", name, "link", "set", "lo", "up"])?;
        // Quiet captures and no IPv6 chatter inside the test network.
        let _ = run_cmd(&[
            "ip",
            "netns",
            "exec",
            name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]);
        Ok(())
    }

    fn nft(&self, i: usize, rule: &[&str]) -> Result<(), String> {
        let host = self.host(i);
        let mut args = vec!["ip", "netns", "exec", &host, "nft"];
        args.extend_from_slice(rule);
        run_cmd(&args).map(|_| ())
    }

    fn setup(&self, hosts: usize, loss: u32, everywhere: bool) -> Result<(), String> {
        let br = self.bridge();
        self.add(&br)?;
        run_cmd(&["ip", "-n", &br, "link", "add", "br0", "type", "bridge"])?;
        run_cmd(&["ip", "-n", &br, "link", "set", "br0", "up"])?;
        for i in 0..hosts {
            let h = self.host(i);
            self.add(&h)?;
            let veth = format!("v{i}");
            run_cmd(&[
                "ip", "-n", &br, "link", "add", &veth, "type", "veth", "peer", "name", "eth0",
                "netns", &h,
            ])?;
            run_cmd(&["ip", "-n", &br, "link", "set", &veth, "master", "br0"])?;
            run_cmd(&["ip", "-n", &br, "link", "set", &veth, "up"])?;
            let addr = format!("10.77.{}.{}/16", (i + 1) / 250, (i + 1) % 250 + 1);
            run_cmd(&[
                "ip",
                "-n",
                &h,
                "addr",
                "add",
                &addr,
                "brd",
                "10.77.255.255",
                "dev",
                "eth0",
            ])?;
            run_cmd(&["ip", "-n", &h, "link", "set", "eth0", "up"])?;
            self.nft(i, &["add", "table", "netdev", "zt"])?;
            self.nft(
                i,
                &[
                    "add",
                    "chain",
                    "netdev",
                    "zt",
                    "in",
                    "{ type filter hook ingress device \"eth0\" priority 0; }",
                ],
            )?;
            if loss > 0 && (everywhere || i == 1) {
                let n = loss.to_string();
                self.nft(
                    i,
                    &[
                        "add", "rule", "netdev", "zt", "in", "numgen", "random", "mod", "100", "<",
                        &n, "counter", "drop",
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn address(i: usize) -> String {
        format!("10.77.{}.{}", (i + 1) / 250, (i + 1) % 250 + 1)
    }

    /// Cuts host `k` off: it drops everything it receives, the others drop what it sends.
    fn partition(&self, hosts: usize, k: usize) -> Result<(), String> {
        for i in 0..hosts {
            self.nft(
                i,
                &[
                    "add",
                    "chain",
                    "netdev",
                    "zt",
                    "cut",
                    "{ type filter hook ingress device \"eth0\" priority -1; }",
                ],
            )?;
            if i == k {
                self.nft(i, &["add", "rule", "netdev", "zt", "cut", "drop"])?;
            } else {
                let a = Netns::address(k);
                self.nft(
                    i,
                    &[
                        "add", "rule", "netdev", "zt", "cut", "ip", "saddr", &a, "drop",
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn heal(&self, hosts: usize) -> Result<(), String> {
        for i in 0..hosts {
            self.nft(i, &["flush", "chain", "netdev", "zt", "cut"])?;
            self.nft(i, &["delete", "chain", "netdev", "zt", "cut"])?;
        }
        Ok(())
    }

    fn teardown(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.created.lock().expect("netns list"));
        for n in names.iter().rev() {
            let _ = run_cmd(&["ip", "netns", "del", n]);
        }
    }
}

impl Drop for Netns {
    /// Tearing down twice is harmless (the list empties), so every copy does it:
    /// the run's own on any return, the Ctrl-C handler's on interrupt.
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Says what the machine lacks for `netns`, if anything.
pub fn check_requirements() -> Result<(), String> {
    let uid = run_cmd(&["id", "-u"]).map_err(|e| format!("cannot tell who I am: {e}"))?;
    if uid.trim() != "0" {
        return Err("netns needs root (network namespaces and nftables)".into());
    }
    for tool in [["ip", "-V"], ["nft", "--version"]] {
        run_cmd(&tool)
            .map_err(|e| format!("netns needs `{}` (iproute2 / nftables): {e}", tool[0]))?;
    }
    Ok(())
}

struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Host {
    /// A node process never outlives the run, whatever way the run ends.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line from a node: (host, JSON).
type Line = (usize, Value);

fn spawn_hosts(net: &Netns, cfg: &NetnsConfig) -> Result<(Vec<Host>, Receiver<Line>), String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut hosts = Vec::new();
    for i in 0..cfg.hosts {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &net.host(i)])
            .arg(&cfg.exe)
            .args(["node", "--name", &format!("h{i}"), "--interface", "eth0"])
            .args(["--port", &cfg.port.to_string(), "--interval", "200ms"])
            .args(["--evasive", &format!("{}ms", cfg.evasive.as_millis())])
            .args(["--expired", &format!("{}ms", cfg.expired.as_millis())])
            .args(match &cfg.collect {
                Some(f) if i + 1 == cfg.hosts => {
                    vec!["--collect".into(), f.clone().into_os_string()]
                }
                _ => Vec::new(),
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start a node in {}: {e}", net.host(i)))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send((i, v)).is_err() {
                        break;
                    }
                }
            }
        });
        hosts.push(Host { child, stdin });
    }
    Ok((hosts, rx))
}

/// Everything the nodes said, and the run's timeline.
#[derive(Default)]
struct Record {
    ids: HashMap<usize, String>,
    lines: Vec<(Instant, usize, Value)>,
}

impl Record {
    fn pump(&mut self, rx: &Receiver<Line>, until: Instant) {
        while let Ok((h, v)) = rx.recv_deadline(until) {
            if v["type"] == "STARTED" {
                self.ids
                    .insert(h, v["peer"].as_str().unwrap_or_default().to_string());
            }
            self.lines.push((Instant::now(), h, v));
        }
    }

    /// The set of (host, peer id) pairs currently entered, from the events so far.
    fn entered(&self) -> HashSet<(usize, String)> {
        let mut s = HashSet::new();
        for (_, h, v) in &self.lines {
            let p = v["peer"].as_str().unwrap_or_default().to_string();
            match v["type"].as_str() {
                Some("ENTER") => {
                    s.insert((*h, p));
                }
                Some("EXIT") => {
                    s.remove(&(*h, p));
                }
                _ => {}
            }
        }
        s
    }

    fn full_mesh(&self, hosts: usize) -> bool {
        let e = self.entered();
        self.ids.len() == hosts
            && (0..hosts)
                .all(|a| (0..hosts).all(|b| a == b || e.contains(&(a, self.ids[&b].clone()))))
    }

    /// Waits until `done` holds or the deadline passes; true if it held.
    fn wait(
        &mut self,
        rx: &Receiver<Line>,
        limit: Duration,
        done: impl Fn(&Record) -> bool,
    ) -> bool {
        let end = Instant::now() + limit;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            self.pump(rx, (Instant::now() + Duration::from_millis(100)).min(end));
        }
    }
}

/// Runs the scenario; returns the summary (with its violations).
pub fn run(cfg: &NetnsConfig) -> Result<Value, String> {
    check_requirements()?;
    let net = Netns {
        prefix: format!("zt{}", std::process::id() % 100_000),
        created: Arc::new(Mutex::new(Vec::new())),
    };
    {
        let net = net.clone();
        // Ctrl-C: tear down what we made, then leave.
        let _ = ctrlc::set_handler(move || {
            net.teardown();
            std::process::exit(130);
        });
    }
    net.setup(cfg.hosts, cfg.loss, cfg.loss_everywhere)?;
    let t0 = Instant::now();
    let (mut hosts, rx) = spawn_hosts(&net, cfg)?;
    let mut rec = Record::default();
    let mut violations = Vec::new();
    let mut timeline = BTreeMap::new();
    // 1. The mesh forms.
    let mesh_limit = Duration::from_secs(60);
    if rec.wait(&rx, mesh_limit, |r| r.full_mesh(cfg.hosts)) {
        timeline.insert("mesh_formed_s", t0.elapsed().as_secs_f64());
    } else {
        violations.push(format!(
            "the mesh did not form within {}s",
            mesh_limit.as_secs()
        ));
    }
    rec.pump(&rx, Instant::now() + cfg.duration);
    // 2. A partition longer than the expired timeout, then the heal.
    let mut cut_at = None;
    let mut healed_at = None;
    if cfg.partition && violations.is_empty() {
        net.partition(cfg.hosts, 0)?;
        cut_at = Some(Instant::now());
        timeline.insert("partition_s", t0.elapsed().as_secs_f64());
        let h0 = rec.ids[&0].clone();
        let ids = rec.ids.clone();
        let n = cfg.hosts;
        let gone = |r: &Record| {
            let e = r.entered();
            (1..n).all(|b| !e.contains(&(b, h0.clone())) && !e.contains(&(0, ids[&b].clone())))
        };
        // Zyre reaps once a second; the network adds its own delay.
        let limit = cfg.expired + Duration::from_secs(5);
        if rec.wait(&rx, limit, gone) {
            timeline.insert("partitioned_host_exited_s", t0.elapsed().as_secs_f64());
        } else {
            violations.push(format!(
                "host 0 was not seen to EXIT within {}s of the partition",
                limit.as_secs()
            ));
        }
        rec.pump(&rx, Instant::now() + Duration::from_secs(1));
        net.heal(cfg.hosts)?;
        healed_at = Some(Instant::now());
        timeline.insert("healed_s", t0.elapsed().as_secs_f64());
        if rec.wait(&rx, mesh_limit, |r| r.full_mesh(cfg.hosts)) {
            timeline.insert("mesh_again_s", t0.elapsed().as_secs_f64());
        } else {
            violations.push("host 0 did not enter again after the heal".into());
        }
        rec.pump(&rx, Instant::now() + cfg.duration);
    }
    // 3. Quiet: stop the nodes (politely) after the in-flight messages land.
    for h in &mut hosts {
        if let Some(s) = h.stdin.as_mut() {
            let _ = writeln!(s, "quiet");
        }
    }
    // TCP under loss delivers late, not never: give stalled streams time to drain.
    rec.pump(&rx, Instant::now() + Duration::from_secs(20));
    for h in &mut hosts {
        drop(h.stdin.take());
    }
    rec.wait(&rx, Duration::from_secs(20), |r| {
        r.lines
            .iter()
            .filter(|(_, _, v)| v["type"] == "STOP")
            .count()
            == cfg.hosts
    });
    drop(hosts);
    net.teardown();

    // 4. Every whisper between hosts that stayed connected arrived.
    let host_of: HashMap<String, usize> = rec.ids.iter().map(|(h, id)| (id.clone(), *h)).collect();
    let received: HashSet<(usize, usize, u64)> = rec
        .lines
        .iter()
        .filter(|(_, _, v)| v["type"] == "WHISPER")
        .filter_map(|(_, h, v)| Some((*host_of.get(v["peer"].as_str()?)?, *h, v["id"].as_u64()?)))
        .collect();
    let mut outcome: BTreeMap<&str, u64> = BTreeMap::new();
    for (at, h, v) in &rec.lines {
        if v["type"] != "SENT" {
            continue;
        }
        let (Some(to), Some(id)) = (
            v["to"].as_str().and_then(|p| host_of.get(p)),
            v["id"].as_u64(),
        ) else {
            continue;
        };
        if received.contains(&(*h, *to, id)) {
            *outcome.entry("delivered").or_default() += 1;
        } else if (*h == 0 || *to == 0)
            && cut_at.is_some_and(|c| *at + cfg.expired + Duration::from_secs(2) >= c)
            && healed_at.is_none_or(|hd| *at <= hd + Duration::from_secs(10))
        {
            *outcome.entry("lost across the partition").or_default() += 1;
        } else {
            *outcome.entry("unexplained").or_default() += 1;
            if violations.len() < 20 {
                violations.push(format!("whisper #{id} from h{h} to h{to} never arrived"));
            }
        }
    }
    let exits: BTreeMap<String, u64> = rec
        .lines
        .iter()
        .filter(|(_, _, v)| v["type"] == "EXIT")
        .fold(BTreeMap::new(), |mut m, (_, _, v)| {
            *m.entry(v["reason"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
            m
        });
    if let Some(path) = &cfg.log {
        let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (at, h, v) in &rec.lines {
            let _ = writeln!(f, "{:.3} h{h} {v}", (*at - t0).as_secs_f64());
        }
    }
    Ok(json!({
        "mode": "netns", "hosts": cfg.hosts, "loss_percent": cfg.loss,
        "loss_on": if cfg.loss_everywhere { "every host" } else { "host 1" },
        "partition": cfg.partition, "expired_s": cfg.expired.as_secs_f64(),
        "timeline": timeline, "whispers": outcome, "exits": exits,
        "wall_s": t0.elapsed().as_secs_f64(),
        "verdict": if violations.is_empty() { "pass" } else { "fail" },
        "violations": violations,
    }))
}
