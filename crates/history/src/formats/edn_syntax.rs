//! A small EDN reader that remembers where every form starts.
//!
//! EDN (<https://github.com/edn-format/edn>) is what Jepsen writes histories
//! in. General-purpose EDN crates return values without positions, so an op
//! with a bad `:type` inside a top-level vector could not be located, and an
//! unclosed map would be reported at the end of the file rather than where it
//! opens. This reader keeps a [`Pos`] on every [`Node`] and reports an
//! unclosed collection at its opening delimiter.
//!
//! Scalars are kept as text (numbers) or borrowed slices (keywords, symbols)
//! and are converted only when a reader needs them, so a huge integer in a
//! field nobody reads is not an error. Histories are read an op map at a
//! time, with the values inside read straight into JSON ([`edn_build`]).

// A child module (in its own file beside this one), so that it can use
// the parser's private parts.
#[path = "edn_build.rs"]
mod edn_build;

use serde_json::Value;

use super::FormatError;

pub(crate) use edn_build::read_op_forms;

/// A form read straight into the JSON value an op carries, or the reason
/// it cannot be one (an integer beyond 64 bits, a float that is not
/// finite), which is an error only if a reader uses the form.
pub(crate) type Built = Result<Value, FormatError>;

/// Where a form starts: 1-based line and column, columns counted in
/// characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One EDN form and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node<'a> {
    pub pos: Pos,
    pub kind: Kind<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind<'a> {
    Nil,
    Bool(bool),
    /// An integer's text, with its sign and any `N` suffix.
    Int(&'a str),
    /// A float's text (`1.5`, `1e3`, `2.0M`) or a ratio's (`1/3`).
    Float(&'a str),
    Str(String),
    Char(char),
    /// A keyword's name without the leading colon.
    Keyword(&'a str),
    /// A symbol, including the symbolic values `##Inf`, `##-Inf`, `##NaN`.
    Symbol(&'a str),
    List(Vec<Node<'a>>),
    Vector(Vec<Node<'a>>),
    Set(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
    /// `#tag form`, and also a record literal such as
    /// `#jepsen.history.Op{...}`.
    Tagged(&'a str, Box<Node<'a>>),
    /// A collection or tagged element inside an op map, read straight into
    /// JSON, and what it was (as [`Kind::describe`] names it).
    Json(&'static str, Box<Built>),
}

impl Kind<'_> {
    /// How the form is named in an error message.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Char(_) => "a character",
            Kind::Keyword(_) => "a keyword",
            Kind::Symbol(_) => "a symbol",
            Kind::List(_) => "a list",
            Kind::Vector(_) => "a vector",
            Kind::Set(_) => "a set",
            Kind::Map(_) => "a map",
            Kind::Tagged(..) => "a tagged element",
            Kind::Json(what, _) => what,
        }
    }
}

/// Nesting deeper than this is refused rather than risking the stack.
const DEPTH_MAX: usize = 128;

/// Reads every top-level form of `text` as a tree of forms.
#[cfg(test)]
pub(crate) fn parse_all(text: &str) -> Result<Vec<Node<'_>>, FormatError> {
    let mut parser = Parser::new(text);
    let mut forms = Vec::new();
    loop {
        parser.skip_blank();
        match parser.peek() {
            None => return Ok(forms),
            Some(c @ (')' | ']' | '}')) => {
                return Err(parser.error_here(format!(
                    "unexpected `{c}`: there is no open collection for it to close"
                )))
            }
            Some(_) => {
                if let Some(form) = parser.form(0)? {
                    forms.push(form);
                }
            }
        }
    }
}

#[derive(Clone)]
struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
    line: usize,
    column: usize,
}

/// Characters that end a token.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            at: 0,
            line: 1,
            column: 1,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.text[self.at..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error_at(pos: Pos, message: impl Into<String>) -> FormatError {
        FormatError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    fn error_here(&self, message: impl Into<String>) -> FormatError {
        Self::error_at(self.pos(), message)
    }

    /// Skips whitespace, commas and `;` comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Reads up to the next delimiter.
    fn token(&mut self) -> &'a str {
        let start = self.at;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.text[start..self.at]
    }

    /// Reads one form; `None` for a `#_` discard that consumed its form.
    /// The caller has skipped blanks and checked that input remains.
    fn form(&mut self, depth: usize) -> Result<Option<Node<'a>>, FormatError> {
        let pos = self.pos();
        Self::check_depth(pos, depth)?;
        let c = self
            .peek()
            .expect("form() is called only when input remains");
        let kind = match c {
            '(' => {
                self.bump();
                Kind::List(self.sequence(pos, ')', "list", depth)?)
            }
            '[' => {
                self.bump();
                Kind::Vector(self.sequence(pos, ']', "vector", depth)?)
            }
            '{' => {
                self.bump();
                self.map(pos, depth)?
            }
            '"' => Kind::Str(self.string()?),
            '\\' => Kind::Char(self.character()?),
            ':' => self.keyword()?,
            '#' => return self.dispatch(depth),
            ')' | ']' | '}' => {
                return Err(self.error_here(format!("unexpected `{c}`")));
            }
            c if c.is_ascii_digit()
                || (matches!(c, '+' | '-')
                    && self.peek_second().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.number()?
            }
            _ => self.symbol()?,
        };
        Ok(Some(Node { pos, kind }))
    }

    /// Refuses nesting deeper than [`DEPTH_MAX`].
    fn check_depth(pos: Pos, depth: usize) -> Result<(), FormatError> {
        if depth > DEPTH_MAX {
            return Err(Self::error_at(
                pos,
                format!(
                    "forms nest deeper than {DEPTH_MAX} levels; an op history never needs that"
                ),
            ));
        }
        Ok(())
    }

    /// Reads the items of a collection up to `close` (the opener has been
    /// consumed), calling `item` where each starts.
    fn items(
        &mut self,
        open: Pos,
        close: char,
        name: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        loop {
            self.skip_blank();
            match self.peek() {
                None => {
                    return Err(Self::error_at(
                        open,
                        format!(
                            "the {name} that opens here is never closed: expected `{close}` before the end of the input"
                        ),
                    ))
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(());
                }
                Some(c @ (')' | ']' | '}')) => {
                    return Err(self.error_here(format!(
                        "unexpected `{c}`: expected `{close}` to close the {name} opened at line {}, column {}",
                        open.line, open.column
                    )))
                }
                Some(_) => item(self)?,
            }
        }
    }

    /// Reads forms up to `close`; the opener has been consumed.
    fn sequence(
        &mut self,
        open: Pos,
        close: char,
        name: &str,
        depth: usize,
    ) -> Result<Vec<Node<'a>>, FormatError> {
        let mut items = Vec::new();
        self.items(open, close, name, |p| {
            if let Some(item) = p.form(depth + 1)? {
                items.push(item);
            }
            Ok(())
        })?;
        Ok(items)
    }

    fn map(&mut self, open: Pos, depth: usize) -> Result<Kind<'a>, FormatError> {
        let items = self.sequence(open, '}', "map", depth)?;
        if items.len() % 2 == 1 {
            let last = items.last().expect("an odd count is at least one");
            return Err(Self::no_value(last.pos));
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            entries.push((key, value));
        }
        Ok(Kind::Map(entries))
    }

    /// The error for a map key at `pos` with no value after it.
    fn no_value(pos: Pos) -> FormatError {
        Self::error_at(
            pos,
            "this map key has no value: expected an even number of forms in the map",
        )
    }

    /// `#{...}`, `#_form`, `##Inf`, or a tag `#name form`.
    fn dispatch(&mut self, depth: usize) -> Result<Option<Node<'a>>, FormatError> {
        let pos = self.pos();
        self.bump();
        match self.peek() {
            Some('{') => {
                self.bump();
                let items = self.sequence(pos, '}', "set", depth)?;
                Ok(Some(Node {
                    pos,
                    kind: Kind::Set(items),
                }))
            }
            Some('_') => {
                self.bump();
                self.skip_blank();
                if self.peek().is_none() {
                    return Err(Self::error_at(
                        pos,
                        "expected a form after `#_` (which discards the next form)",
                    ));
                }
                // Read as JSON, which keeps no tree of the form.
                self.json_form(depth + 1)?;
                Ok(None)
            }
            Some('#') => {
                self.bump();
                let name = self.token();
                match name {
                    "Inf" | "-Inf" | "NaN" => Ok(Some(Node {
                        pos,
                        kind: Kind::Symbol(&self.text[self.at - name.len() - 2..self.at]),
                    })),
                    _ => Err(Self::error_at(
                        pos,
                        format!("expected ##Inf, ##-Inf or ##NaN, found `##{name}`"),
                    )),
                }
            }
            Some(c) if c.is_alphabetic() => {
                let tag = self.token();
                self.skip_blank();
                if self.peek().is_none() || matches!(self.peek(), Some(')' | ']' | '}')) {
                    return Err(Self::error_at(
                        pos,
                        format!("expected a form after the tag `#{tag}`"),
                    ));
                }
                // A tag applied to a discard is a tag of the form after it.
                loop {
                    if let Some(inner) = self.form(depth + 1)? {
                        return Ok(Some(Node {
                            pos,
                            kind: Kind::Tagged(tag, Box::new(inner)),
                        }));
                    }
                    self.skip_blank();
                    if self.peek().is_none() {
                        return Err(Self::error_at(
                            pos,
                            format!("expected a form after the tag `#{tag}`"),
                        ));
                    }
                }
            }
            Some(c) => Err(self.error_here(format!(
                "unexpected `#{c}`: expected `#{{` (a set), `#_` (a discard) or a tag like `#inst`"
            ))),
            None => Err(Self::error_at(
                pos,
                "expected a set, a discard or a tag after `#`, found the end of the input",
            )),
        }
    }

    fn string(&mut self) -> Result<String, FormatError> {
        let open = self.pos();
        self.bump();
        let mut out = String::new();
        loop {
            let here = self.pos();
            match self.bump() {
                None => {
                    return Err(Self::error_at(
                        open,
                        "the string that opens here is never closed: expected `\"` before the end of the input",
                    ))
                }
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape(here)?),
                Some(c) => out.push(c),
            }
        }
    }

    /// The character after a backslash inside a string.
    fn escape(&mut self, at: Pos) -> Result<char, FormatError> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('b') => Ok('\u{8}'),
            Some('f') => Ok('\u{c}'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('u') => {
                let start = self.at;
                for _ in 0..4 {
                    if self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                        self.bump();
                    } else {
                        return Err(Self::error_at(
                            at,
                            "expected four hexadecimal digits after `\\u`",
                        ));
                    }
                }
                let code = u32::from_str_radix(&self.text[start..self.at], 16)
                    .expect("four hex digits parse");
                char::from_u32(code).ok_or_else(|| {
                    Self::error_at(at, format!("`\\u{code:04x}` is not a character"))
                })
            }
            Some(c) => Err(Self::error_at(
                at,
                format!("unknown escape `\\{c}` in a string: expected one of \\n \\t \\r \\b \\f \\\" \\\\ \\uXXXX"),
            )),
            None => Err(Self::error_at(at, "the input ends inside a string escape")),
        }
    }

    /// `\a`, `\newline`, `\u0041`.
    fn character(&mut self) -> Result<char, FormatError> {
        let pos = self.pos();
        self.bump();
        let Some(first) = self.bump() else {
            return Err(Self::error_at(pos, "expected a character after `\\`"));
        };
        let start = self.at - first.len_utf8();
        let rest = self.token();
        let name = &self.text[start..start + first.len_utf8() + rest.len()];
        if rest.is_empty() {
            return Ok(first);
        }
        let named = match name {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "backspace" => Some('\u{8}'),
            "formfeed" => Some('\u{c}'),
            _ => None,
        };
        if let Some(c) = named {
            return Ok(c);
        }
        if let Some(hex) = name.strip_prefix('u') {
            if hex.len() == 4 {
                if let Some(c) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                    return Ok(c);
                }
            }
        }
        Err(Self::error_at(
            pos,
            format!("unknown character `\\{name}`: expected a single character, \\newline, \\space, \\tab, \\return or \\uXXXX"),
        ))
    }

    fn keyword(&mut self) -> Result<Kind<'a>, FormatError> {
        let pos = self.pos();
        self.bump();
        let name = self.token();
        if name.is_empty() || name.starts_with(':') || name.ends_with('/') {
            return Err(Self::error_at(
                pos,
                format!("`:{name}` is not a keyword: expected a name after the colon, like :read"),
            ));
        }
        Ok(Kind::Keyword(name))
    }

    fn number(&mut self) -> Result<Kind<'a>, FormatError> {
        let pos = self.pos();
        let text = self.token();
        classify_number(text).ok_or_else(|| {
            Self::error_at(
                pos,
                format!("`{text}` is not a number: expected an integer like 42, a float like 1.5 or a ratio like 1/3"),
            )
        })
    }

    fn symbol(&mut self) -> Result<Kind<'a>, FormatError> {
        let pos = self.pos();
        let text = self.token();
        if text.is_empty() {
            // Only a lone delimiter we do not handle can get here.
            let c = self.peek().unwrap_or(' ');
            return Err(Self::error_at(pos, format!("unexpected `{c}`")));
        }
        let first = text.chars().next().expect("not empty");
        if !(first.is_alphabetic() || "*+!-_?$%&=<>/.".contains(first)) {
            return Err(Self::error_at(
                pos,
                format!("unexpected `{text}`: expected an EDN form (a map, vector, keyword, number, string, ...)"),
            ));
        }
        Ok(match text {
            "nil" => Kind::Nil,
            "true" => Kind::Bool(true),
            "false" => Kind::Bool(false),
            _ => Kind::Symbol(text),
        })
    }
}

