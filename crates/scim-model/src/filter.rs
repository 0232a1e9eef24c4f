//! The RFC 7644 §3.4.2.2 filter grammar: lexer, bounded recursive-descent parser, AST and the
//! reference evaluator.
//!
//! The server translates the AST to SQL for indexed attributes; [`Filter::matches`] is the
//! reference semantics that translation must agree with.

use std::fmt;

use serde_json::{Map, Number, Value};

use crate::error::{Result, ScimError};
use crate::schema::{starts_with_ci, AttributeDef, AttributeType, Container, ResourceSchema};

/// Maximum filter (and PATCH path) length in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Maximum nesting depth of parentheses, `not` and value filters.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Maximum number of AST nodes in one filter.
pub const MAX_FILTER_NODES: usize = 512;

/// An attribute path: `[urn ":"] name ["." subAttribute]`, as written by the client.
///
/// Names keep the client's spelling; they are matched case-insensitively against the schema
/// (RFC 7643 §2.1). Use [`AttrPath::canonical`] to get schema spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, if the path was URN-qualified.
    pub urn: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute name, if any.
    pub sub_attribute: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute without URN or sub-attribute.
    pub fn simple(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub_attribute: None,
        }
    }

    /// Parses a bare attribute path (no filter), as used in `attributes`, `sortBy` and bulk.
    pub fn parse(text: &str) -> Result<Self> {
        let mut p = Parser::new(text)?;
        let path = match p.next_token()? {
            Some((pos, Tok::Word(w))) => word_to_path(w, pos)?,
            _ => return Err(p.error(0, "expected an attribute path")),
        };
        p.expect_end()?;
        Ok(path)
    }

    /// Where the attribute lives for the given resource type.
    pub fn container(&self, schema: &ResourceSchema) -> Container {
        match &self.urn {
            None => Container::Core,
            Some(urn) if urn.eq_ignore_ascii_case(schema.core.id) => Container::Core,
            Some(urn) => match schema.extension(urn) {
                Some(ext) => Container::Extension(ext),
                None => Container::Unknown(urn.clone()),
            },
        }
    }

    /// The attribute definition, if the schema knows this attribute.
    pub fn definition(&self, schema: &ResourceSchema) -> Option<&'static AttributeDef> {
        match self.container(schema) {
            Container::Core => schema.core_attribute(&self.name),
            Container::Extension(ext) => ext.attribute(&self.name),
            Container::Unknown(_) => None,
        }
    }

    /// The path in schema spelling (`name.familyName`, `urn:…:User:manager.value`); unknown parts
    /// keep the client's spelling. Core URN prefixes are dropped.
    pub fn canonical(&self, schema: &ResourceSchema) -> String {
        let def = self.definition(schema);
        let name = def.map_or(self.name.as_str(), |d| d.name);
        let mut out = match self.container(schema) {
            Container::Core => String::new(),
            Container::Extension(ext) => format!("{}:", ext.id),
            Container::Unknown(urn) => format!("{urn}:"),
        };
        out.push_str(name);
        if let Some(sub) = &self.sub_attribute {
            out.push('.');
            out.push_str(
                def.and_then(|d| d.sub_attribute(sub))
                    .map_or(sub.as_str(), |d| d.name),
            );
        }
        out
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (substring).
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn from_word(w: &str) -> Option<Self> {
        Some(match w.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A literal on the right of a comparison. Dates are strings; whether a string is compared as a
/// date depends on the attribute's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompValue {
    /// A JSON string (escapes decoded).
    Str(String),
    /// A JSON number.
    Num(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => write!(f, "{}", Value::String(s.clone())),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `path[filter]`: some value of a multi-valued (or complex) attribute matches `filter`, whose
    /// paths are relative to that value. `emails[type eq "work"].value eq "x"` is parsed into
    /// this form with the trailing comparison folded into `filter`.
    ValuePath {
        /// The multi-valued attribute (never has a sub-attribute).
        path: AttrPath,
        /// The filter over each value.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Parses a filter, bounding length, depth and node count.
    pub fn parse(text: &str) -> Result<Self> {
        let mut p = Parser::new(text)?;
        let f = p.parse_or(0)?;
        p.expect_end()?;
        Ok(f)
    }

    /// Every attribute referenced, with value-filter paths expanded to `attr.sub`
    /// (`emails[type eq "work"]` yields `emails.type`). Order of first appearance, deduplicated case-insensitively.
    pub fn attribute_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_paths(None, &mut out);
        out
    }

    fn collect_paths(&self, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
        let mut push = |p: &AttrPath| {
            let full = match parent {
                None => p.clone(),
                Some(parent) => AttrPath {
                    urn: parent.urn.clone(),
                    name: parent.name.clone(),
                    sub_attribute: Some(p.name.clone()),
                },
            };
            // Names are case-insensitive, so `userName` and `USERNAME` are one attribute.
            let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            };
            let seen = out.iter().any(|p: &AttrPath| {
                same(&p.urn, &full.urn)
                    && p.name.eq_ignore_ascii_case(&full.name)
                    && same(&p.sub_attribute, &full.sub_attribute)
            });
            if !seen {
                out.push(full);
            }
        };
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_paths(parent, out);
                b.collect_paths(parent, out);
            }
            Filter::Not(a) => a.collect_paths(parent, out),
            Filter::Compare { path, .. } | Filter::Present(path) => push(path),
            Filter::ValuePath { path, filter } => filter.collect_paths(Some(path), out),
        }
    }

    /// Checks operator/type compatibility against the schema (RFC 7644 §3.4.2.2: ordering on
    /// booleans or binary, or substring operators on non-strings, are `invalidFilter`).
    /// Unknown attributes are allowed: they simply never match.
    pub fn validate(&self, schema: &ResourceSchema) -> Result<()> {
        self.validate_in(schema, None)
    }

    fn validate_in(&self, schema: &ResourceSchema, parent: Option<&AttrPath>) -> Result<()> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.validate_in(schema, parent)?;
                b.validate_in(schema, parent)
            }
            Filter::Not(a) => a.validate_in(schema, parent),
            Filter::Present(_) => Ok(()),
            Filter::ValuePath { path, filter } => filter.validate_in(schema, Some(path)),
            Filter::Compare { path, op, value } => {
                let def = match parent {
                    None => path
                        .definition(schema)
                        .and_then(|d| match &path.sub_attribute {
                            Some(sub) => d.sub_attribute(sub),
                            // A complex attribute compares its `value`; one without `value` cannot
                            // be compared at all.
                            None if d.kind == AttributeType::Complex => {
                                d.sub_attribute("value").or(Some(d))
                            }
                            None => Some(d),
                        }),
                    Some(parent) => parent
                        .definition(schema)
                        .and_then(|d| d.sub_attribute(&path.name)),
                };
                let Some(def) = def else { return Ok(()) };
                let ordering = matches!(
                    op,
                    CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
                );
                let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                let bad = match def.kind {
                    AttributeType::Boolean | AttributeType::Binary => ordering || substring,
                    AttributeType::Integer | AttributeType::Decimal => substring,
                    AttributeType::Complex => true,
                    _ => false,
                } || (!matches!(value, CompValue::Null | CompValue::Str(_)) && substring);
                if bad {
                    return Err(ScimError::InvalidFilter {
                        position: 0,
                        reason: "operator not supported for this attribute type",
                    });
                }
                Ok(())
            }
        }
    }

    /// Evaluates the filter against a resource (its JSON, as stored by the server).
    ///
    /// String comparison honours each attribute's `caseExact`; attributes the schema does not
    /// define compare case-insensitively (the RFC 7643 §2.2 default). Comparisons against an
    /// unassigned attribute are false, except `ne` (true) and `eq null` (true).
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        match resource.as_object() {
            Some(obj) => self.eval(&Ctx::Resource(obj, schema)),
            None => false,
        }
    }

    /// Evaluates a value filter (the part inside `[...]`) against one value of `def`.
    pub(crate) fn matches_element(
        &self,
        element: &Value,
        def: Option<&'static AttributeDef>,
    ) -> bool {
        self.eval(&Ctx::Element(element, def))
    }

    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Filter::And(a, b) => a.eval(ctx) && b.eval(ctx),
            Filter::Or(a, b) => a.eval(ctx) || b.eval(ctx),
            Filter::Not(a) => !a.eval(ctx),
            Filter::Present(path) => ctx.raw(path).iter().any(|(v, _)| is_present(v)),
            Filter::Compare { path, op, value } => {
                let candidates = ctx.compared(path);
                let any_eq = |lit: &CompValue| {
                    candidates
                        .iter()
                        .any(|(v, def)| compare(CompareOp::Eq, v, *def, lit))
                };
                match (op, value) {
                    (CompareOp::Eq, CompValue::Null) => {
                        !candidates.iter().any(|(v, _)| is_present(v))
                    }
                    (CompareOp::Ne, CompValue::Null) => {
                        candidates.iter().any(|(v, _)| is_present(v))
                    }
                    (CompareOp::Ne, lit) => !any_eq(lit),
                    (op, lit) => candidates.iter().any(|(v, def)| compare(*op, v, *def, lit)),
                }
            }
            Filter::ValuePath { path, filter } => {
                let Some((value, def)) = ctx.attribute(path) else {
                    return false;
                };
                match value {
                    Value::Array(items) => items
                        .iter()
                        .any(|item| filter.eval(&Ctx::Element(item, def))),
                    other => filter.eval(&Ctx::Element(other, def)),
                }
            }
        }
    }
}

