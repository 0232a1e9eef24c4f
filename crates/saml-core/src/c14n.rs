//! Exclusive XML Canonicalization 1.0 without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>) of one element subtree.
//!
//! This is the only canonicalization we accept for signatures. It is applied to an element of a
//! parsed [`Element`] tree, optionally omitting one descendant (the enveloped `ds:Signature`, which
//! is what the enveloped-signature transform does for a same-document reference).
//!
//! Rules implemented (W3C exc-c14n §3 on top of Canonical XML 1.0 §2.3): no XML declaration,
//! empty elements as start/end pairs, namespace declarations emitted only where *visibly utilized*
//! (element prefix, attribute prefixes, plus the InclusiveNamespaces PrefixList) and not already
//! emitted with the same value by an output ancestor, declarations sorted by prefix (default
//! first), attributes sorted by (namespace URI, local name), and the canonical escapes.

use crate::xml::{Element, Node};

/// The exclusive c14n (without comments) algorithm URI.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// What to canonicalize besides the element itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// InclusiveNamespaces PrefixList entries (`None` stands for `#default`).
    pub inclusive_prefixes: &'a [Option<String>],
    /// A descendant to leave out together with its subtree (compared by identity).
    pub exclude: Option<&'a Element>,
}

/// Splits an InclusiveNamespaces `PrefixList` attribute value (`"#default xs"`).
pub fn parse_prefix_list(list: &str) -> Vec<Option<String>> {
    list.split_ascii_whitespace()
        .map(|p| {
            if p == "#default" {
                None
            } else {
                Some(p.to_owned())
            }
        })
        .collect()
}

/// Canonicalizes the subtree rooted at `element` into bytes.
pub fn canonicalize(element: &Element, options: &Options<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(4096);
    let mut rendered: Vec<(Option<&str>, &str)> = Vec::with_capacity(16);
    render(element, options, &mut rendered, &mut out);
    out.into_bytes()
}

fn visible_value<'e>(rendered: &[(Option<&str>, &'e str)], prefix: Option<&str>) -> &'e str {
    rendered
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

