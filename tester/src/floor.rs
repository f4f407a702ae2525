//! `bench tcp`'s second figure: the same bytes through the thread hand-offs that a
//! node's shape makes, with no mesh logic at all. An application thread hands each
//! message as owned frames (`Vec<Vec<u8>>`) over a crossbeam channel to an I/O
//! thread, which batches them into writes; the receiving I/O thread decodes every
//! message, copies its payload out as an owned frame and hands it over a crossbeam
//! channel to the receiving application thread. That is the least any design with a node thread and channels
//! of owned messages (Zyre's actor and its pipe; zmesh's before its messages became
//! shared `Frames`) pays per message, so zmesh's figures are read against it as
//! well as against plain TCP.
//!
//! Both I/O threads block on their one channel or socket, which is cheaper than an
//! event loop over many: the figure is a floor of the cost, not a model of zmesh.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::bench::{greeted_decoder, read_messages, tcp_pair, wire_whisper, WINDOW};
use zmesh_toolkit::stats::quantile;

/// Messages the receiving I/O thread may queue for its application (zmesh pauses
/// reading at its event high-water mark in the same way).
const EVENTS_QUEUED: usize = 4096;

/// The sending I/O thread: drains its channel, writes the whisper bytes in
/// batches of up to 64 KiB, and half-closes the stream when the channel closes.
fn writer(rx: Receiver<Vec<Vec<u8>>>, mut s: TcpStream) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let (mut header, mut out) = (Vec::new(), Vec::with_capacity(1 << 17));
        let mut seq = 0u16;
        while let Ok(first) = rx.recv() {
            for m in std::iter::once(first).chain(rx.try_iter()) {
                seq = seq.wrapping_add(1);
                wire_whisper(seq, &m[0], &mut header, &mut out);
                if out.len() >= 1 << 16 {
                    if s.write_all(&out).is_err() {
                        return;
                    }
                    out.clear();
                }
            }
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        let _ = s.shutdown(Shutdown::Write);
    })
}

/// The receiving I/O thread: decodes `want` messages (or until the stream ends)
/// and hands each one's payload frame on, owned.
fn reader(mut s: TcpStream, tx: Sender<Vec<Vec<u8>>>, want: u64) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut d = greeted_decoder();
        let mut buf = vec![0; 1 << 16];
        read_messages(&mut s, &mut d, &mut buf, want, |m| {
            let _ = tx.send(vec![m[1].to_vec()]);
        });
    })
}

fn clone(s: &TcpStream) -> Result<TcpStream, String> {
    s.try_clone().map_err(|e| e.to_string())
}

/// One-way messages per second through the hand-offs. The sending application
/// may run [`WINDOW`] messages ahead, as `bench throughput`'s sender does.
pub(crate) fn throughput(size: usize, count: u64) -> Result<f64, String> {
    let (a, b) = tcp_pair()?;
    let (to_writer, writer_rx) = bounded(WINDOW as usize);
    let (to_app, app_rx) = bounded::<Vec<Vec<u8>>>(EVENTS_QUEUED);
    let w = writer(writer_rx, a);
    let r = reader(b, to_app, count);
    let payload = vec![0xcd; size];
    let t = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..count {
            if to_writer.send(vec![payload.clone()]).is_err() {
                return;
            }
        }
    });
    let mut got = 0u64;
    for m in app_rx.iter() {
        std::hint::black_box(&m);
        got += 1;
        if got == count {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    for h in [sender, w, r] {
        h.join().map_err(|_| "a hand-off thread panicked")?;
    }
    if got < count {
        return Err("the hand-off reader stopped early".into());
    }
    Ok(count as f64 / secs)
}

/// Round trips (p50, p90, p99 in µs) through the hand-offs on both sides: six
/// thread wake-ups per round trip, as between two nodes and their applications.
pub(crate) fn latency(size: usize, count: usize) -> Result<[f64; 3], String> {
    let (a, b) = tcp_pair()?;
    let (wa, wa_rx) = bounded(WINDOW as usize);
    let (ra_tx, ra) = bounded(EVENTS_QUEUED);
    let (wb, wb_rx) = bounded(WINDOW as usize);
    let (rb_tx, rb) = bounded::<Vec<Vec<u8>>>(EVENTS_QUEUED);
    let threads = [
        writer(wa_rx, clone(&a)?),
        reader(a, ra_tx, u64::MAX),
        writer(wb_rx, clone(&b)?),
        reader(b, rb_tx, u64::MAX),
        // The echoing application.
        thread::spawn(move || {
            for m in rb.iter() {
                if wb.send(m).is_err() {
                    return;
                }
            }
        }),
    ];
    let payload = vec![0xab; size];
    let mut rtts = Vec::with_capacity(count);
    for i in 0..count + count / 10 {
        let t = Instant::now();
        wa.send(vec![payload.clone()])
            .map_err(|_| "the hand-off writer stopped")?;
        ra.recv().map_err(|_| "the hand-off echo stopped")?;
        if i >= count / 10 {
            rtts.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    // Closing the first channel ends the chain: writer, far reader, echo, writer
    // back, near reader.
    drop(wa);
    drop(ra);
    for h in threads {
        h.join().map_err(|_| "a hand-off thread panicked")?;
    }
    rtts.sort_by(f64::total_cmp);
    Ok([0.5, 0.9, 0.99].map(|q| quantile(&rtts, q)))
}