/// Renders the filter back to text with full parenthesisation, which makes precedence visible.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// Evaluation context: the resource itself, or one value of a multi-valued attribute.
enum Ctx<'a> {
    Resource(&'a Map<String, Value>, &'a ResourceSchema),
    Element(&'a Value, Option<&'static AttributeDef>),
}

type Candidate<'a> = (&'a Value, Option<&'static AttributeDef>);

impl<'a> Ctx<'a> {
    /// The attribute's whole value and definition (before sub-attribute selection).
    fn attribute(&self, path: &AttrPath) -> Option<Candidate<'a>> {
        match self {
            Ctx::Resource(obj, schema) => {
                let container: &Map<String, Value> = match path.container(schema) {
                    Container::Core => obj,
                    Container::Extension(ext) => get_ci(obj, ext.id)?.1.as_object()?,
                    Container::Unknown(urn) => get_ci(obj, &urn)?.1.as_object()?,
                };
                let (_, v) = get_ci(container, &path.name)?;
                Some((v, path.definition(schema)))
            }
            Ctx::Element(element, parent) => {
                let def = parent.and_then(|p| p.sub_attribute(&path.name));
                match element {
                    Value::Object(o) => get_ci(o, &path.name).map(|(_, v)| (v, def)),
                    // A multi-valued simple attribute: its values are addressed as `value`.
                    other if path.name.eq_ignore_ascii_case("value") => Some((*other, def)),
                    _ => None,
                }
            }
        }
    }

    /// The values a path denotes, flattening multi-valued attributes, for `pr`.
    fn raw(&self, path: &AttrPath) -> Vec<Candidate<'a>> {
        let Some((value, def)) = self.attribute(path) else {
            return Vec::new();
        };
        match &path.sub_attribute {
            None => vec![(value, def)],
            Some(sub) => sub_values(value, def, sub),
        }
    }

    /// The values a comparison applies to: like [`Ctx::raw`], but a complex attribute without a
    /// sub-attribute compares its `value` sub-attribute (so `emails co "@x"` works).
    fn compared(&self, path: &AttrPath) -> Vec<Candidate<'a>> {
        let Some((value, def)) = self.attribute(path) else {
            return Vec::new();
        };
        if let Some(sub) = &path.sub_attribute {
            return sub_values(value, def, sub);
        }
        let is_complex = |v: &Value| v.is_object();
        match value {
            Value::Array(items) => items
                .iter()
                .flat_map(|item| {
                    if is_complex(item) {
                        sub_values(item, def, "value")
                    } else {
                        vec![(item, def)]
                    }
                })
                .collect(),
            Value::Object(_) => sub_values(value, def, "value"),
            other => vec![(other, def)],
        }
    }
}

