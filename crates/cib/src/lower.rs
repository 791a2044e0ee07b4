//! Lowering: from the element tree to the typed [`Cib`], collecting diagnostics.
//!
//! Every function here keeps going after a problem: a bad value becomes a diagnostic and the
//! default (or `None`) is used in its place.
use std::collections::HashMap;

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::duration::parse_ms;
use crate::model::*;
use crate::score::Score;
use crate::status::{self, Join, LrmOp, NodeState, ResourceHistory};
use crate::tree::{Document, ElementId};

pub(crate) struct Lower<'a> {
    pub(crate) file: &'a str,
    pub(crate) src: &'a str,
    pub(crate) doc: &'a Document,
    /// Built the first time a diagnostic needs a line number (a clean CIB needs none).
    lines: std::cell::OnceCell<LineIndex>,
    pub(crate) diags: Vec<Diagnostic>,
    /// `id` → element, for every element under `<configuration>`.
    pub(crate) ids: HashMap<&'a str, ElementId>,
    templates: HashMap<String, Primitive>,
    /// `<lrm_resources>` lowered while the tree was read (their children no longer in
    /// it): taken as they are instead of lowered again.
    pub(crate) folded: Folded,
}

pub(crate) use crate::meta::parse_bool;

/// Histories lowered while the tree was read, by `<lrm_resources>` element (whose
/// children are no longer in the tree), in document order.
pub(crate) type Folded = HashMap<ElementId, Vec<ResourceHistory>>;

