use super::*;
use executor::OpRecord;

const STATE: &str = r#"<cib admin_epoch="0" epoch="3" num_updates="7"><configuration><nodes><node id="1" uname="n1"/></nodes><resources/><constraints/></configuration><status/></cib>"#;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn store_with(t: &tempfile::TempDir, text: &str) -> Store {
    let s = Store::new(t.path().join("state"));
    ok(s.create());
    ok(std::fs::write(s.cib_path(), text));
    s
}

fn rec<'a>(rsc: &'a str, operation: &'a str, rc: i32, call: i64, pending: bool) -> OpRecord<'a> {
    OpRecord {
        node: "n1",
        node_id: "1",
        rsc,
        class: "ocf",
        provider: Some("heartbeat"),
        agent: "Dummy",
        operation,
        interval_ms: 0,
        rc,
        expected_rc: 0,
        timed_out: false,
        call_id: call,
        now: 1000,
        exec_ms: 5,
        digest: "d",
        exit_reason: Some("said \"no\"\nloudly"),
        restart: None,
        migrate: None,
        pending,
    }
}

fn add_ban(st: &mut State) -> Result<((), Option<Change>), StoreError> {
    let doc = &mut st.doc;
    let root = doc.root().unwrap_or_else(|| panic!("root"));
    let config = doc
        .child(root, "configuration")
        .unwrap_or_else(|| panic!("config"));
    let cons = doc
        .child(config, "constraints")
        .unwrap_or_else(|| panic!("cons"));
    doc.append(
        cons,
        "rsc_location",
        &[
            ("id", "cli-ban-a-on-n1"),
            ("rsc", "a"),
            ("node", "n1"),
            ("score", "-INFINITY"),
        ],
    );
    Ok(((), Some(Change::Config)))
}

#[test]
fn a_save_made_on_an_older_version_is_refused_and_the_newer_state_kept() {
    let t = tmp();
    let s = store_with(&t, STATE);
    let mut mine = ok(s.load()).unwrap_or_else(|| panic!("state")).doc;
    let base = versions(&mine);
    // Someone else saves first.
    ok(s.update(add_ban));
    let err = s.save(&mut mine, base, Change::Status);
    assert!(matches!(err, Err(StoreError::Stale { .. })), "{err:?}");
    let text = ok(std::fs::read_to_string(s.cib_path()));
    assert!(text.contains("cli-ban-a-on-n1"), "{text}");
    // Made on the newest version, it goes through.
    let mut fresh = ok(s.load()).unwrap_or_else(|| panic!("state"));
    let v = ok(s.save(&mut fresh.doc, fresh.versions, Change::Status));
    assert_eq!(
        v,
        Versions {
            admin_epoch: 0,
            epoch: 4,
            num_updates: 1
        }
    );
}

#[test]
fn a_round_committed_over_a_newer_state_keeps_both_changes() {
    let t = tmp();
    let s = store_with(&t, STATE);
    let st = ok(s.load()).unwrap_or_else(|| panic!("state"));
    let mut doc = st.doc.clone();
    let mut j = ok(s.begin_journal());
    assert!(!ok(j.record(&mut doc, &rec("a", "start", 0, 1, true))));
    // A ban arrives while the start runs.
    ok(s.update(add_ban));
    ok(j.record(&mut doc, &rec("a", "start", 0, 1, false)));
    let v = ok(s.commit(&mut doc, st.versions, j, true));
    assert_eq!(
        v,
        Versions {
            admin_epoch: 0,
            epoch: 4,
            num_updates: 1
        }
    );
    let text = ok(std::fs::read_to_string(s.cib_path()));
    assert!(text.contains("cli-ban-a-on-n1"), "the ban is kept: {text}");
    assert!(
        text.contains(r#"operation="start""#),
        "the start is kept: {text}"
    );
    assert_eq!(
        doc.to_xml(),
        text,
        "the caller works on from what was saved"
    );
    assert!(!s.journal_path().exists());
}

#[test]
fn an_interrupted_round_is_replayed_even_after_another_writer_saved() {
    let t = tmp();
    let s = store_with(&t, STATE);
    let mut doc = ok(s.load()).unwrap_or_else(|| panic!("state")).doc;
    let mut j = ok(s.begin_journal());
    ok(j.record(&mut doc, &rec("a", "start", 0, 1, false)));
    ok(j.record(&mut doc, &rec("b", "start", 0, 2, true)));
    // A torn last line: the crash hit while it was written.
    ok(std::fs::OpenOptions::new()
        .append(true)
        .open(s.journal_path())
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"<op node=\"n1\" rsc=\"x")));
    ok(s.update(add_ban));
    drop(j); // the apply dies
    let in_flight = ok(s.in_flight());
    assert_eq!(in_flight.len(), 1, "{in_flight:?}");
    assert_eq!((in_flight[0].rsc.as_str(), in_flight[0].call), ("b", 2));
    let snap = ok(s.snapshot());
    assert_eq!(snap.replayed, 2);
    assert!(snap.state.doc.to_xml().contains(r#"id="a_last_0""#));
    let st = ok(s.begin_apply::<StoreError>(true, |saved, replayed| {
        assert_eq!(replayed, 2);
        let saved = saved.unwrap_or_else(|| panic!("state"));
        assert!(saved.doc.to_xml().contains("cli-ban-a-on-n1"));
        Ok(saved.doc.clone())
    }));
    assert!(st.text.contains(r#"id="a_last_0""#), "{}", st.text);
    assert!(!s.journal_path().exists());
}

#[test]
fn a_journal_that_cannot_be_read_is_an_error_not_an_empty_journal() {
    let t = tmp();
    let s = store_with(&t, STATE);
    let mut doc = ok(s.load()).unwrap_or_else(|| panic!("state")).doc;
    let mut j = ok(s.begin_journal());
    ok(j.record(&mut doc, &rec("a", "start", 0, 1, false)));
    drop(j);
    let mut bytes = ok(std::fs::read(s.journal_path()));
    let at = bytes.iter().position(|&b| b == b'n').unwrap_or(0) + 40;
    bytes[at] = 0xff;
    ok(std::fs::write(s.journal_path(), &bytes));
    let err = s.snapshot().map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("journal") && err.contains("line 2 is not UTF-8"),
        "{err}"
    );
    assert!(
        err.contains(&s.journal_path().display().to_string()),
        "{err}"
    );
    let err = s
        .begin_apply::<StoreError>(true, |_, _| Ok(Document::default()))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, StoreError::Journal(_)), "{err}");
    ok(std::fs::write(
        s.journal_path(),
        "<journal base=\"0.3.7\"/>\n<bogus/>\n",
    ));
    let err = s.in_flight().unwrap_err().to_string();
    assert!(err.contains("line 2 is an unknown record <bogus>"), "{err}");
}

