//! `ocf:crm-lite:mysql` against real MariaDB 10.11 servers on loopback ports: a primary and
//! replicas built from one data directory initialised once per test run. The test plays
//! the cluster: it reads each node's promotion score from that node's attribute
//! directory, promotes the best, and sends the notifications Pacemaker would send.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use mysql_wire::Conn;
use tests::{Agent, alive, built, free_port, have, is_root, require, wait_for};

const MARIADBD: &str = "/usr/sbin/mariadbd";
const REPL_PW: &str = "r3pl'pw";

fn requirements() -> Option<PathBuf> {
    let Ok(()) = require(is_root(), "needs root (MariaDB runs as user mysql)") else {
        return None;
    };
    let Ok(()) = require(
        Path::new(MARIADBD).is_file() && have("mariadb-install-db"),
        "mariadb-server is not installed",
    ) else {
        return None;
    };
    let Ok(()) = require(
        built("mysql").is_some(),
        "target/<profile>/mysql is not built (run cargo build --workspace)",
    ) else {
        return None;
    };
    built("mysql")
}

/// One data directory, initialised once and kept in the temporary directory for later
/// runs (one fixed path, so nothing piles up): root by unix_socket, the replication
/// account, an empty schema `t`. Every node starts from a copy.
fn template() -> &'static Path {
    static TPL: OnceLock<PathBuf> = OnceLock::new();
    TPL.get_or_init(|| {
        let kept =
            std::env::temp_dir().join(format!("crm-lite-mysql-template-{}", mariadb_version()));
        if kept.join("data/.complete").is_file() {
            return kept;
        }
        let dir = tempfile::Builder::new()
            .prefix("crm-lite-mysql-template")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chown_mysql(dir.path());
        let st = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=mysql", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--auth-root-authentication-method=socket",
                "--innodb-log-file-size=8M",
            ])
            .output()
            .expect("run mariadb-install-db");
        assert!(st.status.success(), "{st:?}");
        let sql = format!(
            "FLUSH PRIVILEGES;\nCREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY {};\n\
             GRANT ALL PRIVILEGES ON *.* TO 'repl'@'127.0.0.1';\nCREATE DATABASE t;\n",
            mysql_wire::quote(REPL_PW)
        );
        let mut child = Command::new(MARIADBD)
            .args(["--no-defaults", "--bootstrap", "--user=mysql"])
            .arg(format!("--datadir={}", data.display()))
            .arg("--innodb-log-file-size=8M")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run mariadbd --bootstrap");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "bootstrap: {out:?}");
        std::fs::write(data.join(".complete"), "").unwrap();
        let built = dir.keep();
        // Another test run may have kept one meanwhile: either is good.
        if std::fs::rename(&built, &kept).is_err() {
            let _ = std::fs::remove_dir_all(&built);
        }
        kept
    })
}

/// The server's version, so that a kept template never outlives an upgrade.
fn mariadb_version() -> String {
    let out = Command::new(MARIADBD)
        .arg("--version")
        .output()
        .expect("mariadbd --version");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.contains("MariaDB"))
        .unwrap_or("unknown")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn chown_mysql(p: &Path) {
    let st = Command::new("chown")
        .args(["-R", "mysql:mysql"])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A node: a server directory and the agent's environment for it.
struct Node {
    name: String,
    port: u16,
    dir: PathBuf,
    agent: Agent,
}

impl Node {
    fn sock(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }
    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("mysqld.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
    fn score(&self) -> Option<i64> {
        std::fs::read_to_string(self.dir.join("attrs/master-db"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
    fn run(&self, action: &str, extra: &[(&str, &str)]) -> tests::Outcome {
        self.agent.run_with(action, extra)
    }
    fn rc(&self, action: &str) -> i32 {
        let o = self.run(action, &[]);
        if o.code != 0 && o.code != 7 && o.code != 8 {
            eprintln!("{} {action}: {} {}", self.name, o.code, o.stderr);
        }
        o.code
    }
    fn sql(&self) -> Conn<UnixStream> {
        let s = UnixStream::connect(self.sock()).expect("connect");
        Conn::login(
            s,
            "root",
            b"",
            true,
            Instant::now() + Duration::from_secs(10),
        )
        .expect("login")
    }
    fn query(&self, sql: &str) -> mysql_wire::ResultSet {
        self.sql()
            .query(sql)
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name))
    }
    /// SIGKILL the server (a crash), if it is ours: its command line names our directory.
    fn crash(&self) {
        if let Some(pid) = self.pid() {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmd).contains(&*self.dir.to_string_lossy());
            if ours && alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_for(Duration::from_secs(10), || !alive(pid));
            }
        }
    }
}

/// Nodes `n1..nN`, each a copy of the template; Drop kills every server it started.
struct Cluster {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &self.nodes {
            n.crash();
        }
    }
}

