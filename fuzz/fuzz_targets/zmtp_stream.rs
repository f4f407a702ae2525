//! Any byte stream after a valid greeting, fed in the chunk sizes the input picks:
//! the decoder never panics and stays within its message limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::zmtp::{Decoder, Greeting, Item};

fuzz_target!(|data: &[u8]| {
    let (cuts, body) = data.split_at(data.len().min(4));
    let mut d = Decoder::new(1 << 16);
    if cuts.first().is_some_and(|&c| c & 1 == 0) {
        d.feed(&Greeting::null().encode());
    }
    let step = 1 + cuts.get(1).copied().unwrap_or(0) as usize;
    for chunk in body.chunks(step) {
        d.feed(chunk);
        loop {
            match d.next_item() {
                Ok(Some(Item::Message(frames))) => {
                    assert!(frames.content_len() <= 1 << 16);
                    // The frames as read (short or long sizes) are the frames as
                    // written again.
                    let copied = frames.to_vec();
                    assert_eq!(copied.len(), frames.len());
                    assert_eq!(zmesh::Frames::from(&copied), frames);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});
