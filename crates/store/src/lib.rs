//! `store`: the one state store of crm-lite. `apply` (and `--watch`), `status`, `move`,
//! `ban`, `clear` and `cleanup` read and write the state directory only through it, and so
//! will the cluster daemon on every node.
//!
//! A state directory holds:
//! - `cib.xml`: the CIB with its status (Pacemaker's format: `crm_simulate` reads it);
//! - `cib-N.raw`: the last good copies ([`BACKUPS`] of them), as Pacemaker keeps its own;
//! - `journal`: the write-ahead journal of the round under way ([`journal`]);
//! - `lock`: held by the one running `apply` ([`Store::lock_apply`]);
//! - `cib.lock`: the state lock, shared by readers and exclusive for the short time a writer
//!   reads, compares and replaces `cib.xml`.
//!
//! Main types: [`Store`]; [`State`] (a loaded state and its version); [`Journal`];
//! [`edit`] holds the operator's changes (`move`, `ban`, `clear`, `cleanup`).
//!
//! Invariants:
//! - Every save is a compare-and-swap on the version counters (`admin_epoch`, `epoch`,
//!   `num_updates`) under the exclusive state lock. [`Store::update`] re-reads the newest
//!   state and applies its change to it; [`Store::commit`] (apply's rounds) re-applies its
//!   journal to a newer state it finds; [`Store::save`] refuses ([`StoreError::Stale`]).
//!   No writer ever replaces a state newer than the one it changed.
//! - A state file that is not a well-formed CIB is an error naming it
//!   ([`StoreError::Corrupt`]), never an empty state; [`Store::restore_last_good`] puts back
//!   the newest good copy. A journal that cannot be read is an error too.
//! - Replacing `cib.xml` is atomic (a new file renamed over it); the old file stays as the
//!   newest `cib-N.raw` (a hard link, no copy).
#![deny(missing_docs)]

pub mod edit;
pub mod journal;
mod merge;
pub mod orphans;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use cib::Document;
use cib::model::Versions;
use nix::fcntl::{Flock, FlockArg};

pub use journal::{InFlight, Journal, JournalError, version_string};
pub use merge::{Merged, merge};
pub use orphans::{Orphan, Settled};

/// How many last good copies of `cib.xml` are kept beside it.
pub const BACKUPS: usize = 10;

/// A failure of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file step failed.
    #[error("failed to {step} {path}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// There is no state yet.
    #[error("there is no state in {0} (has crm-lite apply run yet?)")]
    Missing(PathBuf),
    /// The state file is not a CIB.
    #[error(
        "the state file {path} is corrupt ({detail}): crm-lite will not guess what it held. \
         Run `crm-lite restore --state-dir {dir}` to put back the last good copy{backup}, or \
         move the file aside to start afresh (every resource is then probed again)"
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The state directory.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
        /// `" (cib-N.raw)"` when there is one, else a note that there is none.
        backup: String,
    },
    /// Another apply runs.
    #[error("another crm-lite apply holds {0} (only one may run at a time)")]
    Busy(PathBuf),
    /// A compare-and-swap found a newer state on disk.
    #[error(
        "{path} is at version {}, newer than the {} this change was made on: re-read it",
        version_string(*on_disk), version_string(*read)
    )]
    Stale {
        /// The state file.
        path: PathBuf,
        /// Its version now.
        on_disk: Versions,
        /// The version the change was made on.
        read: Versions,
    },
    /// Writing the state failed.
    #[error(transparent)]
    Write(#[from] cib::write::WriteError),
    /// The journal cannot be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A whole CIB handed to [`Store::put`] is not one.
    #[error("refusing to save a state that is not a CIB ({0})")]
    Refused(String),
    /// Nothing to restore from.
    #[error("no good copy of {path} to restore: {why}")]
    NoBackup {
        /// The state file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// `restore` on a state that reads fine.
    #[error(
        "{0} reads fine: nothing to restore (restoring would throw away newer state; move it \
         aside first if that is what you want)"
    )]
    NotCorrupt(PathBuf),
}

/// A loaded state.
#[derive(Debug, Clone)]
pub struct State {
    /// The file's text.
    pub text: String,
    /// Its element tree.
    pub doc: Document,
    /// Its version.
    pub versions: Versions,
}

