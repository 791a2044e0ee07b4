//! HAProxy's runtime API, read: the answers of `show info` and `show stat` (stats socket)
//! and of `show proc` (master CLI), and the depth-10 verdict on `require_backends`. Pure
//! text in, values or a reason out; the fixtures under `testdata/` are real HAProxy 2.6
//! output.

use crate::config::BackendNeed;

/// What the agent uses of `show info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The pid of the worker that answered.
    pub pid: u32,
    /// HAProxy's version.
    pub version: String,
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.is_empty() {
        "an empty answer".to_string()
    } else {
        format!("{:?}", line.trim().chars().take(120).collect::<String>())
    }
}

/// Parse `show info`: `Key: value` lines, of which `Pid` must be there.
pub fn parse_info(text: &str) -> Result<Info, String> {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim())
        })
    };
    let pid = value("Pid")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("'show info' answered {}", first_line(text)))?;
    Ok(Info {
        pid,
        version: value("Version").unwrap_or("").to_string(),
    })
}

/// One row of `show stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    /// `pxname`: the proxy.
    pub proxy: String,
    /// `svname`: the server, or `FRONTEND`/`BACKEND`.
    pub server: String,
    /// `status`: `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `UP 1/3`, ...
    pub status: String,
    /// `check_status`: `L7OK`, `L4CON`, ... (empty without checks).
    pub check_status: String,
}

impl StatRow {
    /// Whether this is a server (not the frontend or backend summary).
    pub fn is_server(&self) -> bool {
        self.server != "FRONTEND" && self.server != "BACKEND"
    }

    /// Whether the server takes traffic: up (also while going down, `UP 1/3`), or
    /// without health checks. `DRAIN`, `NOLB`, `MAINT` and `DOWN` do not count.
    pub fn is_up(&self) -> bool {
        self.status == "UP" || self.status.starts_with("UP ") || self.status == "no check"
    }
}

/// Parse `show stat`: CSV whose first line is the header `# pxname,svname,...`; columns
/// are found by name.
pub fn parse_stat(text: &str) -> Result<Vec<StatRow>, String> {
    let mut lines = text.lines();
    let header = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .ok_or_else(|| format!("'show stat' answered {}", first_line(text)))?;
    let cols: Vec<&str> = header.split(',').collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("'show stat' has no {name} column"))
    };
    let (px, sv, st, ck) = (
        col("pxname")?,
        col("svname")?,
        col("status")?,
        col("check_status")?,
    );
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
            StatRow {
                proxy: get(px),
                server: get(sv),
                status: get(st),
                check_status: get(ck),
            }
        })
        .collect())
}

