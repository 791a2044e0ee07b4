//! The lossless XML layer: an ordered element tree with byte offsets, read with quick-xml's
//! event reader and written back with its `Writer`.
//!
//! Every element, attribute, text run, comment, CDATA section and processing instruction
//! survives a read-write cycle in order. Attribute values are stored unescaped and escaped
//! again on output; text is stored exactly as it appeared (still escaped).
use std::borrow::Cow;
use std::ops::ControlFlow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesCData, BytesEnd, BytesPI, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, Writer};

/// Index of an element in its [`Document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElementId(u32);

impl ElementId {
    pub(crate) fn new(k: u32) -> ElementId {
        ElementId(k)
    }

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Anything that can appear among an element's children (or around the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(ElementId),
    /// Character data, kept escaped exactly as read.
    Text(String),
    /// `<![CDATA[...]]>` content.
    CData(String),
    /// `<!--...-->` content.
    Comment(String),
    /// `<?...?>` content (target and data).
    Pi(String),
    /// The `<?xml ...?>` declaration's content.
    Decl(String),
    /// The `<!DOCTYPE ...>` content.
    DocType(String),
}

/// One XML element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Tag name as written.
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Attrs,
    /// Children in document order.
    pub children: Vec<Node>,
    /// Byte offset of the `<` that opens this element (0 for elements created in memory).
    pub offset: usize,
    /// The parent element, `None` for the root.
    pub parent: Option<ElementId>,
}

/// An attribute name.
pub type AttrName = std::sync::Arc<str>;

/// An element's attributes, compact: a large CIB has millions of them (a status history
/// entry alone has about fifteen). The list of names is shared by every element with the
/// same names in the same order, and the unescaped values sit end to end in one buffer:
/// three allocations per element instead of one per attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attrs {
    names: std::sync::Arc<[AttrName]>,
    /// Where each value ends in `values`.
    ends: Box<[u32]>,
    values: Box<str>,
}

impl Attrs {
    /// Attributes from `(name, value)` pairs, in order.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Attrs {
        let mut names = Vec::new();
        let mut values = String::new();
        let mut ends = Vec::new();
        for (k, v) in pairs {
            // Values of one element beyond 4 GiB (never read from a document: the reader
            // refuses those) are left out rather than cut.
            let Ok(end) = u32::try_from(values.len() + v.len()) else {
                break;
            };
            names.push(AttrName::from(k));
            values.push_str(v);
            ends.push(end);
        }
        Attrs {
            names: names.into(),
            ends: ends.into(),
            values: values.into(),
        }
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The value of the `i`th attribute.
    fn value(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.values[start..self.ends[i] as usize]
    }

    /// `(name, value)` in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&AttrName, &str)> + '_ {
        self.names
            .iter()
            .enumerate()
            .map(|(i, k)| (k, self.value(i)))
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.names.iter().position(|k| &**k == name)?;
        Some(self.value(i))
    }

    /// Set (or add, at the end) attribute `name`: the element's attributes are written
    /// again (edits are rare; reading is what must be cheap).
    pub fn set(&mut self, name: &str, value: &str) {
        let mut pairs: Vec<(&str, &str)> = self.iter().map(|(k, v)| (&**k, v)).collect();
        match pairs.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => pairs.push((name, value)),
        }
        // Keep the shared names when only a value changed.
        let names = (pairs.len() == self.names.len()).then(|| self.names.clone());
        let mut new = Attrs::new(pairs);
        if let Some(names) = names {
            new.names = names;
        }
        *self = new;
    }
}

impl Element {
    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name)
    }

    /// The element's `id` attribute.
    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }

    /// Set (or add, at the end) attribute `name`.
    pub fn set_attr(&mut self, name: &str, value: &str) {
        self.attrs.set(name, value);
    }
}

/// The element and attribute names met while parsing, each allocated and checked once.
struct Names {
    all: std::collections::HashMap<String, AttrName, Fnv>,
    /// The last name seen per slot (a slot from the name's length and first and last
    /// bytes): most lookups are answered here without hashing.
    recent: [Option<AttrName>; 64],
    /// The attribute names of the element being read.
    scratch: Vec<AttrName>,
    /// Its values, end to end, and where each ends.
    values: String,
    ends: Vec<u32>,
    /// Where each attribute's name and value are in a tag's text ([`plain_attributes`]).
    spans: Vec<(usize, usize, usize, usize)>,
    /// The addresses of `scratch`'s names: names are shared, so equal lists of names
    /// are equal lists of addresses.
    addrs: Vec<usize>,
    /// Every list of attribute names met (by addresses), shared between the elements that
    /// have it.
    lists: std::collections::HashMap<Vec<usize>, std::sync::Arc<[AttrName]>, Words>,
}

/// A multiplicative hash over machine words, for lists of addresses.
#[derive(Default, Clone, Copy)]
struct Words;

impl std::hash::BuildHasher for Words {
    type Hasher = WordsHasher;
    fn build_hasher(&self) -> WordsHasher {
        WordsHasher(0)
    }
}

struct WordsHasher(u64);

impl std::hash::Hasher for WordsHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a: names are short and trusted enough (a hash flood only slows one parse); SipHash
/// cost a measurable share of parsing.
#[derive(Default, Clone, Copy)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Names {
    fn default() -> Names {
        Names {
            all: Default::default(),
            recent: std::array::from_fn(|_| None),
            scratch: Vec::new(),
            values: String::new(),
            ends: Vec::new(),
            spans: Vec::new(),
            addrs: Vec::new(),
            lists: Default::default(),
        }
    }
}

