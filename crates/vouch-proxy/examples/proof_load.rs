//! Measure the proof cache from a warm cache: the proxy served through the `vouch-server`
//! bootstrap on loopback and `/proof?index=N` load for random indexes, in one release process
//! (so that the measurement needs only this crate built with optimizations; `vouch bench
//! proxy` runs the same load against `vouch serve proxy`).
//!
//! `cargo run --release -p vouch-proxy --example proof_load -- UPSTREAM LOG_PUB CACHE_DIR CLIENTS SECONDS`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    assert!(
        a.len() == 6,
        "usage: proof_load UPSTREAM LOG_PUB CACHE_DIR CLIENTS SECONDS"
    );
    let pem = std::fs::read_to_string(&a[2]).unwrap();
    let config = vouch_proxy::Config {
        upstream: a[1].clone(),
        log_key: vouch_core::keys::PublicKey::from_pem(&pem).unwrap(),
        origin: None,
        witness_policy: None,
        max_stale: Duration::from_secs(3600),
        refresh: Duration::from_secs(2),
        memory_tiles: 4096,
    };
    let clients: u32 = a[4].parse().unwrap();
    let secs: u64 = a[5].parse().unwrap();
    let store = vouch_proxy::Store::open(std::path::Path::new(&a[3])).unwrap();
    let proxy = vouch_proxy::Proxy::open(config, store, reqwest::Client::new()).unwrap();
    proxy.refresh().await.unwrap();
    let size = proxy.current().unwrap().size();
    tokio::spawn(proxy.clone().run_refresh());
    let server = vouch_server::Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .named("proxy");
    let base = server.url();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(vouch_proxy::api::router(proxy), async {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients as usize)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    // Warm-up: one proof per level-0 tile.
    let warm = Instant::now();
    let mut i = 0;
    while i < size {
        let r = http
            .get(format!("{base}/proof?index={i}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "warm-up: {}", r.status());
        r.bytes().await.unwrap();
        i += 256;
    }
    eprintln!(
        "tree size {size}; warm-up {:.2} s; {clients} clients for {secs} s",
        warm.elapsed().as_secs_f64()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, base, stop, errors) = (http.clone(), base.clone(), stop.clone(), errors.clone());
        set.spawn(async move {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(c + 1);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t = Instant::now();
                let answered = match http
                    .get(format!("{base}/proof?index={}", x % size))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if answered {
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        });
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    while let Some(j) = set.join_next().await {
        lat.extend(j.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "url={base} clients={clients} format=tlog-proof tree_size={size} duration_s={elapsed:.2}"
    );
    println!(
        "proofs={} errors={}",
        lat.len(),
        errors.load(Ordering::Relaxed)
    );
    println!(
        "p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        percentile(&lat, 99.0),
        lat.last().map_or(0.0, |&m| f64::from(m) / 1000.0)
    );
    println!("proofs_per_sec={:.0}", lat.len() as f64 / elapsed);
    let _ = stop_tx.send(());
    let _ = serving.await;
}
