//! `cib`: Pacemaker's cluster information base (CIB), read losslessly and lowered into a
//! typed model with diagnostics.
//!
//! # Layers
//! - [`tree`]: quick-xml's event reader builds an ordered element tree ([`Document`]) with
//!   byte offsets. Unknown elements, attributes, comments and text all survive; the tree is
//!   written back with quick-xml's `Writer` ([`Document::to_xml`]).
//! - [`model`]: the typed configuration ([`Cib`]) — cluster options, nodes, primitives,
//!   groups, clones (promotable or not), templates, defaults, constraints, fencing topology,
//!   alerts — and [`status`]: membership, transient attributes and each resource's state per
//!   node folded from its operation history.
//! - [`parse`] lowers the tree by hand into the model and returns it *with* a list of
//!   [`Diagnostic`]s (file:line:col, element id, lowercase message). Parsing never panics and
//!   never stops at the first problem.
//! - [`mod@write`]: version counters and atomic file replacement.
//! - [`meta`]: one meaning per attribute: booleans, clone instance ids, the clone settings
//!   an agent sees, the primitive behind a plan resource name.
//!
//! # Invariants
//! - Pure: apart from [`write::write_atomic`], nothing here does I/O, reads the environment
//!   or the clock. Agent meta-data is handed in by the caller ([`Parsed::check_agents`]).
//! - Both Pacemaker 2.1 and 3.0 spellings are read (`stonith-*`/`fencing-*`, `<master>` and
//!   `promotable=true`, `Master`/`Slave` and `Promoted`/`Unpromoted`); roles are normalized
//!   to [`Role::Promoted`]/[`Role::Unpromoted`].
//! - Whatever crm-lite does not support (tickets, bundles, remote and guest nodes, ...) is an
//!   error diagnostic starting with `unsupported: `, never silently dropped.
//! - Version counters are kept as read; [`write::bump_versions`] only ever raises them.
#![deny(missing_docs)]

pub mod agent;
mod check;
pub mod diag;
pub mod digest;
pub mod duration;
mod lower;
pub mod meta;
pub mod model;
pub mod names;
pub mod score;
pub mod status;
pub mod tree;
pub mod write;

pub use agent::AgentMetadata;
pub use diag::{Diagnostic, Severity};
pub use model::{Cib, NodeName, ResourceId, Role};
pub use score::Score;
pub use tree::Document;

/// The result of [`parse`]: the tree (for lossless writing), the model and the diagnostics.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The file name diagnostics use.
    pub file: String,
    /// The source text.
    pub source: String,
    /// The element tree.
    pub doc: Document,
    /// The typed model.
    pub cib: Cib,
    /// Problems found, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Check every OCF primitive's parameters against its agent's meta-data; `lookup`
    /// returns the meta-data of installed agents (`None` when the agent is not installed,
    /// which is not a problem here).
    pub fn check_agents(
        &mut self,
        mut lookup: impl FnMut(&model::Primitive) -> Option<AgentMetadata>,
    ) {
        let mut l = lower::Lower::new(&self.file, &self.source, &self.doc);
        for p in self.cib.primitives().chain(self.cib.templates.iter()) {
            if p.class != "ocf" {
                continue;
            }
            if let Some(md) = lookup(p) {
                agent::check_params(&mut l, p, &md);
            }
        }
        let found = l.diags;
        self.diagnostics.extend(found);
    }
}

impl Parsed {
    /// Check what crm-lite itself would run (for `verify` and `apply`; `simulate`, like
    /// `crm_simulate`, runs nothing and schedules these as Pacemaker would): every
    /// primitive's class is one crm-lite runs (`ocf`, `stonith`; others are
    /// `unsupported:`), and its agent's `provider` and `type` are names, never paths
    /// ([`names::check_agent`]).
    pub fn check_runnable(&mut self) {
        let mut l = lower::Lower::new(&self.file, &self.source, &self.doc);
        for p in self.cib.primitives().chain(self.cib.templates.iter()) {
            agent::check_runnable(&mut l, p);
        }
        let found = l.diags;
        self.diagnostics.extend(found);
    }

