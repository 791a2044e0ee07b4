//! The operator's changes to a state, as `crm_resource` makes them: `--move`/`--ban` add a
//! `cli-*` location constraint, `--clear` removes them, `--cleanup` forgets a resource's
//! history and fail counts. Pure edits of a [`Document`]; the caller saves through the store.
use cib::Document;
use cib::tree::ElementId;

/// An edit that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The state has no `<configuration>`.
    #[error("the state CIB has no configuration")]
    NoConfiguration,
}

fn constraints(doc: &mut Document) -> Result<ElementId, EditError> {
    let config = doc
        .root()
        .and_then(|r| doc.child(r, "configuration"))
        .ok_or(EditError::NoConfiguration)?;
    Ok(match doc.child(config, "constraints") {
        Some(c) => c,
        None => doc.append(config, "constraints", &[]),
    })
}

/// `move` (`ban` false: `cli-prefer-RSC`, INFINITY) or `ban` (`cli-ban-RSC-on-NODE`,
/// -INFINITY) `rsc` on `node`, replacing a constraint of the same id. Returns the id.
pub fn place(doc: &mut Document, rsc: &str, node: &str, ban: bool) -> Result<String, EditError> {
    let (id, score) = if ban {
        (format!("cli-ban-{rsc}-on-{node}"), "-INFINITY")
    } else {
        (format!("cli-prefer-{rsc}"), "INFINITY")
    };
    let cons = constraints(doc)?;
    let old: Vec<_> = doc
        .children(cons)
        .filter(|&c| doc.get(c).attr("id") == Some(id.as_str()))
        .collect();
    for c in old {
        doc.detach(c);
    }
    let attrs = [
        ("id", id.as_str()),
        ("rsc", rsc),
        ("role", "Started"),
        ("node", node),
        ("score", score),
    ];
    doc.append(cons, "rsc_location", &attrs);
    Ok(id)
}

/// Remove what [`place`] added for `rsc`. Returns how many constraints went.
pub fn clear(doc: &mut Document, rsc: &str) -> Result<usize, EditError> {
    let cons = constraints(doc)?;
    let prefer = format!("cli-prefer-{rsc}");
    let ban = format!("cli-ban-{rsc}-on-");
    let gone: Vec<_> = doc
        .children(cons)
        .filter(|&c| {
            doc.get(c)
                .attr("id")
                .is_some_and(|id| id == prefer || id.starts_with(&ban))
        })
        .collect();
    for &c in &gone {
        doc.detach(c);
    }
    Ok(gone.len())
}

/// Forget `rsc`'s operation history (and its clone instances', `rsc:N`) and fail counts.
/// Returns how many entries went.
pub fn cleanup(doc: &mut Document, rsc: &str) -> usize {
    let matches_rsc = |id: &str| {
        id == rsc
            || id
                .rsplit_once(':')
                .is_some_and(|(b, n)| b == rsc && n.bytes().all(|c| c.is_ascii_digit()))
    };
    let attr_of_rsc = |name: &str| {
        ["fail-count-", "last-failure-"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|rest| matches_rsc(rest.split('#').next().unwrap_or(rest)))
        })
    };
    let in_transient = |e: ElementId| {
        doc.get(e).parent.is_some_and(|p| {
            doc.get(p)
                .parent
                .is_some_and(|gp| doc.get(gp).name == "transient_attributes")
        })
    };
    let gone: Vec<_> = doc
        .all()
        .filter(|&e| {
            let el = doc.get(e);
            (el.name == "lrm_resource" && el.attr("id").is_some_and(matches_rsc))
                || (el.name == "nvpair"
                    && el.attr("name").is_some_and(attr_of_rsc)
                    && in_transient(e))
        })
        .collect();
    for &e in &gone {
        doc.detach(e);
    }
    gone.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"<cib><configuration><constraints/></configuration><status><node_state uname="n1"><transient_attributes id="1"><instance_attributes id="s"><nvpair id="f" name="fail-count-a:1#start_0" value="1"/><nvpair id="g" name="fail-count-ab#start_0" value="1"/></instance_attributes></transient_attributes><lrm id="1"><lrm_resources><lrm_resource id="a:1"/><lrm_resource id="ab"/></lrm_resources></lrm></node_state></status></cib>"#;

    #[test]
    fn move_ban_clear_and_cleanup_touch_only_their_resource() {
        let (mut doc, _) = Document::parse(STATE);
        assert_eq!(
            place(&mut doc, "a", "n1", true).ok().as_deref(),
            Some("cli-ban-a-on-n1")
        );
        assert_eq!(
            place(&mut doc, "a", "n2", false).ok().as_deref(),
            Some("cli-prefer-a")
        );
        assert_eq!(
            place(&mut doc, "a", "n3", false).ok().as_deref(),
            Some("cli-prefer-a")
        );
        let xml = doc.to_xml();
        assert_eq!(xml.matches("cli-prefer-a").count(), 1, "{xml}");
        assert!(xml.contains(r#"node="n3" score="INFINITY""#), "{xml}");
        assert_eq!(clear(&mut doc, "ab").ok(), Some(0));
        assert_eq!(clear(&mut doc, "a").ok(), Some(2));
        assert_eq!(cleanup(&mut doc, "a"), 2);
        let xml = doc.to_xml();
        assert!(
            xml.contains(r#"<lrm_resource id="ab"/>"#) && xml.contains("fail-count-ab"),
            "{xml}"
        );
        assert!(
            !xml.contains(r#"id="a:1""#) && !xml.contains("fail-count-a:1"),
            "{xml}"
        );
        let (mut bare, _) = Document::parse("<cib/>");
        assert!(place(&mut bare, "a", "n1", true).is_err());
    }
}
