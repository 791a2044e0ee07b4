//! Whole-model checks that need everything lowered first: references between sections,
//! contradictions, and the warnings Pacemaker gives about risky setups.
use std::collections::HashSet;

use crate::lower::Lower;
use crate::model::{Cib, OnFail, Resource, ResourceSet, Role};
use crate::tree::ElementId;

pub(crate) fn check(l: &mut Lower<'_>, cib: &Cib) {
    let mut resources: HashSet<&str> = HashSet::new();
    let mut collect = Vec::new();
    for r in &cib.resources {
        collect.push(r);
    }
    while let Some(r) = collect.pop() {
        resources.insert(r.id().as_str());
        match r {
            Resource::Primitive(_) => {}
            Resource::Group(g) => resources.extend(g.members.iter().map(|m| m.id.as_str())),
            Resource::Clone(c) => collect.push(&c.child),
        }
    }
    // Constraints may name a template: they then apply to every primitive using it.
    resources.extend(cib.templates.iter().map(|t| t.id.as_str()));
    // A resource id names agents' files (promotion scores, runtime files).
    let mut with_ids: Vec<(&str, ElementId)> = Vec::new();
    for r in &cib.resources {
        with_ids.push((r.id().as_str(), r.element()));
        match r {
            Resource::Primitive(_) => {}
            Resource::Group(g) => {
                with_ids.extend(g.members.iter().map(|m| (m.id.as_str(), m.element)))
            }
            Resource::Clone(c) => {
                with_ids.push((c.child.id().as_str(), c.child.element()));
                if let Resource::Group(g) = c.child.as_ref() {
                    with_ids.extend(g.members.iter().map(|m| (m.id.as_str(), m.element)));
                }
            }
        }
    }
    with_ids.extend(cib.templates.iter().map(|t| (t.id.as_str(), t.element)));
    for (id, el) in with_ids {
        if let Err(e) = crate::names::check_resource_id(id) {
            l.error(el, Some("id"), e.to_string());
        }
    }
    let nodes: HashSet<&str> = cib.nodes.iter().map(|n| n.uname.as_str()).collect();

    let mut missing = |l: &mut Lower<'_>, el: ElementId, attr: &str, cid: &str, rsc: &str| {
        // Ids of unsupported resources (bundles) and of tags are reported where defined.
        if !resources.contains(rsc) && !in_unsupported(l, rsc) {
            l.error(
                el,
                Some(attr),
                format!("constraint {cid} references missing resource {rsc}"),
            );
        }
    };
    let sets =
        |l: &mut Lower<'_>,
         sets: &[ResourceSet],
         cid: &str,
         missing: &mut dyn FnMut(&mut Lower<'_>, ElementId, &str, &str, &str)| {
            for s in sets {
                for m in &s.members {
                    missing(l, s.element, "id", cid, m.as_str());
                }
            }
        };
    for c in &cib.locations {
        if let Some(r) = &c.rsc {
            missing(l, c.element, "rsc", &c.id, r.as_str());
        }
        sets(l, &c.sets, &c.id, &mut missing);
        if let Some(n) = &c.node {
            if !nodes.contains(n.as_str()) {
                l.warn(
                    c.element,
                    Some("node"),
                    format!("location {} refers to unknown node {n}", c.id),
                );
            }
        }
    }
    for c in &cib.colocations {
        if let Some(r) = &c.rsc {
            missing(l, c.element, "rsc", &c.id, r.as_str());
        }
        if let Some(r) = &c.with_rsc {
            missing(l, c.element, "with-rsc", &c.id, r.as_str());
        }
        if let (Some(a), Some(b)) = (&c.rsc, &c.with_rsc) {
            if a == b {
                l.error(
                    c.element,
                    Some("with-rsc"),
                    format!("colocation {} colocates {a} with itself", c.id),
                );
            }
        }
        sets(l, &c.sets, &c.id, &mut missing);
    }
    for c in &cib.orders {
        if let Some(r) = &c.first {
            missing(l, c.element, "first", &c.id, r.as_str());
        }
        if let Some(r) = &c.then {
            missing(l, c.element, "then", &c.id, r.as_str());
        }
        sets(l, &c.sets, &c.id, &mut missing);
    }

    // Fencing topology devices and targets.
    let fencing: Vec<_> = cib.primitives().filter(|p| p.is_fencing()).collect();
    for lvl in &cib.fencing_levels {
        for d in &lvl.devices {
            if !fencing.iter().any(|p| p.id == *d) {
                l.error(
                    lvl.element,
                    Some("devices"),
                    format!("fencing level {} uses missing fencing device {d}", lvl.id),
                );
            }
        }
        let plain_target = !lvl.target.starts_with('~') && !lvl.target.contains('=');
        if plain_target && !nodes.contains(lvl.target.as_str()) {
            l.warn(
                lvl.element,
                Some("target"),
                format!(
                    "fencing level {} targets unknown node {}",
                    lvl.id, lvl.target
                ),
            );
        }
    }

    // Constraints must name a clone, not the resource inside it (Pacemaker ignores them).
    let mut in_clone: Vec<(&str, &str)> = Vec::new();
    for r in &cib.resources {
        if let Resource::Clone(c) = r {
            in_clone.push((c.child.id().as_str(), c.id.as_str()));
            if let Resource::Group(g) = c.child.as_ref() {
                in_clone.extend(g.members.iter().map(|m| (m.id.as_str(), c.id.as_str())));
            }
        }
    }
    let templates: HashSet<&str> = cib.templates.iter().map(|t| t.id.as_str()).collect();
    for c in &cib.colocations {
        for (attr, r) in [("rsc", &c.rsc), ("with-rsc", &c.with_rsc)] {
            let Some(r) = r else { continue };
            if let Some((_, clone)) = in_clone.iter().find(|(child, _)| *child == r.as_str()) {
                l.error(
                    c.element,
                    Some(attr),
                    format!(
                        "colocation {} names {r}, which is inside clone {clone}: use the clone",
                        c.id
                    ),
                );
            }
        }
        if let (Some(a), Some(b)) = (&c.rsc, &c.with_rsc) {
            if templates.contains(a.as_str()) && templates.contains(b.as_str()) {
                l.error(
                    c.element,
                    None,
                    format!("colocation {} colocates two templates", c.id),
                );
            }
        }
    }

    // Operations: on-fail values Pacemaker resets.
    for p in cib.primitives() {
        for op in &p.ops {
            match op.on_fail {
                Some(OnFail::Stop) if op.name == "stop" => l.error(
                    op.element,
                    Some("on-fail"),
                    format!(
                        "on-fail=stop is not allowed for the stop operation of {}",
                        p.id
                    ),
                ),
                Some(OnFail::Fence) if !cib.options.fencing_enabled => l.error(
                    op.element,
                    Some("on-fail"),
                    format!("on-fail=fence for {} needs fencing enabled", op.id),
                ),
                _ => {}
            }
        }
    }

    // Promoted/Unpromoted target roles only make sense inside promotable clones.
    let mut stack: Vec<(&Resource, bool)> = cib.resources.iter().map(|r| (r, false)).collect();
    while let Some((r, promotable)) = stack.pop() {
        let role_meta = |l: &mut Lower<'_>, id: &str, m: &crate::model::Meta| {
            if let Some(role @ (Role::Promoted | Role::Unpromoted)) = m.target_role {
                if !promotable {
                    let at = m.raw.get_pair("target-role").map(|p| p.element);
                    if let Some(at) = at {
                        // Pacemaker accepts it and runs the resource as Started.
                        l.warn(
                            at,
                            Some("value"),
                            format!(
                                "target-role {role} of {id} only makes sense in a promotable clone; treated as Started"
                            ),
                        );
                    }
                }
            }
        };
        match r {
            Resource::Primitive(p) => role_meta(l, p.id.as_str(), &p.meta),
            Resource::Group(g) => {
                role_meta(l, g.id.as_str(), &g.meta);
                for m in &g.members {
                    role_meta(l, m.id.as_str(), &m.meta);
                }
            }
            Resource::Clone(c) => {
                let promotable = promotable || c.promotable;
                if !promotable {
                    role_meta(l, c.id.as_str(), &c.meta);
                }
                stack.push((&c.child, promotable));
            }
        }
    }

    // Groups: the deprecated 'ordered' and 'collocated' meta-attributes.
    for r in &cib.resources {
        let group = match r {
            Resource::Group(g) => g,
            Resource::Clone(c) => match c.child.as_ref() {
                Resource::Group(g) => g,
                _ => continue,
            },
            Resource::Primitive(_) => continue,
        };
        for name in ["ordered", "collocated"] {
            if let Some(p) = group.meta.raw.get_pair(name) {
                l.warn(
                    p.element,
                    Some("name"),
                    format!(
                        "group {}: meta-attribute {name} is deprecated (use a resource set instead)",
                        group.id
                    ),
                );
            }
        }
    }

    // Clones: lsb, systemd and other classes without instance support cannot be unique.
    for r in &cib.resources {
        let Resource::Clone(c) = r else { continue };
        if c.meta.globally_unique != Some(true) {
            continue;
        }
        let anonymous_only =
            |p: &&crate::model::Primitive| !["ocf", "stonith"].contains(&p.class.as_str());
        if let Some(p) = c.child.primitives().into_iter().find(anonymous_only) {
            let at = c
                .meta
                .raw
                .get_pair("globally-unique")
                .map_or(c.element, |x| x.element);
            l.warn(
                at,
                None,
                format!(
                    "globally-unique is ignored for {}: {} resources such as {} can only be anonymous clones",
                    c.id, p.class, p.id
                ),
            );
        }
    }

    // Orders: require-all is deprecated in favour of clone-min.
    for o in cib.orders.iter().filter(|o| !o.require_all) {
        l.warn(
            o.element,
            Some("require-all"),
            format!(
                "order {}: require-all is deprecated (use the clone-min meta-attribute)",
                o.id
            ),
        );
    }

    // failure-timeout does not expire failures of operations with on-fail=block.
    for p in cib.primitives() {
        let Some(ft) = p.meta.failure_timeout_ms.filter(|ms| *ms > 0) else {
            continue;
        };
        if p.ops.iter().any(|o| o.on_fail == Some(OnFail::Block)) {
            let at = p
                .meta
                .raw
                .get_pair("failure-timeout")
                .map_or(p.element, |x| x.element);
            l.warn(
                at,
                None,
                format!(
                    "failure-timeout {} ms of {} is ignored: it conflicts with on-fail=block",
                    ft, p.id
                ),
            );
        }
    }

    // A recurring operation more often than once a second keeps a core busy running the
    // agent (an operation from a template is reported once, where it is written).
    let mut seen_ops = HashSet::new();
    for p in cib.primitives() {
        for o in &p.ops {
            if o.enabled && o.interval_ms > 0 && o.interval_ms < 1000 && seen_ops.insert(o.element)
            {
                l.warn(
                    o.element,
                    Some("interval"),
                    format!(
                        "{} of {} every {} ms runs the agent more than once a second: \
                         use an interval of 1s or more",
                        o.name, p.id, o.interval_ms
                    ),
                );
            }
        }
    }

    // Not fencing nodes that were never seen is a leap of faith.
    if cib.options.fencing_enabled {
        if let Some(p) = cib
            .options
            .raw
            .get_pair("startup-fencing")
            .filter(|p| p.value.as_deref().and_then(crate::lower::parse_bool) == Some(false))
        {
            l.warn(
                p.element,
                Some("value"),
                "startup-fencing=false: nodes never seen are assumed down, not fenced".into(),
            );
        }
    }

    // Two nodes with one name.
    let mut seen = HashSet::new();
    for n in &cib.nodes {
        if !seen.insert(n.uname.as_str()) {
            l.error(
                n.element,
                Some("uname"),
                format!("duplicate node name {}", n.uname),
            );
        }
    }

    // Fencing enabled without a device: Pacemaker will not start anything.
    let has_config = l
        .doc
        .root()
        .is_some_and(|r| l.doc.get(r).name == "cib" && l.doc.child(r, "configuration").is_some());
    if cib.options.fencing_enabled && fencing.is_empty() && has_config {
        let at = cib
            .options
            .raw
            .get_pair("fencing-enabled")
            .or_else(|| cib.options.raw.get_pair("stonith-enabled"))
            .map(|p| p.element)
            .or_else(|| l.doc.root());
        if let Some(at) = at {
            l.warn(
                at,
                None,
                "fencing is enabled but no fencing device is defined: resources will not start"
                    .into(),
            );
        }
    }

    // Promotable DRBD needs notifications.
    for r in &cib.resources {
        let Resource::Clone(c) = r else { continue };
        if !c.promotable {
            continue;
        }
        let drbd = c.child.primitives().iter().any(|p| p.agent == "drbd");
        if drbd && c.meta.notify != Some(true) {
            l.warn(
                c.element,
                None,
                format!("promotable clone {} runs drbd without notify=true", c.id),
            );
        }
    }
}

/// Whether `id` names an element in or under a `<bundle>` or a `<tag>`.
fn in_unsupported(l: &Lower<'_>, id: &str) -> bool {
    let mut cur = l.ids.get(id).copied();
    while let Some(e) = cur {
        let x = l.doc.get(e);
        if x.name == "bundle" || x.name == "tag" {
            return true;
        }
        cur = x.parent;
    }
    false
}
