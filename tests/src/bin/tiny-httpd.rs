//! A tiny HTTP server that the system tests manage through the agents: a real process
//! with a real socket, whose answers the tests control.
//!
//! `tiny-httpd --port N [--status 200] [--body ok] [--delay-ms 0] [--control FILE]
//! [--ignore-term] [--bind ADDR]`. With `--control FILE`, each request reads `STATUS DELAY_MS
//! BODY...` from the file when it exists, so a test can make a running server unhealthy or
//! slow. Binds 127.0.0.1 unless `--bind` names another address (the lab's replays bind the
//! address of a lab node, inside its network namespace, so that HAProxy on another node
//! reaches it).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[derive(Clone)]
struct Answer {
    status: u16,
    delay_ms: u64,
    body: String,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let default = Answer {
        status: arg(&args, "--status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(200),
        delay_ms: arg(&args, "--delay-ms")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        body: arg(&args, "--body").unwrap_or_else(|| "ok".into()),
    };
    let control = arg(&args, "--control");
    if args.iter().any(|a| a == "--ignore-term") {
        // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
    }
    let bind = arg(&args, "--bind").unwrap_or_else(|| "127.0.0.1".into());
    let listener = match TcpListener::bind((bind.as_str(), port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tiny-httpd: cannot bind {bind}:{port}: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "tiny-httpd: listening on {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let default = default.clone();
        let control = control.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read(&mut buf);
            let answer = control
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|t| {
                    let mut w = t.trim().splitn(3, ' ');
                    Some(Answer {
                        status: w.next()?.parse().ok()?,
                        delay_ms: w.next().unwrap_or("0").parse().ok()?,
                        body: w.next().unwrap_or("").to_string(),
                    })
                })
                .unwrap_or(default);
            std::thread::sleep(Duration::from_millis(answer.delay_ms));
            let _ = write!(
                s,
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                answer.status,
                answer.body.len(),
                answer.body
            );
        });
    }
}
