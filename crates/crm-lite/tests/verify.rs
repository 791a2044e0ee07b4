//! `crm-lite verify` end to end: exit codes, output lines, stdin, agent meta-data checks.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;

const VALID: &str = r#"<cib admin_epoch="0" epoch="3" num_updates="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="o">
        <nvpair id="o-fencing" name="fencing-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="ip" class="ocf" provider="test" type="IP">
        <instance_attributes id="ip-params"><nvpair id="ip-ip" name="ip" value="192.0.2.1"/></instance_attributes>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#;

fn crm_lite(ocf_root: &Path) -> Command {
    let mut c = Command::cargo_bin("crm-lite").unwrap_or_else(|e| panic!("{e}"));
    c.env("OCF_ROOT", ocf_root);
    c
}

/// An OCF_ROOT with one agent, `test:IP`, whose meta-data requires `ip`.
fn ocf_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let agents = dir.path().join("resource.d/test");
    fs::create_dir_all(&agents).unwrap_or_else(|e| panic!("{e}"));
    let agent = agents.join("IP");
    fs::write(
        &agent,
        "#!/bin/sh\ncat <<'X'\n<?xml version=\"1.0\"?>\n<resource-agent name=\"IP\"><parameters>\
         <parameter name=\"ip\" required=\"1\"/><parameter name=\"nic\"/></parameters>\
         <actions><action name=\"start\"/></actions></resource-agent>\nX\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(&agent, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p.display().to_string()
}

#[test]
fn valid_cib_exits_zero_without_output() {
    let root = ocf_root();
    let f = write(root.path(), "cib.xml", VALID);
    crm_lite(root.path())
        .args(["verify", &f])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn invalid_cib_exits_78_with_located_error_lines() {
    let root = ocf_root();
    let text = VALID.replace(
        "<constraints/>",
        "<constraints><rsc_order id=\"o1\" first=\"ip\" then=\"ghost\"/></constraints>",
    );
    let f = write(root.path(), "cib.xml", &text);
    let out = crm_lite(root.path())
        .args(["verify", &f])
        .assert()
        .code(78)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("error: {f}:14:48: [o1] constraint o1 references missing resource ghost\n")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration invalid"));
}

#[test]
fn warnings_alone_keep_exit_zero() {
    let root = ocf_root();
    let text = VALID.replace("value=\"false\"", "value=\"true\"");
    let f = write(root.path(), "cib.xml", &text);
    let out = crm_lite(root.path())
        .args(["verify", &f])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("warning: "), "{stdout}");
    assert!(
        stdout.contains("fencing is enabled but no fencing device"),
        "{stdout}"
    );
}

#[test]
fn dash_reads_standard_input() {
    let root = ocf_root();
    let out = crm_lite(root.path())
        .args(["verify", "-"])
        .write_stdin("<cib><configuration>")
        .assert()
        .code(78)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("error: -:1:"), "{stdout}");
}

#[test]
fn unreadable_file_is_an_error_not_an_invalid_cib() {
    let root = ocf_root();
    let out = crm_lite(root.path())
        .args(["verify", "/nonexistent/cib.xml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to read CIB from /nonexistent/cib.xml"),
        "{stderr}"
    );
}

#[test]
fn agent_parameters_are_checked_against_installed_meta_data() {
    let root = ocf_root();
    let text = VALID.replace("name=\"ip\" value", "name=\"nick\" value");
    let f = write(root.path(), "cib.xml", &text);
    let out = crm_lite(root.path())
        .args(["verify", &f])
        .assert()
        .code(78)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[ip] resource ip lacks parameter ip required by ocf:test:IP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[ip-ip] ocf:test:IP has no parameter nick"),
        "{stdout}"
    );
    crm_lite(root.path())
        .args(["verify", "--no-agent-check", &f])
        .assert()
        .success();
}

#[test]
fn agents_that_are_not_installed_are_not_checked() {
    let root = ocf_root();
    let text = VALID.replace("provider=\"test\"", "provider=\"elsewhere\"");
    let f = write(root.path(), "cib.xml", &text);
    crm_lite(root.path())
        .args(["verify", &f])
        .assert()
        .success();
}

#[test]
fn live_reads_the_cib_from_cibadmin() {
    let root = ocf_root();
    let bin = root.path().join("bin");
    fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let cibadmin = bin.join("cibadmin");
    let text = VALID.replace(
        "<constraints/>",
        "<constraints><rsc_order id=\"o1\" first=\"ip\" then=\"ghost\"/></constraints>",
    );
    fs::write(
        &cibadmin,
        format!("#!/bin/sh\n[ \"$1\" = -Q ] || exit 64\ncat <<'X'\n{text}X\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(&cibadmin, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = crm_lite(root.path())
        .env("PATH", path)
        .args(["verify", "--live"])
        .assert()
        .code(78)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .starts_with("error: live:14:48: [o1] constraint o1 references missing resource ghost"),
        "{stdout}"
    );
}
