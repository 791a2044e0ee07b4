//! `/proc/self/mountinfo`, parsed. Pure: text in, entries and diagnostics out. Parsing never
//! fails: a line that cannot be read is skipped and reported, the rest still count.
//!
//! A line is `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
//! SUPER_OPTIONS` (proc(5)). The kernel escapes space, tab, newline and backslash in paths
//! as `\040`, `\011`, `\012` and `\134`; they are unescaped here.

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount's unique id (what `/proc/<pid>/fdinfo` calls `mnt_id`).
    pub id: u64,
    /// Its parent's id.
    pub parent: u64,
    /// `major:minor` of the file system's device.
    pub dev: String,
    /// The directory of the file system that forms this mount's root (`/` unless a bind
    /// mount of a subdirectory).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Per-mount options (`rw,relatime`).
    pub options: String,
    /// The file system type (`ext4`, `fuse.ceph-fuse`, `nfs4`).
    pub fstype: String,
    /// The source (`/dev/drbd0`, `server:/export`, `tmpfs`).
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl Mount {
    /// Whether the mount is read-only.
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Undo the kernel's octal escapes (`\040` is a space). Anything that is not a valid
/// three-digit octal escape stays as it is.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_line(line: &str) -> Result<Mount, &'static str> {
    let fields: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
    let sep = fields
        .iter()
        .position(|f| *f == "-")
        .ok_or("no ' - ' separator")?;
    if sep < 6 {
        return Err("too few fields before the separator");
    }
    if fields.len() < sep + 3 {
        return Err("too few fields after the separator");
    }
    let num = |s: &str| s.parse::<u64>().map_err(|_| "mount id is not a number");
    Ok(Mount {
        id: num(fields[0])?,
        parent: num(fields[1])?,
        dev: fields[2].to_string(),
        root: unescape(fields[3]),
        mount_point: unescape(fields[4]),
        options: fields[5].to_string(),
        fstype: unescape(fields[sep + 1]),
        source: unescape(fields[sep + 2]),
        super_options: fields.get(sep + 3).map_or(String::new(), |s| s.to_string()),
    })
}

/// Parse the whole text: the mounts in order (later mounts stack on earlier ones) and one
/// message per line that could not be read.
pub fn parse(text: &str) -> (Vec<Mount>, Vec<String>) {
    let mut mounts = Vec::new();
    let mut diagnostics = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(m) => mounts.push(m),
            Err(why) => diagnostics.push(format!("mountinfo line {}: {why}", n + 1)),
        }
    }
    (mounts, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the kernel writes them (taken from this machine, a ceph-fuse mount and an
    /// NFS mount), with optional fields and escapes.
    const SAMPLE: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime shared:5 master:1 - tmpfs tmpfs rw,size=24684092k
90 27 7:0 / /srv/my\\040data rw,noatime shared:44 - ext4 /dev/loop0 rw
91 27 0:52 / /var/lib/one rw,nosuid,nodev,relatime - fuse.ceph-fuse ceph-fuse rw,user_id=0,group_id=0,allow_other
92 27 0:53 / /mnt/nfs ro,relatime - nfs4 10.0.0.1:/export rw,vers=4.2
93 27 254:0 /srv/src /mnt/bind rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn parses_fields_optional_tags_and_escapes() {
        let (m, d) = parse(SAMPLE);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(m.len(), 6);
        assert_eq!(m[1].mount_point, "/dev/shm");
        assert_eq!(m[1].fstype, "tmpfs");
        assert_eq!(m[2].mount_point, "/srv/my data");
        assert_eq!((m[2].id, m[2].parent, m[2].dev.as_str()), (90, 27, "7:0"));
        assert_eq!(m[3].fstype, "fuse.ceph-fuse");
        assert_eq!(m[4].source, "10.0.0.1:/export");
        assert!(m[4].read_only() && !m[3].read_only());
        assert_eq!(m[5].root, "/srv/src");
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let text = "garbage\n27 1 254:0 / / rw - ext4 /dev/vda rw\nx 1 0:1 / /a rw - tmpfs t rw\n";
        let (m, d) = parse(text);
        assert_eq!(m.len(), 1);
        assert_eq!(d.len(), 2);
        assert!(d[0].starts_with("mountinfo line 1"), "{d:?}");
        assert!(d[1].starts_with("mountinfo line 3"), "{d:?}");
    }

    #[test]
    fn unescape_handles_all_kernel_escapes_and_leaves_the_rest() {
        assert_eq!(unescape(r"/a\040b\011c\012d\134e"), "/a b\tc\nd\\e");
        assert_eq!(unescape(r"/x\09"), r"/x\09");
        assert_eq!(unescape(r"/end\"), r"/end\");
        assert_eq!(unescape(r"\400"), r"\400");
    }
}
