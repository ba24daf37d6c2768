//! Reading a history an op map at a time, with the values inside read
//! straight into JSON.
//!
//! A tree of [`Node`]s for the whole text costs about 50 bytes a form on
//! top of the JSON value each op ends up carrying, and converting the tree
//! copies every value once more: a 50 MB vector of small integers took 55
//! times its size to check. Here the op maps are handed to the reader one
//! at a time ([`read_op_forms`]), and each collection inside an op map is
//! read into the `serde_json::Value` the op will carry ([`Kind::Json`]),
//! to be moved out, never copied. Scalars at the top of an op map stay
//! forms, for the fields a reader checks by hand (`:process`, `:type`,
//! `:f`). BENCHMARKS.md has the memory figures.

use serde_json::{Map, Value};

use super::super::edn_json::{into_json, key_text, sorted_set};
use super::{Built, FormatError, Kind, Node, Parser, Pos};

/// Items of a collection read before the rest are counted, to size it.
const COUNT_AFTER: usize = 1024;

/// Reads `text` as a history: top-level forms, and the items of
/// top-level vectors and lists, are handed to `each` in order, one at a
/// time. A map (or a tagged record of one, `#jepsen.history.Op{...}`) is
/// a [`Kind::Map`] of its entries; any other form is handed over too, for
/// the reader to say it is not an op map.
pub(crate) fn read_op_forms<'a>(
    text: &'a str,
    mut each: impl FnMut(Node<'a>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut p = Parser::new(text);
    loop {
        p.skip_blank();
        match p.peek() {
            None => return Ok(()),
            Some(c @ (')' | ']' | '}')) => {
                return Err(p.error_here(format!(
                    "unexpected `{c}`: there is no open collection for it to close"
                )))
            }
            Some(open @ ('[' | '(')) => {
                let pos = p.pos();
                p.bump();
                let (close, name) = match open {
                    '[' => (']', "vector"),
                    _ => (')', "list"),
                };
                p.items(pos, close, name, |p| match p.op_form(1)? {
                    Some(op) => each(op),
                    None => Ok(()),
                })?;
            }
            Some(_) => {
                if let Some(op) = p.op_form(0)? {
                    each(op)?;
                }
            }
        }
    }
}