fn sub_values<'a>(
    value: &'a Value,
    def: Option<&'static AttributeDef>,
    sub: &str,
) -> Vec<Candidate<'a>> {
    let sub_def = def.and_then(|d| d.sub_attribute(sub));
    let pick = |v: &'a Value| v.as_object().and_then(|o| get_ci(o, sub)).map(|(_, v)| v);
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(pick)
            .map(|v| (v, sub_def))
            .collect(),
        other => pick(other).map(|v| (v, sub_def)).into_iter().collect(),
    }
}

/// Case-insensitive key lookup (SCIM attribute names are case-insensitive).
pub(crate) fn get_ci<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Option<(&'a String, &'a Value)> {
    obj.get_key_value(name)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
}

pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(op: CompareOp, actual: &Value, def: Option<&AttributeDef>, lit: &CompValue) -> bool {
    let kind = def.map(|d| d.kind);
    match (actual, lit) {
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        // Entra writes boolean literals as strings (`roles[primary eq "True"].value`).
        (Value::Bool(a), CompValue::Str(b))
            if b.eq_ignore_ascii_case("true") || b.eq_ignore_ascii_case("false") =>
        {
            let b = b.eq_ignore_ascii_case("true");
            match op {
                CompareOp::Eq => *a == b,
                CompareOp::Ne => *a != b,
                _ => false,
            }
        }
        (Value::Number(a), CompValue::Num(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => ordered(op, a.partial_cmp(&b)),
            _ => false,
        },
        (Value::String(a), CompValue::Str(b)) => {
            if kind == Some(AttributeType::DateTime)
                && matches!(
                    op,
                    CompareOp::Eq
                        | CompareOp::Ne
                        | CompareOp::Gt
                        | CompareOp::Ge
                        | CompareOp::Lt
                        | CompareOp::Le
                )
            {
                return match (
                    chrono::DateTime::parse_from_rfc3339(a),
                    chrono::DateTime::parse_from_rfc3339(b),
                ) {
                    (Ok(a), Ok(b)) => ordered(op, Some(a.cmp(&b))),
                    _ => false,
                };
            }
            let case_exact = def.is_some_and(|d| d.case_exact || d.kind == AttributeType::Binary);
            if case_exact {
                compare_str(op, a, b)
            } else if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                compare_str(op, &a.to_lowercase(), &b.to_lowercase())
            } else {
                // Equality and ordering without allocating: evaluated once per stored value, so
                // this is the hot path when filtering large member lists.
                ordered(
                    op,
                    Some(
                        a.chars()
                            .flat_map(char::to_lowercase)
                            .cmp(b.chars().flat_map(char::to_lowercase)),
                    ),
                )
            }
        }
        _ => false,
    }
}

