//! Domain state queries: libvirt's RPC protocol spoken directly where that is possible
//! ([`crate::wire`]), otherwise libvirt's C library, loaded at run time.
//!
//! [`Virt`] is what the agent asks libvirt about a domain; [`LibVirt`] answers through
//! `libvirt.so.0`, opened with `dlopen` on first use, so the agent builds without
//! libvirt's headers and reports "not installed" (not a loader error) where libvirt is
//! missing. Each query opens a read-only connection, looks the domain up by name, reads
//! its info and closes the connection, in a worker thread: the caller waits at most its
//! timeout, so a libvirtd that accepts but never answers cannot hold the agent past its
//! deadline (the thread is abandoned; the process exits soon after).
//!
//! "No such domain" is recognised by libvirt's error code `VIR_ERR_NO_DOMAIN` (42), the
//! same in every libvirt version, not by the message's wording.

use std::ffi::{CStr, CString, c_char, c_int, c_uchar, c_ulong, c_ulonglong, c_ushort};
use std::sync::mpsc;
use std::time::Duration;

use crate::wire::{self, WireError};

/// A domain's state, as libvirt reports it (`virDomainState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomState {
    /// `VIR_DOMAIN_NOSTATE`.
    NoState,
    /// `VIR_DOMAIN_RUNNING`.
    Running,
    /// `VIR_DOMAIN_BLOCKED` (on a resource; still running).
    Blocked,
    /// `VIR_DOMAIN_PAUSED` (also the source side of a live migration).
    Paused,
    /// `VIR_DOMAIN_SHUTDOWN`: being shut down.
    ShuttingDown,
    /// `VIR_DOMAIN_SHUTOFF`.
    ShutOff,
    /// `VIR_DOMAIN_CRASHED`.
    Crashed,
    /// `VIR_DOMAIN_PMSUSPENDED`: suspended by the guest's power management.
    PmSuspended,
    /// A value this agent does not know.
    Unknown(u8),
}

impl DomState {
    /// From libvirt's number.
    pub fn from_raw(v: u8) -> DomState {
        match v {
            0 => DomState::NoState,
            1 => DomState::Running,
            2 => DomState::Blocked,
            3 => DomState::Paused,
            4 => DomState::ShuttingDown,
            5 => DomState::ShutOff,
            6 => DomState::Crashed,
            7 => DomState::PmSuspended,
            n => DomState::Unknown(n),
        }
    }

    /// Whether QEMU is there, running the guest (paused and suspended count: the guest's
    /// memory and disks are in use on this node).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            DomState::NoState
                | DomState::Running
                | DomState::Blocked
                | DomState::Paused
                | DomState::ShuttingDown
                | DomState::PmSuspended
        )
    }
}

/// What libvirt says of an existing domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomInfo {
    /// Its state.
    pub state: DomState,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Maximum memory, KiB.
    pub max_mem_kib: u64,
    /// Whether it is defined (persistent), not only running (transient).
    pub persistent: bool,
}

/// Why a query gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtError {
    /// libvirt's client library is not installed.
    NotInstalled(String),
    /// No connection to the hypervisor (libvirtd down, refused, unreachable).
    Connect(String),
    /// No answer within the time given.
    Timeout(Duration),
    /// Any other libvirt error.
    Other(String),
}

impl std::fmt::Display for VirtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VirtError::NotInstalled(m) => write!(f, "libvirt is not installed: {m}"),
            VirtError::Connect(m) => write!(f, "cannot connect to libvirt: {m}"),
            VirtError::Timeout(d) => write!(f, "libvirt did not answer within {d:?}"),
            VirtError::Other(m) => write!(f, "libvirt: {m}"),
        }
    }
}

