//! The closed set of OCF exit codes, split into what an action may report on success
//! ([`Status`]) and what it reports on failure ([`Failure`], which always carries a reason).

use std::fmt;

/// Every exit code an OCF agent may return (OCF 1.1 plus Pacemaker's degraded codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OcfExit {
    /// 0, `OCF_SUCCESS`: the action succeeded; for monitor, running (unpromoted).
    Success,
    /// 1, `OCF_ERR_GENERIC`: generic or unspecified error.
    ErrGeneric,
    /// 2, `OCF_ERR_ARGS`: parameters invalid on this host (the cluster may try another node).
    ErrArgs,
    /// 3, `OCF_ERR_UNIMPLEMENTED`: the action is not implemented.
    ErrUnimplemented,
    /// 4, `OCF_ERR_PERM`: insufficient privileges.
    ErrPerm,
    /// 5, `OCF_ERR_INSTALLED`: software or files missing on this host.
    ErrInstalled,
    /// 6, `OCF_ERR_CONFIGURED`: the configuration is inherently invalid (fails everywhere).
    ErrConfigured,
    /// 7, `OCF_NOT_RUNNING`: cleanly stopped.
    NotRunning,
    /// 8, `OCF_RUNNING_PROMOTED` (formerly `_MASTER`): running in the promoted role.
    RunningPromoted,
    /// 9, `OCF_FAILED_PROMOTED` (formerly `_MASTER`): promoted but failed.
    FailedPromoted,
    /// 190, `OCF_DEGRADED`: running, but a failure is likely soon.
    Degraded,
    /// 191, `OCF_DEGRADED_PROMOTED`: promoted, but a failure is likely soon.
    DegradedPromoted,
}

impl OcfExit {
    /// All codes, in numeric order.
    pub const ALL: [OcfExit; 12] = [
        OcfExit::Success,
        OcfExit::ErrGeneric,
        OcfExit::ErrArgs,
        OcfExit::ErrUnimplemented,
        OcfExit::ErrPerm,
        OcfExit::ErrInstalled,
        OcfExit::ErrConfigured,
        OcfExit::NotRunning,
        OcfExit::RunningPromoted,
        OcfExit::FailedPromoted,
        OcfExit::Degraded,
        OcfExit::DegradedPromoted,
    ];

    /// The numeric exit code.
    pub const fn code(self) -> u8 {
        match self {
            OcfExit::Success => 0,
            OcfExit::ErrGeneric => 1,
            OcfExit::ErrArgs => 2,
            OcfExit::ErrUnimplemented => 3,
            OcfExit::ErrPerm => 4,
            OcfExit::ErrInstalled => 5,
            OcfExit::ErrConfigured => 6,
            OcfExit::NotRunning => 7,
            OcfExit::RunningPromoted => 8,
            OcfExit::FailedPromoted => 9,
            OcfExit::Degraded => 190,
            OcfExit::DegradedPromoted => 191,
        }
    }

    /// The code for a number, if it is one of the defined codes.
    pub fn from_code(code: i32) -> Option<OcfExit> {
        OcfExit::ALL
            .into_iter()
            .find(|e| i32::from(e.code()) == code)
    }

    /// The symbolic name used by OCF 1.1 and Pacemaker.
    pub const fn name(self) -> &'static str {
        match self {
            OcfExit::Success => "OCF_SUCCESS",
            OcfExit::ErrGeneric => "OCF_ERR_GENERIC",
            OcfExit::ErrArgs => "OCF_ERR_ARGS",
            OcfExit::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfExit::ErrPerm => "OCF_ERR_PERM",
            OcfExit::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfExit::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfExit::NotRunning => "OCF_NOT_RUNNING",
            OcfExit::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfExit::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfExit::Degraded => "OCF_DEGRADED",
            OcfExit::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }

    /// What the code means, in a phrase.
    pub const fn meaning(self) -> &'static str {
        match self {
            OcfExit::Success => "success (monitor: running)",
            OcfExit::ErrGeneric => "generic error",
            OcfExit::ErrArgs => "invalid parameters on this host",
            OcfExit::ErrUnimplemented => "action not implemented",
            OcfExit::ErrPerm => "insufficient privileges",
            OcfExit::ErrInstalled => "not installed on this host",
            OcfExit::ErrConfigured => "invalid configuration",
            OcfExit::NotRunning => "not running",
            OcfExit::RunningPromoted => "running promoted",
            OcfExit::FailedPromoted => "failed while promoted",
            OcfExit::Degraded => "running degraded",
            OcfExit::DegradedPromoted => "running promoted, degraded",
        }
    }

    /// Whether the code reports a failure (and so must come with an exit reason).
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            OcfExit::ErrGeneric
                | OcfExit::ErrArgs
                | OcfExit::ErrUnimplemented
                | OcfExit::ErrPerm
                | OcfExit::ErrInstalled
                | OcfExit::ErrConfigured
                | OcfExit::FailedPromoted
        )
    }
}

impl fmt::Display for OcfExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// What an action reports when it did its job. A closed subset of [`OcfExit`]: none of
/// these is a failure, so none needs an exit reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: done; for monitor, running in the unpromoted (or only) role.
    Success,
    /// 7: not running (monitor and probes only).
    NotRunning,
    /// 8: running promoted (monitor of promotable agents).
    RunningPromoted,
    /// 190: running, degraded.
    Degraded,
    /// 191: running promoted, degraded.
    DegradedPromoted,
}

