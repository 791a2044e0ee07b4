//! Writing a CIB back: version counters and atomic replacement of the file.
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::Versions;
use crate::tree::Document;

/// A failure to write a CIB file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target path has no parent directory or file name.
    #[error("invalid target path {0}")]
    BadPath(PathBuf),
    /// An I/O step failed.
    #[error("failed to {step} {path}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The document has no `<cib>` root.
    #[error("document has no <cib> root element")]
    NoRoot,
    /// The file on disk changed since it was read: writing would lower its version.
    #[error(
        "{path} has version {}.{}.{}, newer than the {}.{}.{} read: re-read it first",
        on_disk.admin_epoch, on_disk.epoch, on_disk.num_updates,
        read.admin_epoch, read.epoch, read.num_updates
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its version now.
        on_disk: Versions,
        /// The version the caller read and edited.
        read: Versions,
    },
}

/// The version counters of the CIB root in `xml` (missing counters count as 0; `None` when
/// there is no `<cib>` root).
pub fn versions_of(xml: &str) -> Option<Versions> {
    let (doc, _) = Document::parse(xml);
    let root = doc.get(doc.root()?);
    if root.name != "cib" {
        return None;
    }
    let n = |k: &str| {
        root.attr(k)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Some(Versions {
        admin_epoch: n("admin_epoch"),
        epoch: n("epoch"),
        num_updates: n("num_updates"),
    })
}

/// Refuse to replace `path` if the CIB there is newer than `read` (the version the caller
/// started from): optimistic concurrency, as `cibadmin --replace` does.
pub fn check_not_newer(path: &Path, read: Versions) -> Result<(), WriteError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(WriteError::Io {
                step: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    match versions_of(&text) {
        Some(on_disk) if on_disk > read => Err(WriteError::Newer {
            path: path.to_owned(),
            on_disk,
            read,
        }),
        _ => Ok(()),
    }
}

/// Set the version counters on the root element after a change. A configuration change
/// bumps `epoch` and resets `num_updates`; a status-only change bumps `num_updates`. The
/// counters never go down: the result is always greater than `old`.
pub fn bump_versions(
    doc: &mut Document,
    old: Versions,
    config_changed: bool,
) -> Result<Versions, WriteError> {
    let root = doc.root().ok_or(WriteError::NoRoot)?;
    let new = if config_changed {
        Versions {
            admin_epoch: old.admin_epoch,
            epoch: old.epoch.saturating_add(1),
            num_updates: 0,
        }
    } else {
        Versions {
            num_updates: old.num_updates.saturating_add(1),
            ..old
        }
    };
    let e = doc.get_mut(root);
    e.set_attr("admin_epoch", &new.admin_epoch.to_string());
    e.set_attr("epoch", &new.epoch.to_string());
    e.set_attr("num_updates", &new.num_updates.to_string());
    Ok(new)
}

/// Replace `path` with `contents` atomically: write a temporary file in the same directory,
/// fsync it, rename it over `path`, fsync the directory. A crash leaves the old or the new
/// file, never a torn one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    replace(path, contents, true)
}

/// Like [`write_atomic`], without the fsyncs: the replacement is still atomic for every
/// reader and survives a crash of the writing process, but not a power loss. For records
/// that only matter while the machine stays up (an operation in flight).
pub fn write_atomic_unsynced(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    replace(path, contents, false)
}

fn replace(path: &Path, contents: &[u8], sync: bool) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new("."),
        Some(d) => d,
        None => return Err(WriteError::BadPath(path.to_owned())),
    };
    let name = path
        .file_name()
        .ok_or_else(|| WriteError::BadPath(path.to_owned()))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let io = |step, p: &Path| {
        let p = p.to_owned();
        move |source| WriteError::Io {
            step,
            path: p,
            source,
        }
    };
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(contents).map_err(io("write", &tmp))?;
        if sync {
            f.sync_all().map_err(io("fsync", &tmp))?;
        }
        drop(f);
        fs::rename(&tmp, path).map_err(io("rename into", path))?;
        if !sync {
            return Ok(());
        }
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