fn compare_str(op: CompareOp, a: &str, b: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordered(op, Some(a.cmp(b))),
    }
}

fn ordered(op: CompareOp, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, ord) {
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Equal,
        (CompareOp::Ne, Some(o)) => o != Equal,
        (CompareOp::Gt, Some(o)) => o == Greater,
        (CompareOp::Ge, Some(o)) => o != Less,
        (CompareOp::Lt, Some(o)) => o == Less,
        (CompareOp::Le, Some(o)) => o != Greater,
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(&'a str),
    Str(String),
    Num(Number),
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Option<(usize, Tok<'a>)>>,
    nodes: usize,
}

/// A JSON number literal as a `Number`, correctly rounded. serde_json checks the grammar, but
/// its default float parser is not correctly rounded for long mantissas (no `float_roundtrip`
/// feature), so `2111…110e0` would not survive print-and-parse; integers that fit stay exact
/// and everything else goes through the standard library's correctly rounded `f64` parser.
fn parse_number(raw: &str) -> Option<Number> {
    let checked: Number = serde_json::from_str(raw).ok()?;
    if checked.is_i64() || checked.is_u64() {
        return Some(checked);
    }
    Number::from_f64(raw.parse::<f64>().ok()?)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.' | b'$')
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Result<Self> {
        if src.len() > MAX_FILTER_LEN {
            return Err(ScimError::InvalidFilter {
                position: MAX_FILTER_LEN,
                reason: "filter is too long",
            });
        }
        Ok(Parser {
            src,
            pos: 0,
            peeked: None,
            nodes: 0,
        })
    }

    pub(crate) fn error(&self, position: usize, reason: &'static str) -> ScimError {
        ScimError::InvalidFilter { position, reason }
    }

    fn lex(&mut self) -> Result<Option<(usize, Tok<'a>)>> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&b) = bytes.get(start) else {
            return Ok(None);
        };
        let simple = match b {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return Ok(Some((start, tok)));
        }
        if b == b'"' {
            let mut i = start + 1;
            loop {
                match bytes.get(i) {
                    None => return Err(self.error(start, "unterminated string")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            let raw = self
                .src
                .get(start..=i)
                .ok_or_else(|| self.error(start, "invalid string"))?;
            let s: String = serde_json::from_str(raw)
                .map_err(|_| self.error(start, "invalid string literal"))?;
            // No stored value can contain NUL (PostgreSQL text cannot hold it, and request
            // bodies refuse it), and SQLite's LIKE would stop at it and match too much.
            if s.contains('\0') {
                return Err(self.error(start, "NUL characters are not allowed in strings"));
            }
            self.pos = i + 1;
            return Ok(Some((start, Tok::Str(s))));
        }
        if b.is_ascii_digit() || b == b'-' {
            let mut i = start + 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || matches!(bytes[i], b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                i += 1;
            }
            let raw = &self.src[start..i];
            let n = parse_number(raw).ok_or_else(|| self.error(start, "invalid number"))?;
            self.pos = i;
            return Ok(Some((start, Tok::Num(n))));
        }
        if is_word_byte(b) {
            let mut i = start;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            self.pos = i;
            return Ok(Some((start, Tok::Word(&self.src[start..i]))));
        }
        Err(self.error(start, "unexpected character"))
    }

    pub(crate) fn next_token(&mut self) -> Result<Option<(usize, Tok<'a>)>> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    pub(crate) fn peek(&mut self) -> Result<Option<&(usize, Tok<'a>)>> {
        if self.peeked.is_none() {
            let t = self.lex()?;
            self.peeked = Some(t);
        }
        Ok(self.peeked.as_ref().and_then(|t| t.as_ref()))
    }

    fn peek_keyword(&mut self, kw: &str) -> Result<bool> {
        Ok(matches!(self.peek()?, Some((_, Tok::Word(w))) if w.eq_ignore_ascii_case(kw)))
    }

    pub(crate) fn expect_end(&mut self) -> Result<()> {
        match self.next_token()? {
            None => Ok(()),
            Some((pos, _)) => Err(self.error(pos, "unexpected trailing input")),
        }
    }

    fn expect(&mut self, want: Tok<'static>, reason: &'static str) -> Result<()> {
        match self.next_token()? {
            Some((_, t)) if t == want => Ok(()),
            Some((pos, _)) => Err(self.error(pos, reason)),
            None => Err(self.error(self.src.len(), reason)),
        }
    }

    fn node(&mut self) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(self.error(self.pos, "filter has too many terms"));
        }
        Ok(())
    }

    fn enter(&self, depth: usize) -> Result<usize> {
        if depth >= MAX_FILTER_DEPTH {
            return Err(self.error(self.pos, "filter is nested too deeply"));
        }
        Ok(depth + 1)
    }

    /// `or` binds loosest.
    pub(crate) fn parse_or(&mut self, depth: usize) -> Result<Filter> {
        let mut left = self.parse_and(depth)?;
        while self.peek_keyword("or")? {
            self.next_token()?;
            let right = self.parse_and(depth)?;
            self.node()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, depth: usize) -> Result<Filter> {
        let mut left = self.parse_unary(depth)?;
        while self.peek_keyword("and")? {
            self.next_token()?;
            let right = self.parse_unary(depth)?;
            self.node()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self, depth: usize) -> Result<Filter> {
        let Some((pos, tok)) = self.next_token()? else {
            return Err(self.error(self.src.len(), "expected a filter expression"));
        };
        match tok {
            Tok::LParen => {
                let inner_depth = self.enter(depth)?;
                let f = self.parse_or(inner_depth)?;
                self.expect(Tok::RParen, "expected ')'")?;
                Ok(f)
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not")
                    && matches!(self.peek()?, Some((_, Tok::LParen))) =>
            {
                self.next_token()?;
                let inner_depth = self.enter(depth)?;
                let f = self.parse_or(inner_depth)?;
                self.expect(Tok::RParen, "expected ')' after not(...")?;
                self.node()?;
                Ok(Filter::Not(Box::new(f)))
            }
            Tok::Word(w) => {
                let path = word_to_path(w, pos)?;
                if matches!(self.peek()?, Some((_, Tok::LBracket))) {
                    self.next_token()?;
                    self.parse_value_path(path, pos, depth)
                } else {
                    self.parse_attr_exp(path)
                }
            }
            _ => Err(self.error(pos, "expected an attribute path, '(' or 'not'")),
        }
    }

    /// After `attr[`: the value filter, `]`, and an optional `.sub op value` extension.
    fn parse_value_path(&mut self, path: AttrPath, pos: usize, depth: usize) -> Result<Filter> {
        if path.sub_attribute.is_some() {
            return Err(self.error(
                pos,
                "a value filter applies to an attribute, not a sub-attribute",
            ));
        }
        let inner_depth = self.enter(depth)?;
        let inner = self.parse_or(inner_depth)?;
        if contains_value_path(&inner) {
            return Err(self.error(pos, "value filters cannot be nested"));
        }
        if inner
            .attribute_paths()
            .iter()
            .any(|p| p.urn.is_some() || p.sub_attribute.is_some())
        {
            return Err(self.error(pos, "value filter paths must be plain sub-attribute names"));
        }
        self.expect(Tok::RBracket, "expected ']'")?;
        self.node()?;
        let mut filter = inner;
        if let Some((sub_pos, Tok::Word(w))) = self.peek()?.cloned() {
            if let Some(sub) = w.strip_prefix('.') {
                self.next_token()?;
                let sub_path = word_to_path(sub, sub_pos + 1)?;
                if sub_path.urn.is_some() || sub_path.sub_attribute.is_some() {
                    return Err(self.error(sub_pos, "invalid sub-attribute after value filter"));
                }
                let cmp = self.parse_attr_exp(sub_path)?;
                self.node()?;
                filter = Filter::And(Box::new(filter), Box::new(cmp));
            }
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    fn parse_attr_exp(&mut self, path: AttrPath) -> Result<Filter> {
        let Some((pos, tok)) = self.next_token()? else {
            return Err(self.error(self.src.len(), "expected an operator"));
        };
        let Tok::Word(w) = tok else {
            return Err(self.error(pos, "expected an operator"));
        };
        self.node()?;
        if w.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_word(w).ok_or_else(|| self.error(pos, "unknown operator"))?;
        let Some((vpos, vtok)) = self.next_token()? else {
            return Err(self.error(self.src.len(), "expected a comparison value"));
        };
        let value = match vtok {
            Tok::Str(s) => CompValue::Str(s),
            Tok::Num(n) => CompValue::Num(n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => return Err(self.error(vpos, "expected a string, number, true, false or null")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn contains_value_path(f: &Filter) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => contains_value_path(a) || contains_value_path(b),
        Filter::Not(a) => contains_value_path(a),
        Filter::ValuePath { .. } => true,
        Filter::Compare { .. } | Filter::Present(_) => false,
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Turns a lexed word into an attribute path, validating each name.
pub(crate) fn word_to_path(word: &str, pos: usize) -> Result<AttrPath> {
    let bad = |reason| ScimError::InvalidFilter {
        position: pos,
        reason,
    };
    let (urn, rest) = if starts_with_ci(word, "urn:") {
        // Attribute names contain no colon, so the URN ends at the last one.
        let idx = word.rfind(':').ok_or_else(|| bad("invalid URN"))?;
        (Some(word[..idx].to_string()), &word[idx + 1..])
    } else {
        (None, word)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !valid_name(name) || sub.is_some_and(|s| !valid_name(s)) {
        return Err(bad("invalid attribute name"));
    }
    Ok(AttrPath {
        urn,
        name: name.to_string(),
        sub_attribute: sub.map(str::to_string),
    })
}

/// Parses a PATCH path: `attrPath` or `valuePath ["." subAttr]` (RFC 7644 §3.5.2).
/// Structural problems are `invalidPath`; problems inside the brackets are `invalidFilter`.
pub(crate) fn parse_patch_path(text: &str) -> Result<(AttrPath, Option<Filter>, Option<String>)> {
    let bad = |reason| ScimError::InvalidPath {
        path: text.chars().take(256).collect(),
        reason,
    };
    let mut p = Parser::new(text).map_err(|_| bad("path is too long"))?;
    let (pos, word) = match p.next_token().map_err(|_| bad("malformed path"))? {
        Some((pos, Tok::Word(w))) => (pos, w),
        _ => return Err(bad("expected an attribute path")),
    };
    let path = word_to_path(word, pos).map_err(|_| bad("invalid attribute name"))?;
    if !matches!(
        p.peek().map_err(|_| bad("malformed path"))?,
        Some((_, Tok::LBracket))
    ) {
        p.expect_end()
            .map_err(|_| bad("unexpected text after the attribute"))?;
        return Ok((path, None, None));
    }
    if path.sub_attribute.is_some() {
        return Err(bad(
            "a value filter applies to an attribute, not a sub-attribute",
        ));
    }
    p.next_token()?;
    let inner = p.parse_or(1)?;
    if contains_value_path(&inner)
        || inner
            .attribute_paths()
            .iter()
            .any(|a| a.urn.is_some() || a.sub_attribute.is_some())
    {
        return Err(bad("value filter paths must be plain sub-attribute names"));
    }
    match p.next_token()? {
        Some((_, Tok::RBracket)) => {}
        _ => return Err(bad("expected ']'")),
    }
    let sub = match p.next_token().map_err(|_| bad("malformed path"))? {
        None => None,
        Some((_, Tok::Word(w))) => match w.strip_prefix('.') {
            Some(sub) if valid_name(sub) => Some(sub.to_string()),
            _ => return Err(bad("invalid sub-attribute after value filter")),
        },
        Some(_) => return Err(bad("unexpected text after value filter")),
    };
    p.expect_end()
        .map_err(|_| bad("unexpected text after the path"))?;
    Ok((path, Some(inner), sub))
}