impl Cluster {
    fn new(agent: &Path, count: usize, extra: &[(&str, &str)]) -> Cluster {
        let tpl = template().join("data");
        let dir = tempfile::Builder::new()
            .prefix("mysql-cluster")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let addresses = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("n{}=127.0.0.1:{p}", i + 1))
            .collect::<Vec<_>>()
            .join(" ");
        let pwfile = dir.path().join("repl.pw");
        std::fs::write(&pwfile, format!("{REPL_PW}\n")).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut nodes = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let d = dir.path().join(&name);
            std::fs::create_dir_all(&d).unwrap();
            let st = Command::new("cp")
                .arg("-a")
                .arg(&tpl)
                .arg(d.join("data"))
                .status()
                .unwrap();
            assert!(st.success());
            let cnf = d.join("my.cnf");
            std::fs::write(
                &cnf,
                format!(
                    "[mysqld]\nserver_id={}\nlog_bin=mysql-bin\nbinlog_format=ROW\n\
                     log_slave_updates=1\ngtid_strict_mode=1\nbind_address=127.0.0.1\n\
                     skip_name_resolve\ninnodb_buffer_pool_size=32M\n\
                     innodb_log_file_size=8M\nperformance_schema=OFF\n\
                     rpl_semi_sync_master_enabled=1\nrpl_semi_sync_slave_enabled=1\n\
                     rpl_semi_sync_master_timeout=10000\n\
                     rpl_semi_sync_master_wait_point=AFTER_SYNC\n\
                     log_error={}\n",
                    i + 1,
                    d.join("error.log").display()
                ),
            )
            .unwrap();
            chown_mysql(&d);
            let mut params: Vec<(String, String)> = vec![
                ("config".into(), cnf.display().to_string()),
                ("datadir".into(), d.join("data").display().to_string()),
                ("socket".into(), d.join("mysqld.sock").display().to_string()),
                ("pid".into(), d.join("mysqld.pid").display().to_string()),
                ("port".into(), port.to_string()),
                ("replication_user".into(), "repl".into()),
                (
                    "replication_password_file".into(),
                    pwfile.display().to_string(),
                ),
                ("node_addresses".into(), addresses.clone()),
                ("node_name".into(), name.clone()),
            ];
            for (k, v) in extra {
                params.retain(|(n, _)| n != k);
                params.push((k.to_string(), v.to_string()));
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut a = Agent::new(agent, &format!("db:{i}"), &pairs);
            a.env
                .insert("HA_RSCTMP".into(), d.join("rsc").display().to_string());
            a.env.insert(
                "CRM_LITE_ATTR_DIR".into(),
                d.join("attrs").display().to_string(),
            );
            a.env
                .insert("OCF_RESKEY_CRM_meta_timeout".into(), "30000".into());
            nodes.push(Node {
                name,
                port: *port,
                dir: d,
                agent: a,
            });
        }
        Cluster { _dir: dir, nodes }
    }

    fn n(&self, i: usize) -> &Node {
        &self.nodes[i - 1]
    }

    /// Start every node (in parallel, as a cluster would).
    fn start_all(&self) {
        thread::scope(|s| {
            let hs: Vec<_> = self
                .nodes
                .iter()
                .map(|n| s.spawn(move || (n.name.clone(), n.run("start", &[]))))
                .collect();
            for h in hs {
                let (name, o) = h.join().unwrap();
                assert_eq!(o.code, 0, "start {name}: {o:?}");
            }
        });
    }

    /// What Pacemaker sends every instance after a promote of node `p`.
    fn post_promote(&self, p: usize) {
        let res = format!("db:{}", p - 1);
        let node = self.n(p).name.clone();
        for n in &self.nodes {
            if n.pid().is_none_or(|pid| !alive(pid)) {
                continue;
            }
            let o = n.run(
                "notify",
                &[
                    ("OCF_RESKEY_CRM_meta_notify_type", "post"),
                    ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
                    ("OCF_RESKEY_CRM_meta_notify_promote_resource", &res),
                    ("OCF_RESKEY_CRM_meta_notify_promote_uname", &node),
                ],
            );
            assert_eq!(o.code, 0, "notify {}: {o:?}", n.name);
        }
    }

    /// Promote node `p` and tell the others.
    fn promote(&self, p: usize) {
        let o = self.n(p).run("promote", &[]);
        assert_eq!(o.code, 0, "promote {}: {o:?}", self.n(p).name);
        self.post_promote(p);
    }

    /// n1 primary, the others replicating from it, table t.rows on all.
    fn bootstrap(&self) {
        self.start_all();
        for n in &self.nodes {
            assert_eq!(n.rc("monitor"), 0, "fresh replicas are healthy");
            assert_eq!(n.query("SELECT @@read_only").scalar(), Some("1"));
        }
        self.promote(1);
        assert_eq!(self.n(1).rc("monitor"), 8);
        self.n(1)
            .query("CREATE TABLE t.rows (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT NOW(6))");
        for n in &self.nodes[1..] {
            assert!(
                wait_for(Duration::from_secs(10), || {
                    n.sql().query("SELECT COUNT(*) FROM t.rows").is_ok()
                }),
                "{} does not replicate",
                n.name
            );
            assert_eq!(n.rc("monitor"), 0);
        }
    }
}