fn render<'e>(
    el: &'e Element,
    options: &Options<'_>,
    rendered: &mut Vec<(Option<&'e str>, &'e str)>,
    out: &mut String,
) {
    // Namespace declarations this element must carry.
    let mut decls: Vec<(Option<&'e str>, &'e str)> = Vec::new();
    let consider =
        |prefix: Option<&'e str>, uri: &'e str, decls: &mut Vec<(Option<&'e str>, &'e str)>| {
            if prefix == Some("xml") || decls.iter().any(|(p, _)| *p == prefix) {
                return;
            }
            if visible_value(rendered, prefix) != uri {
                decls.push((prefix, uri));
            }
        };
    consider(
        el.name.prefix.as_deref(),
        el.name.namespace.as_deref().unwrap_or(""),
        &mut decls,
    );
    for a in &el.attributes {
        if let (Some(p), Some(ns)) = (a.name.prefix.as_deref(), a.name.namespace.as_deref()) {
            consider(Some(p), ns, &mut decls);
        }
    }
    for incl in options.inclusive_prefixes {
        let prefix = incl.as_deref();
        if let Some((p, uri)) = el
            .in_scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
        {
            // An in-scope `xmlns=""` is not a namespace node; nothing to render for it.
            if !uri.is_empty() {
                consider(p.as_deref(), uri, &mut decls);
            }
        }
    }
    decls.sort_by(|a, b| a.0.cmp(&b.0));

    let mut attrs: Vec<&crate::xml::Attribute> = el.attributes.iter().collect();
    attrs.sort_by(|a, b| {
        (
            a.name.namespace.as_deref().unwrap_or(""),
            a.name.local.as_str(),
        )
            .cmp(&(
                b.name.namespace.as_deref().unwrap_or(""),
                b.name.local.as_str(),
            ))
    });

    out.push('<');
    push_qname(el, out);
    for (p, uri) in &decls {
        match p {
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        escape_attr(uri, out);
        out.push('"');
    }
    for a in attrs {
        out.push(' ');
        if let Some(p) = &a.name.prefix {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(&a.name.local);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');

    let mark = rendered.len();
    rendered.extend(decls);
    for child in &el.children {
        match child {
            Node::Text(t) => escape_text(t, out),
            Node::Element(c) => {
                if options.exclude.is_some_and(|x| std::ptr::eq(x, c)) {
                    continue;
                }
                render(c, options, rendered, out);
            }
        }
    }
    rendered.truncate(mark);
    out.push_str("</");
    push_qname(el, out);
    out.push('>');
}

fn push_qname(el: &Element, out: &mut String) {
    if let Some(p) = &el.name.prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(&el.name.local);
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};
    use expect_test::{expect, Expect};

    /// Canonicalizes the element at `path` (child-element indices from the root).
    fn check(doc: &str, path: &[usize], prefixes: &str, expected: Expect) {
        let root = parse(doc.as_bytes(), &Limits::default()).unwrap();
        let mut el = &root;
        for i in path {
            el = el.elements().nth(*i).unwrap();
        }
        let list = parse_prefix_list(prefixes);
        let bytes = canonicalize(
            el,
            &Options {
                inclusive_prefixes: &list,
                exclude: None,
            },
        );
        expected.assert_eq(&String::from_utf8(bytes).unwrap());
    }

    #[test]
    fn exc_c14n_spec_example_section_2_2() {
        // The two documents of exc-c14n §2.2: inclusive c14n differs, exclusive c14n of the
        // n1:elem2 subtree must be identical.
        let d1 = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\"><n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"/></n1:elem2></n0:local>";
        let d2 = "<n2:pdu xmlns:n1=\"http://example.com\" xmlns:n2=\"http://foo.example\" xml:lang=\"fr\" xml:space=\"retain\"><n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"/></n1:elem2></n2:pdu>";
        check(
            d1,
            &[0],
            "",
            expect![[
                r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
            ]],
        );
        check(
            d2,
            &[0],
            "",
            expect![[
                r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
            ]],
        );
        // With InclusiveNamespaces PrefixList="n3" the n3 declaration moves up (spec example).
        check(
            d1,
            &[0],
            "n3",
            expect![[
                r#"<n1:elem2 xmlns:n1="http://example.net" xmlns:n3="ftp://example.org" xml:lang="en"><n3:stuff></n3:stuff></n1:elem2>"#
            ]],
        );
    }

    #[test]
    fn c14n_spec_attribute_and_text_escaping() {
        // Canonical XML 1.0 §3.2/§3.3/§3.4 style inputs.
        check(
            "<doc>\r\n<e1   /><e2   ></e2><e3   name = \"elem3\"   id=\"elem3\"   /><e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\" xmlns:b=\"http://www.ietf.org\" xmlns:a=\"http://www.w3.org\" xmlns=\"http://example.org\"/><text>First line&#x0d;&#10;Second line &amp; &lt;tag&gt; \"q\" <![CDATA[<cdata> & ]]></text><norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; ' tab=\"a\tb\"/></doc>",
            &[],
            "",
            expect![[r#"
                <doc>
                <e1></e1><e2></e2><e3 id="elem3" name="elem3"></e3><e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5><text>First line&#xD;
                Second line &amp; &lt;tag&gt; "q" &lt;cdata&gt; &amp; </text><norm attr=" '    &#xD;&#xA;&#x9;   ' " tab="a b"></norm></doc>"#]],
        );
    }

    #[test]
    fn default_namespace_undeclaration_and_unused_declarations() {
        check(
            "<a xmlns='urn:a' xmlns:u='urn:unused'><b xmlns=''><c xmlns='urn:a'/></b><u:d/></a>",
            &[],
            "",
            expect![[
                r#"<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"></c></b><u:d xmlns:u="urn:unused"></u:d></a>"#
            ]],
        );
        // Subtree of an element whose default namespace is inherited: it is re-declared.
        check(
            "<a xmlns='urn:a'><b><c/></b></a>",
            &[0],
            "",
            expect![[r#"<b xmlns="urn:a"><c></c></b>"#]],
        );
        // #default in the prefix list.
        check(
            "<a xmlns='urn:a' xmlns:p='urn:p'><p:b/></a>",
            &[0],
            "#default",
            expect![[r#"<p:b xmlns="urn:a" xmlns:p="urn:p"></p:b>"#]],
        );
    }

    #[test]
    fn comments_are_not_rendered_and_text_is_merged() {
        check(
            "<NameID>admin@evil.com<!---->.attacker.com</NameID>",
            &[],
            "",
            expect![[r#"<NameID>admin@evil.com.attacker.com</NameID>"#]],
        );
    }

    #[test]
    fn excluded_descendant_is_omitted() {
        let root = parse(b"<a><b/><s/><c/></a>", &Limits::default()).unwrap();
        let s = root.elements().nth(1).unwrap();
        let bytes = canonicalize(
            &root,
            &Options {
                inclusive_prefixes: &[],
                exclude: Some(s),
            },
        );
        assert_eq!(bytes, b"<a><b></b><c></c></a>");
    }
}
