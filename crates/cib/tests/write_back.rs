//! Read-modify-write: what crm-lite does not model survives, counters only go up, and the
//! file is replaced atomically.
const CIB: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- written by hand -->
<cib admin_epoch="2" epoch="41" num_updates="7" validate-with="pacemaker-3.9" x-vendor="kept">
  <configuration>
    <crm_config>
      <cluster_property_set id="o">
        <nvpair id="o-fe" name="stonith-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes><node id="1" uname="node1" x-rack="r1"/></nodes>
    <resources>
      <primitive id="a" class="ocf" provider="heartbeat" type="Dummy" description="a &amp; b">
        <meta_attributes id="a-meta"><nvpair id="a-tr" name="target-role" value="Started"/></meta_attributes>
        <!-- keep this comment -->
        <instance_attributes id="a-params"><nvpair id="a-p" name="state" value="/run/a&#10;b"/></instance_attributes>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#;

#[test]
fn unmodelled_content_survives_a_config_change_and_epoch_goes_up() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cib.xml");
    let mut parsed = cib::parse("cib.xml", CIB);
    // Only the made-up node attribute draws a remark (kept, but without effect).
    let messages: Vec<&str> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        ["unknown attribute x-rack on <node> has no effect"]
    );

    // Stop resource a: edit the tree in place.
    let Some(cib::model::Resource::Primitive(a)) = parsed.cib.resources.first() else {
        panic!("primitive a")
    };
    let pair = a.meta.raw.get_pair("target-role").map(|p| p.element);
    let pair = pair.unwrap_or_else(|| panic!("target-role pair"));
    parsed.doc.get_mut(pair).set_attr("value", "Stopped");

    let v = parsed
        .write_to(&path, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v.admin_epoch, v.epoch, v.num_updates), (2, 42, 0));

    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    for kept in [
        "<!-- written by hand -->",
        "<!-- keep this comment -->",
        "x-vendor=\"kept\"",
        "x-rack=\"r1\"",
        "description=\"a &amp; b\"",
        "value=\"/run/a&#10;b\"",
        "validate-with=\"pacemaker-3.9\"",
    ] {
        assert!(text.contains(kept), "lost {kept}:\n{text}");
    }
    let again = cib::parse("cib.xml", &text);
    assert!(!again.has_errors(), "{:?}", again.diagnostics);
    assert_eq!(again.cib.versions, v);
    let Some(cib::model::Resource::Primitive(a)) = again.cib.resources.first() else {
        panic!("primitive a")
    };
    assert_eq!(a.meta.target_role, Some(cib::Role::Stopped));
    assert_eq!(a.params.get("state"), Some("/run/a\nb"));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, ["cib.xml"]);
}

#[test]
fn status_only_change_bumps_num_updates_and_never_lowers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cib.xml");
    let mut parsed = cib::parse("cib.xml", CIB);
    let before = parsed.cib.versions;
    let v = parsed
        .write_to(&path, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v.admin_epoch, v.epoch, v.num_updates), (2, 41, 8));
    assert!(v > before);
    let v2 = parsed
        .write_to(&path, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(v2 > v);
}

#[test]
fn writing_into_a_missing_directory_fails_with_context() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("no/such/dir/cib.xml");
    let err = cib::write::write_atomic(&path, b"<cib/>")
        .err()
        .unwrap_or_else(|| panic!("write into a missing directory succeeded"));
    assert!(err.to_string().starts_with("failed to create "), "{err}");
}

#[test]
fn a_newer_cib_on_disk_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cib.xml");
    let mut stale = cib::parse("cib.xml", CIB);
    let mut fresh = cib::parse("cib.xml", CIB);
    fresh
        .write_to(&path, true)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stale
        .write_to(&path, false)
        .err()
        .unwrap_or_else(|| panic!("a stale write went through"));
    assert!(
        err.to_string()
            .ends_with("has version 2.42.0, newer than the 2.41.7 read: re-read it first"),
        "{err}"
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cib::write::versions_of(&text).map(|v| v.epoch), Some(42));
}

#[test]
fn doctype_comments_and_processing_instructions_are_written_back() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid-doctype-comments-and-processing-instructions.xml"
    );
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let out = cib::parse("x.xml", &src).doc.to_xml();
    for kept in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<!DOCTYPE cib>",
        "<!-- a hand-written CIB -->",
        "<?editor line-wrap=\"off\"?>",
        "<!-- no fencing in this lab -->",
        "<!-- end -->",
        "value=\"/run/a &lt;1&gt; &amp; &quot;b&quot;\"",
    ] {
        assert!(out.contains(kept), "lost {kept}:\n{out}");
    }
}
