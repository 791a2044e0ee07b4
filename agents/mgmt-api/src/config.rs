//! The agent's parameters, declared once, and their conversion into a checked [`Config`].
//! Everything here is pure: text in, values or a [`Failure`] out.

use std::path::PathBuf;

use ocf::http::HttpUrl;
use ocf::{Failure, OcfEnv, ParamSpec, Params};

/// The parameter declarations: meta-data, validation and typed access all come from here.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::string("command", "The service's command line")
        .long(
            "The program and its arguments, executed directly without a shell. Words are \
             separated by spaces; single and double quotes group words, a backslash escapes \
             the next character. The program must stay in the foreground (not daemonize).",
        )
        .required()
        .unique(),
    ParamSpec::string("user", "Run the service as this user")
        .long("The service runs as this user, with its primary and supplementary groups. Default: the agent's user."),
    ParamSpec::string("workdir", "Working directory")
        .long("The service's working directory. Default: /."),
    ParamSpec::string("env_file", "File of environment variables")
        .long(
            "A file of KEY=VALUE lines (blank lines and # comments allowed, values may be \
             quoted, an 'export ' prefix is accepted) added to the service's environment. \
             The agent's own OCF_*, HA_*, PCMK_* and CRM_* variables are never passed on.",
        ),
    ParamSpec::string("pidfile", "Where the agent records the service's pid")
        .long(
            "The file in which the agent records the pid of the service it started. \
             Default: $HA_RSCTMP/mgmt-api-<instance>.pid (HA_RSCTMP defaults to \
             /run/resource-agents).",
        )
        .unique(),
    ParamSpec::string("log_file", "File for the service's output")
        .long("Standard output and error of the service are appended here. Default: discarded."),
    ParamSpec::string("health_url", "Health-check URL")
        .long(
            "An http:// or https:// URL on loopback or on this node's address. Start waits \
             until it answers with expect_status; monitor at depth 10 checks the status and \
             at depth 20 also the body against expect_body. An https server's certificate \
             is verified (trusted CA, validity dates, the URL's host name) against health_ca.",
        ),
    ParamSpec::string("health_ca", "CA certificates for an https health_url")
        .long(
            "A PEM file of the CA certificates to trust for an https:// health_url. \
             Default: the system's CAs (/etc/ssl/certs).",
        ),
    ParamSpec::integer("expect_status", "Expected HTTP status")
        .range(Some(100), Some(599))
        .default("200"),
    ParamSpec::string("expect_body", "Regular expression the body must match")
        .long("Checked at monitor depth 20 and during start. Default: any body."),
    ParamSpec::integer("slow_ms", "Degraded when the health check is slower than this")
        .long(
            "A health check that passes but takes longer than this many milliseconds makes \
             monitor report degraded (190) instead of success. 0 disables it.",
        )
        .range(Some(0), None)
        .default("0"),
];

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Run as.
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<PathBuf>,
    /// Environment file.
    pub env_file: Option<PathBuf>,
    /// The pid file.
    pub pidfile: PathBuf,
    /// The output log.
    pub log_file: Option<PathBuf>,
    /// The health check.
    pub health: Option<Health>,
    /// Degraded threshold, if any.
    pub slow_ms: Option<u64>,
}

/// The health check.
#[derive(Debug, Clone)]
pub struct Health {
    /// The URL.
    pub url: HttpUrl,
    /// The status it must answer with.
    pub expect_status: u16,
    /// What the body must match.
    pub expect_body: Option<regex_lite::Regex>,
}

impl Config {
    /// The parts of the configuration that stop and monitor need, which never fail: where
    /// the pid file is. (A probe on a node without the software must still answer 7.)
    pub fn pidfile(params: &Params, env: &OcfEnv) -> PathBuf {
        match params.str("pidfile") {
            Some(p) => PathBuf::from(p),
            None => ocf::service::runtime_file(env, "mgmt-api", ".pid"),
        }
    }

    /// Check everything that can be checked without looking at this host.
    pub fn from_params(params: &Params, env: &OcfEnv) -> Result<Config, Failure> {
        let command = params
            .str("command")
            .ok_or_else(|| Failure::configured("required parameter command is not set"))?;
        let argv = split_command(command)
            .map_err(|e| Failure::configured(format!("parameter command: {e}")))?;
        if argv.is_empty() {
            return Err(Failure::configured("parameter command is empty"));
        }
        let health = match params.str("health_url") {
            None => None,
            Some(u) => Some(Health {
                url: {
                    let mut url = HttpUrl::parse(u).map_err(|e| {
                        Failure::configured(format!("parameter health_url {u:?} is malformed: {e}"))
                    })?;
                    url.ca_file = params.str("health_ca").map(PathBuf::from);
                    if url.ca_file.is_some() && !url.https {
                        return Err(Failure::configured(
                            "parameter health_ca needs an https:// health_url",
                        ));
                    }
                    url
                },
                expect_status: params
                    .int("expect_status")
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(200),
                expect_body: params
                    .str("expect_body")
                    .map(|re| {
                        regex_lite::Regex::new(re).map_err(|e| {
                            Failure::configured(format!(
                                "parameter expect_body is not a valid regular expression: {e}"
                            ))
                        })
                    })
                    .transpose()?,
            }),
        };
        if health.is_none() && params.str("expect_body").is_some() {
            return Err(Failure::configured(
                "parameter expect_body needs health_url",
            ));
        }
        Ok(Config {
            argv,
            user: params.str("user").map(str::to_string),
            workdir: params.str("workdir").map(PathBuf::from),
            env_file: params.str("env_file").map(PathBuf::from),
            pidfile: Config::pidfile(params, env),
            log_file: params.str("log_file").map(PathBuf::from),
            health,
            slow_ms: params
                .int("slow_ms")
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0),
        })
    }
}

