//! Bounded, DTD-free XML parsing into a small owned element tree.
//!
//! SAML security depends on every component agreeing on what a document *says*. This parser is
//! therefore deliberately narrow: UTF-8 only, no DTD (so no entity expansion, no XXE, no billion
//! laughs), no processing instructions, only the five predefined entities and character
//! references, strict namespace resolution, and hard size/depth/count [`Limits`].
//!
//! Comments are dropped and the text around them is merged, so
//! `<NameID>admin@evil.com<!---->.attacker.com</NameID>` reads as one value
//! `admin@evil.com.attacker.com` (the classic comment-truncation attack cannot shorten it), which
//! is also exactly what exclusive c14n *without comments* signs.

use crate::SamlError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::sync::Arc;

/// The namespace bound to the `xml` prefix by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Size bounds applied while parsing; any excess is [`SamlError::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document size in bytes (for base64 input: the decoded size).
    pub max_bytes: usize,
    /// Maximum element nesting depth (the root is depth 1).
    pub max_depth: usize,
    /// Maximum number of elements in the document.
    pub max_elements: usize,
    /// Maximum number of attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    /// Generous for every real IdP response we have seen (they are 3–20 KiB) while keeping a
    /// hostile document's parse cost small.
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            max_depth: 64,
            max_elements: 10_000,
            max_attributes: 64,
        }
    }
}

/// A namespace-resolved name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The prefix as written (`None` when unprefixed).
    pub prefix: Option<Arc<str>>,
    /// The local part.
    pub local: String,
    /// The namespace URI the prefix (or the default namespace) resolved to (shared with the
    /// declaring binding, so resolving a name does not allocate).
    pub namespace: Option<Arc<str>>,
}

impl Name {
    /// The qualified name as written (`prefix:local` or `local`).
    pub fn qualified(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.local),
            None => self.local.clone(),
        }
    }
}

/// One attribute (namespace declarations are kept separately, see
/// [`Element::namespace_declarations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Its resolved name.
    pub name: Name,
    /// Its normalized, unescaped value.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (CDATA included; adjacent runs, even across comments, are merged).
    Text(String),
}

/// A namespace binding: prefix (`None` for the default namespace) and URI (empty string for
/// `xmlns=""`).
pub type NamespaceBinding = (Option<Arc<str>>, Arc<str>);

/// An element with its attributes and children in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its resolved name.
    pub name: Name,
    /// Attributes in document order (without `xmlns` declarations).
    pub attributes: Vec<Attribute>,
    /// The namespace declarations written on this element.
    pub namespace_declarations: Vec<NamespaceBinding>,
    /// Every binding in scope at this element (shared with the parent when unchanged).
    pub in_scope: Arc<Vec<NamespaceBinding>>,
    /// Children in document order.
    pub children: Vec<Node>,
    /// Where this element was in the parsed input (byte offsets).
    pub span: Span,
}

/// Byte offsets of an element in the parsed input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the `<` of the start tag.
    pub start: usize,
    /// Offset just past the `>` of the start tag.
    pub start_tag_end: usize,
    /// Offset just past the `>` of the end tag (equal to `start_tag_end` for `<empty/>`).
    pub end: usize,
}

