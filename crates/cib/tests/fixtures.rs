//! Golden fixtures: each `fixtures/<behaviour>.xml` is parsed (and, when
//! `fixtures/<behaviour>.metadata.xml` exists, its OCF primitives are checked against that
//! agent meta-data) and the diagnostics must equal `fixtures/<behaviour>.expected`.
//!
//! `UPDATE_EXPECT=1 cargo test -p cib --test fixtures` rewrites the expectations.
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures_dir())
        .unwrap_or_else(|e| panic!("cannot list fixtures: {e}"))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".xml")?;
            (!stem.ends_with(".metadata")).then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

fn parse_fixture(name: &str) -> cib::Parsed {
    let dir = fixtures_dir();
    let bytes = fs::read(dir.join(format!("{name}.xml")))
        .unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"));
    let mut parsed = cib::parse_bytes(&format!("{name}.xml"), &bytes);
    let md_path = dir.join(format!("{name}.metadata.xml"));
    if let Ok(text) = fs::read_to_string(&md_path) {
        let md = cib::AgentMetadata::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        parsed.check_agents(|_| Some(md.clone()));
    }
    parsed
}

/// Compare the diagnostics of fixture `name` with its expectation; `Err` describes a mismatch.
fn check(name: &str) -> Result<(), String> {
    let parsed = parse_fixture(name);
    let actual: String = parsed
        .diagnostics
        .iter()
        .map(|d| format!("{d}\n"))
        .collect();
    let path = fixtures_dir().join(format!("{name}.expected"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        fs::write(&path, &actual).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        return Ok(());
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "fixture {name}:\n--- expected\n{expected}--- actual\n{actual}"
        ))
    }
}

#[test]
fn every_fixture_matches_its_expected_diagnostics() {
    let names = fixture_names();
    assert!(names.len() > 20, "fixtures missing: {names:?}");
    let failures: Vec<String> = names.iter().filter_map(|n| check(n).err()).collect();
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_but_the_valid_ones_reports_something() {
    for name in fixture_names() {
        let parsed = parse_fixture(&name);
        assert_eq!(
            parsed.diagnostics.is_empty(),
            name.starts_with("valid-"),
            "{name}: {:?}",
            parsed.diagnostics
        );
    }
}

#[test]
fn writing_back_and_reparsing_gives_the_same_model() {
    for name in fixture_names() {
        let first = parse_fixture(&name);
        if first.doc.root().is_none() {
            continue;
        }
        let again = cib::parse(&format!("{name}.xml"), &first.doc.to_xml());
        assert_eq!(first.cib, again.cib, "{name}");
        assert_eq!(again.doc.to_xml(), first.doc.to_xml(), "{name}");
    }
}
