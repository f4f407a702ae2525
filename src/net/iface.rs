//! Choosing the interface a node beacons on and binds its inbox to.
//!
//! The rules follow Zyre (CZMQ's `ziflist`): with nothing configured, the first
//! interface that is not loopback and has an IPv4 broadcast address; `ZSYS_INTERFACE`
//! overrides that, as does [`Node::set_interface`](crate::Node::set_interface). A
//! name, an IPv4 address, or a single digit (an index into the eligible list) are
//! accepted. Unlike Zyre, loopback is allowed when asked for by name (`lo`) or
//! address (`127.x.y.z`): beacons then go to 127.255.255.255, which reaches every
//! node on this host and nothing else.
//!
//! `*` (czmq's "every interface") takes every eligible interface, and a list of
//! names separated by commas takes each of them: the node then beacons on each and
//! its inbox listens on all addresses. An interface is eligible when it is up, is
//! not loopback and has an IPv4 broadcast address; one that is down or has no
//! address is skipped.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The interface a node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name (`lo`, `eth0`, ...).
    pub name: String,
    /// The address the inbox binds to and the beacon is sent from.
    pub addr: Ipv4Addr,
    /// Where beacons are sent.
    pub broadcast: Ipv4Addr,
}

impl Interface {
    /// The loopback interface: 127.0.0.1, broadcasting to 127.255.255.255.
    pub fn loopback() -> Interface {
        Interface {
            name: "lo".into(),
            addr: Ipv4Addr::LOCALHOST,
            broadcast: Ipv4Addr::new(127, 255, 255, 255),
        }
    }

    /// True for loopback: beacons from other hosts are then ignored.
    pub fn is_loopback(&self) -> bool {
        self.addr.is_loopback()
    }
}

/// No interface matched the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoInterface(pub String);

impl fmt::Display for NoInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(
                f,
                "no broadcast-capable IPv4 interface found (set one, or use \"lo\")"
            )
        } else {
            write!(f, "no usable IPv4 interface matches {:?}", self.0)
        }
    }
}

impl std::error::Error for NoInterface {}

/// One candidate interface, as [`interfaces`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The interface, as a node would use it.
    pub interface: Interface,
    /// True for the one a node picks when none is set (and `ZSYS_INTERFACE` is
    /// not either).
    pub default: bool,
}

/// The interfaces a node can beacon on: up, not loopback, with an IPv4 broadcast
/// address, in the system's order; the first is the default.
///
/// ```
/// for c in zmesh::interfaces() {
///     println!("{} {} -> {}{}", c.interface.name, c.interface.addr,
///              c.interface.broadcast, if c.default { " (default)" } else { "" });
/// }
/// ```
pub fn interfaces() -> Vec<Candidate> {
    eligible(&system())
        .into_iter()
        .enumerate()
        .map(|(i, interface)| Candidate {
            interface,
            default: i == 0,
        })
        .collect()
}

/// The IPv4 addresses of the interfaces that are up: (name, address, broadcast).
fn system() -> Vec<(String, Ipv4Addr, Option<Ipv4Addr>)> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| is_up(&i.name))
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) => Some((i.name, v4.ip, v4.broadcast)),
            _ => None,
        })
        .collect()
}

/// The interface's flags (Linux: `/sys/class/net/NAME/flags`), or None where
/// the system does not say.
fn flags(name: &str) -> Option<u32> {
    if name.contains('/') || name.contains("..") {
        return Some(0);
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/flags")).ok()?;
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// True unless the system says the interface is down (`IFF_UP`; where the
/// system does not say, every listed interface counts as up).
fn is_up(name: &str) -> bool {
    const IFF_UP: u32 = 0x1;
    flags(name).is_none_or(|f| f & IFF_UP != 0)
}

/// True unless the system says the interface cannot multicast (`IFF_MULTICAST`).
fn can_multicast(name: &str) -> bool {
    const IFF_MULTICAST: u32 = 0x1000;
    flags(name).is_none_or(|f| f & IFF_MULTICAST != 0)
}

/// An interface a node beacons on over IPv6, by link-local multicast as czmq
/// does with `ZSYS_IPV6=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface6 {
    /// Its name.
    pub name: String,
    /// The address peers are told: a global or unique-local one if the
    /// interface has one (it needs no scope), else its link-local one.
    pub addr: Ipv6Addr,
    /// Its link-local address, which a peer that has only a link-local address
    /// itself is told (it may have no route to the other).
    pub link_local: Option<Ipv6Addr>,
    /// The interface's index: the scope of its link-local addresses and of the
    /// multicast group beacons go to.
    pub index: u32,
}

impl Interface6 {
    /// Where a node on this interface is, as the engine takes it.
    pub fn place(&self) -> crate::engine::V6Place {
        crate::engine::V6Place {
            addr: self.addr,
            link_local: self.link_local,
            index: self.index,
        }
    }
}

/// The IPv6 addresses of the interfaces that are up and can multicast:
/// (name, address, index).
fn system_v6() -> Vec<(String, Ipv6Addr, u32)> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| is_up(&i.name) && can_multicast(&i.name))
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V6(v6) => Some((i.name, v6.ip, i.index?)),
            _ => None,
        })
        .collect()
}