/// Check `require_backends` against `show stat`. The error names every backend that
/// falls short, with the state of each of its servers.
pub fn check_backends(rows: &[StatRow], needs: &[BackendNeed]) -> Result<(), String> {
    let mut failures = Vec::new();
    for need in needs {
        let known = rows.iter().any(|r| r.proxy == need.backend);
        if !known {
            failures.push(format!(
                "backend {} is not in the running configuration",
                need.backend
            ));
            continue;
        }
        let servers: Vec<&StatRow> = rows
            .iter()
            .filter(|r| r.proxy == need.backend && r.is_server())
            .collect();
        let up = servers.iter().filter(|r| r.is_up()).count();
        if up < need.min_up as usize {
            let states: Vec<String> = servers
                .iter()
                .map(|r| {
                    if r.check_status.is_empty() {
                        format!("{} {}", r.server, r.status)
                    } else {
                        format!("{} {} ({})", r.server, r.status, r.check_status)
                    }
                })
                .collect();
            failures.push(format!(
                "backend {} has {up} of {} servers up, needs {}{}",
                need.backend,
                servers.len(),
                need.min_up,
                if states.is_empty() {
                    String::new()
                } else {
                    format!(": {}", states.join(", "))
                }
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// What `show proc` on the master CLI says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcTable {
    /// The master's pid.
    pub master: u32,
    /// How many reloads the master has done (failed ones included).
    pub reloads: u32,
    /// How many of them failed.
    pub failed: u32,
    /// The current workers (serving the latest configuration).
    pub workers: Vec<u32>,
    /// Workers of earlier configurations, finishing their connections.
    pub old_workers: Vec<u32>,
}

/// Parse `show proc`: a header, the master's line (`PID master RELOADS [failed: N] ...`),
/// then `# workers`, `# old workers`, `# programs` sections.
pub fn parse_proc(text: &str) -> Result<ProcTable, String> {
    let mut table = ProcTable::default();
    let mut section = "";
    let mut saw_master = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("#<PID>") {
            continue;
        }
        if let Some(name) = line.strip_prefix('#') {
            section = match name.trim() {
                "workers" => "workers",
                "old workers" => "old",
                _ => "other",
            };
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let pid = words.first().and_then(|p| p.parse::<u32>().ok());
        match (words.get(1).copied(), pid) {
            (Some("master"), Some(pid)) => {
                saw_master = true;
                table.master = pid;
                table.reloads = words.get(2).and_then(|r| r.parse().ok()).unwrap_or(0);
                table.failed = line
                    .split_once("[failed:")
                    .and_then(|(_, r)| r.split(']').next())
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
            }
            (Some("worker"), Some(pid)) if section == "workers" => table.workers.push(pid),
            (Some("worker"), Some(pid)) if section == "old" => table.old_workers.push(pid),
            _ => {}
        }
    }
    if saw_master {
        Ok(table)
    } else {
        Err(format!("'show proc' answered {}", first_line(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_require_backends;

    #[test]
    fn show_info_gives_the_worker_pid() {
        let info = parse_info(include_str!("../testdata/show_info.txt")).unwrap();
        assert_eq!(info.pid, 26537);
        assert_eq!(info.version, "2.6.12-1+deb12u4");
        let e = parse_info("Unknown command. Please enter one of the following commands only :\n")
            .unwrap_err();
        assert!(e.contains("Unknown command"), "{e}");
        assert_eq!(
            parse_info("").unwrap_err(),
            "'show info' answered an empty answer"
        );
    }

    #[test]
    fn show_stat_rows_are_read_by_column_name() {
        let rows = parse_stat(include_str!("../testdata/show_stat_down.csv")).unwrap();
        let web: Vec<(&str, &str, &str)> = rows
            .iter()
            .filter(|r| r.proxy == "web")
            .map(|r| {
                (
                    r.server.as_str(),
                    r.status.as_str(),
                    r.check_status.as_str(),
                )
            })
            .collect();
        assert_eq!(
            web,
            vec![
                ("s1", "UP", "L7OK"),
                ("s2", "DOWN", "L7STS"),
                ("s3", "MAINT", ""),
                ("BACKEND", "UP", "")
            ]
        );
        assert!(
            parse_stat("Permission denied\n")
                .unwrap_err()
                .contains("Permission denied")
        );
        assert!(
            parse_stat("# pxname,svname\n")
                .unwrap_err()
                .contains("no status column")
        );
    }

    #[test]
    fn a_backend_with_every_server_down_fails_by_name() {
        let rows = parse_stat(include_str!("../testdata/show_stat_down.csv")).unwrap();
        let ok = parse_require_backends("web:1 stats:0").unwrap();
        assert_eq!(check_backends(&rows, &ok), Ok(()));
        let need = parse_require_backends("web:1 dead:1").unwrap();
        assert_eq!(
            check_backends(&rows, &need).unwrap_err(),
            "backend dead has 0 of 1 servers up, needs 1: d1 DOWN (L4CON)"
        );
        let need = parse_require_backends("web:2 nosuch").unwrap();
        assert_eq!(
            check_backends(&rows, &need).unwrap_err(),
            "backend web has 1 of 3 servers up, needs 2: s1 UP (L7OK), s2 DOWN (L7STS), \
             s3 MAINT; backend nosuch is not in the running configuration"
        );
    }

    #[test]
    fn drained_servers_do_not_count_and_unchecked_ones_do() {
        let rows = parse_stat(include_str!("../testdata/show_stat_drain_nocheck.csv")).unwrap();
        let need = parse_require_backends("web:2").unwrap();
        let e = check_backends(&rows, &need).unwrap_err();
        assert!(e.contains("has 1 of 3 servers up"), "{e}");
        assert!(
            e.contains("s1 DRAIN (L7OK)") && e.contains("s3 no check"),
            "{e}"
        );
        let row = |status: &str| StatRow {
            proxy: "b".into(),
            server: "s".into(),
            status: status.into(),
            check_status: String::new(),
        };
        assert!(row("UP 1/3").is_up());
        assert!(!row("DOWN 1/2").is_up());
        assert!(!row("NOLB").is_up());
    }

    #[test]
    fn show_proc_tells_reloads_failures_and_worker_generations() {
        let t = parse_proc(include_str!("../testdata/show_proc.txt")).unwrap();
        assert_eq!(
            t,
            ProcTable {
                master: 26527,
                reloads: 0,
                failed: 0,
                workers: vec![27817],
                old_workers: vec![]
            }
        );
        let t = parse_proc(include_str!("../testdata/show_proc_old_workers.txt")).unwrap();
        assert_eq!((t.reloads, t.failed), (1, 0));
        assert_eq!((t.workers, t.old_workers), (vec![27817], vec![26537]));
        let t = parse_proc(include_str!("../testdata/show_proc_failed_reload.txt")).unwrap();
        assert_eq!((t.reloads, t.failed, t.workers), (2, 1, vec![27817]));
        assert!(parse_proc("").is_err());
    }
}