impl<'a> Lower<'a> {
    /// Line and column of byte `offset` in the source.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        self.lines
            .get_or_init(|| LineIndex::new(self.src))
            .line_col(self.src, offset)
    }

    pub(crate) fn new(file: &'a str, src: &'a str, doc: &'a Document) -> Self {
        Lower {
            file,
            src,
            doc,
            lines: std::cell::OnceCell::new(),
            diags: Vec::new(),
            ids: HashMap::new(),
            templates: HashMap::new(),
            folded: HashMap::new(),
        }
    }

    /// Byte offset of attribute `attr` of `el` in the source, or of the element itself.
    fn offset(&self, el: ElementId, attr: Option<&str>) -> usize {
        let start = self.doc.get(el).offset;
        let (Some(attr), Some(rest)) = (attr, self.src.get(start..)) else {
            return start;
        };
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        let mut from = 0;
        while let Some(i) = tag[from..].find(attr) {
            let at = from + i;
            let before_ok = at > 0 && tag.as_bytes()[at - 1].is_ascii_whitespace();
            let after = tag[at + attr.len()..].trim_start();
            if before_ok && after.starts_with('=') {
                return start + at;
            }
            from = at + attr.len();
        }
        start
    }

    /// The id to show for `el`: its own, else the nearest ancestor's.
    fn shown_id(&self, el: ElementId) -> Option<String> {
        let mut cur = Some(el);
        while let Some(e) = cur {
            let x = self.doc.get(e);
            if let Some(id) = x.id() {
                return Some(id.to_owned());
            }
            cur = x.parent;
        }
        None
    }

    pub(crate) fn report(
        &mut self,
        severity: Severity,
        el: ElementId,
        attr: Option<&str>,
        message: String,
    ) {
        let off = self.offset(el, attr);
        let (line, col) = self.line_col(off);
        let id = self.shown_id(el);
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_owned(),
            line,
            col,
            id,
            message,
        });
    }

    pub(crate) fn error(&mut self, el: ElementId, attr: Option<&str>, message: String) {
        self.report(Severity::Error, el, attr, message);
    }

    pub(crate) fn warn(&mut self, el: ElementId, attr: Option<&str>, message: String) {
        self.report(Severity::Warning, el, attr, message);
    }

    fn unsupported(&mut self, el: ElementId, attr: Option<&str>, feature: &str) {
        self.error(el, attr, format!("unsupported: {feature}"));
    }

    fn attr(&self, el: ElementId, name: &str) -> Option<&'a str> {
        self.doc.get(el).attr(name)
    }

    fn name(&self, el: ElementId) -> &'a str {
        &self.doc.get(el).name
    }

    /// A required attribute; reports and returns `None` when missing.
    fn required(&mut self, el: ElementId, name: &str) -> Option<&'a str> {
        let v = self.attr(el, name);
        if v.is_none() {
            let tag = self.name(el);
            self.error(el, None, format!("<{tag}> has no {name} attribute"));
        }
        v
    }

    fn bool_attr(&mut self, el: ElementId, name: &str, default: bool) -> bool {
        match self.attr(el, name) {
            None => default,
            Some(v) => parse_bool(v).unwrap_or_else(|| {
                self.warn(
                    el,
                    Some(name),
                    format!("invalid boolean '{v}' for {name}, using {default}"),
                );
                default
            }),
        }
    }

    fn score_attr(&mut self, el: ElementId, name: &str) -> Option<Score> {
        let v = self.attr(el, name)?;
        self.score_value(el, name, name, v)
    }

    /// A score as Pacemaker reads it: malformed values with a leading integer are taken as
    /// that integer (with a warning); anything else is an error.
    fn score_value(&mut self, el: ElementId, attr: &str, what: &str, v: &str) -> Option<Score> {
        if let Some(s) = Score::parse(v) {
            return Some(s);
        }
        match crate::score::parse_prefix(v) {
            Some(s) => {
                self.warn(
                    el,
                    Some(attr),
                    format!("score '{v}' for {what} is read as {s}"),
                );
                Some(s)
            }
            None => {
                self.error(el, Some(attr), format!("invalid score '{v}' for {what}"));
                None
            }
        }
    }

    fn role_attr(&mut self, el: ElementId, name: &str) -> Option<Role> {
        let v = self.attr(el, name)?;
        let r = Role::parse(v);
        if r.is_none() {
            self.error(el, Some(name), format!("invalid role '{v}' for {name}"));
        }
        r
    }

    /// Warn about attributes of `el` that Pacemaker does not define for it: they are kept in
    /// the file but have no effect (often a typo such as `scroe`).
    fn known_attrs(&mut self, el: ElementId, known: &[&str]) {
        let unknown: Vec<&str> = self
            .doc
            .get(el)
            .attrs
            .iter()
            .map(|(k, _)| &**k)
            .filter(|k| !known.contains(k) && !k.starts_with("xmlns") && *k != "description")
            .filter(|k| !k.ends_with("-instance"))
            .collect();
        for k in unknown {
            let tag = self.name(el);
            self.warn(
                el,
                Some(k),
                format!("unknown attribute {k} on <{tag}> has no effect"),
            );
        }
    }

    /// Constraints on one instance of a unique clone (removed in Pacemaker 3.0).
    fn instance_attrs(&mut self, el: ElementId, names: &[&str]) {
        for n in names {
            if self.attr(el, n).is_some() {
                self.unsupported(el, Some(n), "constraint on a clone instance");
            }
        }
    }

    /// Follow `id-ref` to the referenced element of the same kind.
    fn deref(&mut self, el: ElementId) -> Option<ElementId> {
        let Some(r) = self.attr(el, "id-ref") else {
            return Some(el);
        };
        match self.ids.get(r).copied() {
            Some(t) if self.name(t) == self.name(el) => Some(t),
            _ => {
                let tag = self.name(el);
                self.error(
                    el,
                    Some("id-ref"),
                    format!("id-ref '{r}' does not name a <{tag}>"),
                );
                None
            }
        }
    }

    // ----- the document -----

    pub(crate) fn lower(&mut self) -> Cib {
        let mut cib = Cib::default();
        let Some(root) = self.doc.root() else {
            return cib;
        };
        if self.name(root) != "cib" {
            let n = self.name(root);
            self.error(root, None, format!("root element is <{n}>, not <cib>"));
            return cib;
        }
        for (field, name) in [
            (&mut cib.versions.admin_epoch, "admin_epoch"),
            (&mut cib.versions.epoch, "epoch"),
            (&mut cib.versions.num_updates, "num_updates"),
        ] {
            if let Some(v) = self.attr(root, name) {
                match v.trim().parse::<u64>() {
                    Ok(n) => *field = n,
                    Err(_) => {
                        self.error(root, Some(name), format!("invalid {name} '{v}'"));
                    }
                }
            }
        }
        cib.validate_with = self.attr(root, "validate-with").map(str::to_owned);
        (cib.have_quorum, cib.dc_uuid) = crate::cluster_state(self.doc);
        cib.no_quorum_panic = self.attr(root, "no-quorum-panic").and_then(parse_bool) == Some(true);

        let config = self.doc.child(root, "configuration");
        match config {
            Some(c) => {
                self.collect_ids(c);
                self.lower_configuration(c, &mut cib);
            }
            None => self.error(root, None, "<cib> has no <configuration>".into()),
        }
        for c in self.doc.children(root) {
            match self.name(c) {
                "configuration" => {}
                "status" => cib.status = self.lower_status(c),
                other => {
                    let f = format!("element <{other}> in <cib>");
                    self.unsupported(c, None, &f);
                }
            }
        }
        cib
    }

    fn collect_ids(&mut self, config: ElementId) {
        // Sized for the configuration's elements at once (a large one has a hundred
        // thousand ids: growing, the map would be hashed again many times). They are
        // numbered from it up to its next sibling, as they were read.
        let end = self
            .doc
            .get(config)
            .parent
            .and_then(|r| self.doc.children(r).find(|&c| c > config))
            .map_or(self.doc.len(), |c| c.index());
        self.ids.reserve(end.saturating_sub(config.index()));
        let mut stack = vec![config];
        while let Some(e) = stack.pop() {
            let e_name = self.name(e);
            // resource_ref/obj_ref/role ids are references; node ids are a separate space.
            let identity = !["resource_ref", "obj_ref", "role", "node"].contains(&e_name);
            if let Some(id) = self.doc.get(e).id().filter(|_| identity) {
                if let Some(&first) = self.ids.get(id) {
                    let (l, c) = self.line_col(self.offset(first, Some("id")));
                    self.error(
                        e,
                        Some("id"),
                        format!("duplicate id '{id}' (first used at {l}:{c})"),
                    );
                } else {
                    self.ids.insert(id, e);
                }
            }
            let kids: Vec<_> = self.doc.children(e).collect();
            stack.extend(kids.into_iter().rev());
        }
        // Document order matters for "first used at": the stack walk is pre-order.
    }

    fn lower_configuration(&mut self, config: ElementId, cib: &mut Cib) {
        // Templates first: primitives may use a template defined after them.
        if let Some(res) = self.doc.child(config, "resources") {
            let kids: Vec<_> = self.doc.children(res).collect();
            for t in kids {
                if self.name(t) == "template" {
                    if let Some(p) = self.primitive(t, true) {
                        self.templates.insert(p.id.0.clone(), p.clone());
                        cib.templates.push(p);
                    }
                }
            }
        }
        let kids: Vec<_> = self.doc.children(config).collect();
        for c in kids {
            match self.name(c) {
                "crm_config" => cib.options = self.cluster_options(c),
                "nodes" => {
                    for n in self.doc.children(c).collect::<Vec<_>>() {
                        if let Some(n) = self.node(n) {
                            cib.nodes.push(n);
                        }
                    }
                }
                "resources" => {
                    for r in self.doc.children(c).collect::<Vec<_>>() {
                        if self.name(r) == "template" {
                            continue;
                        }
                        if let Some(r) = self.resource(r, false) {
                            cib.resources.push(r);
                        }
                    }
                }
                "constraints" => self.constraints(c, cib),
                "rsc_defaults" => cib.rsc_defaults = self.sets(c, "meta_attributes"),
                "op_defaults" => cib.op_defaults = self.sets(c, "meta_attributes"),
                "fencing-topology" => {
                    for l in self.doc.children(c).collect::<Vec<_>>() {
                        if let Some(l) = self.fencing_level(l) {
                            cib.fencing_levels.push(l);
                        }
                    }
                }
                "alerts" => {
                    for a in self.doc.children(c).collect::<Vec<_>>() {
                        if let Some(a) = self.alert(a) {
                            cib.alerts.push(a);
                        }
                    }
                }
                "tags" if self.doc.children(c).next().is_none() => {}
                "acls" if self.doc.children(c).next().is_none() => {}
                "tags" => self.unsupported(c, None, "tags"),
                "acls" => self.unsupported(c, None, "acls"),
                other => {
                    let f = format!("element <{other}> in <configuration>");
                    self.unsupported(c, None, &f);
                }
            }
        }
    }

    // ----- attribute sets and rules -----

    /// All child sets of `parent` named `kind`, sorted by descending score (stable).
    fn sets(&mut self, parent: ElementId, kind: &str) -> Attributes {
        let mut sets = Vec::new();
        for s in self.doc.children(parent).collect::<Vec<_>>() {
            if self.name(s) != kind {
                continue;
            }
            if let Some(set) = self.set(s) {
                sets.push(set);
            }
        }
        sets.sort_by_key(|s: &AttributeSet| std::cmp::Reverse(s.score));
        Attributes { sets }
    }

    fn set(&mut self, s: ElementId) -> Option<AttributeSet> {
        let t = self.deref(s)?;
        self.known_attrs(t, &["id", "id-ref", "score"]);
        let score = self.score_attr(t, "score").unwrap_or_default();
        let mut set = AttributeSet {
            id: self.attr(t, "id").map(str::to_owned),
            score,
            rule: None,
            pairs: Vec::new(),
            element: t,
        };
        let mut rules = 0;
        for c in self.doc.children(t).collect::<Vec<_>>() {
            match self.name(c) {
                "nvpair" => {
                    let Some(p) = self.deref(c) else { continue };
                    self.known_attrs(p, &["id", "id-ref", "name", "value"]);
                    let Some(name) = self.required(p, "name") else {
                        continue;
                    };
                    set.pairs.push(NvPair {
                        id: self.attr(p, "id").map(str::to_owned),
                        name: name.to_owned(),
                        value: self.attr(p, "value").map(str::to_owned),
                        element: p,
                    });
                }
                "rule" => {
                    rules += 1;
                    if rules > 1 {
                        self.error(c, None, "attribute set has more than one <rule>".into());
                    } else {
                        set.rule = self.rule(c, false);
                    }
                }
                other => {
                    let f = format!("element <{other}> in an attribute set");
                    self.unsupported(c, None, &f);
                }
            }
        }
        Some(set)
    }

    fn rule(&mut self, r: ElementId, location: bool) -> Option<Rule> {
        let r = self.deref(r)?;
        self.known_attrs(
            r,
            &[
                "id",
                "id-ref",
                "score",
                "score-attribute",
                "role",
                "boolean-op",
            ],
        );
        let boolean_op = match self.attr(r, "boolean-op") {
            None => BooleanOp::And,
            Some(v) if v.eq_ignore_ascii_case("and") => BooleanOp::And,
            Some(v) if v.eq_ignore_ascii_case("or") => BooleanOp::Or,
            Some(v) => {
                self.error(r, Some("boolean-op"), format!("invalid boolean-op '{v}'"));
                BooleanOp::And
            }
        };
        let mut rule = Rule {
            id: self.attr(r, "id").map(str::to_owned),
            score: self.score_attr(r, "score"),
            score_attribute: self.attr(r, "score-attribute").map(str::to_owned),
            role: self.role_attr(r, "role"),
            boolean_op,
            conditions: Vec::new(),
            element: r,
        };
        if location && rule.score.is_none() && rule.score_attribute.is_none() {
            // Pacemaker treats a location rule without a score as score 0.
            rule.score = Some(Score::ZERO);
        }
        for c in self.doc.children(r).collect::<Vec<_>>() {
            match self.name(c) {
                "expression" => {
                    if let Some(e) = self.expression(c) {
                        rule.conditions.push(Condition::Expression(e));
                    }
                }
                "date_expression" => {
                    if let Some(e) = self.date_expression(c) {
                        rule.conditions.push(Condition::Date(e));
                    }
                }
                "rule" => {
                    if let Some(n) = self.rule(c, false) {
                        rule.conditions.push(Condition::Rule(n));
                    }
                }
                "rsc_expression" => self.unsupported(c, None, "rsc_expression in rules"),
                "op_expression" => self.unsupported(c, None, "op_expression in rules"),
                other => {
                    let f = format!("element <{other}> in a <rule>");
                    self.unsupported(c, None, &f);
                }
            }
        }
        Some(rule)
    }

    fn expression(&mut self, e: ElementId) -> Option<Expression> {
        let e = self.deref(e)?;
        let known = [
            "id",
            "id-ref",
            "attribute",
            "operation",
            "value",
            "type",
            "value-source",
        ];
        self.known_attrs(e, &known);
        let attribute = self.required(e, "attribute")?;
        let operation = self.required(e, "operation")?;
        const OPS: [&str; 8] = [
            "lt",
            "gt",
            "lte",
            "gte",
            "eq",
            "ne",
            "defined",
            "not_defined",
        ];
        if !OPS.contains(&operation) {
            self.error(
                e,
                Some("operation"),
                format!("invalid expression operation '{operation}'"),
            );
            return None;
        }
        let value = self.attr(e, "value");
        if value.is_none() && !operation.ends_with("defined") {
            self.error(
                e,
                None,
                format!("expression with '{operation}' has no value"),
            );
        }
        let value_type = self.attr(e, "type");
        if let Some(t) = value_type {
            if !["string", "integer", "number", "version"].contains(&t) {
                self.error(e, Some("type"), format!("invalid expression type '{t}'"));
            }
        }
        Some(Expression {
            id: self.attr(e, "id").map(str::to_owned),
            attribute: attribute.to_owned(),
            operation: operation.to_owned(),
            value: value.map(str::to_owned),
            value_type: value_type.map(str::to_owned),
            value_source: self.attr(e, "value-source").map(str::to_owned),
            element: e,
        })
    }

    fn date_expression(&mut self, e: ElementId) -> Option<DateExpression> {
        let e = self.deref(e)?;
        self.known_attrs(e, &["id", "id-ref", "operation", "start", "end"]);
        let operation = self.attr(e, "operation").unwrap_or("in_range");
        if !["in_range", "gt", "lt", "date_spec"].contains(&operation) {
            self.error(
                e,
                Some("operation"),
                format!("invalid date expression operation '{operation}'"),
            );
            return None;
        }
        let mut spec = Vec::new();
        for c in self.doc.children(e).collect::<Vec<_>>() {
            match self.name(c) {
                "date_spec" | "duration" => {
                    spec.extend(
                        self.doc
                            .get(c)
                            .attrs
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_owned())),
                    );
                }
                other => {
                    let f = format!("element <{other}> in a <date_expression>");
                    self.unsupported(c, None, &f);
                }
            }
        }
        Some(DateExpression {
            id: self.attr(e, "id").map(str::to_owned),
            operation: operation.to_owned(),
            start: self.attr(e, "start").map(str::to_owned),
            end: self.attr(e, "end").map(str::to_owned),
            spec,
            element: e,
        })
    }

    // ----- crm_config -----

    fn cluster_options(&mut self, c: ElementId) -> ClusterOptions {
        let mut raw = self.sets(c, "cluster_property_set");
        // cib-bootstrap-options always takes precedence.
        if let Some(i) = raw
            .sets
            .iter()
            .position(|s| s.id.as_deref() == Some("cib-bootstrap-options"))
        {
            let s = raw.sets.remove(i);
            raw.sets.insert(0, s);
        }
        for x in self.doc.children(c).collect::<Vec<_>>() {
            if self.name(x) != "cluster_property_set" {
                let f = format!("element <{}> in <crm_config>", self.name(x));
                self.unsupported(x, None, &f);
            }
        }
        let mut o = ClusterOptions::default();
        let pair = |names: &[&str]| -> Option<NvPair> {
            names
                .iter()
                .find_map(|n| raw.get_pair(n))
                .filter(|p| p.value.is_some())
                .cloned()
        };
        let bools: [(&[&str], &mut bool); 5] = [
            (
                &["fencing-enabled", "stonith-enabled"],
                &mut o.fencing_enabled,
            ),
            (&["symmetric-cluster"], &mut o.symmetric_cluster),
            (&["maintenance-mode"], &mut o.maintenance_mode),
            (&["stop-all-resources"], &mut o.stop_all_resources),
            (&["start-failure-is-fatal"], &mut o.start_failure_is_fatal),
        ];
        let mut found = Vec::new();
        for (names, field) in bools {
            if let Some(p) = pair(names) {
                let v = p.value.as_deref().unwrap_or_default();
                match parse_bool(v) {
                    Some(b) => *field = b,
                    None => {
                        found.push((p.element, format!("invalid boolean '{v}' for {}", p.name)))
                    }
                }
            }
        }
        if let Some(p) = pair(&["no-quorum-policy"]) {
            let v = p.value.as_deref().unwrap_or_default();
            o.no_quorum_policy = match v.trim().to_ascii_lowercase().as_str() {
                "stop" => NoQuorumPolicy::Stop,
                "ignore" => NoQuorumPolicy::Ignore,
                "freeze" => NoQuorumPolicy::Freeze,
                "demote" => NoQuorumPolicy::Demote,
                "fence" | "suicide" => NoQuorumPolicy::Fence,
                _ => {
                    self.error(
                        p.element,
                        Some("value"),
                        format!("invalid no-quorum-policy '{v}'"),
                    );
                    NoQuorumPolicy::Stop
                }
            };
        }
        if let Some(p) = pair(&["placement-strategy"]) {
            let v = p.value.as_deref().unwrap_or_default();
            o.placement_strategy = match v.trim().to_ascii_lowercase().as_str() {
                "default" => PlacementStrategy::Default,
                "utilization" => PlacementStrategy::Utilization,
                "minimal" => PlacementStrategy::Minimal,
                "balanced" => PlacementStrategy::Balanced,
                _ => {
                    self.error(
                        p.element,
                        Some("value"),
                        format!("invalid placement-strategy '{v}'"),
                    );
                    PlacementStrategy::Default
                }
            };
        }
        for (names, field) in [
            (
                &["fencing-timeout", "stonith-timeout"][..],
                &mut o.fencing_timeout_ms,
            ),
            (
                &["priority-fencing-delay"][..],
                &mut o.priority_fencing_delay_ms,
            ),
        ] {
            if let Some(p) = pair(names) {
                let v = p.value.as_deref().unwrap_or_default();
                match parse_ms(v) {
                    Some(ms) => *field = ms,
                    None => self.error(
                        p.element,
                        Some("value"),
                        format!("invalid duration '{v}' for {}", p.name),
                    ),
                }
            }
        }
        if let Some(p) = pair(&["fencing-action", "stonith-action"]) {
            let v = p.value.as_deref().unwrap_or_default();
            if ["reboot", "off", "poweroff"].contains(&v) {
                o.fencing_action = v.to_owned();
            } else {
                self.error(
                    p.element,
                    Some("value"),
                    format!("invalid {} '{v}'", p.name),
                );
            }
        }
        for (el, msg) in found {
            self.warn(el, Some("value"), msg);
        }
        o.raw = raw;
        o
    }

    // ----- nodes -----

    fn node(&mut self, n: ElementId) -> Option<Node> {
        if self.name(n) != "node" {
            let f = format!("element <{}> in <nodes>", self.name(n));
            self.unsupported(n, None, &f);
            return None;
        }
        let id = self.required(n, "id")?;
        let uname = self.required(n, "uname")?;
        if let Err(e) = crate::names::check_node_name(uname) {
            self.error(n, Some("uname"), e.to_string());
        }
        self.known_attrs(n, &["id", "uname", "type", "score"]);
        match self.attr(n, "type") {
            None | Some("member") | Some("normal") => {}
            Some("remote") => {
                self.unsupported(n, Some("type"), "remote node");
                return None;
            }
            Some(t) => {
                let f = format!("node type '{t}'");
                self.unsupported(n, Some("type"), &f);
                return None;
            }
        }
        let attributes = self.sets(n, "instance_attributes");
        let utilization = self.sets(n, "utilization");
        for c in self.doc.children(n).collect::<Vec<_>>() {
            if !["instance_attributes", "utilization"].contains(&self.name(c)) {
                let f = format!("element <{}> in <node>", self.name(c));
                self.unsupported(c, None, &f);
            }
        }
        let flag = |name: &str| attributes.get(name).and_then(parse_bool).unwrap_or(false);
        Some(Node {
            id: id.to_owned(),
            uname: NodeName(uname.to_owned()),
            standby: flag("standby"),
            maintenance: flag("maintenance"),
            attributes,
            utilization,
            element: n,
        })
    }

    // ----- resources -----

    fn resource(&mut self, r: ElementId, in_collective: bool) -> Option<Resource> {
        match self.name(r) {
            "primitive" => self.primitive(r, false).map(Resource::Primitive),
            "group" => self.group(r).map(Resource::Group),
            "clone" | "master" if in_collective => {
                self.error(r, None, "a clone cannot contain another clone".into());
                None
            }
            "clone" | "master" => self.clone(r).map(Resource::Clone),
            "bundle" => {
                self.unsupported(r, None, "bundle");
                None
            }
            other => {
                let f = format!("element <{other}> in <resources>");
                self.unsupported(r, None, &f);
                None
            }
        }
    }

    fn primitive(&mut self, p: ElementId, is_template: bool) -> Option<Primitive> {
        let id = self.required(p, "id")?;
        self.known_attrs(p, &["id", "class", "provider", "type", "template"]);
        let template = if is_template {
            None
        } else {
            self.attr(p, "template")
        };
        let base = match template {
            Some(t) => match self.templates.get(t) {
                Some(b) => Some(b.clone()),
                None => {
                    self.error(
                        p,
                        Some("template"),
                        format!("template '{t}' does not exist"),
                    );
                    return None;
                }
            },
            None => None,
        };
        let class = match (self.attr(p, "class"), &base) {
            (Some(c), _) => c.to_owned(),
            (None, Some(b)) => b.class.clone(),
            (None, None) => {
                self.required(p, "class");
                return None;
            }
        };
        let provider = self
            .attr(p, "provider")
            .map(str::to_owned)
            .or_else(|| base.as_ref().and_then(|b| b.provider.clone()));
        let agent = match (self.attr(p, "type"), &base) {
            (Some(t), _) => t.to_owned(),
            (None, Some(b)) => b.agent.clone(),
            (None, None) => {
                self.required(p, "type");
                return None;
            }
        };
        if !crate::agent::KNOWN_CLASSES.contains(&class.as_str()) {
            self.error(
                p,
                Some("class"),
                format!("unknown resource class '{class}'"),
            );
        }
        if class == "ocf" && provider.is_none() {
            self.error(p, None, "ocf resource has no provider".into());
        }
        if class == "ocf" && provider.as_deref() == Some("pacemaker") && agent == "remote" {
            self.unsupported(p, Some("type"), "remote node");
        }
        let mut params = self.sets(p, "instance_attributes");
        let mut meta_sets = self.sets(p, "meta_attributes");
        let mut utilization = self.sets(p, "utilization");
        let mut ops = Vec::new();
        for c in self.doc.children(p).collect::<Vec<_>>() {
            match self.name(c) {
                "instance_attributes" | "meta_attributes" | "utilization" => {}
                "operations" => {
                    let Some(c) = self.deref(c) else { continue };
                    for o in self.doc.children(c).collect::<Vec<_>>() {
                        if let Some(o) = self.op(o) {
                            ops.push(o);
                        }
                    }
                }
                other => {
                    let f = format!("element <{other}> in <primitive>");
                    self.unsupported(c, None, &f);
                }
            }
        }
        // Duplicate (name, interval) pairs of recurring operations.
        for i in (0..ops.len()).filter(|&i| ops[i].interval_ms > 0) {
            if let Some(j) = (0..i)
                .find(|&j| ops[j].name == ops[i].name && ops[j].interval_ms == ops[i].interval_ms)
            {
                let (a, b) = (ops[i].id.clone(), ops[j].id.clone());
                self.error(
                    ops[i].element,
                    Some("interval"),
                    format!("operation {a} duplicates {b} (same name and interval)"),
                );
            }
        }
        if let Some(b) = base {
            params.sets.extend(b.params.sets);
            meta_sets.sets.extend(b.meta.raw.sets);
            utilization.sets.extend(b.utilization.sets);
            for o in b.ops {
                if !ops
                    .iter()
                    .any(|x: &Op| x.name == o.name && x.interval_ms == o.interval_ms)
                {
                    ops.push(o);
                }
            }
        }
        let meta = self.meta(meta_sets);
        if meta.raw.get("remote-node").is_some() {
            let el = meta.raw.get_pair("remote-node").map_or(p, |x| x.element);
            self.unsupported(el, None, "guest node (remote-node)");
        }
        if meta.raw.get("container").is_some() {
            let el = meta.raw.get_pair("container").map_or(p, |x| x.element);
            self.unsupported(el, None, "container resource");
        }
        Some(Primitive {
            id: ResourceId(id.to_owned()),
            class,
            provider,
            agent,
            template: template.map(ResourceId::from),
            params,
            meta,
            utilization,
            ops,
            element: p,
        })
    }

    fn op(&mut self, o: ElementId) -> Option<Op> {
        if self.name(o) != "op" {
            let f = format!("element <{}> in <operations>", self.name(o));
            self.unsupported(o, None, &f);
            return None;
        }
        let o = self.deref(o)?;
        let id = self.required(o, "id")?;
        let name = self.required(o, "name")?;
        const KNOWN: [&str; 12] = [
            "id",
            "id-ref",
            "name",
            "interval",
            "timeout",
            "role",
            "on-fail",
            "enabled",
            "start-delay",
            "interval-origin",
            "record-pending",
            "requires",
        ];
        self.known_attrs(o, &KNOWN);
        let interval_ms = match self.attr(o, "interval") {
            None => 0,
            Some(v) => parse_ms(v).unwrap_or_else(|| {
                self.error(o, Some("interval"), format!("invalid interval '{v}'"));
                0
            }),
        };
        let mut timeout_ms = None;
        if let Some(v) = self.attr(o, "timeout") {
            timeout_ms = parse_ms(v);
            if timeout_ms.is_none() {
                self.error(o, Some("timeout"), format!("invalid timeout '{v}'"));
            }
        }
        let role = self.role_attr(o, "role");
        let on_fail = match self.attr(o, "on-fail") {
            None => None,
            Some(v) => {
                let f = OnFail::from_str_opt(v);
                if f.is_none() {
                    self.error(o, Some("on-fail"), format!("invalid on-fail '{v}'"));
                }
                f
            }
        };
        if on_fail == Some(OnFail::Demote)
            && !(name == "promote" || name == "monitor" && role == Some(Role::Promoted))
        {
            self.error(
                o,
                Some("on-fail"),
                format!("on-fail=demote is only valid for promote and promoted monitor operations, not {name}"),
            );
        }
        let enabled = self.bool_attr(o, "enabled", true);
        let params = self.sets(o, "instance_attributes");
        let mut attributes = self.sets(o, "meta_attributes");
        attributes.sets.extend(params.sets.iter().cloned());
        const TYPED: [&str; 7] = [
            "id", "name", "interval", "timeout", "role", "on-fail", "enabled",
        ];
        let other = self
            .doc
            .get(o)
            .attrs
            .iter()
            .filter(|(k, _)| !TYPED.contains(&&***k))
            .map(|(k, v)| (k.to_string(), v.to_owned()))
            .collect();
        for c in self.doc.children(o).collect::<Vec<_>>() {
            match self.name(c) {
                "instance_attributes" | "meta_attributes" => {}
                other => {
                    let f = format!("element <{other}> in <op>");
                    self.unsupported(c, None, &f);
                }
            }
        }
        Some(Op {
            id: id.to_owned(),
            name: name.to_owned(),
            interval_ms,
            timeout_ms,
            on_fail,
            role,
            enabled,
            attributes,
            params,
            other,
            element: o,
        })
    }

    /// Type the meta-attributes. Unconditional values are checked; invalid values are
    /// errors where Pacemaker rejects them, warnings where it quietly falls back.
    fn meta(&mut self, raw: Attributes) -> Meta {
        let mut m = Meta::default();
        let pairs: Vec<NvPair> = raw
            .sets
            .iter()
            .filter(|s| s.rule.is_none())
            .flat_map(|s| s.pairs.iter().cloned())
            .collect();
        let mut seen: Vec<&str> = Vec::new();
        for p in &pairs {
            let name = p.name.as_str();
            // Legacy names map onto the current ones; the first value wins.
            let key = match name {
                "master-max" => "promoted-max",
                "master-node-max" => "promoted-node-max",
                k => k,
            };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let Some(v) = p.value.as_deref() else {
                continue;
            };
            let el = p.element;
            let boolean = |l: &mut Self, f: &mut Option<bool>| match parse_bool(v) {
                Some(b) => *f = Some(b),
                None => l.warn(
                    el,
                    Some("value"),
                    format!("invalid boolean '{v}' for {name}"),
                ),
            };
            let count = |l: &mut Self, f: &mut Option<u32>| match v.trim().parse::<u32>() {
                Ok(n) => *f = Some(n),
                Err(_) => l.warn(el, Some("value"), format!("invalid count '{v}' for {name}")),
            };
            let score = |l: &mut Self, f: &mut Option<Score>| {
                if let Some(s) = l.score_value(el, "value", name, v) {
                    *f = Some(s);
                }
            };
            match key {
                // "#default" asks for the default, as if unset.
                "target-role" if v.trim() == "#default" => {}
                "target-role" => match Role::parse(v) {
                    Some(r) => m.target_role = Some(r),
                    None => self.error(el, Some("value"), format!("invalid target-role '{v}'")),
                },
                "is-managed" => boolean(self, &mut m.is_managed),
                "maintenance" => boolean(self, &mut m.maintenance),
                "allow-migrate" => boolean(self, &mut m.allow_migrate),
                "critical" => boolean(self, &mut m.critical),
                "notify" => boolean(self, &mut m.notify),
                "interleave" => boolean(self, &mut m.interleave),
                "ordered" => boolean(self, &mut m.ordered),
                "globally-unique" => boolean(self, &mut m.globally_unique),
                "promotable" => boolean(self, &mut m.promotable),
                "resource-stickiness" => score(self, &mut m.resource_stickiness),
                "migration-threshold" => score(self, &mut m.migration_threshold),
                "priority" => score(self, &mut m.priority),
                "clone-max" => count(self, &mut m.clone_max),
                "clone-node-max" => count(self, &mut m.clone_node_max),
                "clone-min" => count(self, &mut m.clone_min),
                "promoted-max" => count(self, &mut m.promoted_max),
                "promoted-node-max" => count(self, &mut m.promoted_node_max),
                "failure-timeout" => match parse_ms(v) {
                    Some(ms) => m.failure_timeout_ms = Some(ms),
                    None => self.error(el, Some("value"), format!("invalid failure-timeout '{v}'")),
                },
                "requires" => {
                    m.requires = match v.trim() {
                        "nothing" => Some(Requires::Nothing),
                        "quorum" => Some(Requires::Quorum),
                        "fencing" => Some(Requires::Fencing),
                        "unfencing" => Some(Requires::Unfencing),
                        _ => {
                            self.warn(el, Some("value"), format!("invalid requires '{v}'"));
                            None
                        }
                    }
                }
                "multiple-active" => {
                    m.multiple_active = match v.trim() {
                        "block" => Some(MultipleActive::Block),
                        "stop_only" => Some(MultipleActive::StopOnly),
                        "stop_start" => Some(MultipleActive::StopStart),
                        "stop_unexpected" => Some(MultipleActive::StopUnexpected),
                        _ => {
                            self.warn(el, Some("value"), format!("invalid multiple-active '{v}'"));
                            None
                        }
                    }
                }
                "restart-type" => self.warn(
                    el,
                    Some("name"),
                    "meta-attribute restart-type is deprecated".into(),
                ),
                _ => {}
            }
        }
        m.raw = raw;
        m
    }

    fn group(&mut self, g: ElementId) -> Option<Group> {
        let id = self.required(g, "id")?;
        self.known_attrs(g, &["id"]);
        let meta_sets = self.sets(g, "meta_attributes");
        let meta = self.meta(meta_sets);
        let params = self.sets(g, "instance_attributes");
        let mut members = Vec::new();
        for c in self.doc.children(g).collect::<Vec<_>>() {
            match self.name(c) {
                "primitive" => {
                    if let Some(p) = self.primitive(c, false) {
                        members.push(p);
                    }
                }
                "meta_attributes" | "instance_attributes" => {}
                other => {
                    self.error(
                        c,
                        None,
                        format!("group {id} may contain only primitives, not <{other}>"),
                    );
                }
            }
        }
        if members.is_empty() {
            self.error(g, None, format!("group {id} has no members"));
        }
        Some(Group {
            id: ResourceId(id.to_owned()),
            meta,
            params,
            members,
            element: g,
        })
    }

    fn clone(&mut self, c: ElementId) -> Option<Clone> {
        let id = self.required(c, "id")?;
        self.known_attrs(c, &["id"]);
        let legacy_master = self.name(c) == "master";
        let meta_sets = self.sets(c, "meta_attributes");
        let meta = self.meta(meta_sets);
        let params = self.sets(c, "instance_attributes");
        let mut child = None;
        for k in self.doc.children(c).collect::<Vec<_>>() {
            match self.name(k) {
                "meta_attributes" | "instance_attributes" => {}
                "primitive" | "group" | "clone" | "master" | "bundle" => {
                    if child.is_some() {
                        self.error(
                            k,
                            None,
                            format!("clone {id} has more than one child resource"),
                        );
                        continue;
                    }
                    child = self.resource(k, true);
                }
                other => {
                    let f = format!("element <{other}> in <clone>");
                    self.unsupported(k, None, &f);
                }
            }
        }
        let Some(child) = child else {
            self.error(c, None, format!("clone {id} has no child resource"));
            return None;
        };
        let promotable = legacy_master || meta.promotable.unwrap_or(false);
        Some(Clone {
            id: ResourceId(id.to_owned()),
            meta,
            params,
            promotable,
            legacy_master,
            child: Box::new(child),
            element: c,
        })
    }

    // ----- constraints -----

    fn constraints(&mut self, c: ElementId, cib: &mut Cib) {
        for k in self.doc.children(c).collect::<Vec<_>>() {
            match self.name(k) {
                "rsc_location" => {
                    if let Some(l) = self.location(k) {
                        cib.locations.push(l);
                    }
                }
                "rsc_colocation" => {
                    if let Some(x) = self.colocation(k) {
                        cib.colocations.push(x);
                    }
                }
                "rsc_order" => {
                    if let Some(x) = self.order(k) {
                        cib.orders.push(x);
                    }
                }
                "rsc_ticket" => self.unsupported(k, None, "ticket constraint (rsc_ticket)"),
                other => {
                    let f = format!("element <{other}> in <constraints>");
                    self.unsupported(k, None, &f);
                }
            }
        }
    }

    fn resource_sets(&mut self, c: ElementId) -> Vec<ResourceSet> {
        let mut out = Vec::new();
        for s in self.doc.children(c).collect::<Vec<_>>() {
            if self.name(s) != "resource_set" {
                continue;
            }
            let Some(s) = self.deref(s) else { continue };
            let mut members = Vec::new();
            const KNOWN: [&str; 9] = [
                "id",
                "id-ref",
                "sequential",
                "require-all",
                "role",
                "action",
                "score",
                "ordering",
                "kind",
            ];
            self.known_attrs(s, &KNOWN);
            for r in self.doc.children(s).collect::<Vec<_>>() {
                if self.name(r) == "resource_ref" {
                    if let Some(id) = self.required(r, "id") {
                        members.push(ResourceId(id.to_owned()));
                    }
                } else {
                    let f = format!("element <{}> in <resource_set>", self.name(r));
                    self.unsupported(r, None, &f);
                }
            }
            let action = self.attr(s, "action").map(str::to_owned);
            if let Some(a) = &action {
                self.check_action(s, "action", a);
            }
            out.push(ResourceSet {
                id: self.attr(s, "id").map(str::to_owned),
                sequential: self.bool_attr(s, "sequential", true),
                require_all: self.bool_attr(s, "require-all", true),
                role: self.role_attr(s, "role"),
                action,
                score: self.score_attr(s, "score"),
                kind: self.attr(s, "kind").map(str::to_owned),
                ordering: self.attr(s, "ordering").map(str::to_owned),
                members,
                element: s,
            });
        }
        out
    }

    fn check_action(&mut self, el: ElementId, attr: &str, a: &str) {
        const ACTIONS: [&str; 8] = [
            "start", "stop", "promote", "demote", "promoted", "demoted", "started", "stopped",
        ];
        if !ACTIONS.contains(&a) {
            self.error(el, Some(attr), format!("invalid action '{a}' for {attr}"));
        }
    }

    fn other_children(&mut self, c: ElementId, allowed: &[&str]) {
        for k in self.doc.children(c).collect::<Vec<_>>() {
            let n = self.name(k);
            if !allowed.contains(&n) {
                let f = format!("element <{n}> in <{}>", self.name(c));
                self.unsupported(k, None, &f);
            }
        }
    }

    pub(crate) fn location(&mut self, c: ElementId) -> Option<Location> {
        let id = self.required(c, "id")?;
        const KNOWN: [&str; 7] = [
            "id",
            "rsc",
            "rsc-pattern",
            "node",
            "score",
            "role",
            "resource-discovery",
        ];
        self.known_attrs(c, &KNOWN);
        let sets = self.resource_sets(c);
        let rsc = self.attr(c, "rsc").map(ResourceId::from);
        let rsc_pattern = self.attr(c, "rsc-pattern").map(str::to_owned);
        if rsc.is_none() && rsc_pattern.is_none() && sets.is_empty() {
            self.error(c, None, format!("location {id} names no resource"));
        }
        let node = self.attr(c, "node").map(NodeName::from);
        let score = self.score_attr(c, "score");
        let mut rules = Vec::new();
        for r in self.doc.children(c).collect::<Vec<_>>() {
            if self.name(r) == "rule" {
                if let Some(r) = self.rule(r, true) {
                    rules.push(r);
                }
            }
        }
        self.other_children(c, &["rule", "resource_set"]);
        if node.is_some() && score.is_none() && self.attr(c, "score").is_none() {
            self.error(c, None, format!("location {id} has a node but no score"));
        }
        if node.is_none() && rules.is_empty() {
            self.error(
                c,
                None,
                format!("location {id} has neither a node nor a rule"),
            );
        }
        let resource_discovery = match self.attr(c, "resource-discovery") {
            None | Some("always") => ResourceDiscovery::Always,
            Some("never") => ResourceDiscovery::Never,
            Some("exclusive") => ResourceDiscovery::Exclusive,
            Some(v) => {
                self.error(
                    c,
                    Some("resource-discovery"),
                    format!("invalid resource-discovery '{v}'"),
                );
                ResourceDiscovery::Always
            }
        };
        Some(Location {
            id: id.to_owned(),
            rsc,
            rsc_pattern,
            sets,
            node,
            score,
            role: self.role_attr(c, "role"),
            rules,
            resource_discovery,
            element: c,
        })
    }

    fn colocation(&mut self, c: ElementId) -> Option<Colocation> {
        let id = self.required(c, "id")?;
        const KNOWN: [&str; 8] = [
            "id",
            "rsc",
            "with-rsc",
            "score",
            "rsc-role",
            "with-rsc-role",
            "node-attribute",
            "influence",
        ];
        self.known_attrs(c, &KNOWN);
        self.instance_attrs(c, &["rsc-instance", "with-rsc-instance"]);
        let sets = self.resource_sets(c);
        self.other_children(c, &["resource_set"]);
        let rsc = self.attr(c, "rsc").map(ResourceId::from);
        let with_rsc = self.attr(c, "with-rsc").map(ResourceId::from);
        if sets.is_empty() && (rsc.is_none() || with_rsc.is_none()) {
            self.error(
                c,
                None,
                format!("colocation {id} needs rsc and with-rsc, or resource sets"),
            );
        }
        let influence = match self.attr(c, "influence") {
            None => None,
            Some(v) => match parse_bool(v) {
                Some(b) => Some(b),
                None => {
                    self.error(
                        c,
                        Some("influence"),
                        format!("invalid boolean '{v}' for influence"),
                    );
                    None
                }
            },
        };
        Some(Colocation {
            id: id.to_owned(),
            score: self.score_attr(c, "score").unwrap_or_default(),
            rsc,
            with_rsc,
            rsc_role: self.role_attr(c, "rsc-role"),
            with_rsc_role: self.role_attr(c, "with-rsc-role"),
            node_attribute: self.attr(c, "node-attribute").map(str::to_owned),
            influence,
            sets,
            element: c,
        })
    }

    fn order(&mut self, c: ElementId) -> Option<Order> {
        let id = self.required(c, "id")?;
        const KNOWN: [&str; 9] = [
            "id",
            "first",
            "then",
            "first-action",
            "then-action",
            "kind",
            "symmetrical",
            "require-all",
            "score",
        ];
        self.known_attrs(c, &KNOWN);
        self.instance_attrs(c, &["first-instance", "then-instance"]);
        let sets = self.resource_sets(c);
        self.other_children(c, &["resource_set"]);
        let first = self.attr(c, "first").map(ResourceId::from);
        let then = self.attr(c, "then").map(ResourceId::from);
        if sets.is_empty() && (first.is_none() || then.is_none()) {
            self.error(
                c,
                None,
                format!("order {id} needs first and then, or resource sets"),
            );
        }
        let kind = match self.attr(c, "kind") {
            Some(k) if k.eq_ignore_ascii_case("mandatory") => OrderKind::Mandatory,
            Some(k) if k.eq_ignore_ascii_case("optional") => OrderKind::Optional,
            Some(k) if k.eq_ignore_ascii_case("serialize") => OrderKind::Serialize,
            Some(k) => {
                self.error(c, Some("kind"), format!("invalid order kind '{k}'"));
                OrderKind::Mandatory
            }
            None => match self.score_attr(c, "score") {
                Some(s) if s == Score::ZERO => OrderKind::Optional,
                _ => OrderKind::Mandatory,
            },
        };
        let first_action = self.attr(c, "first-action").unwrap_or("start").to_owned();
        self.check_action(c, "first-action", &first_action);
        let then_action = match self.attr(c, "then-action") {
            Some(a) => {
                self.check_action(c, "then-action", a);
                a.to_owned()
            }
            None => first_action.clone(),
        };
        let symmetrical = match self.attr(c, "symmetrical") {
            None => kind != OrderKind::Serialize,
            Some(_) if kind == OrderKind::Serialize => {
                let s = self.bool_attr(c, "symmetrical", false);
                if s {
                    self.warn(
                        c,
                        Some("symmetrical"),
                        format!("order {id}: symmetrical is ignored for kind=Serialize"),
                    );
                }
                false
            }
            Some(_) => self.bool_attr(c, "symmetrical", true),
        };
        if let (Some(f), Some(t)) = (&first, &then) {
            if f == t && first_action == then_action {
                self.error(
                    c,
                    None,
                    format!("order {id} orders {f} {first_action} before itself"),
                );
            }
        }
        Some(Order {
            id: id.to_owned(),
            first,
            then,
            first_action,
            then_action,
            kind,
            symmetrical,
            require_all: self.bool_attr(c, "require-all", true),
            sets,
            element: c,
        })
    }

    // ----- fencing topology, alerts -----

    fn fencing_level(&mut self, l: ElementId) -> Option<FencingLevel> {
        if self.name(l) != "fencing-level" {
            let f = format!("element <{}> in <fencing-topology>", self.name(l));
            self.unsupported(l, None, &f);
            return None;
        }
        const KNOWN: [&str; 7] = [
            "id",
            "index",
            "target",
            "target-pattern",
            "target-attribute",
            "target-value",
            "devices",
        ];
        self.known_attrs(l, &KNOWN);
        let id = self.required(l, "id")?;
        let index = match self.required(l, "index")?.trim().parse::<u32>() {
            Ok(i) if i > 0 => i,
            _ => {
                self.error(
                    l,
                    Some("index"),
                    "fencing level index must be a positive integer".into(),
                );
                return None;
            }
        };
        let target = match (
            self.attr(l, "target"),
            self.attr(l, "target-pattern"),
            self.attr(l, "target-attribute"),
        ) {
            (Some(t), _, _) => t.to_owned(),
            (_, Some(p), _) => format!("~{p}"),
            (_, _, Some(a)) => format!("{a}={}", self.attr(l, "target-value").unwrap_or("")),
            _ => {
                self.error(l, None, format!("fencing level {id} has no target"));
                return None;
            }
        };
        let devices = self
            .required(l, "devices")?
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(ResourceId::from)
            .collect();
        Some(FencingLevel {
            id: id.to_owned(),
            index,
            target,
            devices,
            element: l,
        })
    }

    fn alert(&mut self, a: ElementId) -> Option<Alert> {
        if self.name(a) != "alert" {
            let f = format!("element <{}> in <alerts>", self.name(a));
            self.unsupported(a, None, &f);
            return None;
        }
        let id = self.required(a, "id")?;
        let path = self.required(a, "path")?;
        self.known_attrs(a, &["id", "path"]);
        let mut recipients = Vec::new();
        let mut select = Vec::new();
        let mut select_attributes = Vec::new();
        let meta = self.sets(a, "meta_attributes");
        let params = self.sets(a, "instance_attributes");
        for r in self.doc.children(a).collect::<Vec<_>>() {
            match self.name(r) {
                "recipient" => {
                    if let Some(v) = self.required(r, "value") {
                        recipients.push(v.to_owned());
                    }
                }
                "select" => {
                    for k in self.doc.children(r).collect::<Vec<_>>() {
                        if self.name(k) == "select_attributes" {
                            for at in self.doc.children(k).collect::<Vec<_>>() {
                                if self.name(at) == "attribute" {
                                    if let Some(n) = self.attr(at, "name") {
                                        select_attributes.push(n.to_owned());
                                    }
                                }
                            }
                        }
                        select.push(self.name(k).to_owned());
                    }
                }
                "meta_attributes" | "instance_attributes" => {}
                other => {
                    let f = format!("element <{other}> in <alert>");
                    self.unsupported(r, None, &f);
                }
            }
        }
        Some(Alert {
            id: id.to_owned(),
            path: path.to_owned(),
            recipients,
            meta,
            params,
            select,
            select_attributes,
            element: a,
        })
    }

    // ----- status -----

    fn lower_status(&mut self, s: ElementId) -> status::Status {
        let mut st = status::Status::default();
        for n in self.doc.children(s).collect::<Vec<_>>() {
            match self.name(n) {
                "node_state" => {
                    if let Some(ns) = self.node_state(n) {
                        st.nodes.push(ns);
                    }
                }
                "tickets" if self.doc.children(n).next().is_none() => {}
                "tickets" => self.unsupported(n, None, "tickets"),
                // Pacemaker ignores anything else here; so do we, but not silently.
                other => self.warn(n, None, format!("element <{other}> in <status> is ignored")),
            }
        }
        status::settle_migrations(&mut st);
        st
    }

    pub(crate) fn node_state(&mut self, n: ElementId) -> Option<NodeState> {
        let id = self.required(n, "id")?;
        if self.attr(n, "remote_node").and_then(parse_bool) == Some(true) {
            self.unsupported(n, Some("remote_node"), "remote node");
            return None;
        }
        let Some(uname) = self.attr(n, "uname") else {
            self.warn(n, None, "node_state without uname is ignored".into());
            return None;
        };
        // Older Pacemaker writes "true"/"online"; newer a timestamp (0 = not).
        let up = |v: Option<&str>, word: &str| match v {
            None => false,
            Some(v) if v == word || v == "true" => true,
            Some(v) => v.trim().parse::<i64>().map(|t| t > 0).unwrap_or(false),
        };
        let in_ccm = up(self.attr(n, "in_ccm"), "true");
        let crmd = up(self.attr(n, "crmd"), "online");
        let join = match self.attr(n, "join") {
            Some("member") => Join::Member,
            Some("pending") => Join::Pending,
            Some("banned") => Join::Banned,
            _ => Join::Down,
        };
        let expected_up = self.attr(n, "expected") == Some("member");
        let mut ns = NodeState {
            id: id.to_owned(),
            uname: NodeName(uname.to_owned()),
            in_ccm,
            in_ccm_known: self.attr(n, "in_ccm").is_some(),
            crmd,
            join,
            expected_up,
            unclean: expected_up && !in_ccm,
            shutdown: false,
            attributes: Vec::new(),
            fail_counts: Vec::new(),
            last_failures: Vec::new(),
            promotion_scores: Vec::new(),
            resources: Vec::new(),
            element: n,
        };
        for c in self.doc.children(n).collect::<Vec<_>>() {
            match self.name(c) {
                "transient_attributes" => {
                    for s in self.doc.children(c).collect::<Vec<_>>() {
                        if self.name(s) == "instance_attributes" {
                            if let Some(set) = self.set(s) {
                                ns.attributes.extend(set.pairs);
                            }
                        }
                    }
                }
                "lrm" => {
                    for r in self.doc.children(c).collect::<Vec<_>>() {
                        if self.name(r) != "lrm_resources" {
                            continue;
                        }
                        // Lowered as it was read: taken as it is (one node's).
                        if let Some(folded) = self.folded.remove(&r) {
                            if ns.resources.is_empty() {
                                ns.resources = folded;
                            } else {
                                ns.resources.extend(folded);
                            }
                            continue;
                        }
                        for lr in self.doc.children(r).collect::<Vec<_>>() {
                            if let Some(h) = self.lrm_resource(lr) {
                                ns.resources.push(h);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        ns.read_attributes();
        Some(ns)
    }

    pub(crate) fn lrm_resource(&mut self, lr: ElementId) -> Option<ResourceHistory> {
        if self.name(lr) != "lrm_resource" {
            return None;
        }
        let id = self.required(lr, "id")?;
        let mut ops = Vec::with_capacity(self.doc.children(lr).count());
        for o in self.doc.children(lr).collect::<Vec<_>>() {
            if self.name(o) != "lrm_rsc_op" {
                continue;
            }
            let Some(op_id) = self.required(o, "id") else {
                continue;
            };
            if ops.iter().any(|x: &LrmOp| x.id == op_id) {
                self.error(
                    o,
                    Some("id"),
                    format!("duplicate operation history entry {op_id} for {id}"),
                );
                continue;
            }
            let Some(operation) = self.required(o, "operation") else {
                continue;
            };
            let int = |l: &mut Self, name: &str, default: i64| -> i64 {
                match l.attr(o, name) {
                    None => default,
                    Some(v) => v.trim().parse().unwrap_or_else(|_| {
                        l.warn(o, Some(name), format!("invalid {name} '{v}'"));
                        default
                    }),
                }
            };
            let call_id = int(self, "call-id", -1);
            let rc = int(self, "rc-code", 0) as i32;
            let op_status = int(self, "op-status", 0) as i32;
            let interval_ms = int(self, "interval", 0).max(0) as u64;
            // transition-key = action:transition:expected-rc:uuid
            let expected_rc = self
                .attr(o, "transition-key")
                .and_then(|k| k.split(':').nth(2))
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let migrate = match (
                self.attr(o, "migrate_source"),
                self.attr(o, "migrate_target"),
            ) {
                (Some(a), Some(b)) => Some((a.to_owned(), b.to_owned())),
                _ => None,
            };
            ops.push(LrmOp {
                id: op_id.to_owned(),
                operation: operation.to_owned(),
                call_id,
                rc,
                status: status::exec_status(op_status),
                interval_ms,
                expected_rc,
                exit_reason: self
                    .attr(o, "exit-reason")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                last_rc_change: self.attr(o, "last-rc-change").and_then(|v| v.parse().ok()),
                migrate,
                op_digest: self.attr(o, "op-digest").map(str::to_owned),
                op_restart_digest: self.attr(o, "op-restart-digest").map(str::to_owned),
                op_force_restart: self.attr(o, "op-force-restart").map(str::to_owned),
                op_secure_digest: self.attr(o, "op-secure-digest").map(str::to_owned),
                exec_time_ms: self
                    .attr(o, "exec-time")
                    .and_then(|v| v.trim().parse().ok()),
                on_node: self.attr(o, "on_node").map(str::to_owned),
                element: o,
            });
        }
        let state = status::fold(&ops);
        Some(ResourceHistory {
            id: ResourceId(id.to_owned()),
            class: self.attr(lr, "class").map(str::to_owned),
            provider: self.attr(lr, "provider").map(str::to_owned),
            agent: self.attr(lr, "type").map(str::to_owned),
            ops,
            state,
            element: lr,
        })
    }
}
