//! Endpoints as ZRE writes them (`tcp://IP:PORT`) and the socket addresses they
//! name.

use std::net::{IpAddr, SocketAddr};

/// `tcp://1.2.3.4:5670` → address. IPv6 is taken with or without brackets, as
/// libzmq writes it (`tcp://[fe80::1]:5670`) and as Zyre does (`tcp://fe80::1:5670`),
/// with a numeric scope (`%2`) or a name (`%eth0`, read as no scope: the engine
/// gives link-local addresses without one the scope of its own interface). Host
/// names are not resolved (the engine does no I/O); the caller falls back to the
/// address the peer was seen at.
pub fn endpoint_addr(endpoint: &str) -> Option<SocketAddr> {
    let rest = endpoint.strip_prefix("tcp://")?;
    if let Ok(a) = rest.parse::<SocketAddr>() {
        return Some(a);
    }
    let (host, port) = rest.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let (ip, scope) = host.split_once('%').unwrap_or((host, ""));
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(SocketAddr::V6(std::net::SocketAddrV6::new(
            v6,
            port,
            0,
            scope.parse().unwrap_or(0),
        ))),
        IpAddr::V4(v4) if scope.is_empty() => Some(SocketAddr::new(v4.into(), port)),
        IpAddr::V4(_) => None,
    }
}

/// The endpoint peers are told for `addr`: `tcp://1.2.3.4:5670`, or
/// `tcp://[2001:db8::1]:5670` (brackets as libzmq writes them; a link-local
/// scope is left out, as Zyre does, because it means something only here).
pub fn endpoint_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("tcp://{a}"),
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => format!("tcp://{v4}:{}", a.port()),
            None => format!("tcp://[{}]:{}", a.ip(), a.port()),
        },
    }
}