/// Sorts a numeric token into an integer, a float or a ratio; `None` if it
/// is none of them.
fn classify_number(text: &str) -> Option<Kind<'_>> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(body) || body.strip_suffix('N').is_some_and(digits) {
        return Some(Kind::Int(text));
    }
    if let Some((n, d)) = body.split_once('/') {
        return (digits(n) && digits(d)).then_some(Kind::Float(text));
    }
    let body = body.strip_suffix('M').unwrap_or(body);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(digits);
    (mantissa_ok && exponent_ok).then_some(Kind::Float(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node<'_> {
        let mut forms = parse_all(text).unwrap();
        assert_eq!(forms.len(), 1, "{text}");
        forms.pop().unwrap()
    }

    fn err(text: &str) -> FormatError {
        parse_all(text).unwrap_err()
    }

    #[test]
    fn scalars() {
        assert_eq!(one("nil").kind, Kind::Nil);
        assert_eq!(one("true").kind, Kind::Bool(true));
        assert_eq!(one("-42").kind, Kind::Int("-42"));
        assert_eq!(one("7N").kind, Kind::Int("7N"));
        assert_eq!(one("1.5e-3").kind, Kind::Float("1.5e-3"));
        assert_eq!(one("2.0M").kind, Kind::Float("2.0M"));
        assert_eq!(one("1/3").kind, Kind::Float("1/3"));
        assert_eq!(one(":timed-out").kind, Kind::Keyword("timed-out"));
        assert_eq!(one(":a/b").kind, Kind::Keyword("a/b"));
        assert_eq!(one("foo.bar").kind, Kind::Symbol("foo.bar"));
        assert_eq!(one("-").kind, Kind::Symbol("-"));
        assert_eq!(one("##NaN").kind, Kind::Symbol("##NaN"));
        assert_eq!(one(r#""a\"b\n\u00e9""#).kind, Kind::Str("a\"b\né".into()));
        assert_eq!(one(r"\a").kind, Kind::Char('a'));
        assert_eq!(one(r"\newline").kind, Kind::Char('\n'));
        assert_eq!(one(r"\u0041").kind, Kind::Char('A'));
    }

    #[test]
    fn collections_comments_and_discards() {
        let node = one("{:a [1 2 (3)], :b #{:x} ; comment\n :c #_ :skipped 4}");
        let Kind::Map(entries) = node.kind else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].0.kind, Kind::Keyword("c"));
        assert_eq!(entries[2].1.kind, Kind::Int("4"));
        assert_eq!(
            entries[2].1.pos,
            Pos {
                line: 2,
                column: 17
            }
        );
        assert!(matches!(entries[1].1.kind, Kind::Set(ref s) if s.len() == 1));
    }

    #[test]
    fn tags_and_record_literals() {
        let node = one("#jepsen.history.Op{:index 0}");
        let Kind::Tagged(tag, inner) = node.kind else {
            panic!("not tagged")
        };
        assert_eq!(tag, "jepsen.history.Op");
        assert!(matches!(inner.kind, Kind::Map(_)));
        let node = one("#inst \"2020-01-01\"");
        assert!(matches!(node.kind, Kind::Tagged("inst", _)));
    }

    #[test]
    fn positions_count_characters() {
        let forms = parse_all("é :x\n  [1]").unwrap();
        assert_eq!(forms[1].pos, Pos { line: 1, column: 3 });
        assert_eq!(forms[2].pos, Pos { line: 2, column: 3 });
    }

    #[test]
    fn unclosed_collection_is_reported_where_it_opens() {
        let e = err("{:a 1}\n{:b 2}\n  {:c 3\n{:d 4}\n");
        assert_eq!((e.line, e.column), (3, 3));
        assert!(e.message.contains("never closed"), "{}", e.message);
        assert!(e.message.contains("expected `}`"), "{}", e.message);
        let e = err("[1 2\n");
        assert_eq!((e.line, e.column), (1, 1));
        let e = err("\"abc");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("string"));
    }

    #[test]
    fn mismatched_and_stray_delimiters() {
        let e = err("[{:a 1]\n");
        assert_eq!((e.line, e.column), (1, 7));
        assert!(e.message.contains("expected `}`"), "{}", e.message);
        assert!(e.message.contains("line 1, column 2"), "{}", e.message);
        let e = err("{:a 1}\n}");
        assert_eq!((e.line, e.column), (2, 1));
    }

    #[test]
    fn malformed_tokens() {
        let e = err("{:a 12x}");
        assert_eq!((e.line, e.column), (1, 5));
        assert!(e.message.contains("not a number"));
        let e = err("{:a 1 :b}");
        assert_eq!((e.line, e.column), (1, 7));
        assert!(e.message.contains("no value"));
        let e = err("[: 1]");
        assert_eq!((e.line, e.column), (1, 2));
        let e = err(r#""a\qb""#);
        assert_eq!((e.line, e.column), (1, 3));
        let e = err("#{1 2");
        assert!(e.message.contains("set"));
        let e = err("[1 #foo]");
        assert!(e.message.contains("after the tag"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(DEPTH_MAX + 5);
        assert!(err(&text).message.contains("nest deeper"));
    }
}
