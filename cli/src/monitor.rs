//! `zmesh monitor`: print every event on the mesh as it happens.

use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{select, Receiver};

use crate::options::{seconds, NodeArgs};
use crate::print;

/// `zmesh monitor`'s options.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Events as JSON lines (docs/json.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub duration: Option<Duration>,
    /// Serve the node's and its peers' figures for Prometheus at
    /// http://ADDR/metrics (default address: 127.0.0.1:9464, this host only).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// Streams events until a signal or the duration; the process's exit code.
pub fn run(args: &MonitorArgs, stop: &Receiver<()>) -> i32 {
    let server = match args.metrics.map(tiny_http::Server::http) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("zmesh: --metrics: {e}");
            return 1;
        }
        None => None,
    };
    let mut node = args.node.start();
    print::started(&node, args.json);
    let events = node.events();
    // A year stands in for "no end" without overflowing the clock.
    let end = Instant::now() + args.duration.unwrap_or(Duration::from_secs(365 * 86_400));
    let serving = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        if let Some(server) = &server {
            scope.spawn(|| serve_metrics(server, &node, &serving));
        }
        loop {
            select! {
                recv(events) -> e => match e {
                    Ok(e) => print::event(&e, args.json),
                    Err(_) => break,
                },
                recv(stop) -> _ => break,
                default(end.saturating_duration_since(Instant::now())) => break,
            }
        }
        serving.store(false, std::sync::atomic::Ordering::Relaxed);
    });
    node.stop();
    for e in events.try_iter() {
        print::event(&e, args.json);
    }
    0
}

/// Answers GET /metrics with the node's figures until `serving` turns false.
fn serve_metrics(
    server: &tiny_http::Server,
    node: &zmesh::Node,
    serving: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    while serving.load(Ordering::Relaxed) {
        let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let response = match (request.method(), request.url()) {
            (tiny_http::Method::Get, "/metrics") => match node.metrics() {
                Ok(text) => tiny_http::Response::from_string(text).with_header(
                    tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                    )
                    .expect("a valid header"),
                ),
                Err(e) => tiny_http::Response::from_string(e.to_string()).with_status_code(503),
            },
            _ => tiny_http::Response::from_string("GET /metrics\n").with_status_code(404),
        };
        let _ = request.respond(response);
    }
}
