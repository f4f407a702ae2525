//! PUB and SUB on [`Link`], as libzmq speaks them: a subscriber sends its
//! subscriptions as ZMTP 3.1 `SUBSCRIBE`/`CANCEL` commands to a 3.1 peer and as the
//! 3.0 message form (one frame, `0x01` or `0x00` then the topic) to a 3.0 one; a
//! publisher takes both forms, matches a message's first frame against the topics
//! by prefix, and drops a message for a subscriber whose unsent output is past its
//! limit instead of blocking or growing.

use super::{Link, Role};
use crate::frames::Frames;
use crate::wire::zmtp::{self, Command};

/// At most this many topics per subscriber (a subscription is a multiset, as in
/// libzmq): more are ignored, so that a subscriber cannot grow a publisher.
pub const MAX_TOPICS: usize = 256;
/// Topics longer than this are ignored for the same reason.
pub const MAX_TOPIC_LEN: usize = 255;

/// What a publisher or subscriber link keeps.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    /// PUB: the peer's topics. SUB: ours.
    topics: Vec<Vec<u8>>,
}

impl Link {
    /// A connecting or accepted PUB link (libzmq's PUB: it sends, and takes only
    /// subscriptions), presenting `identity` (a ZRE node presents its routing id,
    /// so that a collector knows who publishes; libzmq ignores it). Cut to 255
    /// bytes.
    pub fn publisher(identity: &[u8], max_message: usize) -> Link {
        let mut l = Link::new(Role::Pub, &identity[..identity.len().min(255)], max_message);
        l.rare().subs = Some(Box::default());
        l
    }

    /// A SUB link subscribed to `topics` (the empty topic takes everything).
    pub fn subscriber(max_message: usize, topics: &[&[u8]]) -> Link {
        let mut l = Link::new(Role::Sub, b"", max_message);
        l.rare().subs = Some(Box::new(Subscriptions {
            topics: topics.iter().map(|t| t.to_vec()).collect(),
        }));
        l
    }

    /// The topics a publisher's subscriber asked for (or a subscriber's own).
    pub fn topics(&self) -> &[Vec<u8>] {
        self.subs().map_or(&[], |s| &s.topics)
    }

    /// SUB: subscribes to `topic` (sent at once if the handshake is done, else
    /// when it is).
    pub fn subscribe(&mut self, topic: &[u8]) {
        if let Some(s) = self.subs_mut() {
            s.topics.push(topic.to_vec());
        }
        if self.is_ready() {
            self.send_subscription(true, topic);
        }
    }

    /// PUB: queues `frames` if a subscription matches the first frame and the
    /// subscriber's unsent output is within `limit` bytes; false if it was dropped
    /// (no subscriber for it yet, or one too slow).
    pub fn publish<T: AsRef<[u8]>>(&mut self, frames: &[T], limit: usize) -> bool {
        let first = frames.first().map_or(&[][..], |f| f.as_ref());
        let wanted = self.topics().iter().any(|t| first.starts_with(t));
        if !wanted || !self.is_ready() || self.queued() > limit {
            return false;
        }
        self.send(frames);
        true
    }

    /// SUB, at READY: our subscriptions, in the form the peer's version speaks.
    pub(super) fn send_subscriptions(&mut self) {
        let topics = self.subs().map(|s| s.topics.clone()).unwrap_or_default();
        for t in topics {
            self.send_subscription(true, &t);
        }
    }

    fn send_subscription(&mut self, on: bool, topic: &[u8]) {
        let v31 = self
            .peer_greeting()
            .is_some_and(|g| (g.major, g.minor) > (3, 0));
        if v31 {
            let name = if on { &b"SUBSCRIBE"[..] } else { b"CANCEL" };
            let _ = Command::Unknown {
                name: name.to_vec(),
                data: topic.to_vec(),
            }
            .encode_into(&mut self.out);
        } else {
            let mut frame = Vec::with_capacity(1 + topic.len());
            frame.push(u8::from(on));
            frame.extend_from_slice(topic);
            zmtp::encode_message_into(&mut self.out, &[frame]);
        }
    }

    /// PUB: a command that may be a 3.1 subscription. True if it was one.
    pub(super) fn subscription_command(&mut self, name: &[u8], data: &[u8]) -> bool {
        match name {
            b"SUBSCRIBE" => self.change_topic(true, data),
            b"CANCEL" => self.change_topic(false, data),
            _ => return false,
        }
        true
    }

    /// PUB: a message from the subscriber, which is a 3.0 subscription or nothing
    /// (libzmq's PUB drops anything else).
    pub(super) fn subscription_message(&mut self, frames: &Frames) {
        if frames.len() == 1 {
            match frames[0].split_first() {
                Some((1, topic)) => self.change_topic(true, topic),
                Some((0, topic)) => self.change_topic(false, topic),
                _ => {}
            }
        }
    }

