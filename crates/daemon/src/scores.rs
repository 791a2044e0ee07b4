//! Promotion scores, carried cluster-wide as Pacemaker's attribute manager carries them.
//!
//! A promotable agent says where it would best be promoted by writing a score (under
//! crm-lite, one `master-<rsc>` file per resource in the node's attribute directory,
//! `ocf::promotion`). The runtime reads that directory after every operation this node
//! ran and feeds what it found as [`crate::Input::Scores`], right before the operation's
//! [`crate::Input::Done`]. The node sends its scores WITH the result
//! ([`crate::wire::Msg::Result`]), so every node records them at the same point of the
//! agreed stream, as that node's `master-*` transient attributes in its copy of the CIB,
//! and the coordinator plans promotion with them. A recurring monitor's result is sent
//! when its rc changed, and also when the scores changed since the last result sent.
//! The transient attributes travel in a Join with the rest of the node's own
//! `node_state`; a node that leaves loses them (Pacemaker's controller erases a lost
//! node's transient attributes), and a restarted node starts without (the runtime empties
//! the directory when the daemon starts).
use cib::Document;

/// A node's promotion scores: attribute name (`master-<rsc>`) and value, sorted.
pub type Scores = Vec<(String, String)>;

/// This node's scores as its agents last left them, and what it last sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Local {
    /// What the runtime last read (`None`: never told, e.g. a runtime without an
    /// attribute directory: results then carry no scores and change none).
    current: Option<Scores>,
    /// What the last result this node sent carried.
    sent: Option<Scores>,
}

impl Local {
    /// The runtime read `scores` (in any order).
    pub(crate) fn set(&mut self, mut scores: Scores) {
        scores.sort();
        scores.dedup_by(|a, b| a.0 == b.0);
        self.current = Some(scores);
    }

    /// Whether the scores changed since the last result sent.
    pub(crate) fn changed(&self) -> bool {
        self.current.is_some() && self.current != self.sent
    }

    /// The scores a result sent now carries (all of them, so a receiver needs nothing
    /// earlier), marked sent.
    pub(crate) fn for_send(&mut self) -> Option<Scores> {
        self.sent.clone_from(&self.current);
        self.current.clone()
    }
}

/// Make `node`'s promotion scores in `doc` exactly `scores` (its other transient
/// attributes, such as fail counts, stay). Returns whether anything changed.
pub(crate) fn record(
    doc: &mut Document,
    node: &str,
    node_id: &str,
    scores: &[(String, String)],
) -> bool {
    let valid: Scores = scores
        .iter()
        .filter(|(k, v)| {
            k.starts_with("master-")
                && (v.trim().parse::<i64>().is_ok() || matches!(v.trim(), "INFINITY" | "-INFINITY"))
        })
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    executor::set_promotion_scores(doc, node, node_id, &valid)
}

/// Forget `node`'s transient attributes (it left the membership). Returns whether it had
/// any.
pub(crate) fn forget(doc: &mut Document, node: &str) -> bool {
    let Some(st) = crate::state::node_state(doc, node) else {
        return false;
    };
    let gone: Vec<_> = doc
        .children(st)
        .filter(|&c| doc.get(c).name == "transient_attributes")
        .collect();
    for &c in &gone {
        doc.detach(c);
    }
    !gone.is_empty()
}

/// `node`'s promotion scores in `doc` (for tests and status).
pub fn of(doc: &Document, node: &str) -> Scores {
    let Some(st) = crate::state::node_state(doc, node) else {
        return Vec::new();
    };
    let mut out: Scores = doc
        .children(st)
        .filter(|&c| doc.get(c).name == "transient_attributes")
        .flat_map(|t| doc.children(t).collect::<Vec<_>>())
        .flat_map(|set| doc.children(set).collect::<Vec<_>>())
        .filter_map(|nv| {
            let el = doc.get(nv);
            let name = el.attr("name")?;
            name.starts_with("master-")
                .then(|| (name.to_owned(), el.attr("value").unwrap_or("").to_owned()))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[(&str, &str)]) -> Scores {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn scores_replace_the_nodes_master_attributes_and_keep_its_fail_counts() {
        let (mut doc, _) = Document::parse(crate::state::EMPTY_CIB);
        let fail = r#"<cib><status><node_state id="2" uname="n2"><transient_attributes id="2"><instance_attributes id="status-2"><nvpair id="f" name="fail-count-db#monitor_10000" value="1"/></instance_attributes></transient_attributes></node_state></status></cib>"#;
        crate::state::set_node_state(&mut doc, "n2", Some(fail));
        assert!(record(&mut doc, "n2", "2", &s(&[("master-db", "1000")])));
        assert_eq!(of(&doc, "n2"), s(&[("master-db", "1000")]));
        assert!(
            !record(&mut doc, "n2", "2", &s(&[("master-db", "1000")])),
            "no change"
        );
        // Not a score, not a promotion attribute: ignored.
        assert!(record(
            &mut doc,
            "n2",
            "2",
            &s(&[("master-db", "5"), ("master-x", "high"), ("other", "1")])
        ));
        assert_eq!(of(&doc, "n2"), s(&[("master-db", "5")]));
        assert!(record(&mut doc, "n2", "2", &[]));
        assert_eq!(of(&doc, "n2"), Vec::new());
        assert!(doc.to_xml().contains("fail-count-db#monitor_10000"));
        assert!(forget(&mut doc, "n2"));
        assert!(!doc.to_xml().contains("fail-count"), "{}", doc.to_xml());
        assert!(!forget(&mut doc, "n2"));
        assert!(!forget(&mut doc, "n9"));
    }

    #[test]
    fn a_monitor_result_is_due_when_the_scores_changed_since_the_last_one_sent() {
        let mut l = Local::default();
        assert!(!l.changed(), "never told: nothing to send");
        assert_eq!(l.for_send(), None);
        l.set(s(&[("master-db", "10"), ("master-a", "1")]));
        assert!(l.changed());
        assert_eq!(
            l.for_send(),
            Some(s(&[("master-a", "1"), ("master-db", "10")]))
        );
        assert!(!l.changed());
        l.set(s(&[("master-db", "10"), ("master-a", "1")]));
        assert!(!l.changed(), "the same set in another order");
        l.set(s(&[("master-db", "10")]));
        assert!(l.changed(), "a score removed");
    }
}
