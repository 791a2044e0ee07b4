//! The `cib-gen` binary: same arguments, same bytes; `-o` writes the same text as stdout.
use assert_cmd::Command;

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::cargo_bin("cib-gen")
        .unwrap_or_else(|e| panic!("{e}"))
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    out.stdout
}

#[test]
fn output_is_deterministic_and_file_output_matches_stdout() {
    let args = ["--nodes", "3", "--resources", "12", "--seed", "5"];
    let a = run(&args);
    assert_eq!(a, run(&args));
    assert_ne!(
        a,
        run(&["--nodes", "3", "--resources", "12", "--seed", "6"])
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cib.xml");
    let path_s = path.display().to_string();
    let mut with_file = args.to_vec();
    with_file.extend(["-o", path_s.as_str()]);
    assert!(run(&with_file).is_empty());
    assert_eq!(std::fs::read(&path).unwrap_or_else(|e| panic!("{e}")), a);
    let text = String::from_utf8_lossy(&a);
    assert!(text.contains("<node_state id=\"3\" uname=\"node3\" in_ccm=\"false\""));
    let empty = run(&["--nodes", "3", "--resources", "12", "--no-status"]);
    assert!(String::from_utf8_lossy(&empty).contains("<status/>"));
}

#[test]
fn the_operators_mix_is_its_own_deterministic_shape() {
    let args = ["--nodes", "4", "--resources", "20", "--seed", "9"];
    let classic = run(&args);
    assert_eq!(classic, run(&[&args[..], &["--mix", "classic"]].concat()));
    let ops = [&args[..], &["--mix", "operators"]].concat();
    let a = run(&ops);
    assert_eq!(a, run(&ops));
    assert_ne!(a, classic);
    let text = String::from_utf8_lossy(&a);
    assert!(text.contains("name=\"placement-strategy\""));
    assert!(text.contains("<status>"));
}