/// Split a command line into words like a shell would, without any expansion: spaces
/// separate words, quotes group them, a backslash escapes the next character (inside
/// double quotes only before `"` and `\`).
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parse an environment file: `KEY=VALUE` lines, blank lines and `#` comments, an optional
/// `export ` prefix, values optionally in single or double quotes. Errors name the line.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", n + 1));
        };
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("line {}: invalid variable name {key:?}", n + 1));
        }
        let value = value.trim();
        let value = match split_command(value) {
            Ok(words) if value.starts_with(['"', '\'']) && words.len() == 1 => {
                words.into_iter().next().unwrap_or_default()
            }
            Ok(_) if value.starts_with(['"', '\'']) => {
                return Err(format!("line {}: text after the closing quote", n + 1));
            }
            Err(e) if value.starts_with(['"', '\'']) => {
                return Err(format!("line {}: {e}", n + 1));
            }
            _ => value.to_string(),
        };
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        ocf::fake::params(PARAMS, pairs)
    }

    #[test]
    fn commands_split_like_a_shell_without_expansion() {
        assert_eq!(
            split_command(r#"/usr/bin/python3 -m http.server  8080 --bind '127.0.0.1'"#).unwrap(),
            vec![
                "/usr/bin/python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            split_command(r#"a "b c" d\ e 'f"g' "h\"i" $HOME"#).unwrap(),
            vec!["a", "b c", "d e", "f\"g", "h\"i", "$HOME"]
        );
        assert_eq!(split_command(r#"x """#).unwrap(), vec!["x", ""]);
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
        assert!(split_command("a \\").is_err());
        assert!(split_command("   ").unwrap().is_empty());
    }

    #[test]
    fn env_files_accept_comments_export_and_quotes_and_name_bad_lines() {
        let vars =
            parse_env_file("# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\nD=plain value\n")
                .unwrap();
        assert_eq!(
            vars,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into()),
                ("D".into(), "plain value".into()),
            ]
        );
        assert_eq!(
            parse_env_file("A=1\nnot a line\n").unwrap_err(),
            "line 2: expected KEY=VALUE"
        );
        assert!(
            parse_env_file("1A=x")
                .unwrap_err()
                .contains("invalid variable name")
        );
        assert!(parse_env_file("A=\"open").unwrap_err().contains("line 1"));
        assert!(
            parse_env_file("A=\"x\" y")
                .unwrap_err()
                .contains("after the closing quote")
        );
    }

    #[test]
    fn config_checks_command_url_and_regex() {
        let env = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "api:1")]);
        let c = Config::from_params(
            &params(&[
                ("command", "/bin/srv --port 1"),
                ("health_url", "http://127.0.0.1:1/health"),
                ("expect_body", "^ok"),
                ("slow_ms", "250"),
            ]),
            &env,
        )
        .unwrap();
        assert_eq!(c.argv, vec!["/bin/srv", "--port", "1"]);
        assert_eq!(
            c.pidfile,
            PathBuf::from("/run/resource-agents/mgmt-api-api_1.pid")
        );
        assert_eq!(c.slow_ms, Some(250));
        let h = c.health.unwrap();
        assert_eq!(h.expect_status, 200);
        assert!(h.expect_body.unwrap().is_match("ok\n"));

        for (pairs, needle) in [
            (vec![], "command is not set"),
            (vec![("command", "  ")], "command is empty"),
            (vec![("command", "x 'y")], "unterminated"),
            (
                vec![("command", "x"), ("health_url", "ftp://h/")],
                "health_url",
            ),
            (
                vec![("command", "x"), ("health_url", "127.0.0.1:80")],
                "malformed",
            ),
            (
                vec![
                    ("command", "x"),
                    ("health_url", "http://h/"),
                    ("expect_body", "("),
                ],
                "expect_body",
            ),
            (
                vec![("command", "x"), ("expect_body", "ok")],
                "needs health_url",
            ),
        ] {
            let e = Config::from_params(&params(&pairs), &env).unwrap_err();
            assert_eq!(e.exit(), ocf::OcfExit::ErrConfigured, "{pairs:?}");
            assert!(e.reason().contains(needle), "{pairs:?}: {}", e.reason());
        }
    }

    #[test]
    fn pidfile_follows_ha_rsctmp() {
        let env = OcfEnv::from_vars([("HA_RSCTMP", "/tmp/rsc"), ("OCF_RESOURCE_INSTANCE", "web")]);
        assert_eq!(
            Config::pidfile(&params(&[]), &env),
            PathBuf::from("/tmp/rsc/mgmt-api-web.pid")
        );
        assert_eq!(
            Config::pidfile(&params(&[("pidfile", "/x.pid")]), &env),
            PathBuf::from("/x.pid")
        );
    }
}