impl From<Status> for OcfExit {
    fn from(s: Status) -> OcfExit {
        match s {
            Status::Success => OcfExit::Success,
            Status::NotRunning => OcfExit::NotRunning,
            Status::RunningPromoted => OcfExit::RunningPromoted,
            Status::Degraded => OcfExit::Degraded,
            Status::DegradedPromoted => OcfExit::DegradedPromoted,
        }
    }
}

/// A failed action: an OCF failure code and the reason shown to the operator
/// (written to stderr as an `ocf-exit-reason:` line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    exit: OcfExit,
    reason: String,
}

impl Failure {
    fn new(exit: OcfExit, reason: impl Into<String>) -> Failure {
        debug_assert!(exit.is_failure());
        Failure {
            exit,
            reason: reason.into(),
        }
    }
    /// 1: generic error.
    pub fn generic(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrGeneric, reason)
    }
    /// 2: parameters invalid on this host.
    pub fn args(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrArgs, reason)
    }
    /// 3: action not implemented.
    pub fn unimplemented(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrUnimplemented, reason)
    }
    /// 4: insufficient privileges.
    pub fn perm(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrPerm, reason)
    }
    /// 5: software or files missing on this host.
    pub fn installed(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrInstalled, reason)
    }
    /// 6: configuration inherently invalid.
    pub fn configured(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::ErrConfigured, reason)
    }
    /// 9: promoted, but failed.
    pub fn failed_promoted(reason: impl Into<String>) -> Failure {
        Failure::new(OcfExit::FailedPromoted, reason)
    }
    /// A failed system call or file operation, `what` in front of the error: 4
    /// (insufficient privileges) when the system refused permission (EACCES, EPERM), else 1.
    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Failure {
        let reason = format!("{what}: {e}");
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            Failure::perm(reason)
        } else {
            Failure::generic(reason)
        }
    }
    /// A failed command whose message says the system refused permission (`strerror` of
    /// EACCES or EPERM, or a tool asking for root): 4, else `otherwise`.
    pub fn from_message(message: &str, otherwise: fn(String) -> Failure) -> Failure {
        if mentions_permission(message) {
            Failure::perm(message.to_owned())
        } else {
            otherwise(message.to_owned())
        }
    }
    /// The exit code.
    pub fn exit(&self) -> OcfExit {
        self.exit
    }
    /// The reason, one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }
    /// The same failure with context in front of the reason.
    pub fn context(self, what: impl fmt::Display) -> Failure {
        Failure {
            exit: self.exit,
            reason: format!("{what}: {}", self.reason),
        }
    }
}

/// Whether a tool's message reports a refused permission: the C library's text for EACCES
/// and EPERM, or util-linux's and others' "must be superuser" / "only root".
pub fn mentions_permission(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "permission denied",
        "operation not permitted",
        "must be superuser",
        "only root can",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// What every action returns.
pub type ActionResult = Result<Status, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for e in OcfExit::ALL {
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert_eq!(OcfExit::from_code(i32::from(e.code())), Some(e));
        }
        assert_eq!(OcfExit::from_code(10), None);
        assert_eq!(OcfExit::from_code(189), None);
        assert_eq!(OcfExit::Degraded.code(), 190);
        assert_eq!(OcfExit::DegradedPromoted.code(), 191);
    }

    #[test]
    fn statuses_are_never_failures_and_failures_always_are() {
        for s in [
            Status::Success,
            Status::NotRunning,
            Status::RunningPromoted,
            Status::Degraded,
            Status::DegradedPromoted,
        ] {
            assert!(!OcfExit::from(s).is_failure());
        }
        for f in [
            Failure::generic("x"),
            Failure::args("x"),
            Failure::unimplemented("x"),
            Failure::perm("x"),
            Failure::installed("x"),
            Failure::configured("x"),
            Failure::failed_promoted("x"),
        ] {
            assert!(f.exit().is_failure());
        }
    }

    #[test]
    fn refused_permissions_are_err_perm_and_other_errors_generic() {
        use std::io::{Error, ErrorKind};
        let eacces = Error::from_raw_os_error(13);
        let eperm = Error::from_raw_os_error(1);
        for e in [&eacces, &eperm] {
            let f = Failure::io("cannot create /srv/x", e);
            assert_eq!(f.exit(), OcfExit::ErrPerm, "{e}");
            assert!(f.reason().starts_with("cannot create /srv/x: "), "{f}");
        }
        let f = Failure::io("cannot create /srv/x", &Error::from(ErrorKind::NotFound));
        assert_eq!(f.exit(), OcfExit::ErrGeneric);
        // The C library's own words for both errnos are recognized in a tool's message.
        assert!(mentions_permission(&eacces.to_string()), "{eacces}");
        assert!(mentions_permission(&eperm.to_string()), "{eperm}");
        assert!(mentions_permission(
            "mount: /mnt: must be superuser to use mount."
        ));
        assert!(!mentions_permission(
            "mount: /mnt: wrong fs type, bad option"
        ));
        let f = Failure::from_message("open /etc/x: Permission denied", Failure::generic);
        assert_eq!(f.exit(), OcfExit::ErrPerm);
        let f = Failure::from_message("no such device", Failure::installed);
        assert_eq!(f.exit(), OcfExit::ErrInstalled);
    }

    #[test]
    fn context_prefixes_the_reason_and_keeps_the_code() {
        let f = Failure::installed("no such file").context("binary /x");
        assert_eq!(f.reason(), "binary /x: no such file");
        assert_eq!(f.exit(), OcfExit::ErrInstalled);
    }
}
