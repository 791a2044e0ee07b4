//! Times each stage of `crm-lite simulate` once on a CIB file, with the memory after it
//! (as the binary: mimalloc, the text dropped once the tree is read, the tree before the
//! scheduler runs):
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
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("cannot read {path}");
        std::process::exit(1);
    };
    step("read", t);
    let t = Instant::now();
    let Ok(source) = String::from_utf8(bytes) else {
        eprintln!("{path} is not UTF-8");
        std::process::exit(1);
    };
    let (doc, _) = cib::tree::Document::parse(&source);
    step("tree", t);
    let t = Instant::now();
    // As `simulate` (cib::parse_lean): the text goes before the lowering, the tree after.
    drop(source);
    let (cib, _) = cib::lower("x", "", &doc);
    step("lower", t);
    let t = Instant::now();
    drop(doc);
    step("drop", t);
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
