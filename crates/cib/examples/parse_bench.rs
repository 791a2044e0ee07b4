//! Time parse + lower of one CIB file: `cargo run --release -p cib --example parse_bench --
//! FILE [ROUNDS]`. Prints the fastest and median round in milliseconds (used by
//! `scripts/bench-verify`).
#![allow(clippy::print_stdout)] // printing the timings is the point
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: parse_bench FILE [ROUNDS]");
        std::process::exit(64);
    };
    let rounds: usize = args
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20)
        .max(1);
    let src = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("parse_bench: failed to read {file}: {e}");
            std::process::exit(66);
        }
    };
    let mut tree = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(cib::Document::parse(&src));
        tree.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    tree.sort_by(f64::total_cmp);
    let mut times = Vec::with_capacity(rounds);
    let mut errors = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let parsed = cib::parse(&file, &src);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
        std::hint::black_box(&parsed);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "parse+lower {file}: {} bytes, min {:.1} ms, median {:.1} ms over {rounds} rounds \
         (xml tree alone: median {:.1} ms), {errors} errors",
        src.len(),
        times[0],
        times[rounds / 2],
        tree[rounds / 2]
    );
}