/// What a change is, for the version counters: a configuration change raises `epoch` (and
/// is written with fsync), a status change raises `num_updates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The configuration changed.
    Config,
    /// Only the status changed.
    Status,
}

/// What [`Store::snapshot`] sees: the last saved state with the records of a round under
/// way replayed onto it.
#[derive(Debug)]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// How many journal records were replayed onto it.
    pub replayed: usize,
    /// Operations under way (or left unfinished by a crash).
    pub in_flight: Vec<InFlight>,
    /// Whether an apply holds the state directory now.
    pub apply_running: bool,
}

/// The exclusive right to run `apply` on a state directory, until dropped.
#[derive(Debug)]
pub struct ApplyLock(#[allow(dead_code)] Flock<File>);

/// One state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// `dir` made absolute, for the call markers (found once).
    canonical: std::sync::OnceLock<PathBuf>,
}

/// The version counters on a document's root (missing ones count as 0).
pub fn versions(doc: &Document) -> Versions {
    let Some(root) = doc.root() else {
        return Versions::default();
    };
    let el = doc.get(root);
    let n = |k: &str| el.attr(k).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    Versions {
        admin_epoch: n("admin_epoch"),
        epoch: n("epoch"),
        num_updates: n("num_updates"),
    }
}

fn io(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io { step, path, source }
}

