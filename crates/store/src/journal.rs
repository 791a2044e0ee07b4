//! The write-ahead journal of operation records. Rewriting the whole CIB status for every
//! operation costs a new file (and its inode) each time; appending one line to an open file
//! costs one `write`. A round of actions appends each in-flight marker and each result
//! here, and the state is saved once at its end; after a crash the next run replays the
//! journal onto the state, so nothing recorded is lost.
//!
//! Format: a header line `<journal base="ADMIN.EPOCH.UPDATES"/>` naming the version of the
//! state file the records apply to, then one element per line: `<op .../>` (an
//! [`OpRecord`]), `<fenced node=".." node_id=".."/>`, or `<rebase to="A.E.N"/>`, appended
//! by another writer (`crm-lite move`, ...) that saved a newer state under the lock while
//! the records were not yet in it: they apply to that version too. The file is opened for
//! appending, so such lines never overwrite the owner's.
//!
//! Only a torn last line (a crash while writing it, no newline yet) is ignored; any other
//! line that is not UTF-8 or not one of these elements is an error ([`JournalError`]).
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cib::Document;
use cib::model::Versions;
use cib::tree::escape_attr;
use executor::{OpRecord, fenced, record};

/// A journal file that cannot be read. The records in it are results of operations that
/// ran: dropping them silently would forget what runs where.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing the file failed.
    #[error("failed to {step} the journal {path}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The journal.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A complete line is not what crm-lite writes.
    #[error(
        "the journal {path} cannot be read: line {line} {what}. It holds the results of \
         operations an interrupted apply ran, not yet in the state: repair it, or move it \
         aside to go on without them (then `crm-lite cleanup RSC` the resources it names, so \
         that the next apply probes them)"
    )]
    Unreadable {
        /// The journal.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
}

/// The version string of a state document (`admin_epoch.epoch.num_updates`).
pub fn version_string(v: Versions) -> String {
    format!("{}.{}.{}", v.admin_epoch, v.epoch, v.num_updates)
}

/// A journal being written: the lines appended so far are kept in memory too, so that the
/// store can apply them again to a newer state (see [`crate::Store::commit`]). A journal
/// without a file ([`Journal::memory`]) is for records that need no crash safety (probes,
/// monitors): the store still re-applies them when it must.
#[derive(Debug)]
pub struct Journal {
    file: Option<(PathBuf, File)>,
    lines: Vec<String>,
}

impl Journal {
    /// A journal kept in memory only.
    pub fn memory() -> Journal {
        Journal {
            file: None,
            lines: Vec::new(),
        }
    }

    /// Start a journal file at `path` for records that apply to the state at version
    /// `base` (anything there before is dropped).
    pub(crate) fn begin(path: &Path, base: Versions) -> Result<Journal, JournalError> {
        let io = |step| {
            move |source| JournalError::Io {
                step,
                path: path.to_owned(),
                source,
            }
        };
        // Truncate first, then reopen for appending: every later write goes to the end,
        // whoever writes it.
        File::create(path).map_err(io("create"))?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        file.write_all(
            format!(
                "<journal base=\"{}\"/>\n",
                escape_attr(&version_string(base))
            )
            .as_bytes(),
        )
        .map_err(io("write"))?;
        Ok(Journal {
            file: Some((path.to_owned(), file)),
            lines: Vec::new(),
        })
    }