impl Names {
    /// The address of `key`, unless the element already has that attribute: duplicates are
    /// found by the shared names' addresses, and quick_xml's own check (a list of ranges
    /// per element) is run only to word the error.
    fn not_repeated(&self, s: &BytesStart<'_>, key: &AttrName) -> Result<usize, String> {
        let addr = key.as_ptr() as usize;
        if self.addrs.contains(&addr) {
            for a in s.attributes().with_checks(true) {
                a.map_err(|e| malformed(&e))?;
            }
            return Err(format!("malformed xml: duplicated attribute {key}"));
        }
        Ok(addr)
    }

    /// Add one attribute of the element being read.
    fn push_attr(&mut self, key: AttrName, addr: usize, value: &str) {
        self.scratch.push(key);
        self.addrs.push(addr);
        self.values.push_str(value);
        // The document is under 4 GiB (checked before reading).
        self.ends.push(self.values.len() as u32);
    }

    /// The shared name; a name is checked the first time it is met (`what`: element or
    /// attribute, for the message).
    fn get(&mut self, raw: &str, what: &str) -> Result<AttrName, String> {
        let b = raw.as_bytes();
        let slot = match (b.first(), b.last()) {
            (Some(&f), Some(&l)) => (b.len() * 31 + usize::from(f) + usize::from(l) * 7) & 63,
            _ => 0,
        };
        if let Some(n) = &self.recent[slot] {
            if &**n == raw {
                return Ok(n.clone());
            }
        }
        let n = match self.all.get(raw) {
            Some(n) => n.clone(),
            None => {
                if !valid_name(raw) {
                    return Err(format!("malformed xml: invalid {what} name '{raw}'"));
                }
                let n: AttrName = raw.into();
                self.all.insert(raw.to_owned(), n.clone());
                n
            }
        };
        self.recent[slot] = Some(n.clone());
        Ok(n)
    }
}

/// The tree being built from reader events (either reader: a string or a stream).
#[derive(Default)]
struct Builder {
    doc: Document,
    names: Names,
    stack: Vec<ElementId>,
    error: Option<SyntaxError>,
    /// Leave out text that is only whitespace (see [`Document::parse_reader_bare`]).
    skip_space: bool,
    /// The input is one part of a longer text: elements still open at its end are not
    /// an error (see [`Document::parse_reader_part`]).
    partial: bool,
}

impl Builder {
    fn read_error(&mut self, offset: usize, e: &quick_xml::Error) {
        self.error = Some(SyntaxError {
            offset,
            message: format!("malformed xml: {}", lower_first(&e.to_string())),
        });
    }

    /// Take one event read at `offset`; `end` is where the input ends (for `Eof`). An
    /// element closed by an end tag is given back.
    fn event(
        &mut self,
        offset: usize,
        event: Event<'_>,
        end: usize,
    ) -> ControlFlow<(), Option<ElementId>> {
        match event {
            Event::Start(s) | Event::Empty(s)
                if self.doc.root.is_some() && self.stack.is_empty() =>
            {
                let _ = s;
                self.error = Some(SyntaxError {
                    offset,
                    message: "malformed xml: more than one root element".into(),
                });
                return ControlFlow::Break(());
            }
            Event::Start(_) | Event::Empty(_) if self.stack.len() >= MAX_DEPTH => {
                self.error = Some(SyntaxError {
                    offset,
                    message: format!(
                        "malformed xml: elements nested deeper than {MAX_DEPTH} levels"
                    ),
                });
                return ControlFlow::Break(());
            }
            Event::Start(s) => {
                match self
                    .doc
                    .open(&s, offset, self.stack.last().copied(), &mut self.names)
                {
                    Ok(id) => self.stack.push(id),
                    Err(message) => {
                        self.error = Some(SyntaxError { offset, message });
                        return ControlFlow::Break(());
                    }
                }
            }
            Event::Empty(s) => {
                if let Err(message) =
                    self.doc
                        .open(&s, offset, self.stack.last().copied(), &mut self.names)
                {
                    self.error = Some(SyntaxError { offset, message });
                    return ControlFlow::Break(());
                }
            }
            Event::End(_) => return ControlFlow::Continue(self.stack.pop()),
            Event::Text(t) if self.skip_space && t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            Event::Text(t) => {
                let raw = (*t).to_owned();
                if self.stack.is_empty() && !raw.trim().is_empty() {
                    self.error = Some(SyntaxError {
                        offset,
                        message: "malformed xml: text outside the root element".into(),
                    });
                    return ControlFlow::Break(());
                }
                self.doc.push_text_owned(self.stack.last().copied(), raw);
            }
            Event::GeneralRef(r) => {
                let raw = format!("&{};", &*r);
                if self.stack.is_empty() {
                    self.error = Some(SyntaxError {
                        offset,
                        message: "malformed xml: reference outside the root element".into(),
                    });
                    return ControlFlow::Break(());
                }
                self.doc.push_text(self.stack.last().copied(), &raw);
            }
            Event::CData(c) => {
                let n = Node::CData((*c).to_owned());
                self.doc.push_node(self.stack.last().copied(), n);
            }
            Event::Comment(c) => {
                let n = Node::Comment((*c).to_owned());
                self.doc.push_node(self.stack.last().copied(), n);
            }
            Event::PI(p) => {
                let n = Node::Pi((*p).to_owned());
                self.doc.push_node(self.stack.last().copied(), n);
            }
            Event::Decl(d) => {
                let n = Node::Decl((*d).to_owned());
                self.doc.push_node(self.stack.last().copied(), n);
            }
            Event::DocType(d) => {
                let n = Node::DocType((*d).to_owned());
                self.doc.push_node(self.stack.last().copied(), n);
            }
            Event::Eof => {
                if !self.stack.is_empty() && !self.partial {
                    let name = &self.doc.get(self.stack[self.stack.len() - 1]).name;
                    self.error = Some(SyntaxError {
                        offset: end,
                        message: format!("malformed xml: element <{name}> is not closed"),
                    });
                } else if self.doc.root.is_none() {
                    self.error = Some(SyntaxError {
                        offset: end,
                        message: "malformed xml: no root element".into(),
                    });
                }
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(None)
    }
}

/// A reader that notes whether what passes through is UTF-8 (`carry`: the bytes of a
/// character cut at the end of a read, checked with the next).
struct Utf8Reader<R> {
    inner: R,
    carry: Vec<u8>,
    bad: bool,
    total: u64,
}

impl<R: std::io::Read> std::io::Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.bad || n == 0 {
            return Ok(n);
        }
        let mut chunk = std::mem::take(&mut self.carry);
        let data: &[u8] = if chunk.is_empty() {
            &buf[..n]
        } else {
            chunk.extend_from_slice(&buf[..n]);
            &chunk
        };
        match std::str::from_utf8(data) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry = data[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.bad = true,
        }
        Ok(n)
    }
}

