//! Any header frame (plus content frames cut from the same input): decode never
//! panics, and a decoded message re-encodes and decodes to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::zre::ZreMessage;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (header, rest) = data.split_at(split);
    let content: Vec<Vec<u8>> = rest.chunks(7).map(|c| c.to_vec()).collect();
    if let Ok(m) = ZreMessage::parse(header, content.into()) {
        // Strings were decoded lossily, so compare message to message.
        if let Ok(mut frames) = m.encode() {
            let h = frames.remove(0);
            assert_eq!(ZreMessage::parse(&h, frames.into()).unwrap(), m);
        }
    }
});
