//! Network namespaces that tests and tools create for themselves and always remove
//! (on drop): the only place, besides loopback, where zmesh's tests send traffic.
//! Needs root and iproute2.

use std::process::{Command, Stdio};

/// Runs `ip` with these arguments; true if it succeeded. Its output is discarded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command; its standard output, or an error naming the command and what it
/// said on standard error.
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace with `lo` up, deleted on drop.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates the namespace `name` and brings its loopback up.
    pub fn add(name: &str) -> Result<Namespace, String> {
        run(&["ip", "netns", "add", name])?;
        let ns = Namespace {
            name: name.to_string(),
        };
        run(&["ip", "-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A namespace with a veth pair `zv0`/`zv1` inside it, `zv0` holding `cidr`
    /// with its broadcast address: a broadcast-capable interface that leads
    /// nowhere, for peers (such as Zyre C) that never beacon on loopback.
    pub fn with_veth(name: &str, cidr: &str) -> Result<Namespace, String> {
        let ns = Namespace::add(name)?;
        let n = name;
        for step in [
            &[
                "-n", n, "link", "add", "zv0", "type", "veth", "peer", "name", "zv1",
            ][..],
            &["-n", n, "addr", "add", cidr, "brd", "+", "dev", "zv0"],
            &["-n", n, "link", "set", "zv0", "up"],
            &["-n", n, "link", "set", "zv1", "up"],
        ] {
            let mut args = vec!["ip"];
            args.extend_from_slice(step);
            run(&args)?;
        }
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The words that run a command inside the namespace: `ip netns exec NAME`.
    pub fn exec_prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// Runs `ip -n NAME` with the words of `line` (`"addr add 10.0.0.1/24 dev
    /// eth0"`): the configuration steps of a topology, one line each.
    pub fn ip(&self, line: &str) -> Result<String, String> {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend(line.split_whitespace());
        run(&all)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut all: Vec<&str> = self.exec_prefix().to_vec();
        all.extend_from_slice(args);
        run(&all)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.name]);
    }
}