    /// Write the (possibly edited) tree to `path` atomically, after raising the version
    /// counters: `epoch` when the configuration changed, else `num_updates`. Returns the new
    /// counters. Elements and attributes crm-lite does not model are written as read.
    /// Refuses (`WriteError::Newer`) when the file at `path` is newer than what was read.
    pub fn write_to(
        &mut self,
        path: &std::path::Path,
        config_changed: bool,
    ) -> Result<model::Versions, write::WriteError> {
        write::check_not_newer(path, self.cib.versions)?;
        let v = write::bump_versions(&mut self.doc, self.cib.versions, config_changed)?;
        write::write_atomic(path, self.doc.to_xml().as_bytes())?;
        self.cib.versions = v;
        Ok(v)
    }
}

/// Parse and lower a CIB. `file` is only used in diagnostics.
pub fn parse(file: &str, source: &str) -> Parsed {
    parse_owned(file, source.to_owned())
}

/// Like [`parse_bytes`], taking the bytes: valid UTF-8 becomes the kept source text
/// without a copy (on a large CIB, one copy of the text fewer at the peak).
pub fn parse_vec(file: &str, bytes: Vec<u8>) -> Parsed {
    match String::from_utf8(bytes) {
        Ok(source) => parse_owned(file, source),
        Err(e) => parse_bytes(file, e.as_bytes()),
    }
}

/// [`parse`], keeping `source` itself in the result.
fn parse_owned(file: &str, source: String) -> Parsed {
    let (doc, syntax) = Document::parse(&source);
    let mut l = lower::Lower::new(file, &source, &doc);
    if let Some(e) = &syntax {
        let (line, col) = l.line_col(e.offset);
        l.diags.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line,
            col,
            id: None,
            message: e.message.clone(),
        });
    }
    let cib = l.lower();
    // On malformed XML the model is partial: cross-checks would only add noise.
    if syntax.is_none() {
        check::check(&mut l, &cib);
    }
    let diagnostics = l.diags;
    tracing::debug!(file, diagnostics = diagnostics.len(), "parsed cib");
    Parsed {
        file: file.to_owned(),
        source,
        doc,
        cib,
        diagnostics,
    }
}

/// The model alone, for a caller that needs nothing else and can read its input again:
/// the text goes as soon as the element tree is read and the tree once it is lowered, so
/// the three are never in memory together (on a large CIB the text is a fifth of the
/// peak). `None` when the CIB has an error: parse it again with [`parse_vec`] for the
/// diagnostics with lines and columns. Warnings are not kept.
pub fn parse_lean(file: &str, bytes: Vec<u8>) -> Option<Cib> {
    let source = String::from_utf8(bytes).ok()?;
    let (doc, syntax) = Document::parse(&source);
    drop(source);
    lean_model(file, doc, syntax, Default::default())
}

/// The model of a tree read without error, or `None`; the tree goes once it is lowered.
/// `folded`: the histories lowered while it was read.
fn lean_model(
    file: &str,
    doc: Document,
    syntax: Option<tree::SyntaxError>,
    folded: lower::Folded,
) -> Option<Cib> {
    if syntax.is_some() {
        return None;
    }
    let mut l = lower::Lower::new(file, "", &doc);
    l.folded = folded;
    let cib = l.lower();
    check::check(&mut l, &cib);
    if l.diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(cib)
}

/// [`parse_lean`] reading the CIB from `r` as it goes: the text is never whole in memory
/// beside the tree, and each node's `<lrm_resources>` is lowered as soon as its end tag is
/// read and dropped from the tree (the histories are most of a large CIB's elements): the
/// tree never holds more than one node's. `None` as for [`parse_lean`], and when `r`
/// fails to read or is not UTF-8.
pub fn parse_lean_reader(file: &str, r: impl std::io::Read) -> Option<Cib> {
    let mut folded = lower::Folded::new();
    let mut bad = false;
    let (doc, syntax) = Document::parse_reader_folding(r, |doc, id| {
        fold_histories(file, doc, id, &mut folded, &mut bad)
    })?;
    if bad {
        return None;
    }
    lean_model(file, doc, syntax, folded)
}

