//! This node's copy of the CIB: one [`Document`] (configuration and status) and helpers to
//! cut it into the pieces the wire carries (the configuration, one node's `node_state`) and
//! put them back, all pure.
use std::collections::BTreeSet;

use cib::Document;
use cib::model::Versions;
use cib::tree::ElementId;

/// An empty CIB (no configuration yet, version 0.0.0).
pub const EMPTY_CIB: &str = r#"<cib admin_epoch="0" epoch="0" num_updates="0"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"#;

/// Copy the subtree at `id` of `src` under `parent` of `dst` (elements and attributes).
fn graft(dst: &mut Document, parent: ElementId, src: &Document, id: ElementId) {
    let el = src.get(id);
    let attrs: Vec<(&str, &str)> = el.attrs.iter().map(|(k, v)| (&**k, v)).collect();
    let new = dst.append(parent, &el.name, &attrs);
    for c in src.children(id) {
        graft(dst, new, src, c);
    }
}

/// The `<status>` element (created when missing).
pub fn status_el(doc: &mut Document) -> Option<ElementId> {
    let root = doc.root()?;
    Some(match doc.child(root, "status") {
        Some(s) => s,
        None => doc.append(root, "status", &[]),
    })
}

/// The `node_state` of `node`, if any.
pub fn node_state(doc: &Document, node: &str) -> Option<ElementId> {
    let root = doc.root()?;
    let status = doc.child(root, "status")?;
    doc.children(status)
        .find(|&c| doc.get(c).name == "node_state" && doc.get(c).attr("uname") == Some(node))
}

/// Whether element `a` of `da` and element `b` of `db` are alike: the same name, the same
/// attributes in the same order, and alike child elements in the same order.
pub fn same_element(da: &Document, a: ElementId, db: &Document, b: ElementId) -> bool {
    let (ea, eb) = (da.get(a), db.get(b));
    if ea.name != eb.name || !ea.attrs.iter().eq(eb.attrs.iter()) {
        return false;
    }
    let mut ca = da.children(a);
    let mut cb = db.children(b);
    loop {
        match (ca.next(), cb.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if same_element(da, x, db, y) => {}
            _ => return false,
        }
    }
}

/// The unames of the `node_state` elements of `doc`'s status, in order.
pub fn node_state_order(doc: &Document) -> Vec<String> {
    let Some(status) = doc.root().and_then(|r| doc.child(r, "status")) else {
        return Vec::new();
    };
    doc.children(status)
        .filter(|&c| doc.get(c).name == "node_state")
        .filter_map(|c| doc.get(c).attr("uname").map(str::to_owned))
        .collect()
}

/// `node`'s `node_state` as a small CIB (`<cib><status>..</status></cib>`), or `None`.
pub fn node_state_xml(doc: &Document, node: &str) -> Option<String> {
    let id = node_state(doc, node)?;
    let (mut out, _) = Document::parse("<cib><status/></cib>");
    let st = status_el(&mut out)?;
    graft(&mut out, st, doc, id);
    Some(out.to_xml())
}

/// Replace `node`'s `node_state` by the one in `xml` (from [`node_state_xml`]); `None`
/// removes it.
pub fn set_node_state(doc: &mut Document, node: &str, xml: Option<&str>) {
    if let Some(old) = node_state(doc, node) {
        doc.detach(old);
    }
    let Some(xml) = xml else { return };
    let (src, _) = Document::parse(xml);
    let Some(from) = node_state(&src, node) else {
        return;
    };
    if let Some(st) = status_el(doc) {
        graft(doc, st, &src, from);
    }
}