impl Store {
    /// The store in `dir` (nothing is read or created yet).
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store {
            dir: dir.into(),
            canonical: std::sync::OnceLock::new(),
        }
    }

    /// The meta-attribute `(name, value)` that marks the agent of call `call` of an apply
    /// on this state directory (see [`orphans`]).
    pub fn call_marker(&self, call: i64) -> (String, String) {
        let dir = self
            .canonical
            .get_or_init(|| std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone()));
        orphans::marker_of(dir, call)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file.
    pub fn cib_path(&self) -> PathBuf {
        self.dir.join("cib.xml")
    }

    /// The journal file.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// Create the directory.
    pub fn create(&self) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))
    }

    /// Take the apply lock without waiting: [`StoreError::Busy`] when another apply has it.
    pub fn lock_apply(&self) -> Result<ApplyLock, StoreError> {
        self.create()?;
        let path = self.dir.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .map(ApplyLock)
            .map_err(|_| StoreError::Busy(path))
    }

    /// Whether an apply holds the apply lock now.
    pub fn apply_running(&self) -> bool {
        let Ok(f) = File::open(self.dir.join("lock")) else {
            return false;
        };
        Flock::lock(f, FlockArg::LockSharedNonblock).is_err()
    }

    /// The state lock. A reader that may not create the lock file (`status` as a user
    /// who cannot write the directory) reads without it: `cib.xml` is only ever replaced
    /// by a rename, so it still reads a whole file.
    fn state_lock(&self, exclusive: bool) -> Result<Option<Flock<File>>, StoreError> {
        let path = self.dir.join("cib.lock");
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        let f = match opened {
            Ok(f) => f,
            Err(_) if !exclusive => match File::open(&path) {
                Ok(f) => f,
                Err(_) => return Ok(None),
            },
            Err(e) => return Err(io("open", &path)(e)),
        };
        let how = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        Flock::lock(f, how)
            .map(Some)
            .map_err(|(_, e)| StoreError::Io {
                step: "lock",
                path,
                source: e.into(),
            })
    }

    fn newest_backup(&self) -> Option<PathBuf> {
        self.backups().into_iter().next_back().map(|(_, p)| p)
    }

    /// The backups `cib-N.raw`, oldest first.
    pub fn backups(&self) -> Vec<(u64, PathBuf)> {
        let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let n = name
                    .to_str()?
                    .strip_prefix("cib-")?
                    .strip_suffix(".raw")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        v.sort();
        v
    }

    fn corrupt(&self, path: &Path, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: path.to_owned(),
            dir: self.dir.clone(),
            detail,
            backup: match self.newest_backup() {
                Some(b) => format!(" ({})", b.file_name().unwrap_or_default().to_string_lossy()),
                None => " (there is none yet)".into(),
            },
        }
    }

    /// Read and check a state file.
    fn read_file(&self, path: &Path) -> Result<Option<State>, StoreError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", path)(e)),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            self.corrupt(
                path,
                format!("byte {} is not UTF-8", e.utf8_error().valid_up_to()),
            )
        })?;
        if text.trim().is_empty() {
            return Err(self.corrupt(path, "it is empty".into()));
        }
        let (doc, err) = Document::parse(&text);
        if let Some(e) = err {
            let line = text[..e.offset.min(text.len())].matches('\n').count() + 1;
            return Err(self.corrupt(path, format!("line {line}: {}", e.message)));
        }
        match doc.root() {
            Some(r) if doc.get(r).name == "cib" => {}
            _ => return Err(self.corrupt(path, "its root element is not <cib>".into())),
        }
        let versions = versions(&doc);
        Ok(Some(State {
            text,
            doc,
            versions,
        }))
    }

    fn load_unlocked(&self) -> Result<Option<State>, StoreError> {
        self.read_file(&self.cib_path())
    }

    /// The saved state (`None` before the first apply). A corrupt file is an error.
    pub fn load(&self) -> Result<Option<State>, StoreError> {
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let _l = self.state_lock(false)?;
        self.load_unlocked()
    }

    /// The saved state with the records of a round under way (or of an interrupted one)
    /// replayed onto it, for `status`.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        if !self.dir.is_dir() {
            return Err(StoreError::Missing(self.cib_path()));
        }
        let _l = self.state_lock(false)?;
        let mut state = self
            .load_unlocked()?
            .ok_or_else(|| StoreError::Missing(self.cib_path()))?;
        let mut replayed = 0;
        let mut in_flight = Vec::new();
        if let Some(j) = journal::read(&self.journal_path())? {
            if j.applies_to(state.versions) {
                replayed = j.replay(&mut state.doc);
                in_flight = j.in_flight();
            }
        }
        Ok(Snapshot {
            state,
            replayed,
            in_flight,
            apply_running: self.apply_running(),
        })
    }

    /// The version of the saved state, from the head of the file only (cheap enough to
    /// ask every second): `None` when there is no state.
    pub fn version_on_disk(&self) -> Result<Option<Versions>, StoreError> {
        use std::io::Read;
        let path = self.cib_path();
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut head = vec![0u8; 8192];
        let mut len = 0;
        while len < head.len() {
            match f.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) => return Err(io("read", &path)(e)),
            }
        }
        let head = String::from_utf8_lossy(&head[..len]);
        let tag = head.find("<cib").and_then(|s| {
            let end = head[s..].find('>')?;
            Some(&head[s..s + end])
        });
        let Some(tag) = tag else {
            return Err(self.corrupt(&path, "it does not start with a <cib> element".into()));
        };
        let tag = tag.trim_end_matches('/');
        let (doc, _) = Document::parse(&format!("{tag}/>"));
        Ok(Some(versions(&doc)))
    }

    /// Whether the saved state is no longer at version `v` (someone else saved).
    pub fn changed_since(&self, v: Versions) -> Result<bool, StoreError> {
        Ok(self.version_on_disk()?.is_some_and(|d| d != v))
    }

    /// Replace `cib.xml` with `doc` (its version already set), keeping the old file as the
    /// newest backup. Under the exclusive state lock.
    fn write_unlocked(&self, doc: &Document, durable: bool) -> Result<(), StoreError> {
        let path = self.cib_path();
        if path.exists() {
            let backups = self.backups();
            let n = backups.last().map_or(1, |(n, _)| n + 1);
            let to = self.dir.join(format!("cib-{n}.raw"));
            std::fs::hard_link(&path, &to).map_err(io("link", &to))?;
            let keep = backups.len() + 1;
            for (_, old) in backups.iter().take(keep.saturating_sub(BACKUPS)) {
                let _ = std::fs::remove_file(old);
            }
        }
        let xml = doc.to_xml();
        if durable {
            cib::write::write_atomic(&path, xml.as_bytes())?;
        } else {
            cib::write::write_atomic_unsynced(&path, xml.as_bytes())?;
        }
        Ok(())
    }

    /// Raise `doc`'s version above `from` for `change`, and write it.
    fn bump_and_write(
        &self,
        doc: &mut Document,
        from: Versions,
        change: Change,
        durable: bool,
    ) -> Result<Versions, StoreError> {
        let v = cib::write::bump_versions(doc, from, change == Change::Config)?;
        self.write_unlocked(doc, durable)?;
        Ok(v)
    }

    /// A writer other than the journal's owner saved `to` over `from`: the journal's
    /// records, not in `to`, apply to it as well.
    fn carry_journal(&self, from: Option<Versions>, to: Versions) -> Result<(), StoreError> {
        let Some(from) = from else { return Ok(()) };
        let path = self.journal_path();
        if let Some(j) = journal::read(&path)? {
            if j.applies_to(from) {
                journal::append_rebase(&path, to)?;
            }
        }
        Ok(())
    }

    /// Change the newest saved state: `f` gets it (under the exclusive state lock) and says
    /// what it changed (`None`: nothing, no write). Returns what `f` returned. This is how
    /// `move`, `ban`, `clear` and `cleanup` write: their change is always made on the newest
    /// state, so nothing anyone saved is lost.
    pub fn update<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Option<Change>), E>,
    ) -> Result<T, E> {
        if !self.dir.is_dir() {
            return Err(StoreError::Missing(self.cib_path()).into());
        }
        let _l = self.state_lock(true)?;
        let mut state = self
            .load_unlocked()?
            .ok_or_else(|| StoreError::Missing(self.cib_path()))?;
        let before = state.versions;
        let (t, change) = f(&mut state)?;
        if let Some(change) = change {
            let to = cib::write::bump_versions(&mut state.doc, before, change == Change::Config)
                .map_err(StoreError::from)?;
            self.carry_journal(Some(before), to)?;
            self.write_unlocked(&state.doc, true)?;
        }
        Ok(t)
    }

    /// The prelude of an apply: under the exclusive state lock, `f` gets the saved state
    /// (`None` before the first apply; a corrupt one is an error) with the journal of an
    /// interrupted round (its records not yet in the state) already replayed, and returns
    /// the state to work from; it is written (unless `write` is false: a dry run) with a
    /// version above both the saved one and its own, and the journal is removed. Returns
    /// the state written.
    pub fn begin_apply<E: From<StoreError>>(
        &self,
        write: bool,
        f: impl FnOnce(Option<&State>, usize) -> Result<Document, E>,
    ) -> Result<State, E> {
        self.create()?;
        let _l = self.state_lock(true)?;
        let mut saved = self.load_unlocked()?;
        let mut replayed = 0;
        let jpath = self.journal_path();
        if let (Some(s), Some(j)) = (
            saved.as_mut(),
            journal::read(&jpath).map_err(StoreError::from)?,
        ) {
            if j.applies_to(s.versions) {
                replayed = j.replay(&mut s.doc);
            }
        }
        let mut doc = f(saved.as_ref(), replayed)?;
        let own = versions(&doc);
        let versions = match &saved {
            Some(s) if s.versions >= own => {
                cib::write::bump_versions(&mut doc, s.versions, true).map_err(StoreError::from)?
            }
            _ => cib::write::bump_versions(&mut doc, own, false).map_err(StoreError::from)?,
        };
        if write {
            // Nothing new is in it yet (the replayed records were durable in the journal):
            // no fsync needed before the journal goes.
            self.write_unlocked(&doc, false)?;
            match std::fs::remove_file(&jpath) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove", &jpath)(e).into());
                }
                _ => {}
            }
        }
        Ok(State {
            text: doc.to_xml(),
            doc,
            versions,
        })
    }

    /// The operations an interrupted apply left in flight, from the journal (empty when
    /// there is none, or when its records are already in the state).
    pub fn in_flight(&self) -> Result<Vec<InFlight>, StoreError> {
        let _l = self.state_lock(false)?;
        let Some(v) = self.load_unlocked()?.map(|s| s.versions) else {
            return Ok(Vec::new());
        };
        Ok(match journal::read(&self.journal_path())? {
            Some(j) if j.applies_to(v) => j.in_flight(),
            _ => Vec::new(),
        })
    }

    /// Start the journal of a round: its records apply to the state saved now.
    pub fn begin_journal(&self) -> Result<Journal, StoreError> {
        let _l = self.state_lock(true)?;
        let v = self
            .version_on_disk()?
            .ok_or_else(|| StoreError::Missing(self.cib_path()))?;
        Ok(Journal::begin(&self.journal_path(), v)?)
    }

    /// Save a round: `doc` is the state at version `base` with `journal`'s records made on
    /// it. When the saved state is still `base`, `doc` replaces it; when someone saved a
    /// newer one meanwhile (`crm-lite move` during `apply --watch`), the records are applied
    /// to that one instead and `doc` becomes the result. Then the journal is removed.
    /// `durable`: fsync (results); without it the replacement is still atomic. Returns the
    /// new version.
    pub fn commit(
        &self,
        doc: &mut Document,
        base: Versions,
        journal: Journal,
        durable: bool,
    ) -> Result<Versions, StoreError> {
        let _l = self.state_lock(true)?;
        let on_disk = self.version_on_disk()?;
        let from = match on_disk {
            Some(v) if v != base => {
                let mut newer = self
                    .load_unlocked()?
                    .ok_or_else(|| StoreError::Missing(self.cib_path()))?;
                tracing::info!(
                    base = %version_string(base),
                    on_disk = %version_string(newer.versions),
                    "the state changed during the round: its records go onto the newer state"
                );
                journal.apply_to(&mut newer.doc);
                *doc = newer.doc;
                newer.versions
            }
            _ => base,
        };
        let v = self.bump_and_write(doc, from, Change::Status, durable)?;
        journal.finish()?;
        Ok(v)
    }

    /// Save `doc`, made on version `base`, only if the saved state is still `base`
    /// (compare-and-swap); [`StoreError::Stale`] otherwise. Returns the new version.
    pub fn save(
        &self,
        doc: &mut Document,
        base: Versions,
        change: Change,
    ) -> Result<Versions, StoreError> {
        let _l = self.state_lock(true)?;
        if let Some(on_disk) = self.version_on_disk()? {
            if on_disk != base {
                return Err(StoreError::Stale {
                    path: self.cib_path(),
                    on_disk,
                    read: base,
                });
            }
        }
        let v = cib::write::bump_versions(doc, base, change == Change::Config)?;
        self.carry_journal(Some(base), v)?;
        self.write_unlocked(doc, true)?;
        Ok(v)
    }

    /// Replace `cib.xml` with `xml`, a whole CIB whose version counters its writer already
    /// set: the cluster daemon's copy of the cluster's CIB ([`Store::lock_apply`] held for
    /// as long as the daemon runs, so that no local `apply` writes beside it). Checked to be
    /// a well-formed `<cib>` first (nothing is written otherwise), written atomically with
    /// fsync, the old file kept as the newest backup. Returns the version written.
    pub fn put(&self, xml: &str) -> Result<Versions, StoreError> {
        let (doc, err) = Document::parse(xml);
        if let Some(e) = err {
            let line = xml[..e.offset.min(xml.len())].matches('\n').count() + 1;
            return Err(StoreError::Refused(format!("line {line}: {}", e.message)));
        }
        match doc.root() {
            Some(r) if doc.get(r).name == "cib" => {}
            _ => return Err(StoreError::Refused("its root element is not <cib>".into())),
        }
        self.create()?;
        let _l = self.state_lock(true)?;
        self.write_unlocked(&doc, true)?;
        Ok(versions(&doc))
    }

    /// Put back the newest good copy of a corrupt `cib.xml` (which is kept as
    /// `cib.xml.corrupt`). Returns the copy used. A state that reads fine is not touched
    /// ([`StoreError::NotCorrupt`]). The copy is restored as it was, version included, so
    /// that the journal of a round made on it still applies.
    pub fn restore_last_good(&self) -> Result<(PathBuf, Versions), StoreError> {
        let _l = self.state_lock(true)?;
        let path = self.cib_path();
        if path.exists() && self.load_unlocked().is_ok() {
            return Err(StoreError::NotCorrupt(path));
        }
        let mut why = "there are no backups (cib-N.raw)".to_owned();
        for (_, b) in self.backups().into_iter().rev() {
            match self.read_file(&b) {
                Ok(Some(s)) => {
                    if path.exists() {
                        let aside = self.dir.join("cib.xml.corrupt");
                        std::fs::rename(&path, &aside).map_err(io("rename", &path))?;
                    }
                    cib::write::write_atomic(&path, s.text.as_bytes())?;
                    return Ok((b, s.versions));
                }
                Ok(None) => {}
                Err(e) => why = format!("none reads: {e}"),
            }
        }
        Err(StoreError::NoBackup { path, why })
    }
}

#[cfg(test)]
mod tests;
