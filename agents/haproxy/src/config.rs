//! The agent's parameters, declared once, their conversion into a checked [`Config`], and
//! what the agent reads from HAProxy's configuration file and from `haproxy -c`. Everything
//! here is pure: text in, values or a [`Failure`] out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ocf::{Failure, OcfEnv, ParamSpec, Params};

/// Where a bare `binary` name is looked for after `PATH`.
pub const SBIN_PATH: &str = "/usr/sbin:/usr/local/sbin:/sbin";

/// Options the agent sets itself, refused in `extra_args`.
pub const RESERVED_ARGS: &[&str] = &[
    "-D", "-W", "-Ws", "-db", "-S", "-p", "-sf", "-st", "-x", "-c", "-v", "-vv",
];

/// The parameter declarations: meta-data, validation and typed access all come from here.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::string("binary", "The haproxy executable")
        .long(
            "The haproxy program: a path, or a name looked up in PATH and then in /usr/sbin, \
             /usr/local/sbin and /sbin.",
        )
        .default("haproxy"),
    ParamSpec::string("config", "HAProxy configuration file")
        .long(
            "The configuration file, passed as -f. validate-all and reload check it with \
             haproxy -c first. A change of this parameter needs a restart (the master \
             re-executes itself with its original arguments on reload).",
        )
        .default("/etc/haproxy/haproxy.cfg")
        .unique(),
    ParamSpec::string("pidfile", "Where the agent records the master's pid")
        .long(
            "The file in which the agent records the pid of the HAProxy master process. \
             Default: $HA_RSCTMP/haproxy-<instance>.pid (HA_RSCTMP defaults to \
             /run/resource-agents). The master's own output (startup alerts, reload \
             notices) goes to the same path with the extension .log.",
        )
        .unique(),
    ParamSpec::string("stats_socket", "The stats socket (Unix path, level admin)")
        .long(
            "The Unix stats socket the agent talks to: start is done when it answers \
             'show info', monitor asks it 'show info' (depth 0) and 'show stat' (depth 10), \
             reload checks that the new worker answers on it. Declare it in the global \
             section as 'stats socket PATH mode 600 level admin expose-fd listeners'. \
             Default: the first stats socket with a Unix path in the configuration's global \
             section.",
        )
        .unique(),
    ParamSpec::string("master_socket", "The master CLI socket")
        .long(
            "The Unix socket of the master CLI (haproxy -S), through which the agent \
             reloads. Default: $HA_RSCTMP/haproxy-<instance>.master.sock.",
        )
        .unique(),
    ParamSpec::string("require_backends", "Backends that must have servers up").long(
        "Space- or comma-separated NAME:COUNT items: monitor depth 10 fails unless \
             backend NAME has at least COUNT servers UP (or without checks). A bare NAME \
             means NAME:1. Write NAME:COUNT when the name contains a colon. Example: \
             'mgmt:1 sunstone:2'.",
    ),
    ParamSpec::string("extra_args", "More haproxy arguments").long(
        "Extra arguments for haproxy, separated by spaces (no quoting), used for both \
             haproxy -c and the master: for example '-f /etc/haproxy/conf.d -L node1'. \
             The agent sets -W, -db, -S and -f itself; -D, -W, -Ws, -db, -S, -p, -sf, -st, \
             -x and -c are refused.",
    ),
];

/// A backend that must have servers up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendNeed {
    /// The backend (or listen section) name.
    pub backend: String,
    /// How many servers must be up.
    pub min_up: u32,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The haproxy program as given (a path or a name).
    pub binary: String,
    /// The configuration file.
    pub config: PathBuf,
    /// The master's pid file.
    pub pidfile: PathBuf,
    /// The stats socket, when given; otherwise it is read from the configuration.
    pub stats_socket: Option<PathBuf>,
    /// The master CLI socket.
    pub master_socket: PathBuf,
    /// Backends checked at depth 10.
    pub require: Vec<BackendNeed>,
    /// Extra haproxy arguments.
    pub extra_args: Vec<String>,
}

impl Config {
    /// The pid file; never fails (stop and probes need it on any node).
    pub fn pidfile(params: &Params, env: &OcfEnv) -> PathBuf {
        match params.str("pidfile") {
            Some(p) => PathBuf::from(p),
            None => ocf::service::runtime_file(env, "haproxy", ".pid"),
        }
    }