/// Picks the interfaces to beacon on over IPv6 for `spec`, with the same words
/// as [`select_all`]: empty (`ZSYS_INTERFACE`, then the first eligible), a name,
/// an IPv6 address, a digit, `*`, or names separated by commas (those without
/// IPv6 are left out). Eligible: up, able to multicast, not loopback, with an
/// IPv6 address.
pub fn select_v6(spec: Option<&str>) -> Result<Vec<Interface6>, NoInterface> {
    select_v6_from(&spec_or_env(spec), &system_v6())
}

/// [`select_v6`] over an explicit list (name, address, index).
pub fn select_v6_from(
    spec: &str,
    all: &[(String, Ipv6Addr, u32)],
) -> Result<Vec<Interface6>, NoInterface> {
    let mut eligible: Vec<Interface6> = Vec::new();
    for (name, addr, index) in all.iter().filter(|(_, a, _)| !a.is_loopback()) {
        let ll = addr.is_unicast_link_local().then_some(*addr);
        match eligible.iter_mut().find(|i| i.name == *name) {
            Some(i) => {
                if i.addr.is_unicast_link_local() && ll.is_none() {
                    i.addr = *addr;
                }
                i.link_local = i.link_local.or(ll);
            }
            None => eligible.push(Interface6 {
                name: name.clone(),
                addr: *addr,
                link_local: ll,
                index: *index,
            }),
        }
    }
    let one = |word: &str| -> Option<Interface6> {
        if word.is_empty() {
            return eligible.first().cloned();
        }
        if let Ok(ip) = word.parse::<Ipv6Addr>() {
            let (name, _, _) = all.iter().find(|(_, a, _)| *a == ip)?;
            let found = eligible.iter().find(|i| i.name == *name)?;
            return Some(Interface6 {
                addr: ip,
                ..found.clone()
            });
        }
        if word.len() == 1 {
            if let Some(d) = word.chars().next().and_then(|c| c.to_digit(10)) {
                return eligible.get(d as usize).cloned();
            }
        }
        eligible.iter().find(|i| i.name == word).cloned()
    };
    let found: Vec<Interface6> = if spec == "*" {
        eligible.clone()
    } else {
        spec.split(',').filter_map(|w| one(w.trim())).collect()
    };
    if found.is_empty() {
        return Err(NoInterface(spec.to_string()));
    }
    Ok(found)
}

/// The netmask of the interface holding `addr`, if one does.
pub(crate) fn netmask_of(addr: Ipv4Addr) -> Option<Ipv4Addr> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) if v4.ip == addr => Some(v4.netmask),
            _ => None,
        })
}

fn spec_or_env(spec: Option<&str>) -> String {
    let env = std::env::var("ZSYS_INTERFACE").ok();
    spec.filter(|s| !s.is_empty())
        .or(env.as_deref().filter(|s| !s.is_empty()))
        .unwrap_or("")
        .to_string()
}

/// Picks the interface for `spec` (`None` or empty: `ZSYS_INTERFACE`, then Zyre's
/// default choice).
pub fn select(spec: Option<&str>) -> Result<Interface, NoInterface> {
    select_from(&spec_or_env(spec), &system())
}

/// Picks every interface `spec` names: `*` for every eligible one, names
/// separated by commas for each, anything else as [`select`] does.
pub fn select_all(spec: Option<&str>) -> Result<Vec<Interface>, NoInterface> {
    select_all_from(&spec_or_env(spec), &system())
}

/// [`select_all`] over an explicit interface list (name, address, broadcast).
pub fn select_all_from(
    spec: &str,
    all: &[(String, Ipv4Addr, Option<Ipv4Addr>)],
) -> Result<Vec<Interface>, NoInterface> {
    let found = if spec == "*" {
        eligible(all)
    } else if spec.contains(',') {
        spec.split(',')
            .map(|one| select_from(one.trim(), all))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![select_from(spec, all)?]
    };
    if found.is_empty() {
        return Err(NoInterface(spec.to_string()));
    }
    Ok(found)
}

fn eligible(all: &[(String, Ipv4Addr, Option<Ipv4Addr>)]) -> Vec<Interface> {
    all.iter()
        .filter(|(_, a, b)| !a.is_loopback() && b.is_some())
        .map(|(n, a, b)| Interface {
            name: n.clone(),
            addr: *a,
            broadcast: b.unwrap_or(Ipv4Addr::BROADCAST),
        })
        .collect()
}