/// How deeply elements may nest: libxml2's default (`xmlParserMaxDepth`), so Pacemaker
/// refuses deeper documents too. A CIB nests about ten levels plus its rules; the limit
/// keeps every recursive walk over a tree (lowering, rules, writing) far from the end of
/// the stack.
pub const MAX_DEPTH: usize = 256;

/// Elements per chunk of [`Document`]'s arena.
const CHUNK: usize = 4096;

/// A parsed XML document: a flat arena of elements plus the nodes around the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The arena, in chunks of [`CHUNK`] elements: it grows without copying what it holds
    /// or leaving up to half of itself spare, as one vector growing by doubling would (on
    /// a large CIB, tens of megabytes).
    elements: Vec<Vec<Element>>,
    /// How many elements the arena holds.
    len: u32,
    /// Nodes before and after the root element, in order; the root is one of them.
    pub top: Vec<Node>,
    root: Option<ElementId>,
}

/// A well-formedness problem that stopped the XML reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset where the reader gave up.
    pub offset: usize,
    /// Lowercase description.
    pub message: String,
}

impl Document {
    /// Parse `src`. Never panics: on malformed XML the tree read so far is returned (open
    /// elements closed) together with the error.
    pub fn parse(src: &str) -> (Document, Option<SyntaxError>) {
        if u32::try_from(src.len()).is_err() {
            let error = SyntaxError {
                offset: 0,
                message: "document of 4 GiB or more".into(),
            };
            return (Document::default(), Some(error));
        }
        let mut reader = Reader::from_str(src);
        reader.config_mut().check_end_names = true;
        let mut b = Builder::default();
        loop {
            let offset = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    b.read_error(reader.error_position() as usize, &e);
                    break;
                }
            };
            if b.event(offset, event, src.len()).is_break() {
                break;
            }
        }
        (b.doc, b.error)
    }

    /// [`Document::parse`] reading from `r` as it goes, so that the whole text is never in
    /// memory beside the tree. `None` when `r` is not UTF-8, fails to read, or holds 4 GiB
    /// or more (then read it whole for a located message).
    pub fn parse_reader(r: impl std::io::Read) -> Option<(Document, Option<SyntaxError>)> {
        Document::read_stream(r, false, false, |_, _| {}).map(|(doc, error, _)| (doc, error))
    }

    /// [`Document::parse_reader`] for a reader that wants the elements and their
    /// attributes alone and never writes the tree back: the text that is only whitespace
    /// (between most elements; on a large CIB, more nodes than the elements) is left out,
    /// and `on_close` is given each element as its end tag is read, with the tree so far,
    /// to fold what it wants of it (see [`Document::drop_descendants`]).
    pub fn parse_reader_folding(
        r: impl std::io::Read,
        on_close: impl FnMut(&mut Document, ElementId),
    ) -> Option<(Document, Option<SyntaxError>)> {
        Document::read_stream(r, true, false, on_close).map(|(doc, error, _)| (doc, error))
    }

    /// [`Document::parse_reader_folding`] for one part of a text cut into consecutive
    /// pieces: the elements still open where the part ends are given back (outermost
    /// first) instead of being an error. A part that is not the first is read after an
    /// opening tag of each element it lies in (see [`Document::graft`]).
    pub fn parse_reader_part(
        r: impl std::io::Read,
        on_close: impl FnMut(&mut Document, ElementId),
    ) -> Option<(Document, Option<SyntaxError>, Vec<ElementId>)> {
        Document::read_stream(r, true, true, on_close)
    }

    /// Move what `part`'s element `inner` holds (its children, with their subtrees) to
    /// the end of the children of this document's element `at`, as if it had been read
    /// there. `part` was read from an opening tag of each element its text lies in (the
    /// outermost first, one inside the other, `inner` the last) followed by that text;
    /// `from` is where the text starts in the part's input and `start` where it starts
    /// in the whole document (element offsets move by the difference). The moved
    /// elements are numbered after this document's: `ElementId(k)` of `part` becomes
    /// `ElementId(k + shift)`, and `shift` is given back. `None`, nothing moved, when
    /// `part` holds anything besides the opening elements and what `inner` holds.
    pub fn graft(
        &mut self,
        at: ElementId,
        part: Document,
        inner: ElementId,
        from: usize,
        start: usize,
    ) -> Option<u32> {
        if at.0 >= self.len || inner.0 >= part.len || part.top != [Node::Element(ElementId(0))] {
            return None;
        }
        // The opening elements: each the only child of the one before.
        for k in 0..inner.0 {
            if part.get(ElementId(k)).children != [Node::Element(ElementId(k + 1))] {
                return None;
            }
        }
        // Every later element is inside `inner` (an element comes after its parent, so
        // its parent is `inner` or one of them).
        let inside = |k: u32| {
            part.get(ElementId(k))
                .parent
                .is_some_and(|p| p.0 >= inner.0 && p.0 < k)
        };
        if !(inner.0 + 1..part.len).all(inside) || start < from {
            return None;
        }
        let shift = self.len - (inner.0 + 1);
        let renumber = |n: Node| match n {
            Node::Element(id) => Node::Element(ElementId(id.0 + shift)),
            other => other,
        };
        let mut elements = part.elements.into_iter().flatten();
        let held = elements
            .by_ref()
            .take(inner.index() + 1)
            .last()
            .map(|e| e.children)
            .unwrap_or_default();
        for mut e in elements {
            e.parent = e.parent.map(|p| {
                if p == inner {
                    at
                } else {
                    ElementId(p.0 + shift)
                }
            });
            e.children = std::mem::take(&mut e.children)
                .into_iter()
                .map(renumber)
                .collect();
            e.offset = e.offset + start - from;
            self.push_element(e);
        }
        self.get_mut(at)
            .children
            .extend(held.into_iter().map(renumber));
        Some(shift)
    }

    fn read_stream(
        r: impl std::io::Read,
        skip_space: bool,
        partial: bool,
        mut on_close: impl FnMut(&mut Document, ElementId),
    ) -> Option<(Document, Option<SyntaxError>, Vec<ElementId>)> {
        let mut checked = Utf8Reader {
            inner: r,
            carry: Vec::new(),
            bad: false,
            total: 0,
        };
        let mut reader =
            Reader::from_reader(std::io::BufReader::with_capacity(1 << 16, &mut checked));
        reader.config_mut().check_end_names = true;
        let mut b = Builder {
            skip_space,
            partial,
            ..Builder::default()
        };
        let mut buf = Vec::new();
        loop {
            let offset = reader.buffer_position() as usize;
            buf.clear();
            let event = match reader.read_event_into(&mut buf) {
                Ok(e) => e,
                Err(quick_xml::Error::Io(_)) => return None,
                Err(e) => {
                    b.read_error(reader.error_position() as usize, &e);
                    break;
                }
            };
            let end = reader.buffer_position() as usize;
            match b.event(offset, event, end) {
                ControlFlow::Break(()) => break,
                ControlFlow::Continue(Some(closed)) => on_close(&mut b.doc, closed),
                ControlFlow::Continue(None) => {}
            }
        }
        drop(reader);
        if checked.bad || !checked.carry.is_empty() || u32::try_from(checked.total).is_err() {
            return None;
        }
        Some((b.doc, b.error, b.stack))
    }

    fn open(
        &mut self,
        s: &BytesStart<'_>,
        offset: usize,
        parent: Option<ElementId>,
        names: &mut Names,
    ) -> Result<ElementId, String> {
        let name = names.get(s.name().as_ref(), "element")?.to_string();
        // Collected in reused buffers, then copied to exact-size ones: a large CIB has
        // millions of attributes, and no spare capacity.
        names.scratch.clear();
        names.addrs.clear();
        names.values.clear();
        names.ends.clear();
        let raw = s.attributes_raw();
        if plain_attributes(raw.as_bytes(), &mut names.spans) {
            for k in 0..names.spans.len() {
                let (n0, n1, v0, v1) = names.spans[k];
                let key = names.get(&raw[n0..n1], "attribute")?;
                let addr = names.not_repeated(s, &key)?;
                names.push_attr(key, addr, &raw[v0..v1]);
            }
        } else {
            for a in s.attributes().with_checks(false) {
                let a = a.map_err(|e| malformed(&e))?;
                let key = names.get(a.key.as_ref(), "attribute")?;
                let addr = names.not_repeated(s, &key)?;
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| malformed(&e))?;
                names.push_attr(key, addr, &value);
            }
        }
        let list = match names.lists.get(names.addrs.as_slice()) {
            Some(l) => l.clone(),
            None => {
                let l: std::sync::Arc<[AttrName]> = names.scratch.as_slice().into();
                names.lists.insert(names.addrs.clone(), l.clone());
                l
            }
        };
        let attrs = Attrs {
            names: list,
            ends: names.ends.as_slice().into(),
            values: names.values.as_str().into(),
        };
        let id = self.push_element(Element {
            name,
            attrs,
            children: Vec::new(),
            offset,
            parent,
        });
        match parent {
            Some(p) => self.get_mut(p).children.push(Node::Element(id)),
            None => {
                self.root = Some(id);
                self.top.push(Node::Element(id));
            }
        }
        Ok(id)
    }

    fn push_node(&mut self, parent: Option<ElementId>, n: Node) {
        match parent {
            Some(p) => self.get_mut(p).children.push(n),
            None => self.top.push(n),
        }
    }

    /// [`Document::push_text`], keeping `raw` when it starts a text node (one copy fewer
    /// for the whitespace between most elements).
    fn push_text_owned(&mut self, parent: Option<ElementId>, raw: String) {
        let list = match parent {
            Some(p) => &mut self.get_mut(p).children,
            None => &mut self.top,
        };
        if let Some(Node::Text(t)) = list.last_mut() {
            t.push_str(&raw);
        } else {
            list.push(Node::Text(raw));
        }
    }

    fn push_text(&mut self, parent: Option<ElementId>, raw: &str) {
        let list = match parent {
            Some(p) => &mut self.get_mut(p).children,
            None => &mut self.top,
        };
        if let Some(Node::Text(t)) = list.last_mut() {
            t.push_str(raw);
        } else {
            list.push(Node::Text(raw.to_owned()));
        }
    }

    /// Add `e` to the arena.
    fn push_element(&mut self, e: Element) -> ElementId {
        let id = ElementId(self.len);
        match self.elements.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(e),
            _ => {
                // The first chunk grows as it fills: a small document stays small.
                let first = self.elements.is_empty();
                let mut c = Vec::with_capacity(if first { 0 } else { CHUNK });
                c.push(e);
                self.elements.push(c);
            }
        }
        self.len += 1;
        id
    }

    /// Drop every descendant of `id` from the tree, when they are the last elements of
    /// the arena (as when `id` was just closed by the reader); `false`, the tree
    /// unchanged, when they are not. For a reader that folds a subtree into something of
    /// its own as it is read: the arena never holds it all.
    pub fn drop_descendants(&mut self, id: ElementId) -> bool {
        if id.0 >= self.len {
            return false;
        }
        // Every element after `id` must be inside it. An element comes after its parent in
        // the arena, so walking up from one either meets `id` or passes below it.
        let inside = |e: u32| {
            let mut at = Some(ElementId(e));
            while let Some(x) = at.filter(|x| x.0 > id.0) {
                at = self.get(x).parent;
            }
            at == Some(id)
        };
        if !(id.0 + 1..self.len).all(inside) {
            return false;
        }
        while self.len > id.0 + 1 {
            let last = self.elements.last_mut().expect("a chunk per element");
            last.pop();
            if last.is_empty() {
                self.elements.pop();
            }
            self.len -= 1;
        }
        self.get_mut(id)
            .children
            .retain(|n| !matches!(n, Node::Element(_)));
        true
    }

    /// The root element, if the document has one.
    pub fn root(&self) -> Option<ElementId> {
        self.root
    }

    /// The element with index `id`.
    pub fn get(&self, id: ElementId) -> &Element {
        &self.elements[id.index() / CHUNK][id.index() % CHUNK]
    }

    /// The element with index `id`, mutably.
    pub fn get_mut(&mut self, id: ElementId) -> &mut Element {
        &mut self.elements[id.index() / CHUNK][id.index() % CHUNK]
    }

    /// The child elements of `id`, in order.
    pub fn children(&self, id: ElementId) -> impl Iterator<Item = ElementId> + '_ {
        self.get(id).children.iter().filter_map(|n| match n {
            Node::Element(c) => Some(*c),
            _ => None,
        })
    }

    /// The text directly inside `id` (text and CDATA children, concatenated).
    pub fn text(&self, id: ElementId) -> String {
        self.get(id)
            .children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) | Node::CData(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The first child element of `id` named `name`.
    pub fn child(&self, id: ElementId, name: &str) -> Option<ElementId> {
        self.children(id).find(|c| self.get(*c).name == name)
    }

    /// How many elements the tree holds.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All elements in document order.
    pub fn all(&self) -> impl Iterator<Item = ElementId> + '_ {
        (0..self.len).map(ElementId)
    }

    /// Append a new, empty element named `name` under `parent`.
    pub fn append(&mut self, parent: ElementId, name: &str, attrs: &[(&str, &str)]) -> ElementId {
        let id = self.push_element(Element {
            name: name.to_owned(),
            attrs: Attrs::new(attrs.iter().copied()),
            children: Vec::new(),
            offset: 0,
            parent: Some(parent),
        });
        self.get_mut(parent).children.push(Node::Element(id));
        id
    }

    /// Move `id` to the end of its parent's children (a root element stays where it is).
    pub fn move_last(&mut self, id: ElementId) {
        if let Some(p) = self.get(id).parent {
            let children = &mut self.get_mut(p).children;
            if let Some(k) = children
                .iter()
                .position(|n| matches!(n, Node::Element(c) if *c == id))
            {
                let n = children.remove(k);
                children.push(n);
            }
        }
    }

    /// Detach `id` from its parent (it stays in the arena but is no longer written).
    pub fn detach(&mut self, id: ElementId) {
        if let Some(p) = self.get(id).parent {
            self.get_mut(p)
                .children
                .retain(|n| !matches!(n, Node::Element(c) if *c == id));
        }
    }

    /// Serialize the whole document.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new(Vec::new());
        for n in &self.top {
            self.write_node(&mut w, n);
        }
        // Only valid UTF-8 goes in, so only valid UTF-8 comes out.
        String::from_utf8_lossy(&w.into_inner()).into_owned()
    }

    fn write_node(&self, w: &mut Writer<Vec<u8>>, n: &Node) {
        // Writing into a Vec cannot fail.
        let _ = match n {
            Node::Element(id) => {
                self.write_element(w, *id);
                Ok(())
            }
            Node::Text(t) => w.write_event(Event::Text(BytesText::from_escaped(t.as_str()))),
            Node::CData(t) => w.write_event(Event::CData(BytesCData::new(t.as_str()))),
            Node::Comment(t) => w.write_event(Event::Comment(BytesText::from_escaped(t.as_str()))),
            Node::Pi(t) => w.write_event(Event::PI(BytesPI::new(t.as_str()))),
            Node::Decl(t) => {
                w.get_mut().extend_from_slice(format!("<?{t}?>").as_bytes());
                Ok(())
            }
            Node::DocType(t) => {
                w.get_mut()
                    .extend_from_slice(format!("<!DOCTYPE {t}>").as_bytes());
                Ok(())
            }
        };
    }

    fn write_element(&self, w: &mut Writer<Vec<u8>>, id: ElementId) {
        let e = self.get(id);
        let mut start = BytesStart::new(e.name.as_str());
        for (k, v) in e.attrs.iter() {
            start.push_attribute(Attribute {
                key: QName(k),
                value: Cow::Owned(escape_attr(v)),
            });
        }
        if e.children.is_empty() {
            let _ = w.write_event(Event::Empty(start));
        } else {
            let _ = w.write_event(Event::Start(start));
            for c in &e.children {
                self.write_node(w, c);
            }
            let _ = w.write_event(Event::End(BytesEnd::new(e.name.as_str())));
        }
    }
}

