//! `crm-lite docs`: the man pages and completions that `scripts/package` installs come from
//! the real CLI definition.

use assert_cmd::Command;

#[test]
fn docs_writes_a_page_per_subcommand_and_completions_without_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("crm-lite")
        .unwrap()
        .args(["docs", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "verify", "simulate", "apply", "status", "move", "ban", "clear", "cleanup",
    ] {
        let page = dir.path().join(format!("man8/crm-lite-{sub}.8"));
        let text = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{page:?}: {e}"));
        assert!(text.contains(&format!(".TH crm-lite-{sub} 8")), "{text}");
        assert!(listed.contains(&format!("crm-lite-{sub}.8")), "{listed}");
    }
    let main = std::fs::read_to_string(dir.path().join("man8/crm-lite.8")).unwrap();
    assert!(main.contains("crm\\-lite\\-verify(8)"), "{main}");
    let bash = std::fs::read_to_string(dir.path().join("bash-completion/crm-lite")).unwrap();
    assert!(
        bash.contains("simulate") && bash.contains("cleanup"),
        "{bash}"
    );
    assert!(!dir.path().join("man8/crm-lite-docs.8").exists());
    assert!(
        !bash.contains(" docs"),
        "the hidden subcommand is not offered"
    );
    assert!(dir.path().join("zsh/_crm-lite").exists());
}