    /// The journal file, if this journal has one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    fn append(&mut self, line: String) -> Result<(), JournalError> {
        if let Some((path, file)) = &mut self.file {
            file.write_all(line.as_bytes())
                .map_err(|source| JournalError::Io {
                    step: "append to",
                    path: path.clone(),
                    source,
                })?;
        }
        self.lines.push(line);
        Ok(())
    }

    /// Append one operation record.
    pub fn op(&mut self, r: &OpRecord<'_>) -> Result<(), JournalError> {
        self.append(op_line(r))
    }

    /// Append that `node` was fenced.
    pub fn fenced(&mut self, node: &str, node_id: &str) -> Result<(), JournalError> {
        self.append(format!(
            "<fenced node=\"{}\" node_id=\"{}\"/>\n",
            escape_attr(node),
            escape_attr(node_id)
        ))
    }

    /// Append `r` and record it in `doc`. Returns whether the operation failed.
    pub fn record(&mut self, doc: &mut Document, r: &OpRecord<'_>) -> Result<bool, JournalError> {
        self.op(r)?;
        Ok(record(doc, r))
    }

    /// Apply every record appended so far to `doc` (a newer state than the one they were
    /// made on).
    pub(crate) fn apply_to(&self, doc: &mut Document) {
        for l in &self.lines {
            let (d, _) = Document::parse(l);
            if let Some(root) = d.root() {
                apply_line(&d, root, doc);
            }
        }
    }

    /// Everything is in the state file now: remove the journal file.
    pub(crate) fn finish(self) -> Result<(), JournalError> {
        if let Some((path, file)) = self.file {
            drop(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(JournalError::Io {
                        step: "remove",
                        path,
                        source: e,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn op_line(r: &OpRecord<'_>) -> String {
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
    line
}

/// Apply one journal element (`op` or `fenced`) to `doc`; anything else is ignored.
fn apply_line(d: &Document, root: cib::tree::ElementId, doc: &mut Document) {
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
        _ => {}
    }
}

/// An operation the journal shows as started and not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The resource.
    pub rsc: String,
    /// The node.
    pub node: String,
    /// The operation (`start`, ...).
    pub operation: String,
    /// Its call id (also in the agent's environment, see [`crate::Store::call_marker`]).
    pub call: i64,
}

/// A journal file, read.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// The versions its records apply to: its base and every `rebase` target.
    pub accepts: Vec<String>,
    /// The record lines (`op`, `fenced`), parsed.
    pub records: Vec<Document>,
}

impl Read {
    /// Whether the records apply to the state at version `v`.
    pub fn applies_to(&self, v: Versions) -> bool {
        let v = version_string(v);
        self.accepts.contains(&v)
    }

    /// Apply the records to `doc`; returns how many.
    pub fn replay(&self, doc: &mut Document) -> usize {
        for d in &self.records {
            if let Some(root) = d.root() {
                apply_line(d, root, doc);
            }
        }
        self.records.len()
    }

    /// The operations started and not finished: a pending `op` with no later result of the
    /// same call.
    pub fn in_flight(&self) -> Vec<InFlight> {
        let mut open: Vec<InFlight> = Vec::new();
        for d in &self.records {
            let Some(root) = d.root() else { continue };
            let el = d.get(root);
            if el.name != "op" {
                continue;
            }
            let call = el.attr("call").and_then(|c| c.parse().ok()).unwrap_or(0);
            if el.attr("pending") == Some("1") {
                open.push(InFlight {
                    rsc: el.attr("rsc").unwrap_or("").to_owned(),
                    node: el.attr("node").unwrap_or("").to_owned(),
                    operation: el.attr("operation").unwrap_or("").to_owned(),
                    call,
                });
            } else {
                open.retain(|o| o.call != call);
            }
        }
        open
    }
}

/// Read the journal at `path`: `None` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Read>, JournalError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JournalError::Io {
                step: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let bad = |line: usize, what: String| JournalError::Unreadable {
        path: path.to_owned(),
        line,
        what,
    };
    let mut out = Read::default();
    // Only complete lines count: what follows the last newline is a torn write.
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None => return Ok(Some(out)),
    };
    for (i, raw) in complete.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            bad(
                n,
                format!("is not UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
            )
        })?;
        let (d, err) = Document::parse(text);
        let root = match (d.root(), err) {
            (Some(r), None) => r,
            (_, Some(e)) => return Err(bad(n, format!("is not well-formed ({})", e.message))),
            (None, None) => return Err(bad(n, "is empty".into())),
        };
        let name = d.get(root).name.clone();
        match (n, name.as_str()) {
            (1, "journal") => out
                .accepts
                .push(d.get(root).attr("base").unwrap_or("").to_owned()),
            (1, other) => return Err(bad(n, format!("is <{other}>, not the journal header"))),
            (_, "rebase") => out
                .accepts
                .push(d.get(root).attr("to").unwrap_or("").to_owned()),
            (_, "op" | "fenced") => out.records.push(d),
            (_, other) => return Err(bad(n, format!("is an unknown record <{other}>"))),
        }
    }
    Ok(Some(out))
}

/// Append `<rebase to="V"/>` to the journal at `path`. A torn last line (its writer died
/// while writing it: a live writer appends whole lines in one write) is cut off first, so
/// that it does not become a complete line that does not parse.
pub(crate) fn append_rebase(path: &Path, to: Versions) -> Result<(), JournalError> {
    let io = |step| {
        move |source| JournalError::Io {
            step,
            path: path.to_owned(),
            source,
        }
    };
    let bytes = std::fs::read(path).map_err(io("read"))?;
    if bytes.last().is_some_and(|&b| b != b'\n') {
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(keep as u64))
            .map_err(io("truncate"))?;
    }
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io("open"))?;
    f.write_all(format!("<rebase to=\"{}\"/>\n", version_string(to)).as_bytes())
        .map_err(|source| JournalError::Io {
            step: "append to",
            path: path.to_owned(),
            source,
        })
}