/// A name the writer can write back and the reader will read the same: non-empty, no
/// blanks, no markup characters, not starting with a digit, `-` or `.`.
fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| !(c.is_ascii_digit() || c == '-' || c == '.'))
        && !n
            .chars()
            .any(|c| c.is_whitespace() || "<>/=\"'&!?;".contains(c) || c.is_control())
}

/// Escape an attribute value so that reading it back gives the same string: markup
/// characters as entities, and whitespace that attribute normalization would turn into
/// spaces as character references.
pub fn escape_attr(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// A quick_xml error as the tree words it.
fn malformed(e: &dyn std::fmt::Display) -> String {
    format!("malformed xml: {}", lower_first(&e.to_string()))
}

/// The attributes of a tag's text after its name, when written in the plain form almost
/// every CIB uses: `name="value"` (or single quotes), each after whitespace, no `=` set
/// apart, no reference, tab or line break in a value. Their (name, value) spans go into
/// `spans`; `false` for anything else, which quick_xml reads (normalizing values and
/// wording errors) instead. In the plain form quick_xml reads the same names and values.
fn plain_attributes(b: &[u8], spans: &mut Vec<(usize, usize, usize, usize)>) -> bool {
    // Per byte: 1 whitespace, 2 ends or spoils a name, 4 spoils a value, 8 a quote.
    const CLASS: [u8; 256] = {
        let mut t = [0u8; 256];
        t[b' ' as usize] = 1 | 2;
        t[b'\t' as usize] = 1 | 2 | 4;
        t[b'\n' as usize] = 1 | 2 | 4;
        t[b'\r' as usize] = 1 | 2 | 4;
        t[b'"' as usize] = 2 | 8;
        t[b'\'' as usize] = 2 | 8;
        t[b'<' as usize] = 2 | 4;
        t[b'>' as usize] = 2;
        t[b'&' as usize] = 2 | 4;
        t[b'/' as usize] = 2;
        t[b'=' as usize] = 2;
        t
    };
    let class = |i: usize| CLASS[usize::from(b[i])];
    spans.clear();
    let mut i = 0;
    loop {
        let gap = i;
        while i < b.len() && class(i) & 1 != 0 {
            i += 1;
        }
        if i == b.len() {
            return true;
        }
        if i == gap {
            return false;
        }
        let n0 = i;
        while i < b.len() && class(i) & 2 == 0 {
            i += 1;
        }
        let n1 = i;
        if n1 == n0 || i + 1 >= b.len() || b[i] != b'=' {
            return false;
        }
        let quote = b[i + 1];
        if class(i + 1) & 8 == 0 {
            return false;
        }
        i += 2;
        let v0 = i;
        while i < b.len() && b[i] != quote {
            if class(i) & 4 != 0 {
                return false;
            }
            i += 1;
        }
        if i == b.len() {
            return false;
        }
        spans.push((n0, n1, v0, i));
        i += 1;
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_unknown_content() {
        let src = "<?xml version=\"1.0\"?>\n<cib a=\"1&#10;2\"><!-- note --><x y=\"&lt;&amp;\">t&amp;u<![CDATA[<raw>]]></x><?pi data?></cib>\n";
        let (doc, err) = Document::parse(src);
        assert_eq!(err, None);
        let out = doc.to_xml();
        let (again, err) = Document::parse(&out);
        assert_eq!(err, None);
        assert_eq!(out, again.to_xml());
        assert!(out.contains("<!-- note -->"), "{out}");
        assert_eq!(again.get(again.root().unwrap()).attr("a"), Some("1\n2"));
        assert!(out.contains("t&amp;u"), "{out}");
        assert!(out.contains("<![CDATA[<raw>]]>"), "{out}");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        let deep = |n: usize| format!("{}{}", "<r>".repeat(n), "</r>".repeat(n));
        let (_, err) = Document::parse(&deep(MAX_DEPTH));
        assert_eq!(err, None);
        let (doc, err) = Document::parse(&deep(20_000));
        let err = err.expect("20,000 levels are refused");
        assert!(err.message.contains("nested deeper than 256"), "{err:?}");
        // Where the 257th level opens.
        assert_eq!(err.offset, 3 * MAX_DEPTH);
        // The partial tree is bounded, and writing it back (recursive) is safe.
        assert_eq!(doc.all().count(), MAX_DEPTH);
        assert_eq!(Document::parse(&doc.to_xml()).0.all().count(), MAX_DEPTH);
        // An empty element one level too deep counts as well.
        let (_, err) = Document::parse(&format!(
            "{}<e/>{}",
            "<r>".repeat(MAX_DEPTH),
            "</r>".repeat(MAX_DEPTH)
        ));
        assert!(err.is_some());
    }

    #[test]
    fn attributes_share_names_and_keep_order_through_edits() {
        let src = "<r><op id=\"a\" rc=\"0\" d=\"&lt;x&gt;\"/><op id=\"b\" rc=\"\" d=\"y\"/></r>";
        let (mut doc, err) = Document::parse(src);
        assert_eq!(err, None);
        let ops: Vec<ElementId> = doc.children(doc.root().unwrap()).collect();
        let (a, b) = (doc.get(ops[0]), doc.get(ops[1]));
        assert!(std::sync::Arc::ptr_eq(&a.attrs.names, &b.attrs.names));
        let pairs = |e: &Element| -> Vec<(String, String)> {
            e.attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_owned()))
                .collect()
        };
        assert_eq!(
            pairs(a),
            [("id", "a"), ("rc", "0"), ("d", "<x>")].map(|(k, v)| (k.into(), v.into()))
        );
        assert_eq!(b.attr("rc"), Some(""));
        assert_eq!(b.attr("d"), Some("y"));
        assert_eq!(b.attr("nope"), None);
        doc.get_mut(ops[1]).set_attr("rc", "7");
        doc.get_mut(ops[1]).set_attr("new", "n");
        let b = doc.get(ops[1]);
        assert_eq!(
            pairs(b),
            [("id", "b"), ("rc", "7"), ("d", "y"), ("new", "n")].map(|(k, v)| (k.into(), v.into()))
        );
        assert_eq!(pairs(doc.get(ops[0]))[1], ("rc".into(), "0".into()));
        let out = doc.to_xml();
        assert!(
            out.contains(r#"<op id="b" rc="7" d="y" new="n"/>"#),
            "{out}"
        );
        assert!(out.contains(r#"d="&lt;x&gt;""#), "{out}");
    }

    #[test]
    fn a_repeated_attribute_is_an_error_naming_both_positions() {
        // Found through the shared names, worded by quick_xml's own check.
        let (_, err) = Document::parse("<r><x a=\"1\" b=\"2\" a=\"3\"/><y a=\"1\" b=\"2\"/></r>");
        let err = err.expect("a repeated attribute is malformed");
        assert!(
            err.message.contains("duplicated attribute"),
            "{}",
            err.message
        );
        assert!(err.message.contains("position"), "{}", err.message);
        // The same names on separate elements are not repeats.
        let (doc, err) = Document::parse("<r><x a=\"1\" b=\"2\"/><y b=\"2\" a=\"1\"/></r>");
        assert!(err.is_none(), "{err:?}");
        let kids: Vec<_> = doc.children(doc.root().unwrap()).collect();
        assert_eq!(doc.get(kids[1]).attr("a"), Some("1"));
    }

    /// A reader that gives one byte per read: every character and token is cut somewhere.
    struct OneByte<'a>(&'a [u8]);

    impl std::io::Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn reading_a_stream_builds_the_tree_reading_the_text_builds() {
        let docs = [
            "<?xml version=\"1.0\"?>\n<cib a=\"1&#10;2\">\n  <!-- note -->\n  <x y=\"&lt;&amp;\">t&amp;u<![CDATA[<raw>]]></x><?pi data?>\n  <n v=\"h\u{e9}llo \u{2713}\"/>\n</cib>\n",
            "<cib><configuration>",
            "<cib a=\"1\" a=\"2\"/>",
            "<cib/><second/>",
            "",
        ];
        for src in docs {
            let whole = Document::parse(src);
            let streamed = Document::parse_reader(OneByte(src.as_bytes())).expect("UTF-8");
            assert_eq!(whole, streamed, "{src:?}");
            let buffered = Document::parse_reader(src.as_bytes()).expect("UTF-8");
            assert_eq!(whole, buffered, "{src:?}");
        }
        // Not UTF-8, even cut at the bad byte: no tree (the caller reads it whole for the
        // located message).
        let bad = b"<cib a=\"\xff\"/>";
        assert!(Document::parse_reader(OneByte(bad)).is_none());
        assert!(Document::parse_reader(&bad[..]).is_none());
        // A character cut at the very end is not UTF-8 either.
        assert!(Document::parse_reader(&b"<cib/>\xe2\x9c"[..]).is_none());
    }

    #[test]
    fn the_bare_reading_leaves_out_whitespace_text_alone() {
        let src = "<cib>\n  <x a=\"1\"> t </x>\n  <!-- c -->\n  <y/>\n</cib>\n";
        let (whole, _) = Document::parse(src);
        let (bare, err) =
            Document::parse_reader_folding(OneByte(src.as_bytes()), |_, _| {}).expect("UTF-8");
        assert!(err.is_none(), "{err:?}");
        let root = bare.root().expect("root");
        // Same elements, attributes and non-blank text; no blank text nodes.
        let names = |d: &Document| d.all().map(|e| d.get(e).name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&whole), names(&bare));
        assert_eq!(bare.text(bare.child(root, "x").unwrap()), " t ");
        assert_eq!(bare.to_xml(), "<cib><x a=\"1\"> t </x><!-- c --><y/></cib>");
        assert!(
            bare.get(root)
                .children
                .iter()
                .all(|n| !matches!(n, Node::Text(_)))
        );
        // Errors are still found.
        let (_, err) =
            Document::parse_reader_folding(&b"<cib>\n<x></y></cib>"[..], |_, _| {}).expect("UTF-8");
        assert!(err.is_some());
    }

    #[test]
    fn a_subtree_is_folded_as_its_end_tag_is_read() {
        // Each <h> is folded into a count of its descendants as it closes and its
        // subtree dropped: the elements after it take the freed places.
        let src = "<r><h id=\"1\"><o/><o><p/></o></h><k/><h id=\"2\"><o/></h></r>";
        let mut seen = Vec::new();
        let (doc, err) = Document::parse_reader_folding(src.as_bytes(), |doc, id| {
            if doc.get(id).name == "h" {
                let below = doc.all().filter(|e| e.0 > id.0).count();
                assert!(doc.drop_descendants(id));
                seen.push((doc.get(id).attr("id").map(str::to_owned), below));
            }
        })
        .expect("UTF-8");
        assert!(err.is_none(), "{err:?}");
        assert_eq!(seen, [(Some("1".into()), 3), (Some("2".into()), 1)]);
        assert_eq!(doc.to_xml(), "<r><h id=\"1\"/><k/><h id=\"2\"/></r>");
        assert_eq!(doc.all().count(), 4);
        // Only the last run of the arena can go: not an element with later siblings.
        let (mut doc, _) = Document::parse("<r><a><b/></a><c/></r>");
        let a = doc.child(doc.root().unwrap(), "a").unwrap();
        assert!(!doc.drop_descendants(a));
        assert_eq!(doc.to_xml(), "<r><a><b/></a><c/></r>");
        // Nor when an element appended elsewhere sits between, even if the last is inside.
        let (mut doc, _) = Document::parse("<r><a><b/></a></r>");
        let root = doc.root().unwrap();
        let a = doc.child(root, "a").unwrap();
        doc.append(root, "c", &[]);
        doc.append(a, "d", &[]);
        assert!(!doc.drop_descendants(a));
        assert_eq!(doc.to_xml(), "<r><a><b/><d/></a><c/></r>");
    }

    #[test]
    fn the_arena_holds_elements_across_its_chunks() {
        // More elements than one chunk holds, read and appended: each found by its id.
        let n = CHUNK * 2 + 7;
        let mut src = String::from("<r>");
        for k in 0..n {
            src.push_str(&format!("<e k=\"{k}\"/>"));
        }
        src.push_str("</r>");
        let (mut doc, err) = Document::parse(&src);
        assert!(err.is_none(), "{err:?}");
        let root = doc.root().expect("root");
        let extra = doc.append(root, "e", &[("k", "last")]);
        let kids: Vec<_> = doc.children(root).collect();
        assert_eq!(kids.len(), n + 1);
        for (k, id) in kids.iter().take(n).enumerate() {
            assert_eq!(doc.get(*id).attr("k"), Some(k.to_string().as_str()));
            assert_eq!(doc.get(*id).parent, Some(root));
        }
        assert_eq!(doc.get(extra).attr("k"), Some("last"));
        assert_eq!(doc.all().count(), n + 2);
        assert_eq!(doc.elements.len(), 3);
        // A folded subtree across chunks: the arena shrinks back to a chunk and grows
        // again from there.
        let src = format!("<x>{src}<after/><r><e/></r></x>");
        let (doc, err) = Document::parse_reader_folding(src.as_bytes(), |doc, id| {
            if doc.get(id).name == "r" {
                assert!(doc.drop_descendants(id));
            }
        })
        .expect("UTF-8");
        assert!(err.is_none(), "{err:?}");
        assert_eq!(doc.elements.len(), 1);
        assert_eq!(doc.to_xml(), "<x><r/><after/><r/></x>");
    }

    /// Every tag of `src`: the attributes the plain reading finds, when it takes the tag,
    /// are quick_xml's; returns how many tags it took and how many it left to quick_xml.
    fn plain_reading_agrees(src: &str) -> (usize, usize) {
        let mut reader = Reader::from_str(src);
        let (mut plain, mut other) = (0, 0);
        let mut spans = Vec::new();
        loop {
            let s = match reader.read_event() {
                Ok(Event::Start(s) | Event::Empty(s)) => s,
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => continue,
            };
            let raw = s.attributes_raw();
            if !plain_attributes(raw.as_bytes(), &mut spans) {
                other += 1;
                continue;
            }
            plain += 1;
            let ours: Vec<(&str, &str)> = spans
                .iter()
                .map(|&(a, b, c, d)| (&raw[a..b], &raw[c..d]))
                .collect();
            // (Repeated names are the tree's own check, tested above.)
            let theirs: Vec<(String, String)> = s
                .attributes()
                .with_checks(false)
                .map(|a| {
                    let a = a.expect("quick_xml reads what the plain reading takes");
                    let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0);
                    let k: &str = a.key.as_ref();
                    let k = k.to_owned();
                    (k, v.expect("a plain value normalizes").into_owned())
                })
                .collect();
            let theirs: Vec<(&str, &str)> = theirs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(ours, theirs, "<{raw}>");
        }
        (plain, other)
    }

    #[test]
    fn the_plain_attribute_reading_agrees_with_quick_xml() {
        let tricky = r#"<r>
  <a x="1" y='2' z=""/>
  <a x="1"/><a x="1" /><a  x="1"   y="2"/>
  <a x="a'b" y='a"b'/><a x="&lt;"/><a x="1&#10;2"/><a x="tab	here"/>
  <a x = "1"/><a x="1"y="2"/><a x=1/><a x/><a ="1"/><a x="1" x="2"/>
  <a x:y="1" _z.w-v="2"/><a x="line
break"/><a x="\u{e9}\u{2713}"/>
</r>"#;
        let (plain, other) = plain_reading_agrees(tricky);
        assert!(plain >= 8 && other >= 6, "plain {plain}, other {other}");
        // Every CIB of the examples and, where it is beside the project, Pacemaker's suite.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut dirs = vec![root.join("cib-examples")];
        dirs.push(root.join("../shared/pacemaker-suite/xml"));
        let mut files = 0;
        let mut stack = dirs;
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "xml") {
                    if let Ok(src) = std::fs::read_to_string(&p) {
                        plain_reading_agrees(&src);
                        files += 1;
                    }
                }
            }
        }
        assert!(files >= 20, "only {files} CIB files found");
    }

    #[test]
    fn unclosed_element_is_an_error_with_partial_tree() {
        let (doc, err) = Document::parse("<cib><configuration>");
        assert!(err.unwrap().message.contains("not closed"));
        assert_eq!(doc.get(doc.root().unwrap()).name, "cib");
    }
}
