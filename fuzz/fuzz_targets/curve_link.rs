//! A CURVE server and a CURVE client each fed any bytes after a valid greeting,
//! and a finished session fed any MESSAGE data: no panic, only errors.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use zmesh::engine::curve::CurveKeys;
use zmesh::engine::link::Link;
use zmesh::wire::zmtp::Greeting;

fuzz_target!(|data: &[u8]| {
    let mut rng = StdRng::seed_from_u64(7);
    let server = CurveKeys::generate(&mut rng);
    let client = CurveKeys::generate(&mut rng);
    let mut s = Link::curve_router(1 << 16, server.clone(), &mut rng);
    s.handle_bytes(&Greeting::curve(false).encode());
    s.handle_bytes(data);
    while let Ok(Some(_)) = s.poll() {}
    let mut c = Link::curve_dealer(b"\x01x", 1 << 16, client, *server.public(), &mut rng);
    c.handle_bytes(&Greeting::curve(true).encode());
    c.handle_bytes(data);
    while let Ok(Some(_)) = c.poll() {}
    // A session that completed, then garbage where boxes belong.
    let mut s = Link::curve_router(1 << 16, server.clone(), &mut rng);
    let mut c = Link::curve_dealer(
        b"\x01x",
        1 << 16,
        CurveKeys::generate(&mut rng),
        *server.public(),
        &mut rng,
    );
    for _ in 0..3 {
        s.handle_bytes(&c.take_output());
        while let Ok(Some(_)) = s.poll() {}
        c.handle_bytes(&s.take_output());
        while let Ok(Some(_)) = c.poll() {}
    }
    s.handle_bytes(data);
    while let Ok(Some(_)) = s.poll() {}
});