    fn change_topic(&mut self, on: bool, topic: &[u8]) {
        let Some(s) = self.subs_mut() else {
            return;
        };
        if on {
            if s.topics.len() < MAX_TOPICS && topic.len() <= MAX_TOPIC_LEN {
                s.topics.push(topic.to_vec());
            }
        } else if let Some(i) = s.topics.iter().position(|t| t == topic) {
            s.topics.swap_remove(i);
        }
    }

    /// Whether this link is a publisher (its messages in are subscriptions only).
    pub(super) fn is_publisher(&self) -> bool {
        self.role == Role::Pub
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::link::LinkEvent;

    /// Runs the two links' handshake through memory.
    fn pair(p: &mut Link, s: &mut Link) {
        for _ in 0..3 {
            s.handle_bytes(&p.take_output());
            while let Ok(Some(_)) = s.poll() {}
            p.handle_bytes(&s.take_output());
            while let Ok(Some(_)) = p.poll() {}
        }
    }

    fn deliver(p: &mut Link, s: &mut Link) -> Vec<Vec<Vec<u8>>> {
        s.handle_bytes(&p.take_output());
        let mut got = Vec::new();
        while let Ok(Some(e)) = s.poll() {
            if let LinkEvent::Message(m) = e {
                got.push(m.to_vec());
            }
        }
        got
    }

    #[test]
    fn prefix_matching_over_31_commands() {
        let mut p = Link::publisher(b"", 1 << 20);
        let mut s = Link::subscriber(1 << 20, &[b"\xAA\xA2"]);
        pair(&mut p, &mut s);
        assert_eq!(p.topics(), [b"\xAA\xA2".to_vec()]);
        assert!(p.publish(&[&b"\xAA\xA2\x01rest"[..]], 1 << 20));
        assert!(!p.publish(&[&b"\xAA\xA1other"[..]], 1 << 20));
        let got = deliver(&mut p, &mut s);
        assert_eq!(got, [vec![b"\xAA\xA2\x01rest".to_vec()]]);
        // CANCEL as a command: nothing matches any more.
        s.send_subscription(false, b"\xAA\xA2");
        p.handle_bytes(&s.take_output());
        while let Ok(Some(_)) = p.poll() {}
        assert!(p.topics().is_empty());
        assert!(!p.publish(&[&b"\xAA\xA2"[..]], 1 << 20));
    }

    #[test]
    fn the_30_message_form_is_taken_and_other_messages_dropped() {
        let mut p = Link::publisher(b"", 1 << 20);
        // A subscriber with no topics of its own sends the 3.0 form by hand.
        let mut s = Link::new(Role::Sub, b"", 1 << 20);
        pair(&mut p, &mut s);
        s.send(&[&b"\x01"[..]]);
        s.send(&[&b"\x02not a subscription"[..]]);
        s.send(&[&b"\x01a"[..], &b"two frames: not a subscription"[..]]);
        p.handle_bytes(&s.take_output());
        assert_eq!(p.poll(), Ok(None));
        assert_eq!(p.topics(), [Vec::<u8>::new()]);
        // The empty topic takes everything.
        assert!(p.publish(&[&b"anything"[..]], 1 << 20));
        s.send(&[&b"\x00"[..]]);
        p.handle_bytes(&s.take_output());
        assert_eq!(p.poll(), Ok(None));
        assert!(p.topics().is_empty());
    }

    #[test]
    fn a_slow_subscriber_costs_drops_not_memory() {
        let mut p = Link::publisher(b"", 1 << 20);
        let mut s = Link::subscriber(1 << 20, &[b""]);
        pair(&mut p, &mut s);
        let frame = vec![7u8; 1000];
        let sent = (0..1000).filter(|_| p.publish(&[&frame], 10_000)).count();
        // Nothing is written out: the queue stops just past the limit.
        assert!(sent < 20, "{sent}");
        assert!(p.queued() <= 10_000 + 1100);
    }

    #[test]
    fn topics_are_bounded() {
        let mut p = Link::publisher(b"", 1 << 20);
        for i in 0..(MAX_TOPICS + 10) {
            p.change_topic(true, &i.to_be_bytes());
        }
        p.change_topic(true, &[0u8; MAX_TOPIC_LEN + 1]);
        assert_eq!(p.topics().len(), MAX_TOPICS);
    }

    #[test]
    fn pub_and_sub_pair_only_with_each_other() {
        let mut p = Link::publisher(b"", 1 << 20);
        let mut d = Link::dealer(b"x", 1 << 20);
        d.handle_bytes(&p.take_output());
        assert!(d.poll().is_err());
        p.handle_bytes(&d.take_output());
        assert!(p.poll().is_err());
    }
}