    /// The master CLI socket; never fails.
    pub fn master_socket(params: &Params, env: &OcfEnv) -> PathBuf {
        match params.str("master_socket") {
            Some(p) => PathBuf::from(p),
            None => ocf::service::runtime_file(env, "haproxy", ".master.sock"),
        }
    }

    /// Where the master's standard output and error go: the pid file's path with `.log`.
    pub fn log_file(&self) -> PathBuf {
        self.pidfile.with_extension("log")
    }

    /// Check everything that can be checked without looking at this host.
    pub fn from_params(params: &Params, env: &OcfEnv) -> Result<Config, Failure> {
        let binary = params.str("binary").unwrap_or("haproxy").to_string();
        if binary.trim().is_empty() {
            return Err(Failure::configured("parameter binary is empty"));
        }
        let config = PathBuf::from(params.str("config").unwrap_or("/etc/haproxy/haproxy.cfg"));
        let master_socket = Config::master_socket(params, env);
        let stats_socket = params.str("stats_socket").map(PathBuf::from);
        for (name, path) in [
            ("config", Some(&config)),
            ("master_socket", Some(&master_socket)),
            ("stats_socket", stats_socket.as_ref()),
        ] {
            if let Some(p) = path.filter(|p| !p.is_absolute()) {
                return Err(Failure::configured(format!(
                    "parameter {name} must be an absolute path, not {}",
                    p.display()
                )));
            }
        }
        // -S takes comma-separated bind options after the path.
        if master_socket.to_string_lossy().contains([',', ' ']) {
            return Err(Failure::configured(format!(
                "parameter master_socket {} must not contain commas or spaces",
                master_socket.display()
            )));
        }
        if stats_socket.as_ref() == Some(&master_socket) {
            return Err(Failure::configured(
                "parameters stats_socket and master_socket name the same socket",
            ));
        }
        let require = parse_require_backends(params.str("require_backends").unwrap_or(""))
            .map_err(|e| Failure::configured(format!("parameter require_backends: {e}")))?;
        let extra_args = parse_extra_args(params.str("extra_args").unwrap_or(""))
            .map_err(|e| Failure::configured(format!("parameter extra_args: {e}")))?;
        Ok(Config {
            binary,
            config,
            pidfile: Config::pidfile(params, env),
            stats_socket,
            master_socket,
            require,
            extra_args,
        })
    }

    /// The master's arguments: master-worker mode in the foreground (whatever the
    /// configuration says about `daemon`), with its CLI on `master_socket`.
    pub fn master_args(&self) -> Vec<String> {
        let mut args = vec![
            "-W".to_string(),
            "-db".to_string(),
            "-S".to_string(),
            format!("{},mode,600", self.master_socket.display()),
            "-f".to_string(),
            self.config.display().to_string(),
        ];
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The arguments of the configuration check.
    pub fn check_args(&self) -> Vec<String> {
        let mut args = vec![
            "-c".to_string(),
            "-f".to_string(),
            self.config.display().to_string(),
        ];
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Whether more configuration comes from elsewhere than `config` (an extra `-f`), so
    /// that the file alone does not tell every socket and backend.
    pub fn has_more_files(&self) -> bool {
        self.extra_args.iter().any(|a| a == "-f")
    }
}

/// Parse `require_backends`: `NAME[:COUNT]` items separated by spaces or commas.
pub fn parse_require_backends(text: &str) -> Result<Vec<BackendNeed>, String> {
    let mut needs: Vec<BackendNeed> = Vec::new();
    for item in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let (name, min_up) = match item.rsplit_once(':') {
            Some((name, count)) => match count.parse::<u32>() {
                Ok(n) => (name, n),
                Err(_) => {
                    return Err(format!(
                        "{item:?}: expected NAME:COUNT with a whole number COUNT"
                    ));
                }
            },
            None => (item, 1),
        };
        if name.is_empty() {
            return Err(format!("{item:?}: the backend name is empty"));
        }
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !valid {
            return Err(format!(
                "{item:?}: backend names use letters, digits, '-', '_', '.' and ':'"
            ));
        }
        if needs.iter().any(|n| n.backend == name) {
            return Err(format!("backend {name} is listed twice"));
        }
        needs.push(BackendNeed {
            backend: name.to_string(),
            min_up,
        });
    }
    Ok(needs)
}

/// Split `extra_args` on whitespace and refuse the options the agent sets itself.
pub fn parse_extra_args(text: &str) -> Result<Vec<String>, String> {
    let args: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if let Some(bad) = args.iter().find(|a| RESERVED_ARGS.contains(&a.as_str())) {
        return Err(format!(
            "{bad} is set by the agent (it runs haproxy -W -db -S master_socket -f config)"
        ));
    }
    Ok(args)
}

/// A `stats socket` line of the global section with a Unix path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// The socket's path.
    pub path: PathBuf,
    /// `level admin`.
    pub admin: bool,
    /// `expose-fd listeners`.
    pub expose_fd: bool,
}

