//! Hostile and careless input, end to end: names that are paths, deep nesting, agents that
//! are not installed, classes crm-lite does not run, monitors that would burn a core.
//! Each test runs the command the way an operator would and checks that it refuses (or
//! warns) with a located message, and that nothing was run or created.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary OCF root with one well-behaved agent, `ocf:test:ok`, a state directory for
/// `apply`, and a place for CIBs.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let agents = dir.path().join("ocf/resource.d/test");
        fs::create_dir_all(&agents).unwrap_or_else(|e| panic!("{e}"));
        script(
            &agents.join("ok"),
            "#!/bin/sh\ncase \"$1\" in\n  start) touch \"$OCF_RESKEY_state\" ;;\n  \
             stop) rm -f \"$OCF_RESKEY_state\" ;;\n  \
             monitor) [ -f \"$OCF_RESKEY_state\" ] || exit 7 ;;\n  \
             meta-data) echo '<resource-agent name=\"ok\"><parameters><parameter name=\"state\"/>\
             </parameters></resource-agent>' ;;\n  *) exit 3 ;;\nesac\nexit 0\n",
        );
        Lab { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A primitive of `ocf:test:<agent>` keeping its state in the lab.
    fn primitive(&self, id: &str, agent: &str) -> String {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="test" type="{agent}"><instance_attributes id="{id}-p"><nvpair id="{id}-s" name="state" value="{}"/></instance_attributes></primitive>"#,
            self.path(&format!("{id}.state")).display()
        )
    }

    /// Write a CIB with `nodes`, `resources` and `constraints`; returns its path.
    fn cib(&self, nodes: &str, resources: &str, constraints: &str) -> String {
        let p = self.path("cib.xml");
        fs::write(
            &p,
            format!(
                r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes>{nodes}</nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status/>
</cib>
"#
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        p.display().to_string()
    }

    fn crm_lite(&self) -> Command {
        let mut c = Command::cargo_bin("crm-lite").unwrap_or_else(|e| panic!("{e}"));
        c.env("OCF_ROOT", self.path("ocf"))
            .env("CRM_LITE_FENCE_DIR", self.path("sbin"));
        c
    }

    /// Run `crm-lite <args>`; exit code and stdout+stderr.
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self
            .crm_lite()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    fn apply(&self, cib: &str) -> (i32, String) {
        let state = self.path("state").display().to_string();
        self.run(&["apply", "--node", "node1", "--state-dir", &state, cib])
    }
}

fn script(path: &Path, body: &str) {
    fs::write(path, body).unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
}

const NODE1: &str = r#"<node id="1" uname="node1"/>"#;

#[test]
fn an_agent_type_that_is_a_path_is_refused_by_verify_and_apply_and_never_run() {
    let lab = Lab::new();
    // `<OCF_ROOT>/resource.d/test/../../evil` is `<OCF_ROOT>/evil`.
    let marker = lab.path("evil-ran");
    script(
        &lab.path("ocf/evil"),
        &format!("#!/bin/sh\ntouch {}\nexit 0\n", marker.display()),
    );
    let cib = lab.cib(NODE1, &lab.primitive("evil", "../../evil"), "");
    let (code, out) = lab.run(&["verify", &cib]);
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains(&format!(
            "error: {cib}:5:65: [evil] resource evil: type '../../evil' is not an agent name"
        )),
        "{out}"
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("type '../../evil' is not an agent name"),
        "{out}"
    );
    assert!(!marker.exists(), "the agent path was run: {out}");
    // The provider is checked as well.
    let cib = lab.cib(
        NODE1,
        r#"<primitive id="p" class="ocf" provider="../.." type="evil"/>"#,
        "",
    );
    let (code, out) = lab.run(&["verify", &cib]);
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("provider '../..' is not an agent name"),
        "{out}"
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 78, "{out}");
    assert!(!marker.exists(), "the agent path was run: {out}");
    // `simulate` runs nothing and schedules it as crm_simulate does.
    let (code, out) = lab.run(&["simulate", &cib]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_node_name_that_is_a_path_is_refused_and_nothing_is_created_outside() {
    let lab = Lab::new();
    for bad in ["../../etc", "a/b", "x..y"] {
        let cib = lab.cib(&format!(r#"<node id="1" uname="{bad}"/>"#), "", "");
        let (code, out) = lab.run(&["verify", &cib]);
        assert_eq!(code, 78, "{bad}: {out}");
        assert!(
            out.contains(&format!(
                "error: {cib}:4:25: [1] node name '{bad}' cannot be used"
            )),
            "{bad}: {out}"
        );
    }
    // An absolute name would replace crm-lite's directories (HA_RSCTMP under
    // /run/resource-agents, the attribute directory under the state directory) as a whole.
    let escaped = lab.path("escaped");
    let nodes = format!(
        r#"{NODE1}<node id="2" uname="{}"><instance_attributes id="n2"><nvpair id="n2-h" name="crm-lite-host" value="localhost"/></instance_attributes></node>"#,
        escaped.display()
    );
    let cib = lab.cib(&nodes, &lab.primitive("r", "ok"), "");
    for cmd in ["verify", "simulate"] {
        let (code, out) = lab.run(&[cmd, &cib]);
        assert_eq!(code, 78, "{cmd}: {out}");
    }
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("cannot be used"), "{out}");
    assert!(!escaped.exists(), "apply created {}", escaped.display());
    assert!(!lab.path("r.state").exists(), "apply started r: {out}");
    // This machine's own name, given with --node, is checked as well: a CIB that names
    // no node is applied to it.
    let cib = lab.cib("", &lab.primitive("r", "ok"), "");
    let state = lab.path("state").display().to_string();
    let bad = escaped.display().to_string();
    let (code, out) = lab.run(&["apply", "--node", &bad, "--state-dir", &state, &cib]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--node"), "{out}");
    assert!(!escaped.exists(), "apply created {}", escaped.display());
    assert!(!lab.path("r.state").exists(), "apply started r: {out}");
}

#[test]
fn a_resource_id_that_is_a_path_is_refused() {
    let lab = Lab::new();
    // Agents name files after the resource (`<attr dir>/master-<id>`).
    let cib = lab.cib(NODE1, &lab.primitive("x/../../escape", "ok"), "");
    for cmd in ["verify", "simulate"] {
        let (code, out) = lab.run(&[cmd, &cib]);
        assert_eq!(code, 78, "{cmd}: {out}");
        assert!(
            out.contains(&format!(
                "error: {cib}:5:27: [x/../../escape] resource id 'x/../../escape' is not a valid id"
            )),
            "{cmd}: {out}"
        );
    }
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 78, "{out}");
    assert!(!lab.path("escape.state").exists() && !lab.path("state/escape").exists());
}

/// A location constraint whose rule nests `depth` rules.
fn nested_rules(depth: usize) -> String {
    format!(
        r##"<rsc_location id="l" rsc="r"><rule id="r0" score="10">{}<expression id="x" attribute="#uname" operation="eq" value="node1"/>{}</rule></rsc_location>"##,
        (1..depth)
            .map(|i| format!(r#"<rule id="r{i}" boolean-op="and">"#))
            .collect::<String>(),
        "</rule>".repeat(depth - 1)
    )
}

#[test]
fn deep_nesting_is_a_located_error_in_every_command_not_a_stack_overflow() {
    let lab = Lab::new();
    let cib = lab.cib(NODE1, &lab.primitive("r", "ok"), &nested_rules(20_000));
    for cmd in ["verify", "simulate", "apply"] {
        let (code, out) = if cmd == "apply" {
            lab.apply(&cib)
        } else {
            lab.run(&[cmd, &cib])
        };
        assert_eq!(code, 78, "{cmd}: {out}");
        assert!(
            out.contains(&format!(
                "error: {cib}:6:8247: malformed xml: elements nested deeper than 256 levels"
            )),
            "{cmd}: {out}"
        );
    }
    assert!(!lab.path("r.state").exists());
    // Just inside the limit, every recursive walk (lowering, rule evaluation, writing the
    // state back) copes, on the main thread of a debug build.
    let cib = lab.cib(NODE1, &lab.primitive("r", "ok"), &nested_rules(250));
    for cmd in ["verify", "simulate"] {
        let (code, out) = lab.run(&[cmd, &cib]);
        assert_eq!(code, 0, "{cmd}: {out}");
    }
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(lab.path("r.state").exists(), "{out}");
}

#[test]
fn apply_refuses_a_resource_whose_agent_is_not_installed_naming_it() {
    let lab = Lab::new();
    let resources = format!(
        "{}{}",
        lab.primitive("r", "ok"),
        lab.primitive("gone", "absent")
    );
    let cib = lab.cib(NODE1, &resources, "");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains(&format!(
            "error: resource gone: agent ocf:test:absent is not installed ({})",
            lab.path("ocf/resource.d/test/absent").display()
        )),
        "{out}"
    );
    assert!(!out.contains("nothing to do"), "{out}");
    assert!(!lab.path("r.state").exists(), "apply ran something: {out}");
    // A fence agent too.
    let resources = format!(
        "{}{}",
        lab.primitive("r", "ok"),
        r#"<primitive id="fence" class="stonith" type="fence_absent"/>"#
    );
    let cib = lab.cib(NODE1, &resources, "");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("resource fence: agent stonith:fence_absent is not installed"),
        "{out}"
    );
}

#[test]
fn classes_crm_lite_does_not_run_are_unsupported_in_verify_and_apply() {
    let lab = Lab::new();
    for class in ["lsb", "systemd", "service"] {
        let cib = lab.cib(
            NODE1,
            &format!(r#"<primitive id="svc" class="{class}" type="cron"/>"#),
            "",
        );
        let (code, out) = lab.run(&["verify", &cib]);
        assert_eq!(code, 78, "{class}: {out}");
        assert!(
            out.contains(&format!(
                "error: {cib}:5:36: [svc] unsupported: resource class '{class}' of svc"
            )),
            "{class}: {out}"
        );
        let (code, out) = lab.apply(&cib);
        assert_eq!(code, 78, "{class}: {out}");
        assert!(out.contains("unsupported: resource class"), "{out}");
    }
}

#[test]
fn a_monitor_more_often_than_once_a_second_is_a_warning() {
    let lab = Lab::new();
    let fast = lab.primitive("r", "ok").replace(
        "</primitive>",
        r#"<operations><op id="r-mon" name="monitor" interval="500ms"/><op id="r-ok" name="monitor" interval="1s" role="Started" timeout="20s"/></operations></primitive>"#,
    );
    let cib = lab.cib(NODE1, &fast, "");
    let (code, out) = lab.run(&["verify", &cib]);
    assert_eq!(code, 0, "{out}");
    let warnings: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("more than once a second"))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "warning: {cib}:5:229: [r-mon] monitor of r every 500 ms runs the agent more than \
             once a second: use an interval of 1s or more"
        )
        .as_str()],
        "{out}"
    );
}
