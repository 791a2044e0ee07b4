//! Merging a newly applied configuration with the saved state, on the element tree.
use std::collections::BTreeSet;

use cib::Document;
use cib::tree::{ElementId, Node};

/// What [`merge`] made.
#[derive(Debug)]
pub struct Merged {
    /// The state to work from.
    pub doc: Document,
    /// The nodes whose history was dropped because the configuration no longer names them.
    pub dropped: Vec<String>,
}

/// Copy the element `id` of `src`, with everything inside it, under `parent` in `dst`.
fn copy_into(src: &Document, id: ElementId, dst: &mut Document, parent: ElementId) {
    let el = src.get(id);
    let attrs: Vec<(&str, &str)> = el.attrs.iter().map(|(k, v)| (&**k, v)).collect();
    let new = dst.append(parent, &el.name, &attrs);
    for n in &el.children {
        match n {
            Node::Element(c) => copy_into(src, *c, dst, new),
            other => dst.get_mut(new).children.push(other.clone()),
        }
    }
}

/// The applied state: `input`'s configuration with the status kept from `previous` (the
/// saved state), the nodes this machine acts as (`hosted`; `local` is added as the only node
/// when the configuration names none) online, and quorum. The `cli-*` location constraints
/// that `crm-lite move`/`ban` added to `previous` stay until `crm-lite clear` removes them.
/// The status of a node the configuration no longer names is dropped: Pacemaker matches a
/// node's status by its id, and an old node's could pass for a new node's.
pub fn merge(
    input: &Document,
    previous: Option<&Document>,
    local: &str,
    hosted: &BTreeSet<String>,
) -> Merged {
    let mut doc = input.clone();
    let Some(root) = doc.root() else {
        return Merged {
            doc,
            dropped: Vec::new(),
        };
    };
    let prev_root = previous.and_then(|p| p.root().map(|r| (p, r)));
    if let Some((prev, proot)) = prev_root {
        if let Some(pstatus) = prev.child(proot, "status") {
            // The saved status replaces whatever status the input carries, where it was.
            let at = doc
                .get(root)
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(c) if doc.get(*c).name == "status"));
            for s in doc.children(root).collect::<Vec<_>>() {
                if doc.get(s).name == "status" {
                    doc.detach(s);
                }
            }
            copy_into(prev, pstatus, &mut doc, root);
            if let Some(at) = at {
                let moved = doc.get_mut(root).children.pop();
                if let Some(n) = moved {
                    doc.get_mut(root).children.insert(at, n);
                }
            }
        }
    }
    doc.get_mut(root).set_attr("have-quorum", "1");
    let config = doc
        .child(root, "configuration")
        .unwrap_or_else(|| doc.append(root, "configuration", &[]));
    let nodes = doc
        .child(config, "nodes")
        .unwrap_or_else(|| doc.append(config, "nodes", &[]));
    if doc.children(nodes).next().is_none() {
        doc.append(nodes, "node", &[("id", "1"), ("uname", local)]);
    }
    let ids: Vec<(String, String)> = doc
        .children(nodes)
        .filter_map(|n| {
            let el = doc.get(n);
            let uname = el.attr("uname")?;
            hosted
                .contains(uname)
                .then(|| (uname.to_owned(), el.attr("id").unwrap_or(uname).to_owned()))
        })
        .collect();
    if let Some((prev, proot)) = prev_root {
        keep_cli_constraints(&mut doc, prev, proot, config);
    }
    let named: BTreeSet<String> = doc
        .children(nodes)
        .filter_map(|n| doc.get(n).attr("uname").map(str::to_owned))
        .collect();
    let mut dropped = Vec::new();
    if let Some(status) = doc.child(root, "status") {
        let gone: Vec<_> = doc
            .children(status)
            .filter(|&s| {
                doc.get(s).name == "node_state"
                    && doc.get(s).attr("uname").is_some_and(|u| !named.contains(u))
            })
            .collect();
        for s in gone {
            dropped.extend(doc.get(s).attr("uname").map(str::to_owned));
            doc.detach(s);
        }
    }
    for (uname, id) in &ids {
        if let Some(state) = executor::node_state(&mut doc, uname, id) {
            for (k, v) in [
                ("in_ccm", "true"),
                ("crmd", "online"),
                ("join", "member"),
                ("expected", "member"),
            ] {
                doc.get_mut(state).set_attr(k, v);
            }
        }
    }
    Merged { doc, dropped }
}