fn count(n: &Node) -> i64 {
    n.query("SELECT COUNT(*) FROM t.rows")
        .scalar()
        .unwrap_or("0")
        .parse()
        .unwrap()
}

#[test]
fn mysql_failover_promotes_the_most_advanced_replica_and_loses_no_acknowledged_row() {
    let Some(agent) = requirements() else { return };
    let c = Cluster::new(&agent, 3, &[("max_lag", "60")]);
    c.bootstrap();
    // n3 applies 4 s late (it receives everything, so semi-sync acks do not wait for it).
    c.n(3).query("STOP SLAVE");
    c.n(3).query("CHANGE MASTER TO MASTER_DELAY=4");
    c.n(3).query("START SLAVE");
    assert_eq!(c.n(3).rc("monitor"), 0);

    // A writer commits rows on n1 until its server dies.
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let sock = c.n(1).sock();
        thread::spawn(move || {
            let s = UnixStream::connect(&sock).unwrap();
            let mut conn = Conn::login(
                s,
                "root",
                b"",
                true,
                Instant::now() + Duration::from_secs(60),
            )
            .unwrap();
            let mut id = 0i64;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                match conn.query(&format!("INSERT INTO t.rows (id) VALUES ({id})")) {
                    Ok(_) => acked.lock().unwrap().push(id),
                    Err(_) => break,
                }
            }
        })
    };
    assert!(wait_for(Duration::from_secs(10), || acked
        .lock()
        .unwrap()
        .len()
        >= 300));
    c.n(1).crash();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acked: Vec<i64> = acked.lock().unwrap().clone();
    assert_eq!(c.n(1).rc("monitor"), 7);

    // The cluster's next monitors: both replicas keep a score while the primary is away.
    assert_eq!(c.n(2).rc("monitor"), 0);
    assert_eq!(c.n(3).rc("monitor"), 0);
    let (s2, s3) = (c.n(2).score().unwrap(), c.n(3).score().unwrap());
    assert!(
        s2 > s3,
        "the delayed replica must score lower: n2 {s2}, n3 {s3}"
    );
    // As a cluster does: promote the best score; on a refusal (the other replica received
    // a transaction this one did not), the next one.
    let mut order = vec![(s2, 2usize), (s3, 3usize)];
    order.sort_by(|a, b| b.cmp(a));
    let mut winner = None;
    for (_, i) in &order {
        let o = c.n(*i).run("promote", &[]);
        if o.code == 0 {
            winner = Some(*i);
            break;
        }
        eprintln!("promote n{i} refused: {:?}", o.reason());
        assert!(o.reason().unwrap_or("").contains("ahead"), "{o:?}");
    }
    let w = winner.expect("one replica is promoted");
    let other = 5 - w;
    c.post_promote(w);
    assert_eq!(c.n(w).rc("monitor"), 8);
    let present: std::collections::BTreeSet<i64> = c
        .n(w)
        .query("SELECT id FROM t.rows")
        .rows
        .iter()
        .filter_map(|r| r[0].as_deref().and_then(|v| v.parse().ok()))
        .collect();
    let lost: Vec<i64> = acked
        .iter()
        .filter(|id| !present.contains(id))
        .copied()
        .collect();
    eprintln!(
        "failover: n{w} promoted, {} rows acknowledged, {} on the new primary, {} lost",
        acked.len(),
        present.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged rows lost: {lost:?}");

    // The other replica follows the new primary, catches up and has nothing more.
    assert!(wait_for(Duration::from_secs(15), || count(c.n(other))
        as usize
        >= present.len()));
    assert_eq!(count(c.n(other)) as usize, present.len());
    assert_eq!(c.n(other).rc("monitor"), 0);
    assert_eq!(
        c.n(other).query("SHOW SLAVE STATUS").get(0, "Master_Port"),
        Some(c.n(w).port.to_string().as_str())
    );

    // The old primary comes back as a replica of the new one.
    let o = c.n(1).run("start", &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(c.n(1).query("SELECT @@read_only").scalar(), Some("1"));
    let (wres, wname) = (format!("db:{}", w - 1), format!("n{w}"));
    let o = c.n(1).run(
        "notify",
        &[
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_resource", "db:0"),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "n1"),
            ("OCF_RESKEY_CRM_meta_notify_promoted_resource", &wres),
            ("OCF_RESKEY_CRM_meta_notify_promoted_uname", &wname),
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    c.n(w).query("INSERT INTO t.rows (id) VALUES (1000000)");
    assert!(
        wait_for(Duration::from_secs(15), || c
            .n(1)
            .query("SELECT COUNT(*) FROM t.rows WHERE id = 1000000")
            .scalar()
            == Some("1")),
        "the old primary does not replicate from the new one"
    );
    assert_eq!(c.n(1).rc("monitor"), 0);
    assert_eq!(
        c.n(1).query("SHOW SLAVE STATUS").get(0, "Master_Port"),
        Some(c.n(w).port.to_string().as_str())
    );

    // A switchover back to n1, as Pacemaker orders it: demote the primary, promote n1,
    // notify everyone. The demoted primary replicates from n1.
    let o = c.n(w).run("demote", &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(c.n(w).query("SELECT @@read_only").scalar(), Some("1"));
    c.promote(1);
    assert_eq!(c.n(1).rc("monitor"), 8);
    c.n(1).query("INSERT INTO t.rows (id) VALUES (1000002)");
    for i in [w, other] {
        assert!(
            wait_for(Duration::from_secs(15), || c
                .n(i)
                .query("SELECT COUNT(*) FROM t.rows WHERE id = 1000002")
                .scalar()
                == Some("1")),
            "n{i} does not replicate from n1 after the switchover"
        );
        assert_eq!(c.n(i).rc("monitor"), 0);
    }
    for n in &c.nodes {
        assert_eq!(n.rc("stop"), 0);
        assert_eq!(n.rc("monitor"), 7);
        assert_eq!(n.score(), None);
    }
}

#[test]
fn mysql_broken_lagging_or_behind_replicas_are_never_promoted() {
    let Some(agent) = requirements() else { return };
    let c = Cluster::new(&agent, 2, &[("max_lag", "1")]);
    c.bootstrap();
    let r = c.n(2);
    assert!(r.score().is_some());

    // SQL thread stopped: monitor fails, no score, promote refused, still read-only.
    r.query("STOP SLAVE SQL_THREAD");
    let o = r.run("monitor", &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap_or("").contains("SQL thread"), "{o:?}");
    assert_eq!(r.score(), None);
    let o = r.run("promote", &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(r.query("SELECT @@read_only").scalar(), Some("1"));
    r.query("START SLAVE SQL_THREAD");
    assert_eq!(r.rc("monitor"), 0);
    assert!(r.score().is_some());

    // Behind a reachable peer: the receiver is stopped and the primary writes on.
    r.query("STOP SLAVE IO_THREAD");
    c.n(1).query("SET GLOBAL rpl_semi_sync_master_enabled=OFF");
    c.n(1).query("INSERT INTO t.rows (id) VALUES (1)");
    assert_eq!(r.rc("monitor"), 0, "an unreachable source keeps the score");
    let o = r.run("promote", &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap_or("").contains("n1"), "{o:?}");
    assert_eq!(r.query("SELECT @@read_only").scalar(), Some("1"));
    r.query("START SLAVE");
    assert!(wait_for(Duration::from_secs(10), || count(r) == 1));

    // A peer that answers but cannot be compared (wrong password) also stops promote.
    let wrong = r.dir.join("wrong.pw");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = r.run(
        "promote",
        &[(
            "OCF_RESKEY_replication_password_file",
            wrong.to_str().unwrap(),
        )],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.reason().unwrap_or("").contains("cannot be compared"),
        "{o:?}"
    );
    assert_eq!(r.query("SELECT @@read_only").scalar(), Some("1"));
    let o = r.run("monitor", &[]);
    assert_eq!(o.code, 0, "replication resumed after the refusal: {o:?}");

    // Lag past max_lag: applied 30 s late, so that the lag lasts through every check below
    // (with 3 s, a loaded machine applied the row between the first failed monitor and
    // the next one).
    r.query("STOP SLAVE");
    r.query("CHANGE MASTER TO MASTER_DELAY=30");
    r.query("START SLAVE");
    c.n(1).query("INSERT INTO t.rows (id) VALUES (2)");
    let mut last = None;
    assert!(
        wait_for(Duration::from_secs(8), || {
            let o = r.run("monitor", &[]);
            let hit = o.code == 1 && o.reason().unwrap_or("").contains("behind");
            last = Some(o);
            hit
        }),
        "lag never failed monitor: {last:?}"
    );
    assert_eq!(r.score(), None);
    // (The lag the replica reports can drop for a moment while the delayed event waits,
    // as one CI run saw: it is looked for as above, not in one sample.)
    let degraded = wait_for(Duration::from_secs(8), || {
        let o = r.run("monitor", &[("OCF_RESKEY_evict_lagging", "false")]);
        let hit = o.code == 190;
        last = Some(o);
        hit
    });
    assert!(degraded, "degraded when not evicting: {last:?}");
    assert_eq!(r.run("promote", &[]).code, 1);

    // Received but not applied when the promote deadline comes: refused in time, still a
    // read-only replica, replication running again.
    r.query("STOP SLAVE");
    r.query("CHANGE MASTER TO MASTER_DELAY=60");
    r.query("START SLAVE");
    c.n(1).query("INSERT INTO t.rows (id) VALUES (3)");
    let received = || {
        r.query("SHOW SLAVE STATUS")
            .get(0, "Gtid_IO_Pos")
            .map(str::to_string)
    };
    let primary_pos = c
        .n(1)
        .query("SELECT @@gtid_binlog_pos")
        .scalar()
        .map(str::to_string);
    assert!(wait_for(Duration::from_secs(10), || received() == primary_pos));
    let o = r.run(
        "promote",
        &[
            ("OCF_RESKEY_max_lag", "1000"),
            ("OCF_RESKEY_CRM_meta_timeout", "4000"),
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap_or("").contains("relay log"), "{o:?}");
    assert!(o.took < Duration::from_secs(4), "{:?}", o.took);
    assert_eq!(r.query("SELECT @@read_only").scalar(), Some("1"));
    assert!(wait_for(Duration::from_secs(5), || {
        let st = r.query("SHOW SLAVE STATUS");
        st.get(0, "Slave_IO_Running") == Some("Yes")
            && st.get(0, "Slave_SQL_Running") == Some("Yes")
    }));
    assert_eq!(
        r.query("SELECT COUNT(*) FROM t.rows WHERE id = 3").scalar(),
        Some("0"),
        "row 3 is not applied yet"
    );
}

#[test]
fn mysql_passes_ocf_tester_with_promote_and_demote() {
    let Some(agent) = requirements() else { return };
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (resource-agents) is not installed",
    ) else {
        return;
    };
    let c = Cluster::new(&agent, 1, &[]);
    let n = c.n(1);
    if tests::validated_metadata(&n.agent).is_err() {
        return;
    }
    let out = tests::ocf_tester(&n.agent, "db");
    assert!(out.contains("passed all tests"));
    assert_eq!(n.rc("monitor"), 7);
    // Demote really turns writes off.
    assert_eq!(n.rc("start"), 0);
    // Depth 10 reads test_table: a missing one fails, named.
    assert_eq!(n.run("monitor", &[("OCF_CHECK_LEVEL", "10")]).code, 0);
    let o = n.run(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_test_table", "t.missing"),
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap_or("").contains("t.missing"), "{o:?}");
    assert_eq!(
        n.run("monitor", &[("OCF_RESKEY_test_table", "t.missing")])
            .code,
        0,
        "depth 0 does not read it"
    );
    assert_eq!(n.rc("promote"), 0);
    assert_eq!(n.query("SELECT @@read_only").scalar(), Some("0"));
    assert_eq!(n.rc("monitor"), 8);
    let o = n.run(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_test_table", "t.missing"),
        ],
    );
    assert_eq!(
        o.code, 9,
        "a promoted instance that fails its check is 9: {o:?}"
    );
    assert_eq!(n.rc("demote"), 0);
    assert_eq!(n.query("SELECT @@read_only").scalar(), Some("1"));
    assert_eq!(n.rc("monitor"), 0);

    // Under Pacemaker the score goes through crm_attribute (a recording stand-in here),
    // called only when the score changes.
    let bin = n.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = n.dir.join("crm_attribute.calls");
    std::fs::write(
        bin.join("crm_attribute"),
        format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("crm_attribute"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pcmk = [
        ("PATH", path.as_str()),
        ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ("CRM_LITE_ATTR_DIR", ""),
    ];
    for _ in 0..3 {
        assert_eq!(n.run("monitor", &pcmk).code, 0);
    }
    assert_eq!(n.run("promote", &pcmk).code, 0);
    assert_eq!(n.run("monitor", &pcmk).code, 8);
    assert_eq!(
        n.run("demote", &pcmk).code,
        0,
        "demote never fails on the cluster"
    );
    assert_eq!(n.run("stop", &pcmk).code, 0);
    let log = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(lines[0].starts_with("--promotion -v "), "{log}");
    assert_eq!(lines[1], "--promotion -v 999999", "{log}");
    assert!(lines[2].starts_with("--promotion -v "), "{log}");
    assert_eq!(lines[3], "--promotion -D", "{log}");
}