impl Element {
    /// Whether this element has namespace `ns` and local name `local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.local == local && self.name.namespace.as_deref() == Some(ns)
    }

    /// The value of the unqualified attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.namespace.is_none() && a.name.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of the namespaced attribute `{ns}local`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.namespace.as_deref() == Some(ns) && a.name.local == local)
            .map(|a| a.value.as_str())
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'s>(
        &'s self,
        ns: &'s str,
        local: &'s str,
    ) -> impl Iterator<Item = &'s Element> + 's {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The first child element named `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The only child element named `{ns}local`; `Structure` error when absent or repeated.
    pub fn only_child(&self, ns: &str, local: &str) -> Result<&Element, SamlError> {
        let mut it = self.elements().filter(|e| e.is(ns, local));
        match (it.next(), it.next()) {
            (Some(e), None) => Ok(e),
            (None, _) => Err(SamlError::Structure {
                detail: format!("missing {local}"),
            }),
            (Some(_), Some(_)) => Err(SamlError::Structure {
                detail: format!("repeated {local}"),
            }),
        }
    }

    /// The concatenated text of the direct text children.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// Calls `f` on this element and every descendant element, in document order.
    pub fn walk<'s>(&'s self, f: &mut dyn FnMut(&'s Element)) {
        f(self);
        for e in self.elements() {
            e.walk(f);
        }
    }

    /// The namespace URI bound to `prefix` (`None` = default namespace) at this element.
    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&str> {
        self.in_scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| &**uri)
            .filter(|uri| !uri.is_empty())
    }
}

fn malformed(detail: impl Into<String>) -> SamlError {
    SamlError::MalformedXml {
        detail: detail.into(),
    }
}

/// Parses a complete document; returns its root element.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, SamlError> {
    parse_with_namespaces(bytes, limits, &[])
}

/// Parses a document whose root inherits the namespace bindings `inherited` (used for decrypted
/// content, which was serialized in the context of its `EncryptedAssertion`).
pub fn parse_with_namespaces(
    bytes: &[u8],
    limits: &Limits,
    inherited: &[NamespaceBinding],
) -> Result<Element, SamlError> {
    if bytes.len() > limits.max_bytes {
        return Err(SamlError::TooLarge { limit: "max_bytes" });
    }
    let stripped = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let offset = bytes.len() - stripped.len();
    let text = std::str::from_utf8(stripped).map_err(|_| malformed("not UTF-8"))?;
    let mut base: Vec<NamespaceBinding> = vec![(Some("xml".into()), XML_NS.into())];
    base.extend(inherited.iter().cloned());
    Parser {
        limits,
        stack: Vec::new(),
        root: None,
        elements: 0,
        pending: String::new(),
        offset,
    }
    .run(text, Arc::new(base))
}

struct Parser<'l> {
    limits: &'l Limits,
    stack: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    pending: String,
    offset: usize,
}

impl Parser<'_> {
    fn run(
        mut self,
        text: &str,
        base_scope: Arc<Vec<NamespaceBinding>>,
    ) -> Result<Element, SamlError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.trim_text(false);
        config.expand_empty_elements = false;
        let mut seen_decl = false;
        let mut seen_anything = false;
        loop {
            let before =
                self.offset + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = reader
                .read_event()
                .map_err(|e| malformed(short_error(&e)))?;
            let after =
                self.offset + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let first = !seen_anything;
            seen_anything = true;
            match event {
                Event::Decl(d) => {
                    if !first || seen_decl {
                        return Err(malformed("misplaced XML declaration"));
                    }
                    seen_decl = true;
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|_| malformed("bad declaration"))?;
                        if !enc.eq_ignore_ascii_case(b"utf-8") {
                            return Err(malformed("only UTF-8 is accepted"));
                        }
                    }
                }
                Event::DocType(_) => return Err(malformed("DTDs are not accepted")),
                Event::PI(_) => return Err(malformed("processing instructions are not accepted")),
                Event::Comment(_) => {}
                Event::Start(s) => {
                    let mut el = self.open(&s, &base_scope)?;
                    el.span = Span {
                        start: before,
                        start_tag_end: after,
                        end: after,
                    };
                    self.flush_text()?;
                    self.stack.push(el);
                }
                Event::Empty(s) => {
                    let mut el = self.open(&s, &base_scope)?;
                    el.span = Span {
                        start: before,
                        start_tag_end: after,
                        end: after,
                    };
                    self.flush_text()?;
                    self.close(el)?;
                }
                Event::End(_) => {
                    self.flush_text()?;
                    let mut el = self
                        .stack
                        .pop()
                        .ok_or_else(|| malformed("unbalanced end tag"))?;
                    el.span.end = after;
                    self.close(el)?;
                }
                Event::Text(t) => {
                    let raw = std::str::from_utf8(&t).map_err(|_| malformed("not UTF-8"))?;
                    push_normalized_text(&mut self.pending, raw)?;
                }
                Event::CData(c) => {
                    let raw = std::str::from_utf8(&c).map_err(|_| malformed("not UTF-8"))?;
                    push_normalized_text(&mut self.pending, raw)?;
                }
                Event::GeneralRef(r) => {
                    let name = std::str::from_utf8(&r).map_err(|_| malformed("not UTF-8"))?;
                    self.pending.push(resolve_reference(name)?);
                }
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(malformed("unclosed element"));
        }
        self.flush_text()?;
        self.root.ok_or_else(|| malformed("no root element"))
    }

    fn flush_text(&mut self) -> Result<(), SamlError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = std::mem::take(&mut self.pending);
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(prev)) = parent.children.last_mut() {
                    prev.push_str(&text);
                } else {
                    parent.children.push(Node::Text(text));
                }
                Ok(())
            }
            None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => Ok(()),
            None => Err(malformed("text outside the root element")),
        }
    }

    fn close(&mut self, el: Element) -> Result<(), SamlError> {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => {
                if self.root.is_some() {
                    return Err(malformed("more than one root element"));
                }
                self.root = Some(el);
            }
        }
        Ok(())
    }

    fn open(
        &mut self,
        start: &BytesStart<'_>,
        base: &Arc<Vec<NamespaceBinding>>,
    ) -> Result<Element, SamlError> {
        if self.root.is_some() && self.stack.is_empty() {
            return Err(malformed("more than one root element"));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(SamlError::TooLarge {
                limit: "max_elements",
            });
        }
        if self.stack.len() + 1 > self.limits.max_depth {
            return Err(SamlError::TooLarge { limit: "max_depth" });
        }
        let parent_scope = self
            .stack
            .last()
            .map(|p| p.in_scope.clone())
            .unwrap_or_else(|| base.clone());
        let qname =
            std::str::from_utf8(start.name().into_inner()).map_err(|_| malformed("not UTF-8"))?;

        let mut raw_attrs: Vec<(&str, String)> = Vec::new();
        let mut decls: Vec<NamespaceBinding> = Vec::new();
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| malformed(format!("attribute: {e}")))?;
            if raw_attrs.len() + decls.len() >= self.limits.max_attributes {
                return Err(SamlError::TooLarge {
                    limit: "max_attributes",
                });
            }
            let key =
                std::str::from_utf8(attr.key.into_inner()).map_err(|_| malformed("not UTF-8"))?;
            let raw = std::str::from_utf8(&attr.value).map_err(|_| malformed("not UTF-8"))?;
            let value = normalize_attribute(raw)?;
            if key == "xmlns" {
                if value == XML_NS || value == XMLNS_NS {
                    return Err(malformed("reserved namespace as default"));
                }
                decls.push((None, value.into()));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                check_ncname(p)?;
                if value.is_empty() {
                    return Err(malformed("prefix undeclaration"));
                }
                if p == "xmlns" || (p == "xml") != (value == XML_NS) || value == XMLNS_NS {
                    return Err(malformed("reserved prefix or namespace misuse"));
                }
                if p != "xml" {
                    decls.push((Some(p.into()), value.into()));
                }
            } else {
                raw_attrs.push((key, value));
            }
        }
        let in_scope = if decls.is_empty() {
            parent_scope
        } else {
            let mut scope: Vec<NamespaceBinding> = parent_scope
                .iter()
                .filter(|(p, _)| !decls.iter().any(|(d, _)| d == p))
                .cloned()
                .collect();
            scope.extend(decls.iter().cloned());
            Arc::new(scope)
        };
        // Resolves a prefix to (shared prefix, shared URI) without allocating.
        let lookup = |prefix: Option<&str>| -> Option<(Option<Arc<str>>, Arc<str>)> {
            in_scope
                .iter()
                .rev()
                .find(|(p, _)| p.as_deref() == prefix)
                .filter(|(_, u)| !u.is_empty())
                .map(|(p, u)| (p.clone(), u.clone()))
        };
        let (prefix, local) = split_qname(qname)?;
        let name = match prefix {
            Some(p) => {
                let (prefix, ns) = lookup(Some(p)).ok_or_else(|| malformed("undeclared prefix"))?;
                Name {
                    prefix,
                    local: local.to_owned(),
                    namespace: Some(ns),
                }
            }
            None => Name {
                prefix: None,
                local: local.to_owned(),
                namespace: lookup(None).map(|(_, ns)| ns),
            },
        };
        let mut attributes: Vec<Attribute> = Vec::with_capacity(raw_attrs.len());
        for (key, value) in raw_attrs {
            let (prefix, local) = split_qname(key)?;
            let (prefix, namespace) = match prefix {
                Some(p) => {
                    let (prefix, ns) =
                        lookup(Some(p)).ok_or_else(|| malformed("undeclared prefix"))?;
                    (prefix, Some(ns))
                }
                None => (None, None),
            };
            if attributes
                .iter()
                .any(|a| a.name.local == local && a.name.namespace == namespace)
            {
                return Err(malformed("duplicate attribute"));
            }
            attributes.push(Attribute {
                name: Name {
                    prefix,
                    local: local.to_owned(),
                    namespace,
                },
                value,
            });
        }
        Ok(Element {
            name,
            attributes,
            namespace_declarations: decls,
            in_scope,
            children: Vec::new(),
            span: Span::default(),
        })
    }
}

fn short_error(e: &quick_xml::Error) -> String {
    // quick-xml errors may quote document bytes; keep the log line short and content-free-ish.
    let s = e.to_string();
    s.chars().take(120).collect()
}

fn split_qname(q: &str) -> Result<(Option<&str>, &str), SamlError> {
    match q.split_once(':') {
        Some((p, l)) => {
            check_ncname(p)?;
            check_ncname(l)?;
            Ok((Some(p), l))
        }
        None => {
            check_ncname(q)?;
            Ok((None, q))
        }
    }
}

fn check_ncname(n: &str) -> Result<(), SamlError> {
    let mut chars = n.chars();
    let ok = match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {
            chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{B7}'))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(malformed("invalid name"))
    }
}

fn check_char(c: char) -> Result<char, SamlError> {
    let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if ok {
        Ok(c)
    } else {
        Err(malformed("character not allowed in XML"))
    }
}

/// True when `s` has no `\r` and only characters XML allows (the common case: no per-char work).
fn is_plain(s: &str) -> bool {
    // U+FFFE / U+FFFF are the only non-characters reachable from valid UTF-8 besides controls;
    // their encodings start with 0xEF 0xBF.
    s.bytes().all(|b| b >= 0x20 || b == b'\t' || b == b'\n')
        && !s.contains(['\u{FFFE}', '\u{FFFF}'])
}

/// Appends raw character data with XML line-end normalization (`\r\n` and `\r` become `\n`).
fn push_normalized_text(out: &mut String, raw: &str) -> Result<(), SamlError> {
    if is_plain(raw) {
        out.push_str(raw);
        return Ok(());
    }
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(check_char(c)?);
        }
    }
    Ok(())
}

/// Resolves a reference name (`amp`, `#10`, `#x41`); unknown entities are an error because we
/// never read a DTD that could define them.
fn resolve_reference(name: &str) -> Result<char, SamlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                return Err(malformed("unknown entity reference"));
            };
            code.and_then(char::from_u32)
                .ok_or_else(|| malformed("bad character reference"))?
        }
    };
    check_char(c)
}

