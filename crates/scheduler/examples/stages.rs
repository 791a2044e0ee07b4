//! Times each stage of `crm-lite simulate` once on a CIB file, with the memory after it
//! (as the binary: mimalloc, the file read as a stream with each node's history lowered as
//! it comes, the tree gone before the scheduler runs; unlike the binary, the model is kept
//! whole while the working set is built):
//! `cargo run --release -p scheduler --example stages FILE` (`NOW=<seconds>`: "now", default 0).
#![allow(clippy::print_stdout)]
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn mem() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let f = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    format!("rss {:>4} MB, peak {:>4} MB", f("VmRSS:"), f("VmHWM:"))
}

/// CPU time of the process so far (user + system), in ms: the machine may be shared.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: stages FILE");
        std::process::exit(2);
    };
    let cpu0 = std::cell::Cell::new(cpu_ms());
    let step = |name: &str, t: Instant| {
        let c = cpu_ms();
        println!(
            "{name:<8} {:>8.1} ms wall {:>8.1} ms cpu  {}",
            t.elapsed().as_secs_f64() * 1e3,
            c - cpu0.get(),
            mem()
        );
        cpu0.set(c);
    };
    let t = Instant::now();
    // As `simulate`: the file read as a stream, each node's history lowered as it is read
    // (the text never whole in memory, the tree never holding every history).
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!("cannot read {path}");
        std::process::exit(1);
    };
    let Some(cib) = cib::parse_lean_reader(&path, file) else {
        eprintln!("{path} is not a CIB without errors (crm-lite verify tells why)");
        std::process::exit(1);
    };
    step("read", t);
    // "Now" as `simulate --now` takes it: NOW (seconds), default 0.
    let now = std::env::var("NOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let input = scheduler::Input {
        now: Some(now),
        explain: false,
    };
    let t = Instant::now();
    let mut w = scheduler::stages::build(&cib, &input);
    step("build", t);
    drop(cib);
    let t = Instant::now();
    scheduler::stages::assign(&mut w);
    step("assign", t);
    let t = Instant::now();
    let plan = scheduler::stages::actions(&mut w);
    step("actions", t);
    let t = Instant::now();
    let out = scheduler::format::actions(&plan);
    step("format", t);
    println!("{} bytes of output", out.len());
}