/// What [`parse_lean_reader`]'s reader does as each element closes: a node's
/// `<lrm_resources>` is lowered into `folded` and dropped from the tree (`bad` when a
/// history has an error).
fn fold_histories(
    file: &str,
    doc: &mut Document,
    id: tree::ElementId,
    folded: &mut lower::Folded,
    bad: &mut bool,
) {
    if !is_histories(doc, id) {
        return;
    }
    // Sized first: a history is large, and a node has hundreds (growing by doubling
    // copied them, and took fresh pages each time).
    let mut histories = Vec::with_capacity(doc.children(id).count());
    for lr in doc.children(id) {
        let (h, diags) = lower_history(file, doc, lr);
        *bad |= diags.iter().any(Diagnostic::is_error);
        histories.extend(h);
    }
    if doc.drop_descendants(id) {
        // The elements are gone: each history is found by its node's.
        folded.insert(id, found_at(histories, id));
    }
}

/// `histories`, each (and each of its operations) found at element `id`.
fn found_at(
    mut histories: Vec<status::ResourceHistory>,
    id: tree::ElementId,
) -> Vec<status::ResourceHistory> {
    for h in &mut histories {
        h.element = id;
        h.ops.iter_mut().for_each(|o| o.element = id);
    }
    histories
}

/// Where a later part of a CIB's text may start, in `window` (a piece of the text): before
/// the first `<node_state` tag, an element of the status section read apart from what
/// comes before it by [`parse_lean_parts`]. A place inside a comment, a tag or a CDATA
/// section is found out there, where the part before it ends in the middle of one.
pub fn part_boundary(window: &[u8]) -> Option<usize> {
    const TAG: &[u8] = b"<node_state";
    (0..window.len()).find(|&at| {
        window[at..].starts_with(TAG)
            && window
                .get(at + TAG.len())
                .is_some_and(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
    })
}

/// A CIB's text read in parts, not in one: see [`parse_lean_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotSplit;

/// [`parse_lean_reader`] on a text cut into consecutive parts, each read on a thread of
/// its own: `parts` gives each part's reader with the byte offset where it starts (the
/// first at 0; every later one where [`part_boundary`] found one). The model is the one
/// [`parse_lean_reader`] makes of the whole text; `Err(NotSplit)` when the cuts are not
/// between the status section's elements (a cut in a comment, or outside the status
/// section): read it whole.
pub fn parse_lean_parts<R: std::io::Read + Send>(
    file: &str,
    parts: Vec<(usize, R)>,
) -> Result<Option<Cib>, NotSplit> {
    // Every later part is read as if inside the status section, from these tags.
    const OPEN: &str = "<cib><status>";
    let (root, inner) = (tree::ElementId::new(0), tree::ElementId::new(1));
    if parts.len() < 2 {
        return Err(NotSplit);
    }
    let last = parts.len() - 1;
    let read_part = |(k, (start, r)): (usize, (usize, R))| {
        let mut folded = lower::Folded::new();
        let mut bad = false;
        let fold = |doc: &mut Document, id| fold_histories(file, doc, id, &mut folded, &mut bad);
        let tree = if k == 0 {
            Document::parse_reader_part(r, fold)
        } else {
            Document::parse_reader_part(std::io::Read::chain(OPEN.as_bytes(), r), fold)
        };
        (start, tree, folded, bad, k == last)
    };
    let mut read: Vec<_> = std::thread::scope(|s| {
        let mut parts = parts.into_iter().enumerate();
        let first = parts.next();
        let others: Vec<_> = parts.map(|p| s.spawn(move || read_part(p))).collect();
        let first = first.map(read_part);
        first
            .into_iter()
            .chain(
                others
                    .into_iter()
                    .map(|h| h.join().expect("a part's reader")),
            )
            .collect()
    });
    let (_, first, mut folded, mut bad, _) = read.remove(0);
    // A part that does not read (a read error) is read whole for the reason. A syntax
    // error may be a cut in a comment: the whole text tells.
    let Some((mut doc, syntax, open)) = first else {
        return Ok(None);
    };
    // The first part must end inside the status section, right below the root.
    let status = match open[..] {
        [cib, status]
            if syntax.is_none()
                && doc.root() == Some(cib)
                && doc.get(cib).name == "cib"
                && doc.get(status).name == "status" =>
        {
            status
        }
        _ => return Err(NotSplit),
    };
    for (start, part, part_folded, part_bad, is_last) in read {
        let Some((part, syntax, open)) = part else {
            return Ok(None);
        };
        // A later part ends inside the status section too, or, the last, at the end.
        let ends = if is_last {
            open.is_empty()
        } else {
            open == [root, inner]
        };
        if syntax.is_some() || !ends {
            return Err(NotSplit);
        }
        let shift = doc
            .graft(status, part, inner, OPEN.len(), start)
            .ok_or(NotSplit)?;
        for (id, histories) in part_folded {
            let id = tree::ElementId::new(id.index() as u32 + shift);
            folded.insert(id, found_at(histories, id));
        }
        bad |= part_bad;
    }
    if bad {
        return Ok(None);
    }
    Ok(lean_model(file, doc, None, folded))
}

/// Whether `id` is an `<lrm_resources>` where [`parse`] reads one: in
/// `cib/status/node_state/lrm`.
fn is_histories(doc: &Document, id: tree::ElementId) -> bool {
    let mut at = Some(id);
    for name in ["lrm_resources", "lrm", "node_state", "status"] {
        match at {
            Some(e) if doc.get(e).name == name => at = doc.get(e).parent,
            _ => return false,
        }
    }
    at.is_some_and(|cib| Some(cib) == doc.root() && doc.get(cib).parent.is_none())
}

/// Lower an element tree read from `source` into the model and check it: [`parse`] without
/// reading the tree (for the stage benchmarks).
pub fn lower(file: &str, source: &str, doc: &Document) -> (Cib, Vec<Diagnostic>) {
    let mut l = lower::Lower::new(file, source, doc);
    let cib = l.lower();
    check::check(&mut l, &cib);
    (cib, l.diags)
}

/// Lower one `<lrm_resource>` of `doc` (its operations, folded into its state) as [`parse`]
/// lowers it inside a `<node_state>`: for a model kept in memory that takes one operation
/// result at a time instead of reading the whole CIB again. Diagnostics name `file`; their
/// lines and columns are 1:1 (an edited tree has no source text).
pub fn lower_history(
    file: &str,
    doc: &Document,
    lrm_resource: tree::ElementId,
) -> (Option<status::ResourceHistory>, Vec<Diagnostic>) {
    lower_one(file, doc, |l| l.lrm_resource(lrm_resource))
}

/// Lower one `node_state` element of `doc` (its membership, transient attributes and
/// histories), for a model kept in memory whose node changed state (a membership view);
/// `None` when it cannot be lowered.
pub fn lower_node_state(
    file: &str,
    doc: &Document,
    node_state: tree::ElementId,
) -> (Option<status::NodeState>, Vec<Diagnostic>) {
    lower_one(file, doc, |l| l.node_state(node_state))
}

/// What the root element of `doc` says of the cluster's state, as [`lower`] reads it:
/// `have-quorum` ([`Cib::have_quorum`]) and `dc-uuid` ([`Cib::dc_uuid`]).
pub fn cluster_state(doc: &Document) -> (Option<bool>, Option<String>) {
    let Some(root) = doc.root() else {
        return (None, None);
    };
    let el = doc.get(root);
    (
        el.attr("have-quorum").and_then(meta::parse_bool),
        el.attr("dc-uuid").map(str::to_owned),
    )
}

/// Lower one `rsc_location` element of `doc` (a constraint added or replaced in a kept
/// model), with its diagnostics; `None` when it cannot be lowered.
pub fn lower_location(
    file: &str,
    doc: &Document,
    rsc_location: tree::ElementId,
) -> (Option<model::Location>, Vec<Diagnostic>) {
    lower_one(file, doc, |l| l.location(rsc_location))
}

/// One element of `doc` lowered alone by `lower` (an edited tree: no source text), with
/// the diagnostics it gave.
fn lower_one<T>(
    file: &str,
    doc: &Document,
    lower: impl FnOnce(&mut lower::Lower<'_>) -> Option<T>,
) -> (Option<T>, Vec<Diagnostic>) {
    let mut l = lower::Lower::new(file, "", doc);
    let v = lower(&mut l);
    (v, l.diags)
}

/// Like [`parse`], for raw bytes: input that is not UTF-8 is an error diagnostic (at the
/// first bad byte) and is read with replacement characters.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Parsed {
    match std::str::from_utf8(bytes) {
        Ok(s) => parse(file, s),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let col = good.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            let mut p = parse(file, &text);
            p.diagnostics.insert(
                0,
                Diagnostic {
                    severity: Severity::Error,
                    file: file.to_owned(),
                    line,
                    col,
                    id: None,
                    message: "input is not valid utf-8".into(),
                },
            );
            p
        }
    }
}