/// What the agent needs to know from a configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFacts {
    /// Unix stats sockets of the global section, in order.
    pub stats_sockets: Vec<StatsSocket>,
    /// Names of `backend` and `listen` sections.
    pub backends: BTreeSet<String>,
    /// The global `server-state-file`, resolved against `server-state-base` (or `/`, the
    /// master's working directory): where servers' states survive a reload.
    pub server_state_file: Option<PathBuf>,
}

/// Section keywords of HAProxy 2.6's configuration language.
const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
];

/// Strip a comment: `#` at the start of a word, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Read the global section's Unix stats sockets and the backend names from a
/// configuration file's text. Only what the agent needs; HAProxy itself validates the rest.
pub fn scan_config(text: &str) -> ConfigFacts {
    let mut facts = ConfigFacts::default();
    let mut section = "";
    let (mut state_file, mut state_base) = (None, None);
    for raw in text.lines() {
        let words: Vec<&str> = strip_comment(raw).split_whitespace().collect();
        let Some(first) = words.first() else {
            continue;
        };
        if SECTIONS.contains(first) {
            section = SECTIONS.iter().find(|s| *s == first).copied().unwrap_or("");
            if matches!(section, "backend" | "listen") {
                if let Some(name) = words.get(1) {
                    facts.backends.insert((*name).to_string());
                }
            }
            continue;
        }
        if section == "global" && words.len() >= 2 {
            match words[0] {
                "server-state-file" => state_file = Some(unquote(words[1])),
                "server-state-base" => state_base = Some(unquote(words[1])),
                _ => {}
            }
        }
        if section != "global" || words.len() < 3 || words[0] != "stats" || words[1] != "socket" {
            continue;
        }
        let addr = words[2].strip_prefix("unix@").unwrap_or(words[2]);
        if !addr.starts_with('/') {
            continue;
        }
        let opts = &words[3..];
        let has_pair = |k: &str, v: &str| opts.windows(2).any(|w| w[0] == k && w[1] == v);
        facts.stats_sockets.push(StatsSocket {
            path: PathBuf::from(addr),
            admin: has_pair("level", "admin"),
            expose_fd: has_pair("expose-fd", "listeners"),
        });
    }
    facts.server_state_file = state_file.map(|f| {
        let base = PathBuf::from(state_base.unwrap_or_else(|| "/".to_string()));
        base.join(f)
    });
    facts
}

fn unquote(word: &str) -> String {
    word.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Decide which stats socket to use: the parameter when given (with a warning when the
/// file does not declare it), else the file's first Unix stats socket.
pub fn choose_stats_socket(
    given: Option<&Path>,
    facts: Option<&ConfigFacts>,
    config: &Path,
) -> Result<(PathBuf, Vec<String>), Failure> {
    let mut warnings = Vec::new();
    let declared = |p: &Path| facts.and_then(|f| f.stats_sockets.iter().find(|s| s.path == p));
    let chosen = match given {
        Some(p) => {
            if facts.is_some() && declared(p).is_none() {
                warnings.push(format!(
                    "{} declares no stats socket {}; start waits for it to answer",
                    config.display(),
                    p.display()
                ));
            }
            p.to_path_buf()
        }
        None => match facts.and_then(|f| f.stats_sockets.first()) {
            Some(s) => s.path.clone(),
            None => {
                return Err(Failure::configured(format!(
                    "{} declares no stats socket with a Unix path in its global section; add \
                     'stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd \
                     listeners' or set stats_socket",
                    config.display()
                )));
            }
        },
    };
    if let Some(s) = declared(&chosen) {
        if !s.admin {
            warnings.push(format!(
                "stats socket {} is not 'level admin'",
                chosen.display()
            ));
        }
    }
    Ok((chosen, warnings))
}

/// Check that every required backend is defined in the configuration file.
pub fn check_backends_declared(needs: &[BackendNeed], facts: &ConfigFacts) -> Result<(), String> {
    let missing: Vec<&str> = needs
        .iter()
        .map(|n| n.backend.as_str())
        .filter(|b| !facts.backends.contains(*b))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "require_backends names {}, which the configuration does not define as backend or \
             listen",
            missing.join(", ")
        ))
    }
}