fn keep_cli_constraints(doc: &mut Document, prev: &Document, proot: ElementId, config: ElementId) {
    let Some(pcons) = prev
        .child(proot, "configuration")
        .and_then(|c| prev.child(c, "constraints"))
    else {
        return;
    };
    let cons = match doc.child(config, "constraints") {
        Some(c) => c,
        None => doc.append(config, "constraints", &[]),
    };
    for c in prev.children(pcons).collect::<Vec<_>>() {
        let el = prev.get(c);
        let Some(id) = el.attr("id") else { continue };
        if el.name != "rsc_location" || !id.starts_with("cli-") {
            continue;
        }
        if doc
            .children(cons)
            .any(|x| doc.get(x).attr("id") == Some(id))
        {
            continue;
        }
        copy_into(prev, c, doc, cons);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosted(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_saved_status_and_cli_constraints_survive_a_new_configuration() {
        let input = r#"<cib epoch="2"><configuration><nodes><node id="1" uname="n1"/></nodes><resources/><constraints><rsc_location id="l" rsc="a" node="n1" score="5"/></constraints></configuration><status/></cib>"#;
        let prev = r#"<cib epoch="1"><configuration><nodes><node id="1" uname="n1"/><node id="2" uname="old"/></nodes><constraints><rsc_location id="cli-ban-a-on-n1" rsc="a" node="n1" score="-INFINITY"/><rsc_location id="l" rsc="a" node="n1" score="1"/></constraints></configuration><status><node_state id="1" uname="n1"><lrm id="1"><lrm_resources><lrm_resource id="a" class="ocf" type="Dummy"/></lrm_resources></lrm></node_state><node_state id="2" uname="old"/></status></cib>"#;
        let (i, _) = Document::parse(input);
        let (p, _) = Document::parse(prev);
        let m = merge(&i, Some(&p), "n1", &hosted(&["n1"]));
        let xml = m.doc.to_xml();
        assert_eq!(m.dropped, vec!["old".to_owned()]);
        assert!(
            xml.contains(r#"<lrm_resource id="a" class="ocf" type="Dummy"/>"#),
            "{xml}"
        );
        assert!(xml.contains("cli-ban-a-on-n1"), "{xml}");
        // The input's own constraint wins over the saved one of the same id.
        assert!(
            xml.contains(r#"id="l" rsc="a" node="n1" score="5""#),
            "{xml}"
        );
        assert!(!xml.contains(r#"score="1""#), "{xml}");
        assert!(!xml.contains(r#"uname="old""#), "{xml}");
        assert!(xml.contains(r#"have-quorum="1""#), "{xml}");
        assert!(xml.contains(r#"crmd="online""#), "{xml}");
        // The status stays where the input had it: one status, after the configuration.
        assert_eq!(xml.matches("<status").count(), 1, "{xml}");
        assert!(xml.find("<configuration").unwrap_or(0) < xml.find("<status").unwrap_or(0));
    }

    #[test]
    fn without_a_saved_state_the_input_is_taken_with_this_node_added() {
        let (i, _) = Document::parse(r#"<cib><configuration><resources/></configuration></cib>"#);
        let m = merge(&i, None, "me", &hosted(&["me"]));
        let xml = m.doc.to_xml();
        assert!(xml.contains(r#"<node id="1" uname="me"/>"#), "{xml}");
        assert!(xml.contains(r#"<node_state id="1" uname="me""#), "{xml}");
        assert!(m.dropped.is_empty());
    }
}
