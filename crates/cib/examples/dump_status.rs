//! Print each resource's folded state per node: `cargo run -p cib --example dump_status --
//! FILE`. One line per (node, resource): `node resource role [failed] [pending=op]`.
#![allow(clippy::print_stdout)] // printing the state is the point
fn main() {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: dump_status FILE");
        std::process::exit(64);
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("dump_status: failed to read {file}: {e}");
            std::process::exit(66);
        }
    };
    let parsed = cib::parse_bytes(&file, &bytes);
    for n in &parsed.cib.status.nodes {
        for r in &n.resources {
            let s = &r.state;
            let mut line = format!("{} {} {}", n.uname, r.id, s.role);
            if s.failed {
                line.push_str(" failed");
            }
            if let Some(p) = &s.pending {
                line.push_str(&format!(" pending={p}"));
            }
            println!("{line}");
        }
    }
}