/// The message of a log line such as `[ALERT]    (4151) : config : parsing [x.cfg:3] : ...`
/// when it has the given severity: the text after the tag, the pid and a leading
/// `config : `.
fn message_of<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(tag)?.trim_start();
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')').map_or(r, |(_, after)| after).trim_start(),
        None => rest,
    };
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    Some(rest.strip_prefix("config : ").unwrap_or(rest).trim_end())
}

/// HAProxy's `[ALERT]` messages in some output, in order.
pub fn alerts(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| message_of(l, "[ALERT]"))
        .filter(|m| !m.is_empty())
        .collect()
}

/// HAProxy's `[WARNING]` messages (first line of each).
pub fn warnings(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| message_of(l, "[WARNING]"))
        .filter(|m| !m.is_empty())
        .collect()
}

/// The longest reason the agent quotes from HAProxy.
const MAX_REASON: usize = 600;

/// HAProxy's first alert as the reason, passing over the generic trailers ("Fatal errors
/// found in configuration.") when something more specific was said. Only the first: a
/// file that is not a configuration (`extra_args` can name any file) gives one alert per
/// line, each quoting that line, and the reason is recorded where others read it.
pub fn alerts_reason(output: &str) -> Option<String> {
    let all = alerts(output);
    let generic = |m: &&str| {
        m.starts_with("Error(s) found in configuration file")
            || m.starts_with("Fatal errors found in configuration")
    };
    let first = all
        .iter()
        .copied()
        .find(|m| !generic(m))
        .or_else(|| all.first().copied())?;
    let mut reason = first.to_owned();
    if reason.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push_str(" ...");
    }
    Some(reason)
}