/// The selection rules over an explicit interface list (name, address, broadcast).
pub fn select_from(
    spec: &str,
    all: &[(String, Ipv4Addr, Option<Ipv4Addr>)],
) -> Result<Interface, NoInterface> {
    let not_found = || NoInterface(spec.to_string());
    if spec == "lo" || spec == "loopback" {
        return Ok(Interface::loopback());
    }
    if let Ok(ip) = spec.parse::<Ipv4Addr>() {
        if ip.is_loopback() {
            return Ok(Interface {
                addr: ip,
                ..Interface::loopback()
            });
        }
        return all
            .iter()
            .find(|(_, a, _)| *a == ip)
            .map(|(n, a, b)| Interface {
                name: n.clone(),
                addr: *a,
                broadcast: b.unwrap_or(Ipv4Addr::BROADCAST),
            })
            .ok_or_else(not_found);
    }
    let eligible = eligible(all);
    if spec.is_empty() {
        return eligible.into_iter().next().ok_or_else(not_found);
    }
    if spec.len() == 1 {
        if let Some(d) = spec.chars().next().and_then(|c| c.to_digit(10)) {
            return eligible.into_iter().nth(d as usize).ok_or_else(not_found);
        }
    }
    if let Some((n, a, _)) = all.iter().find(|(n, a, _)| n == spec && a.is_loopback()) {
        return Ok(Interface {
            name: n.clone(),
            addr: *a,
            ..Interface::loopback()
        });
    }
    eligible
        .into_iter()
        .find(|i| i.name == spec)
        .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<(String, Ipv4Addr, Option<Ipv4Addr>)> {
        vec![
            ("lo".into(), Ipv4Addr::LOCALHOST, None),
            ("tun0".into(), Ipv4Addr::new(10, 8, 0, 2), None),
            (
                "eth0".into(),
                Ipv4Addr::new(192, 168, 1, 5),
                Some(Ipv4Addr::new(192, 168, 1, 255)),
            ),
            (
                "eth1".into(),
                Ipv4Addr::new(10, 1, 0, 5),
                Some(Ipv4Addr::new(10, 1, 0, 255)),
            ),
        ]
    }

    #[test]
    fn rules() {
        let t = table();
        assert_eq!(select_from("", &t).unwrap().name, "eth0");
        assert_eq!(select_from("1", &t).unwrap().name, "eth1");
        assert_eq!(
            select_from("eth1", &t).unwrap().broadcast,
            Ipv4Addr::new(10, 1, 0, 255)
        );
        assert_eq!(select_from("192.168.1.5", &t).unwrap().name, "eth0");
        assert_eq!(select_from("lo", &t).unwrap(), Interface::loopback());
        assert_eq!(
            select_from("127.0.0.1", &t).unwrap().broadcast,
            Ipv4Addr::new(127, 255, 255, 255)
        );
        assert!(select_from("tun0", &t).is_err(), "no broadcast address");
        assert!(select_from("wlan9", &t).is_err());
        assert!(select_from("", &t[..2]).is_err());
    }

    #[test]
    fn every_interface_and_lists() {
        let t = table();
        let names = |v: Vec<Interface>| v.into_iter().map(|i| i.name).collect::<Vec<_>>();
        assert_eq!(names(select_all_from("*", &t).unwrap()), ["eth0", "eth1"]);
        assert_eq!(
            names(select_all_from("eth1,lo", &t).unwrap()),
            ["eth1", "lo"]
        );
        assert_eq!(names(select_all_from("eth1", &t).unwrap()), ["eth1"]);
        assert!(select_all_from("eth1,wlan9", &t).is_err());
        assert!(select_all_from("*", &t[..2]).is_err(), "nothing eligible");
    }

    #[test]
    fn ipv6_choices() {
        let ll = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let t = vec![
            ("lo".to_string(), Ipv6Addr::LOCALHOST, 1),
            ("eth0".into(), ll("fe80::1"), 2),
            ("eth0".into(), ll("fd00::1"), 2),
            ("eth1".into(), ll("fe80::2"), 3),
        ];
        let one = |spec: &str| select_v6_from(spec, &t).map(|v| (v[0].name.clone(), v[0].addr));
        // The unique-local address is preferred to the link-local one.
        assert_eq!(one(""), Ok(("eth0".into(), ll("fd00::1"))));
        assert_eq!(one("eth1"), Ok(("eth1".into(), ll("fe80::2"))));
        assert_eq!(one("fe80::1"), Ok(("eth0".into(), ll("fe80::1"))));
        assert_eq!(one("1"), Ok(("eth1".into(), ll("fe80::2"))));
        let eth0 = &select_v6_from("eth0", &t).unwrap()[0];
        assert_eq!(eth0.link_local, Some(ll("fe80::1")));
        assert!(one("lo").is_err(), "loopback cannot carry the beacons");
        assert_eq!(select_v6_from("*", &t).unwrap().len(), 2);
        // A list keeps the names that have IPv6.
        assert_eq!(select_v6_from("eth1,wlan0", &t).unwrap()[0].index, 3);
        assert!(select_v6_from("wlan0", &t).is_err());
    }

    #[test]
    fn loopback_is_up_and_a_missing_interface_is_not_refused() {
        assert!(is_up("lo"));
        assert!(!is_up("../etc"));
    }
}