/// Attribute-value normalization (XML 1.0 §3.3.3 for CDATA attributes): literal whitespace
/// characters become spaces, references are resolved (a `&#xA;` reference stays a newline).
fn normalize_attribute(raw: &str) -> Result<String, SamlError> {
    if is_plain(raw) && !raw.contains(['&', '<', '\n', '\t']) {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find(['&', '\r', '\n', '\t', '<']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let c = tail.as_bytes()[0];
        match c {
            b'&' => {
                let end = tail
                    .find(';')
                    .ok_or_else(|| malformed("unterminated reference"))?;
                out.push(resolve_reference(&tail[1..end])?);
                rest = &tail[end + 1..];
            }
            b'<' => return Err(malformed("'<' in attribute value")),
            b'\r' => {
                out.push(' ');
                rest = tail.strip_prefix("\r\n").unwrap_or(&tail[1..]);
            }
            _ => {
                out.push(' ');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    for c in out.chars() {
        check_char(c)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, SamlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn records_source_spans() {
        let doc = "\u{FEFF}<a x='1'><b/><c>t</c></a>";
        let e = p(doc).unwrap();
        assert_eq!(&doc[e.span.start..e.span.end], "<a x='1'><b/><c>t</c></a>");
        let c = e.elements().nth(1).unwrap();
        assert_eq!(&doc[c.span.start..c.span.start_tag_end], "<c>");
        assert_eq!(&doc[c.span.start..c.span.end], "<c>t</c>");
        let b = e.elements().next().unwrap();
        assert_eq!(&doc[b.span.start..b.span.end], "<b/>");
    }

    #[test]
    fn comment_does_not_truncate_text() {
        let e = p("<a>admin@evil.com<!---->.attacker.com</a>").unwrap();
        assert_eq!(e.text(), "admin@evil.com.attacker.com");
        assert_eq!(e.children.len(), 1);
    }

    #[test]
    fn cdata_and_references_are_text() {
        let e = p("<a>x &amp; <![CDATA[<y>]]>&#x41;&#66;</a>").unwrap();
        assert_eq!(e.text(), "x & <y>AB");
    }

    #[test]
    fn rejects_dtd_pi_entities_and_bad_prefixes() {
        for bad in [
            "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
            "<?xml-stylesheet href='x'?><a/>",
            "<a><?pi x?></a>",
            "<a>&foo;</a>",
            "<p:a/>",
            "<a p:b='1'/>",
            "<a xmlns:p=''/>",
            "<a/><b/>",
            "<a>",
            "text<a/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
            "<a>&#0;</a>",
            "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
        ] {
            assert!(
                matches!(p(bad), Err(SamlError::MalformedXml { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(b"<a>\xff</a>", &Limits::default()),
            Err(SamlError::MalformedXml { .. })
        ));
    }

    #[test]
    fn enforces_limits() {
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        assert_eq!(p(&deep), Err(SamlError::TooLarge { limit: "max_depth" }));
        let wide = format!("<r>{}</r>", "<a/>".repeat(10_000));
        assert_eq!(
            p(&wide),
            Err(SamlError::TooLarge {
                limit: "max_elements"
            })
        );
        let attrs: String = (0..65).map(|i| format!(" a{i}='x'")).collect();
        assert_eq!(
            p(&format!("<a{attrs}/>")),
            Err(SamlError::TooLarge {
                limit: "max_attributes"
            })
        );
        let big = format!("<a>{}</a>", "x".repeat(256 * 1024));
        assert_eq!(p(&big), Err(SamlError::TooLarge { limit: "max_bytes" }));
    }

    #[test]
    fn resolves_namespaces_and_normalizes() {
        let e = p("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<p:a xmlns:p='urn:p' xmlns='urn:d' v='a\tb&#xA;c'><b p:x='1'>l1\r\nl2</b></p:a>").unwrap();
        assert_eq!(e.name.namespace.as_deref(), Some("urn:p"));
        assert_eq!(e.attr("v"), Some("a b\nc"));
        let b = e.elements().next().unwrap();
        assert!(b.is("urn:d", "b"));
        assert_eq!(b.attr_ns("urn:p", "x"), Some("1"));
        assert_eq!(b.text(), "l1\nl2");
        assert_eq!(b.lookup_namespace(Some("p")), Some("urn:p"));
    }
}