/// Why `haproxy -c` failed, in one line: its first specific alert, else the last line it
/// printed.
pub fn check_failure_reason(output: &str) -> String {
    alerts_reason(output).unwrap_or_else(|| {
        output
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no output")
            .chars()
            .take(MAX_REASON)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::OcfExit;

    fn params(pairs: &[(&str, &str)]) -> Params {
        ocf::fake::params(PARAMS, pairs)
    }

    #[test]
    fn defaults_follow_ha_rsctmp_and_the_instance() {
        let env = OcfEnv::from_vars([("HA_RSCTMP", "/tmp/rsc"), ("OCF_RESOURCE_INSTANCE", "lb:0")]);
        let c = Config::from_params(&params(&[]), &env).unwrap();
        assert_eq!(c.binary, "haproxy");
        assert_eq!(c.config, PathBuf::from("/etc/haproxy/haproxy.cfg"));
        assert_eq!(c.pidfile, PathBuf::from("/tmp/rsc/haproxy-lb_0.pid"));
        assert_eq!(c.log_file(), PathBuf::from("/tmp/rsc/haproxy-lb_0.log"));
        assert_eq!(
            c.master_socket,
            PathBuf::from("/tmp/rsc/haproxy-lb_0.master.sock")
        );
        assert_eq!(c.stats_socket, None);
        assert_eq!(
            c.master_args(),
            vec![
                "-W",
                "-db",
                "-S",
                "/tmp/rsc/haproxy-lb_0.master.sock,mode,600",
                "-f",
                "/etc/haproxy/haproxy.cfg"
            ]
        );
        let env = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "web")]);
        assert_eq!(
            Config::pidfile(&params(&[]), &env),
            PathBuf::from("/run/resource-agents/haproxy-web.pid")
        );
    }

    #[test]
    fn extra_args_reach_both_the_check_and_the_master() {
        let env = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "web")]);
        let c = Config::from_params(
            &params(&[
                ("config", "/etc/lb.cfg"),
                ("extra_args", " -f /etc/haproxy/conf.d   -L node1 "),
            ]),
            &env,
        )
        .unwrap();
        assert_eq!(
            c.check_args(),
            vec![
                "-c",
                "-f",
                "/etc/lb.cfg",
                "-f",
                "/etc/haproxy/conf.d",
                "-L",
                "node1"
            ]
        );
        assert!(c.master_args().ends_with(&[
            "-f".to_string(),
            "/etc/haproxy/conf.d".into(),
            "-L".into(),
            "node1".into()
        ]));
        assert!(c.has_more_files());
    }

    #[test]
    fn bad_parameters_are_configuration_errors_naming_the_parameter() {
        let env = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "web")]);
        for (pairs, needle) in [
            (vec![("extra_args", "-D")], "-D is set by the agent"),
            (vec![("extra_args", "-L a -sf 12")], "-sf"),
            (
                vec![("config", "haproxy.cfg")],
                "config must be an absolute path",
            ),
            (vec![("stats_socket", "admin.sock")], "stats_socket must be"),
            (vec![("master_socket", "/run/a,b.sock")], "commas"),
            (
                vec![("master_socket", "/s.sock"), ("stats_socket", "/s.sock")],
                "same socket",
            ),
            (vec![("require_backends", "mgmt:x")], "require_backends"),
            (vec![("binary", " ")], "binary is empty"),
        ] {
            let e = Config::from_params(&params(&pairs), &env).unwrap_err();
            assert_eq!(e.exit(), OcfExit::ErrConfigured, "{pairs:?}");
            assert!(e.reason().contains(needle), "{pairs:?}: {}", e.reason());
        }
    }

    #[test]
    fn required_backends_parse_with_counts_and_defaults() {
        let needs = parse_require_backends("mgmt:1, api:2 web\tstats:0 ns:be:3").unwrap();
        let got: Vec<(&str, u32)> = needs
            .iter()
            .map(|n| (n.backend.as_str(), n.min_up))
            .collect();
        assert_eq!(
            got,
            vec![
                ("mgmt", 1),
                ("api", 2),
                ("web", 1),
                ("stats", 0),
                ("ns:be", 3)
            ]
        );
        assert!(parse_require_backends("").unwrap().is_empty());
        assert!(parse_require_backends("a:-1").is_err());
        assert!(parse_require_backends(":2").unwrap_err().contains("empty"));
        assert!(
            parse_require_backends("a/b")
                .unwrap_err()
                .contains("letters")
        );
        assert!(
            parse_require_backends("a a:2")
                .unwrap_err()
                .contains("twice")
        );
    }

    const CFG: &str = "\
# a comment
global
    log /dev/log local0
    stats socket ipv4@127.0.0.1:9999 level admin
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners # seamless
    stats socket unix@/run/haproxy/user.sock level user
    #stats socket /run/haproxy/old.sock
    stats timeout 30s
defaults
    mode http
frontend fe
    bind 127.0.0.1:80
    stats socket /not/in/global.sock
    default_backend mgmt
backend mgmt
    server a 127.0.0.1:8080 check
listen stats # the stats page
    bind 127.0.0.1:8404