impl<'a> Parser<'a> {
    /// One form where op maps are expected; `None` for a discard.
    fn op_form(&mut self, depth: usize) -> Result<Option<Node<'a>>, FormatError> {
        let pos = self.pos();
        match self.peek() {
            Some('{') => {
                self.bump();
                let kind = self.op_map(pos, depth)?;
                Ok(Some(Node { pos, kind }))
            }
            Some('#') if self.peek_second().is_some_and(char::is_alphabetic) => {
                self.tagged_op_form(depth)
            }
            _ => self.value_form(depth),
        }
    }

    /// A tagged form where op maps are expected: a record literal such as
    /// `#jepsen.history.Op{...}` is an op map; any other is read as a
    /// value (for the reader's error).
    fn tagged_op_form(&mut self, depth: usize) -> Result<Option<Node<'a>>, FormatError> {
        let start = self.clone();
        let pos = self.pos();
        self.bump();
        let tag = self.token();
        loop {
            self.skip_blank();
            if self.peek() == Some('{') {
                let inner = self.pos();
                self.bump();
                let kind = self.op_map(inner, depth + 1)?;
                let map = Node { pos: inner, kind };
                return Ok(Some(Node {
                    pos,
                    kind: Kind::Tagged(tag, Box::new(map)),
                }));
            }
            // A tag applies to the form after a discard.
            if !self.text[self.at..].starts_with("#_") {
                break;
            }
            self.bump();
            self.bump();
            self.skip_blank();
            if self.peek().is_none() {
                break;
            }
            self.json_form(depth + 1)?;
        }
        *self = start;
        self.value_form(depth)
    }

    /// An op map's entries, the opener consumed: each key a form, each
    /// value as [`Parser::value_form`] reads it.
    fn op_map(&mut self, open: Pos, depth: usize) -> Result<Kind<'a>, FormatError> {
        let mut entries = Vec::new();
        let mut key: Option<Node<'a>> = None;
        self.items(open, '}', "map", |p| {
            match key.take() {
                None => key = p.form(depth + 1)?,
                Some(k) => match p.value_form(depth + 1)? {
                    Some(value) => entries.push((k, value)),
                    None => key = Some(k),
                },
            }
            Ok(())
        })?;
        if let Some(k) = key {
            return Err(Self::no_value(k.pos));
        }
        Ok(Kind::Map(entries))
    }

    /// A form inside an op map: a collection or a tagged element is read
    /// straight into JSON; a scalar is a form. `None` for a discard.
    fn value_form(&mut self, depth: usize) -> Result<Option<Node<'a>>, FormatError> {
        let pos = self.pos();
        let what = match (self.peek(), self.peek_second()) {
            (Some('['), _) => "a vector",
            (Some('('), _) => "a list",
            (Some('{'), _) => "a map",
            (Some('#'), Some('{')) => "a set",
            (Some('#'), Some(c)) if c.is_alphabetic() => "a tagged element",
            _ => return self.form(depth),
        };
        let built = self.json_form(depth)?;
        Ok(built.map(|built| Node {
            pos,
            kind: Kind::Json(what, Box::new(built)),
        }))
    }

    /// Reads one form straight into JSON, converted as `to_json` converts
    /// a tree; `None` for a discard. A syntax error is an `Err`; a value
    /// JSON cannot hold is an `Err` inside, for the reader to report if it
    /// uses the form.
    pub(super) fn json_form(&mut self, depth: usize) -> Result<Option<Built>, FormatError> {
        let pos = self.pos();
        Self::check_depth(pos, depth)?;
        match (self.peek(), self.peek_second()) {
            (Some(open @ ('(' | '[')), _) => {
                self.bump();
                let (close, name) = match open {
                    '(' => (')', "list"),
                    _ => (']', "vector"),
                };
                let items = self.json_items(pos, close, name, depth)?;
                Ok(Some(items.map(Value::Array)))
            }
            (Some('{'), _) => {
                self.bump();
                self.json_map(pos, depth).map(Some)
            }
            (Some('#'), Some('{')) => {
                self.bump();
                self.bump();
                let items = self.json_items(pos, '}', "set", depth)?;
                Ok(Some(items.map(sorted_set)))
            }
            (Some('#'), Some(c)) if c.is_alphabetic() => self.json_tagged(depth),
            // Scalars, discards and `##Inf` are read as forms, as are the
            // stray delimiters whose errors `form` makes.
            _ => Ok(self.form(depth)?.map(into_json)),
        }
    }

    /// A collection's items as JSON values, the opener consumed.
    fn json_items(
        &mut self,
        open: Pos,
        close: char,
        name: &str,
        depth: usize,
    ) -> Result<Result<Vec<Value>, FormatError>, FormatError> {
        let mut values = Vec::new();
        let mut failed = None;
        self.items(open, close, name, |p| {
            if values.len() == COUNT_AFTER && failed.is_none() {
                // A long collection gets the room its remaining items
                // need at once, rather than doubling (which would hold
                // twice its size while it copies).
                values.reserve_exact(p.count_items(depth));
            }
            match p.json_form(depth + 1)? {
                Some(Ok(value)) if failed.is_none() => values.push(value),
                Some(Err(e)) if failed.is_none() => {
                    failed = Some(e);
                    values = Vec::new();
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(match failed {
            Some(e) => Err(e),
            None => Ok(values),
        })
    }

    /// A map as a JSON object, the opener consumed; keys are read as forms
    /// and named as `to_json` names them.
    fn json_map(&mut self, open: Pos, depth: usize) -> Result<Built, FormatError> {
        let mut object = Map::new();
        let mut key: Option<Node<'a>> = None;
        let mut failed = None;
        self.items(open, '}', "map", |p| {
            let Some(k) = key.take() else {
                key = p.form(depth + 1)?;
                return Ok(());
            };
            match p.json_form(depth + 1)? {
                None => key = Some(k),
                Some(value) if failed.is_none() => {
                    match key_text(&k).and_then(|k| value.map(|v| (k, v))) {
                        Ok((k, v)) => {
                            object.insert(k, v);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                Some(_) => {}
            }
            Ok(())
        })?;
        if let Some(k) = key {
            return Err(Self::no_value(k.pos));
        }
        Ok(match failed {
            Some(e) => Err(e),
            None => Ok(Value::Object(object)),
        })
    }

    /// `#tag form` as the form's JSON (tags are dropped).
    fn json_tagged(&mut self, depth: usize) -> Result<Option<Built>, FormatError> {
        let pos = self.pos();
        self.bump();
        let tag = self.token();
        let missing = || Self::error_at(pos, format!("expected a form after the tag `#{tag}`"));
        self.skip_blank();
        if matches!(self.peek(), None | Some(')' | ']' | '}')) {
            return Err(missing());
        }
        // A tag applied to a discard is a tag of the form after it.
        loop {
            if let Some(inner) = self.json_form(depth + 1)? {
                return Ok(Some(inner));
            }
            self.skip_blank();
            if self.peek().is_none() {
                return Err(missing());
            }
        }
    }

    /// How many forms follow before the next closing delimiter (or before
    /// whatever else stops them: the end, a malformed form, which the
    /// reading proper will report). A discard counts as a form, so the
    /// count may be a little high, never low.
    fn count_items(&self, depth: usize) -> usize {
        let mut p = self.clone();
        let mut count = 0;
        loop {
            p.skip_blank();
            match p.peek() {
                None | Some(')' | ']' | '}') => return count,
                Some(_) => {}
            }
            if !p.skip_form(depth + 1) {
                return count;
            }
            count += 1;
        }
    }

    /// Steps over one form without reading it; `false` if it is
    /// malformed (or nests too deep), where the caller stops counting.
    fn skip_form(&mut self, depth: usize) -> bool {
        if depth > super::DEPTH_MAX {
            return false;
        }
        let Some(c) = self.bump() else {
            return false;
        };
        match c {
            '(' | '[' | '{' => self.skip_items(depth),
            '"' => loop {
                match self.bump() {
                    None => return false,
                    Some('"') => return true,
                    Some('\\') => {
                        self.bump();
                    }
                    Some(_) => {}
                }
            },
            '\\' => {
                self.bump();
                self.token();
                true
            }
            '#' => match self.bump() {
                Some('{') => self.skip_items(depth),
                Some('_') => {
                    self.skip_blank();
                    self.skip_form(depth + 1)
                }
                Some('#') => !self.token().is_empty(),
                Some(c) if c.is_alphabetic() => {
                    self.token();
                    self.skip_blank();
                    self.skip_form(depth + 1)
                }
                _ => false,
            },
            ')' | ']' | '}' => false,
            _ => {
                self.token();
                true
            }
        }
    }

    /// Steps over the items of a collection and its closing delimiter.
    fn skip_items(&mut self, depth: usize) -> bool {
        loop {
            self.skip_blank();
            match self.peek() {
                None => return false,
                Some(')' | ']' | '}') => {
                    self.bump();
                    return true;
                }
                Some(_) => {
                    if !self.skip_form(depth + 1) {
                        return false;
                    }
                }
            }
        }
    }
}
