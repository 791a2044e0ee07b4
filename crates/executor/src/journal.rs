//! A write-ahead journal of operation records. Rewriting the whole CIB status for every
//! operation costs a new file (and its inode) each time; appending one line to an open file
//! costs one `write`. A round of actions appends each in-flight marker and each result
//! here, and writes the CIB once at its end; after a crash the next run replays the journal
//! onto the state it was based on, so nothing recorded is lost.
//!
//! Format: a header line `<journal base="ADMIN.EPOCH.UPDATES"/>` naming the version of the
//! state file the records apply to, then one element per line: `<op .../>` (an
//! [`OpRecord`]) or `<fenced node=".." node_id=".."/>`. A torn last line (a crash while
//! writing it) is ignored.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cib::Document;
use cib::tree::escape_attr;

use crate::record::{OpRecord, fenced, record};

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

/// The version string of a state document (`admin_epoch.epoch.num_updates`).
pub fn version_of(doc: &Document) -> String {
    let Some(root) = doc.root() else {
        return String::new();
    };
    let el = doc.get(root);
    let v = |n: &str| el.attr(n).unwrap_or("0").to_owned();
    format!("{}.{}.{}", v("admin_epoch"), v("epoch"), v("num_updates"))
}

impl Journal {
    /// Start a journal at `path` for records that apply to the state at version `base`
    /// (anything there before is dropped).
    pub fn begin(path: &Path, base: &str) -> std::io::Result<Journal> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        file.write_all(format!("<journal base=\"{}\"/>\n", escape_attr(base)).as_bytes())?;
        Ok(Journal {
            path: path.to_owned(),
            file,
        })
    }

    /// Append one operation record.
    pub fn op(&mut self, r: &OpRecord<'_>) -> std::io::Result<()> {
        let mut line = String::from("<op");
        let mut attr = |k: &str, v: &str| {
            line.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
        };
        attr("node", r.node);
        attr("node_id", r.node_id);
        attr("rsc", r.rsc);
        attr("class", r.class);
        if let Some(p) = r.provider {
            attr("provider", p);
        }
        attr("agent", r.agent);
        attr("operation", r.operation);
        attr("interval", &r.interval_ms.to_string());
        attr("rc", &r.rc.to_string());
        attr("expected", &r.expected_rc.to_string());
        attr("timed_out", if r.timed_out { "1" } else { "0" });
        attr("call", &r.call_id.to_string());
        attr("now", &r.now.to_string());
        attr("exec", &r.exec_ms.to_string());
        attr("digest", r.digest);
        if let Some(e) = r.exit_reason {
            attr("exit_reason", e);
        }
        if let Some((s, t)) = r.migrate {
            attr("migrate_source", s);
            attr("migrate_target", t);
        }
        if let Some((list, digest)) = r.restart {
            attr("force_restart", list);
            attr("restart_digest", digest);
        }
        attr("pending", if r.pending { "1" } else { "0" });
        line.push_str("/>\n");
        self.file.write_all(line.as_bytes())
    }

    /// Append that `node` was fenced.
    pub fn fenced(&mut self, node: &str, node_id: &str) -> std::io::Result<()> {
        self.file.write_all(
            format!(
                "<fenced node=\"{}\" node_id=\"{}\"/>\n",
                escape_attr(node),
                escape_attr(node_id)
            )
            .as_bytes(),
        )
    }

    /// Everything is in the state file now: empty the journal.
    pub fn clear(self) -> std::io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

/// Replay the journal at `path` onto `doc` when it applies to `disk_version` (the version
/// of the state file it was written against). Returns how many records were applied; a
/// missing journal, or one for another version (already folded into the state), is 0.
pub fn replay(path: &Path, disk_version: &str, doc: &mut Document) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    let mut lines = text.lines();
    let base = lines.next().and_then(|l| {
        let (d, _) = Document::parse(l);
        let root = d.root()?;
        (d.get(root).name == "journal").then(|| d.get(root).attr("base").map(str::to_owned))?
    });
    if base.as_deref() != Some(disk_version) {
        return 0;
    }
    let mut applied = 0;
    for line in lines {
        let (d, err) = Document::parse(line);
        let Some(root) = d.root().filter(|_| err.is_none()) else {
            break; // torn tail
        };
        let el = d.get(root);
        let a = |n: &str| el.attr(n).unwrap_or("");
        let num = |n: &str| a(n).parse::<i64>().unwrap_or(0);
        match el.name.as_str() {
            "fenced" => fenced(doc, a("node"), a("node_id")),
            "op" => {
                let migrate = el.attr("migrate_source").zip(el.attr("migrate_target"));
                let restart = el
                    .attr("force_restart")
                    .zip(el.attr("restart_digest"))
                    .map(|(l, d)| (l.to_owned(), d.to_owned()));
                let r = OpRecord {
                    node: a("node"),
                    node_id: a("node_id"),
                    rsc: a("rsc"),
                    class: a("class"),
                    provider: el.attr("provider"),
                    agent: a("agent"),
                    operation: a("operation"),
                    interval_ms: num("interval") as u64,
                    rc: num("rc") as i32,
                    expected_rc: num("expected") as i32,
                    timed_out: a("timed_out") == "1",
                    call_id: num("call"),
                    now: num("now"),
                    exec_ms: num("exec") as u64,
                    digest: a("digest"),
                    exit_reason: el.attr("exit_reason"),
                    restart: restart.as_ref(),
                    migrate,
                    pending: a("pending") == "1",
                };
                record(doc, &r);
            }
            _ => break,
        }
        applied += 1;
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str =
        r#"<cib admin_epoch="0" epoch="3" num_updates="7"><configuration/><status/></cib>"#;

    fn rec<'a>(operation: &'a str, rc: i32, pending: bool) -> OpRecord<'a> {
        OpRecord {
            rsc: "r<1>",
            exit_reason: Some("said \"no\"\nloudly"),
            pending,
            ..crate::record::tests::rec(operation, rc, 0, 4)
        }
    }

    #[test]
    fn replaying_gives_what_recording_directly_gives() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = t.path().join("journal");
        let (base_doc, _) = Document::parse(STATE);
        let base = version_of(&base_doc);
        assert_eq!(base, "0.3.7");
        let mut j = Journal::begin(&path, &base).unwrap_or_else(|e| panic!("{e}"));
        let mut direct = base_doc.clone();
        let restart = (" config ".to_owned(), "0123abcd".to_owned());
        let done = OpRecord {
            restart: Some(&restart),
            ..rec("start", 1, false)
        };
        for r in [rec("start", 0, true), done] {
            j.op(&r).unwrap_or_else(|e| panic!("{e}"));
            record(&mut direct, &r);
        }
        j.fenced("n2", "2").unwrap_or_else(|e| panic!("{e}"));
        fenced(&mut direct, "n2", "2");
        // A crash while writing the next line leaves half of it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"<op node=\"n1\" rsc=\"x"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut replayed = base_doc.clone();
        assert_eq!(replay(&path, &base, &mut replayed), 3);
        assert_eq!(replayed.to_xml(), direct.to_xml());
        assert!(direct.to_xml().contains("fail-count-r&lt;1&gt;#start_0"));
        assert!(direct.to_xml().contains(r#"op-force-restart=" config ""#));
        assert!(direct.to_xml().contains(r#"op-restart-digest="0123abcd""#));
        // Once folded into a newer state, the journal is not replayed again.
        let mut again = direct.clone();
        assert_eq!(replay(&path, "0.3.8", &mut again), 0);
        assert_eq!(again.to_xml(), direct.to_xml());
        j.clear().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(replay(&path, &base, &mut again), 0);
    }
}