backend  api  # two spaces
";

    #[test]
    fn the_config_scan_finds_unix_stats_sockets_and_backends() {
        let f = scan_config(CFG);
        assert_eq!(
            f.stats_sockets,
            vec![
                StatsSocket {
                    path: "/run/haproxy/admin.sock".into(),
                    admin: true,
                    expose_fd: true
                },
                StatsSocket {
                    path: "/run/haproxy/user.sock".into(),
                    admin: false,
                    expose_fd: false
                },
            ]
        );
        let names: Vec<&str> = f.backends.iter().map(String::as_str).collect();
        assert_eq!(names, vec!["api", "mgmt", "stats"]);
        assert_eq!(
            strip_comment("http-request set-header X \"#1\" # c"),
            "http-request set-header X \"#1\" "
        );
    }

    #[test]
    fn the_server_state_file_is_resolved_against_its_base() {
        let f = scan_config("global\n    server-state-file /var/lib/haproxy/state\n");
        assert_eq!(
            f.server_state_file,
            Some(PathBuf::from("/var/lib/haproxy/state"))
        );
        let f = scan_config(
            "global\n    server-state-base /var/lib/haproxy\n    server-state-file \"lb\"\n",
        );
        assert_eq!(
            f.server_state_file,
            Some(PathBuf::from("/var/lib/haproxy/lb"))
        );
        let f =
            scan_config("global\n    server-state-file st\nbackend b\n    server-state-file x\n");
        assert_eq!(f.server_state_file, Some(PathBuf::from("/st")));
        assert_eq!(scan_config(CFG).server_state_file, None);
    }

    #[test]
    fn the_stats_socket_comes_from_the_parameter_or_the_file() {
        let f = scan_config(CFG);
        let cfg = Path::new("/etc/haproxy/haproxy.cfg");
        let (p, w) = choose_stats_socket(None, Some(&f), cfg).unwrap();
        assert_eq!(p, PathBuf::from("/run/haproxy/admin.sock"));
        assert!(w.is_empty());
        let (p, w) =
            choose_stats_socket(Some(Path::new("/run/haproxy/user.sock")), Some(&f), cfg).unwrap();
        assert_eq!(p, PathBuf::from("/run/haproxy/user.sock"));
        assert!(w[0].contains("not 'level admin'"), "{w:?}");
        let (_, w) =
            choose_stats_socket(Some(Path::new("/elsewhere.sock")), Some(&f), cfg).unwrap();
        assert!(
            w[0].contains("declares no stats socket /elsewhere.sock"),
            "{w:?}"
        );
        let e = choose_stats_socket(None, Some(&scan_config("global\n")), cfg).unwrap_err();
        assert_eq!(e.exit(), OcfExit::ErrConfigured);
        assert!(e.reason().contains("set stats_socket"), "{}", e.reason());
        assert!(choose_stats_socket(None, None, cfg).is_err());
    }

    #[test]
    fn required_backends_must_be_defined() {
        let f = scan_config(CFG);
        let needs = parse_require_backends("mgmt stats:1").unwrap();
        assert!(check_backends_declared(&needs, &f).is_ok());
        let needs = parse_require_backends("mgmt web fe").unwrap();
        let e = check_backends_declared(&needs, &f).unwrap_err();
        assert!(e.contains("names web, fe"), "{e}");
    }

    #[test]
    fn a_failed_check_is_explained_by_haproxys_own_alerts() {
        let out = include_str!("../testdata/check_unknown_keyword.txt");
        assert_eq!(
            check_failure_reason(out),
            "parsing [bad.cfg:17] : unknown keyword 'bogus_keyword' in 'backend' section"
        );
        let out = include_str!("../testdata/check_missing_file.txt");
        assert_eq!(
            check_failure_reason(out),
            "Cannot open configuration file/directory /nonexistent.cfg : No such file or directory"
        );
        assert_eq!(
            check_failure_reason(
                "[ALERT]    (1) : config : Fatal errors found in configuration.\n"
            ),
            "Fatal errors found in configuration."
        );
        assert_eq!(check_failure_reason("\nsegfault\n\n"), "segfault");
        // A file that is no configuration at all: only its first line is quoted.
        let out = include_str!("../testdata/check_other_file.txt");
        assert_eq!(
            check_failure_reason(out),
            "parsing [/etc/secrets.txt:1]: unknown keyword \
             'root:$6$secrethash:19000:0:99999:7:::' out of section."
        );
        assert_eq!(check_failure_reason(""), "no output");
        let long = format!("[ALERT] (1) : {}\n", "é".repeat(400));
        assert!(check_failure_reason(&long).ends_with(" ..."));
    }

    #[test]
    fn warnings_of_a_valid_config_are_read_too() {
        let out = include_str!("../testdata/check_warnings_valid.txt");
        assert_eq!(warnings(out), vec!["missing timeouts for frontend 'f'."]);
        assert!(alerts(out).is_empty());
    }
}