#[test]
fn a_corrupt_state_is_refused_naming_the_file_and_the_last_good_copy_restores() {
    let t = tmp();
    let s = store_with(&t, STATE);
    // Two saves leave two good copies.
    ok(s.update(add_ban));
    ok(s.update(|_: &mut State| Ok::<_, StoreError>(((), Some(Change::Status)))));
    assert_eq!(s.backups().len(), 2);
    let good = ok(std::fs::read_to_string(s.cib_path()));
    for bad in [
        "",
        "<cib epoch=\"3\"><configuration>",
        "\u{0}garbage",
        "<notacib/>",
    ] {
        ok(std::fs::write(s.cib_path(), bad));
        let err = s.load().map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(&s.cib_path().display().to_string()), "{err}");
        assert!(
            err.contains("corrupt") && err.contains("crm-lite restore"),
            "{err}"
        );
        assert!(err.contains("cib-2.raw"), "{err}");
        assert!(s.update(add_ban).is_err());
    }
    let (from, v) = ok(s.restore_last_good());
    assert!(from.ends_with("cib-2.raw"), "{from:?}");
    assert_eq!(
        v,
        Versions {
            admin_epoch: 0,
            epoch: 4,
            num_updates: 0
        }
    );
    assert!(s.dir().join("cib.xml.corrupt").exists());
    let back = ok(s.load()).unwrap_or_else(|| panic!("state"));
    assert!(back.text.contains("cli-ban-a-on-n1"));
    assert_ne!(back.text, good, "the copy before the last save");
    assert!(matches!(
        s.restore_last_good(),
        Err(StoreError::NotCorrupt(_))
    ));
}

#[test]
fn backups_are_bounded() {
    let t = tmp();
    let s = store_with(&t, STATE);
    for _ in 0..BACKUPS + 5 {
        ok(s.update(|_: &mut State| Ok::<_, StoreError>(((), Some(Change::Status)))));
    }
    let b = s.backups();
    assert_eq!(b.len(), BACKUPS);
    assert_eq!(b.last().map(|(n, _)| *n), Some((BACKUPS + 5) as u64));
}

#[test]
fn the_version_on_disk_is_read_from_the_head_and_changes_are_seen() {
    let t = tmp();
    let s = store_with(&t, STATE);
    let v = ok(s.version_on_disk()).unwrap_or_else(|| panic!("state"));
    assert_eq!(
        v,
        Versions {
            admin_epoch: 0,
            epoch: 3,
            num_updates: 7
        }
    );
    assert!(!ok(s.changed_since(v)));
    ok(s.update(add_ban));
    assert!(ok(s.changed_since(v)));
}

#[test]
fn only_one_apply_holds_the_directory_and_status_sees_it() {
    let t = tmp();
    let s = store_with(&t, STATE);
    assert!(!s.apply_running());
    let held = ok(s.lock_apply());
    assert!(s.apply_running());
    assert!(matches!(s.lock_apply(), Err(StoreError::Busy(_))));
    // Readers and other writers are not kept out by a running apply.
    ok(s.update(add_ban));
    assert!(ok(s.snapshot()).apply_running);
    drop(held);
    assert!(!s.apply_running());
}

#[test]
fn put_replaces_the_state_as_given_and_refuses_what_is_not_a_cib() {
    let t = tmp();
    let store = Store::new(t.path());
    let v1 = ok(store
        .put(r#"<cib admin_epoch="0" epoch="4" num_updates="9"><configuration/><status/></cib>"#));
    assert_eq!(
        (v1.epoch, v1.num_updates),
        (4, 9),
        "the writer's version is kept"
    );
    let v2 = ok(store
        .put(r#"<cib admin_epoch="0" epoch="5" num_updates="0"><configuration/><status/></cib>"#));
    assert_eq!(v2.epoch, 5);
    let saved = ok(store.load()).expect("a state");
    assert_eq!(saved.versions, v2);
    assert_eq!(
        store.backups().len(),
        1,
        "the first copy is kept as a backup"
    );
    for bad in ["<cib", "<status/>", ""] {
        let err = store.put(bad).expect_err(bad);
        assert!(err.to_string().contains("not a CIB"), "{bad:?}: {err}");
    }
    assert_eq!(
        ok(store.load()).expect("a state").versions,
        v2,
        "nothing written"
    );
}