/// The largest `call-id` in a document (0 if none).
pub fn max_call_id(doc: &Document) -> i64 {
    doc.all()
        .filter(|&e| doc.get(e).name == "lrm_rsc_op")
        .filter_map(|e| doc.get(e).attr("call-id")?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// What several nodes know of `node`'s history (each a [`node_state_xml`]), merged so
/// that nothing anyone saw active there is forgotten: the freshest one (by its largest
/// call id; the first among equals), plus every resource only the others know of.
pub fn merge_node_states(node: &str, xmls: &[&str]) -> Option<String> {
    let docs: Vec<Document> = xmls.iter().map(|x| Document::parse(x).0).collect();
    let mut best: Option<usize> = None;
    for (i, d) in docs.iter().enumerate() {
        if node_state(d, node).is_none() {
            continue;
        }
        if best.is_none_or(|b| max_call_id(d) > max_call_id(&docs[b])) {
            best = Some(i);
        }
    }
    let b = best?;
    let mut out = docs[b].clone();
    let st = node_state(&out, node)?;
    let lrm = match out.child(st, "lrm") {
        Some(l) => l,
        None => out.append(st, "lrm", &[]),
    };
    let resources = match out.child(lrm, "lrm_resources") {
        Some(r) => r,
        None => out.append(lrm, "lrm_resources", &[]),
    };
    for (i, d) in docs.iter().enumerate() {
        if i == b {
            continue;
        }
        let Some(other) = node_state(d, node) else {
            continue;
        };
        let theirs: Vec<ElementId> = d
            .all()
            .filter(|&e| d.get(e).name == "lrm_resource")
            .filter(|&e| {
                let mut up = d.get(e).parent;
                while let Some(p) = up {
                    if p == other {
                        return true;
                    }
                    up = d.get(p).parent;
                }
                false
            })
            .collect();
        for e in theirs {
            let id = d.get(e).attr("id");
            let known = out.children(resources).any(|c| out.get(c).attr("id") == id);
            if !known {
                graft(&mut out, resources, d, e);
            }
        }
    }
    Some(out.to_xml())
}

/// The configuration part of `doc`: the whole CIB without its status.
pub fn config_xml(doc: &Document) -> String {
    let mut d = doc.clone();
    if let Some(root) = d.root()
        && let Some(s) = d.child(root, "status")
    {
        d.detach(s);
    }
    d.to_xml()
}

/// `doc` with the configuration (root attributes and every child but `<status>`) of
/// `config` (a CIB text), keeping `doc`'s status.
pub fn with_config(doc: &Document, config: &str) -> Document {
    let (mut out, _) = Document::parse(config);
    if let Some(root) = out.root() {
        if let Some(s) = out.child(root, "status") {
            out.detach(s);
        }
        let status = doc.root().and_then(|r| doc.child(r, "status"));
        match status {
            Some(s) => graft(&mut out, root, doc, s),
            None => {
                out.append(root, "status", &[]);
            }
        }
    }
    out
}

/// The elements that make a resource id (those a location or order can name).
const RESOURCE_ELEMENTS: [&str; 5] = ["primitive", "group", "clone", "master", "bundle"];

/// The resource ids configured in a CIB's `<resources>` (at any depth: groups' and clones'
/// members included), from the element tree, so that a Pacemaker CIB with features crm-lite
/// does not model still reads.
pub fn resource_ids(xml: &str) -> BTreeSet<String> {
    let (doc, _) = Document::parse(xml);
    let mut ids = BTreeSet::new();
    let Some(root) = doc.root() else {
        return ids;
    };
    let mut stack: Vec<(ElementId, bool)> = vec![(root, false)];
    while let Some((e, inside)) = stack.pop() {
        let el = doc.get(e);
        let inside = inside || el.name == "resources";
        if inside && RESOURCE_ELEMENTS.contains(&el.name.as_str()) {
            if let Some(id) = el.attr("id") {
                ids.insert(id.to_owned());
            }
        }
        // The status section holds history, not configuration.
        if el.name != "status" {
            stack.extend(doc.children(e).map(|c| (c, inside)));
        }
    }
    ids
}

/// The version counters on the root of `doc`.
pub fn versions(doc: &Document) -> Versions {
    let Some(root) = doc.root() else {
        return Versions::default();
    };
    let el = doc.get(root);
    let n = |k: &str| el.attr(k).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    Versions {
        admin_epoch: n("admin_epoch"),
        epoch: n("epoch"),
        num_updates: n("num_updates"),
    }
}

/// `a.b.c`.
pub fn version_text(v: Versions) -> String {
    format!("{}.{}.{}", v.admin_epoch, v.epoch, v.num_updates)
}

/// Set `node`'s membership attributes.
pub fn set_membership(doc: &mut Document, node: &str, node_id: &str, attrs: &[(&str, &str)]) {
    if let Some(st) = executor::node_state(doc, node, node_id) {
        for (k, v) in attrs {
            doc.get_mut(st).set_attr(k, v);
        }
    }
}

/// The largest call id recorded in `doc`'s status.
pub fn last_call_id(cib: &cib::Cib) -> i64 {
    cib.status
        .nodes
        .iter()
        .flat_map(|n| {
            n.resources
                .iter()
                .flat_map(|r| r.ops.iter().map(|o| o.call_id))
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(rscs: &[(&str, i64)]) -> String {
        let ops: String = rscs
            .iter()
            .map(|(r, call)| {
                format!(
                    r#"<lrm_resource id="{r}"><lrm_rsc_op id="{r}_last_0" call-id="{call}"/></lrm_resource>"#
                )
            })
            .collect();
        format!(
            r#"<cib><status><node_state uname="n2"><lrm id="2"><lrm_resources>{ops}</lrm_resources></lrm></node_state></status></cib>"#
        )
    }

    #[test]
    fn what_anyone_saw_on_a_lost_node_is_kept_freshest_first() {
        let old = history(&[("a", 3), ("b", 4)]);
        let fresh = history(&[("a", 9), ("c", 8)]);
        let merged = merge_node_states("n2", &[&old, &fresh]).unwrap_or_default();
        // The freshest copy of `a`, and `b` and `c` that only one side knew.
        assert!(merged.contains(r#"call-id="9""#), "{merged}");
        assert!(!merged.contains(r#"call-id="3""#), "{merged}");
        assert!(
            merged.contains(r#"id="b""#) && merged.contains(r#"id="c""#),
            "{merged}"
        );
        assert_eq!(merge_node_states("n2", &[]), None);
    }

    #[test]
    fn a_node_state_travels_whole_and_a_configuration_keeps_the_status() {
        let (mut doc, _) = Document::parse(EMPTY_CIB);
        set_membership(&mut doc, "n1", "1", &[("in_ccm", "true")]);
        let st = node_state(&doc, "n1").unwrap_or_else(|| panic!("node_state"));
        doc.append(st, "lrm", &[("id", "1")]);
        let xml = node_state_xml(&doc, "n1").unwrap_or_else(|| panic!("xml"));
        assert!(xml.contains(r#"<lrm id="1"/>"#), "{xml}");
        let (mut other, _) = Document::parse(EMPTY_CIB);
        set_node_state(&mut other, "n1", Some(&xml));
        assert_eq!(node_state_xml(&other, "n1").as_deref(), Some(xml.as_str()));
        let cfg = EMPTY_CIB.replace(r#"epoch="0""#, r#"epoch="7""#);
        let merged = with_config(&other, &cfg);
        assert_eq!(versions(&merged).epoch, 7);
        assert!(node_state(&merged, "n1").is_some());
        assert!(!config_xml(&merged).contains("node_state"));
        set_node_state(&mut other, "n1", None);
        assert!(node_state(&other, "n1").is_none());
    }
}