/// What the agent asks libvirt.
pub trait Virt {
    /// The domain `name` at `uri`: `Ok(None)` when there is no such domain.
    fn domain(
        &self,
        uri: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<DomInfo>, VirtError>;
}

/// libvirt's C library, opened at run time.
#[derive(Debug, Clone, Copy, Default)]
pub struct LibVirt;

impl Virt for LibVirt {
    fn domain(
        &self,
        uri: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<DomInfo>, VirtError> {
        if timeout.is_zero() {
            return Err(VirtError::Timeout(timeout));
        }
        let (uri, name) = (uri.to_string(), name.to_string());
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("libvirt".into())
            .spawn(move || {
                let _ = tx.send(query_any(&uri, &name, timeout));
            })
            .map_err(|e| VirtError::Other(format!("cannot start a thread: {e}")))?;
        rx.recv_timeout(timeout)
            .unwrap_or(Err(VirtError::Timeout(timeout)))
    }
}

/// The wire protocol where it can be spoken, else (or when it cannot answer) the library.
fn query_any(uri: &str, name: &str, timeout: Duration) -> Result<Option<DomInfo>, VirtError> {
    if let Some(ep) = wire::endpoint(uri) {
        match wire::query(&ep, name, timeout) {
            Ok(r) => return Ok(r),
            Err(WireError::Connect(m)) => return Err(VirtError::Connect(m)),
            Err(WireError::Libvirt(code, m)) => {
                return Err(if CONNECT_ERRORS.contains(&(code as c_int)) {
                    VirtError::Connect(m)
                } else {
                    VirtError::Other(m)
                });
            }
            Err(WireError::Unsupported(m)) => {
                tracing::debug!("libvirt wire protocol: {m}; using libvirt.so.0");
            }
        }
    }
    match (CString::new(uri), CString::new(name)) {
        (Ok(u), Ok(n)) => query(&u, &n),
        _ => Err(VirtError::Other("a NUL byte in the URI or name".into())),
    }
}

/// `VIR_ERR_NO_DOMAIN`.
const VIR_ERR_NO_DOMAIN: c_int = 42;
/// `VIR_ERR_NO_CONNECT`, `VIR_ERR_SYSTEM_ERROR`, `VIR_ERR_RPC`: no usable connection.
const CONNECT_ERRORS: [c_int; 3] = [5, 38, 39];

type Ptr = *mut libc::c_void;

/// The head of `virError` (the fields the agent reads).
#[repr(C)]
struct VirErrorHead {
    code: c_int,
    domain: c_int,
    message: *const c_char,
}

/// `virDomainInfo`.
#[repr(C)]
#[derive(Default)]
struct VirDomainInfo {
    state: c_uchar,
    max_mem: c_ulong,
    memory: c_ulong,
    nr_virt_cpu: c_ushort,
    cpu_time: c_ulonglong,
}

type ErrorFunc = unsafe extern "C" fn(Ptr, Ptr);

struct Lib {
    set_error_func: unsafe extern "C" fn(Ptr, Option<ErrorFunc>),
    open_read_only: unsafe extern "C" fn(*const c_char) -> Ptr,
    close: unsafe extern "C" fn(Ptr) -> c_int,
    lookup_by_name: unsafe extern "C" fn(Ptr, *const c_char) -> Ptr,
    get_info: unsafe extern "C" fn(Ptr, *mut VirDomainInfo) -> c_int,
    is_persistent: unsafe extern "C" fn(Ptr) -> c_int,
    domain_free: unsafe extern "C" fn(Ptr) -> c_int,
    last_error: unsafe extern "C" fn() -> *const VirErrorHead,
}

/// libvirt's default error handler prints every error to stderr; the agent reports them
/// itself.
unsafe extern "C" fn quiet(_user: Ptr, _err: Ptr) {}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: checked non-NULL above.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

fn load() -> Result<Lib, VirtError> {
    // SAFETY: dlopen with a constant NUL-terminated name.
    let h = unsafe { libc::dlopen(c"libvirt.so.0".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if h.is_null() {
        return Err(VirtError::NotInstalled(dl_error()));
    }
    let sym = |name: &CStr| -> Result<Ptr, VirtError> {
        // SAFETY: h is a live handle from dlopen; name is NUL-terminated.
        let p = unsafe { libc::dlsym(h, name.as_ptr()) };
        if p.is_null() {
            Err(VirtError::NotInstalled(format!(
                "{} lacks {}",
                "libvirt.so.0",
                name.to_string_lossy()
            )))
        } else {
            Ok(p)
        }
    };
    // SAFETY: each symbol is the libvirt function of that name, whose C signature the
    // function-pointer type repeats (libvirt's public, stable ABI).
    unsafe {
        Ok(Lib {
            set_error_func: std::mem::transmute::<Ptr, unsafe extern "C" fn(Ptr, Option<ErrorFunc>)>(
                sym(c"virSetErrorFunc")?,
            ),
            open_read_only: std::mem::transmute::<Ptr, unsafe extern "C" fn(*const c_char) -> Ptr>(
                sym(c"virConnectOpenReadOnly")?,
            ),
            close: std::mem::transmute::<Ptr, unsafe extern "C" fn(Ptr) -> c_int>(sym(
                c"virConnectClose",
            )?),
            lookup_by_name: std::mem::transmute::<
                Ptr,
                unsafe extern "C" fn(Ptr, *const c_char) -> Ptr,
            >(sym(c"virDomainLookupByName")?),
            get_info: std::mem::transmute::<
                Ptr,
                unsafe extern "C" fn(Ptr, *mut VirDomainInfo) -> c_int,
            >(sym(c"virDomainGetInfo")?),
            is_persistent: std::mem::transmute::<Ptr, unsafe extern "C" fn(Ptr) -> c_int>(sym(
                c"virDomainIsPersistent",
            )?),
            domain_free: std::mem::transmute::<Ptr, unsafe extern "C" fn(Ptr) -> c_int>(sym(
                c"virDomainFree",
            )?),
            last_error: std::mem::transmute::<Ptr, unsafe extern "C" fn() -> *const VirErrorHead>(
                sym(c"virGetLastError")?,
            ),
        })
    }
}

impl Lib {
    /// The thread's last libvirt error: its code and message.
    fn error(&self) -> (c_int, String) {
        // SAFETY: virGetLastError returns NULL or a pointer to this thread's error, valid
        // until the next libvirt call on this thread; we copy out of it at once.
        let e = unsafe { (self.last_error)() };
        if e.is_null() {
            return (0, "unknown libvirt error".into());
        }
        // SAFETY: non-NULL, points to a virError whose head is VirErrorHead.
        let head = unsafe { &*e };
        let message = if head.message.is_null() {
            format!("libvirt error {}", head.code)
        } else {
            // SAFETY: libvirt's message is a NUL-terminated string.
            unsafe { CStr::from_ptr(head.message) }
                .to_string_lossy()
                .into_owned()
        };
        (head.code, message)
    }
}

fn query(uri: &CStr, name: &CStr) -> Result<Option<DomInfo>, VirtError> {
    let lib = load()?;
    // SAFETY: the function pointers come from libvirt (see `load`); every pointer passed
    // is either a NUL-terminated CString alive for the call or a handle libvirt returned
    // and that is freed exactly once below.
    unsafe {
        (lib.set_error_func)(std::ptr::null_mut(), Some(quiet));
        let conn = (lib.open_read_only)(uri.as_ptr());
        if conn.is_null() {
            return Err(VirtError::Connect(lib.error().1));
        }
        let dom = (lib.lookup_by_name)(conn, name.as_ptr());
        let result = if dom.is_null() {
            match lib.error() {
                (VIR_ERR_NO_DOMAIN, _) => Ok(None),
                (code, m) if CONNECT_ERRORS.contains(&code) => Err(VirtError::Connect(m)),
                (_, m) => Err(VirtError::Other(m)),
            }
        } else {
            let mut info = VirDomainInfo::default();
            let r = if (lib.get_info)(dom, &mut info) < 0 {
                match lib.error() {
                    (VIR_ERR_NO_DOMAIN, _) => Ok(None),
                    (_, m) => Err(VirtError::Other(m)),
                }
            } else {
                Ok(Some(DomInfo {
                    state: DomState::from_raw(info.state),
                    vcpus: u32::from(info.nr_virt_cpu),
                    #[allow(clippy::useless_conversion)] // c_ulong is u32 on 32-bit targets
                    max_mem_kib: u64::from(info.max_mem),
                    persistent: (lib.is_persistent)(dom) == 1,
                }))
            };
            (lib.domain_free)(dom);
            r
        };
        (lib.close)(conn);
        result
    }
}
