//! Link profiles: how a link delays, loses and stalls traffic.
//!
//! | profile | latency | broadcast (beacons) | TCP |
//! |---|---|---|---|
//! | `lan` | 0.1–1 ms | no loss | no stalls |
//! | `wifi` | 2 ms + Exp(10 ms), at most 80 ms | Gilbert–Elliott: good 2 % loss, bad 60 %; good→bad 5 % per packet, bad→good 30 % | a write stalls the pipe 1–4 s with probability 0.2 % |
//! | `lossy:P` | 1 ms | Bernoulli loss P | each write is retransmitted (+200 ms) with probability P, repeatedly |
//!
//! The WiFi numbers follow the ZeroMQ guide's observations (broadcast goes out at the
//! lowest rate, unacknowledged and never retried, so it is lost in bursts; TCP can
//! stall for seconds) and measured WiFi RTTs of 150–300 ms at the worst. They are
//! chosen, not measured, and are easy to change here.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::rng::Stream;

/// A link profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// A wired LAN: fast, lossless.
    Lan,
    /// WiFi: bursty broadcast loss, jitter, multi-second TCP stalls.
    Wifi,
    /// Bernoulli loss with this probability (TCP sees it as retransmission delay).
    Lossy(f64),
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Profile::Lan => write!(f, "lan"),
            Profile::Wifi => write!(f, "wifi"),
            Profile::Lossy(p) => write!(f, "lossy:{p}"),
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "lan" => Ok(Profile::Lan),
            "wifi" => Ok(Profile::Wifi),
            _ => {
                let p = s
                    .strip_prefix("lossy:")
                    .and_then(|p| p.parse::<f64>().ok())
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| format!("unknown profile {s:?} (lan, wifi, lossy:P)"))?;
                Ok(Profile::Lossy(p))
            }
        }
    }
}

/// Per directed link: its random stream and its burst-loss state.
#[derive(Debug, Clone, Copy)]
pub struct LinkState {
    /// The link's random stream.
    pub rng: Stream,
    /// Gilbert–Elliott: in the bad state.
    pub bad: bool,
}

impl Profile {
    /// One-way latency of a packet or a write.
    pub fn latency(&self, st: &mut LinkState) -> Duration {
        let ms = match self {
            Profile::Lan => st.rng.range(0.1, 1.0),
            Profile::Wifi => (2.0 + st.rng.exp(10.0)).min(80.0),
            Profile::Lossy(_) => 1.0,
        };
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// Whether a broadcast datagram is lost.
    pub fn broadcast_lost(&self, st: &mut LinkState) -> bool {
        match self {
            Profile::Lan => false,
            Profile::Wifi => {
                // Move the two-state chain, then draw loss in the new state.
                st.bad = if st.bad {
                    !st.rng.chance(0.3)
                } else {
                    st.rng.chance(0.05)
                };
                st.rng.chance(if st.bad { 0.6 } else { 0.02 })
            }
            Profile::Lossy(p) => st.rng.chance(*p),
        }
    }

    /// Extra delay a TCP write suffers beyond latency: stalls and retransmissions.
    /// TCP never loses bytes; loss becomes delay.
    pub fn tcp_extra(&self, st: &mut LinkState) -> Duration {
        match self {
            Profile::Lan => Duration::ZERO,
            Profile::Wifi => {
                if st.rng.chance(0.002) {
                    Duration::from_secs_f64(st.rng.range(1.0, 4.0))
                } else {
                    Duration::ZERO
                }
            }
            Profile::Lossy(p) => {
                let mut d = Duration::ZERO;
                // Geometric retransmissions, capped so a p near 1 still ends.
                while d < Duration::from_secs(5) && st.rng.chance(*p) {
                    d += Duration::from_millis(200);
                }
                d
            }
        }
    }

    /// The longest a TCP write can stall under this profile: a message sent just
    /// before a crash can land this late and refresh the peer's liveness.
    pub fn max_stall(&self) -> Duration {
        match self {
            Profile::Lan => Duration::ZERO,
            Profile::Wifi => Duration::from_secs(4),
            Profile::Lossy(_) => Duration::from_secs(5),
        }
    }

    /// How long after both ends are up a pair must have met, for the oracle.
    pub fn enter_bound(&self) -> Duration {
        match self {
            Profile::Lan => Duration::from_secs(3),
            // Bursty beacon loss plus TCP stalls of up to 4 s.
            Profile::Wifi => Duration::from_secs(20),
            Profile::Lossy(p) if *p < 0.5 => Duration::from_secs(20),
            Profile::Lossy(_) => Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_loss_rates() {
        assert_eq!("lossy:0.25".parse::<Profile>(), Ok(Profile::Lossy(0.25)));
        assert!("lossy:2".parse::<Profile>().is_err());
        assert!("dsl".parse::<Profile>().is_err());
        let mut st = LinkState {
            rng: Stream::new(1, 1),
            bad: false,
        };
        let n = 100_000;
        let lost = (0..n)
            .filter(|_| Profile::Wifi.broadcast_lost(&mut st))
            .count();
        // Stationary bad share 0.05 / 0.35 ≈ 14 %: loss ≈ 0.86·2 % + 0.14·60 % ≈ 10 %.
        let rate = lost as f64 / n as f64;
        assert!((0.06..0.14).contains(&rate), "{rate}");
        let lost = (0..n)
            .filter(|_| Profile::Lossy(0.3).broadcast_lost(&mut st))
            .count();
        assert!((lost as f64 / n as f64 - 0.3).abs() < 0.01);
        assert!((0..n).all(|_| !Profile::Lan.broadcast_lost(&mut st)));
    }
}
