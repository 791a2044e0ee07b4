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

/// What the bash completion that `crm-lite docs` writes offers for `line` (the cursor at
/// its end), asked of its completion function as bash's `complete` would ask it, after
/// sourcing bash-completion's own library (Debian's bash-completion package).
fn bash_completes(script: &std::path::Path, line: &str) -> Vec<String> {
    const LIB: &str = "/usr/share/bash-completion/bash_completion";
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        r#"source {LIB}
source "$1"
fn=$(complete -p crm-lite | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || {{ echo "no completion function for crm-lite" >&2; exit 2; }}
COMP_LINE="$2"; COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<<"$2"
[ "${{2: -1}}" = " " ] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
"$fn" crm-lite "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&program)
        .arg("bash")
        .arg(script)
        .arg(line)
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(
        out.status.success(),
        "bash completion of {line:?} failed ({} words): {}",
        words.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_tab_completion_offers_the_subcommands() {
    let Ok(()) = test_support::require(
        std::path::Path::new("/usr/share/bash-completion/bash_completion").is_file(),
        "bash-completion is not installed (apt-get install bash-completion)",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("crm-lite")
        .unwrap()
        .args(["docs", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let script = dir.path().join("bash-completion/crm-lite");
    assert_eq!(bash_completes(&script, "crm-lite ap"), ["apply"]);
    assert_eq!(bash_completes(&script, "crm-lite si"), ["simulate"]);
    let all = bash_completes(&script, "crm-lite c");
    assert!(
        all.contains(&"clear".to_owned()) && all.contains(&"cleanup".to_owned()),
        "{all:?}"
    );
    // A subcommand's own options (clap_complete 4.6 loses them for a hyphenated program
    // name unless `manpages` corrects its script).
    let flags = bash_completes(&script, "crm-lite verify --");
    assert!(flags.iter().any(|f| f == "--no-agent-check"), "{flags:?}");
}
