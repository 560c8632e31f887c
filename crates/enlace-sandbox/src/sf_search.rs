//! The loose SOSL parser and the tiny SOQL subset of the Salesforce double.
//!
//! SOSL: `FIND {term} [IN ALL|NAME|EMAIL|PHONE|SIDEBAR FIELDS] [RETURNING Obj[(f, f [WHERE …]
//! [ORDER BY …] [LIMIT n])], …] [LIMIT n]`. Inside the braces a backslash escapes the next
//! character; an unescaped `{` or a missing `}` is malformed. The term is split into OR groups
//! (by the word `OR`); each group is a list of words that must all match. `WHERE` and `ORDER BY`
//! inside `RETURNING` are accepted and ignored.
//!
//! SOQL: `SELECT f, f FROM Obj [WHERE F = 'v' [AND F = 'v']*] [LIMIT n]`; values are quoted
//! strings (backslash escapes), numbers, `true`, `false` or `null`; string comparison is
//! case-insensitive like Salesforce's.

/// Which fields a SOSL search looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchGroup {
    All,
    Name,
    Email,
    Phone,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Returning {
    pub object: String,
    pub fields: Vec<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sosl {
    /// OR of groups; each group is an AND of words (escapes removed).
    pub groups: Vec<Vec<String>>,
    pub scope: SearchGroup,
    /// Empty: every searchable object, `Id` only.
    pub returning: Vec<Returning>,
    pub limit: Option<usize>,
}

/// Parses SOSL; `Err` carries the message for `MALFORMED_SEARCH`.
pub(crate) fn parse_sosl(q: &str) -> Result<Sosl, String> {
    let q = q.trim();
    let rest =
        strip_keyword(q, "FIND").ok_or_else(|| "unexpected token: expected FIND".to_string())?;
    let rest = rest.trim_start();
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, '{')) => {}
        _ => return Err("unexpected token: the search term must be enclosed in braces".into()),
    }
    let mut term = String::new();
    let mut end = None;
    let mut escaped = false;
    for (i, c) in chars.by_ref() {
        if escaped {
            term.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '}' => {
                end = Some(i);
                break;
            }
            '{' => return Err("line 1:0 mismatched character '{' in search term".into()),
            _ => term.push(c),
        }
    }
    let end =
        end.ok_or_else(|| "line 1:0 mismatched character '<EOF>' expecting '}'".to_string())?;
    let groups = term_groups(&term);
    let significant: usize = term
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '?')
        .count();
    if significant < 2 || groups.is_empty() {
        return Err("search term must be longer than one character".into());
    }

    let mut rest = rest[end + 1..].trim_start();
    let mut scope = SearchGroup::All;
    if let Some(r) = strip_keyword(rest, "IN") {
        let r = r.trim_start();
        let (word, r) = split_word(r);
        scope = match word.to_ascii_uppercase().as_str() {
            "ALL" | "SIDEBAR" => SearchGroup::All,
            "NAME" => SearchGroup::Name,
            "EMAIL" => SearchGroup::Email,
            "PHONE" => SearchGroup::Phone,
            other => return Err(format!("unexpected token: '{other}'")),
        };
        rest = strip_keyword(r.trim_start(), "FIELDS")
            .ok_or_else(|| "unexpected token: expected FIELDS".to_string())?;
        rest = rest.trim_start();
    }
    let mut returning = Vec::new();
    if let Some(r) = strip_keyword(rest, "RETURNING") {
        let (list, r) = parse_returning(r)?;
        returning = list;
        rest = r.trim_start();
    }
    let mut limit = None;
    if let Some(r) = strip_keyword(rest, "LIMIT") {
        let (n, r) = split_word(r.trim_start());
        limit = Some(
            n.parse::<usize>()
                .map_err(|_| format!("unexpected token: '{n}'"))?,
        );
        rest = r.trim_start();
    }
    if !rest.is_empty() {
        return Err(format!(
            "unexpected token: '{}'",
            rest.chars().take(20).collect::<String>()
        ));
    }
    Ok(Sosl {
        groups,
        scope,
        returning,
        limit,
    })
}

fn term_groups(term: &str) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new()];
    for word in term.split_whitespace() {
        let w = word.trim_matches('"');
        if w.eq_ignore_ascii_case("OR") {
            groups.push(Vec::new());
        } else if w.eq_ignore_ascii_case("AND") || w.is_empty() {
            continue;
        } else if let Some(g) = groups.last_mut() {
            g.push(w.trim_matches(|c| c == '*' || c == '?').to_string());
        }
    }
    groups.into_iter().filter(|g| !g.is_empty()).collect()
}

fn parse_returning(mut s: &str) -> Result<(Vec<Returning>, &str), String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        if name_len == 0 {
            return Err("unexpected token: expected an object name after RETURNING".into());
        }
        let object = s[..name_len].to_string();
        s = s[name_len..].trim_start();
        let mut fields = Vec::new();
        let mut limit = None;
        if let Some(inner_start) = s.strip_prefix('(') {
            let close = inner_start
                .find(')')
                .ok_or_else(|| "unexpected token: missing ')'".to_string())?;
            let inner = &inner_start[..close];
            if inner.contains('(') {
                return Err("unexpected token: '('".into());
            }
            // Fields until a clause keyword; LIMIT is honoured, WHERE / ORDER BY are ignored.
            let words: Vec<&str> = inner.split_whitespace().collect();
            let clause = words.iter().position(|w| {
                ["WHERE", "ORDER", "LIMIT", "OFFSET"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
            });
            let field_text = words[..clause.unwrap_or(words.len())].join(" ");
            for f in field_text.split(',') {
                let f = f.trim();
                if f.is_empty()
                    || !f
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Err(format!("unexpected token: '{f}'"));
                }
                fields.push(f.to_string());
            }
            if let Some(pos) = words.iter().position(|w| w.eq_ignore_ascii_case("LIMIT")) {
                let n = words.get(pos + 1).copied().unwrap_or("");
                limit = Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("unexpected token: '{n}'"))?,
                );
            }
            s = &inner_start[close + 1..];
        }
        out.push(Returning {
            object,
            fields,
            limit,
        });
        let t = s.trim_start();
        if let Some(r) = t.strip_prefix(',') {
            s = r;
        } else {
            return Ok((out, t));
        }
    }
}

/// `s` without a leading case-insensitive keyword followed by a word boundary.
fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let head = s.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let rest = &s[kw.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() || c == '{' || c == '(' => Some(rest),
        _ => None,
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

// ---------------------------------------------------------------------------------------------
// SOQL subset

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl Literal {
    /// Does a stored JSON value equal this literal (strings case-insensitively)?
    pub fn matches(&self, v: Option<&serde_json::Value>) -> bool {
        use serde_json::Value;
        match (self, v) {
            (Literal::Null, None) | (Literal::Null, Some(Value::Null)) => true,
            (Literal::Str(s), Some(Value::String(t))) => s.to_lowercase() == t.to_lowercase(),
            (Literal::Num(n), Some(Value::Number(m))) => {
                m.as_f64().map(|m| (m - n).abs() < 1e-9).unwrap_or(false)
            }
            (Literal::Bool(b), Some(Value::Bool(c))) => b == c,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Select {
    pub fields: Vec<String>,
    pub object: String,
    /// `(field, value)` pairs joined by AND.
    pub conditions: Vec<(String, Literal)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Comma,
    Eq,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = q.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == ',' {
            it.next();
            out.push(Tok::Comma);
        } else if c == '=' {
            it.next();
            out.push(Tok::Eq);
        } else if c == '\'' {
            it.next();
            let mut s = String::new();
            let mut closed = false;
            while let Some(c) = it.next() {
                match c {
                    '\\' => match it.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some(o) => s.push(o),
                        None => return Err("line 1:0 unexpected end of string".into()),
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    o => s.push(o),
                }
            }
            if !closed {
                return Err("line 1:0 unterminated string literal".into());
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '$' {
            let mut w = String::new();
            while let Some(&c) = it.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '$' {
                    w.push(c);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else {
            return Err(format!("unexpected token: '{c}'"));
        }
    }
    Ok(out)
}

/// Parses the SOQL / COQL subset. `Err` carries the message for `MALFORMED_QUERY` / `SYNTAX_ERROR`.
pub(crate) fn parse_select(q: &str) -> Result<Select, String> {
    let toks = tokenize(q)?;
    let mut i = 0;
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    if !word(i).is_some_and(|w| w.eq_ignore_ascii_case("SELECT")) {
        return Err("unexpected token: expected SELECT".into());
    }
    i += 1;
    let mut fields = Vec::new();
    loop {
        match word(i) {
            Some(w) if !w.eq_ignore_ascii_case("FROM") => fields.push(w.to_string()),
            _ => return Err("unexpected token: expected a field name".into()),
        }
        i += 1;
        if toks.get(i) == Some(&Tok::Comma) {
            i += 1;
        } else {
            break;
        }
    }
    if !word(i).is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
        return Err("unexpected token: expected FROM".into());
    }
    i += 1;
    let object = word(i)
        .ok_or_else(|| "unexpected token: expected an object name".to_string())?
        .to_string();
    i += 1;
    let mut conditions = Vec::new();
    if word(i).is_some_and(|w| w.eq_ignore_ascii_case("WHERE")) {
        i += 1;
        loop {
            let field = word(i)
                .ok_or_else(|| "unexpected token: expected a field name".to_string())?
                .to_string();
            i += 1;
            if toks.get(i) != Some(&Tok::Eq) {
                return Err("unexpected token: only '=' is supported".into());
            }
            i += 1;
            let lit = match toks.get(i) {
                Some(Tok::Str(s)) => Literal::Str(s.clone()),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Some(Tok::Word(w)) => Literal::Num(
                    w.parse::<f64>()
                        .map_err(|_| format!("unexpected token: '{w}'"))?,
                ),
                _ => return Err("unexpected token: expected a value".into()),
            };
            i += 1;
            conditions.push((field, lit));
            if word(i).is_some_and(|w| w.eq_ignore_ascii_case("AND")) {
                i += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if word(i).is_some_and(|w| w.eq_ignore_ascii_case("LIMIT")) {
        i += 1;
        let n = word(i).ok_or_else(|| "unexpected token: expected a number".to_string())?;
        limit = Some(
            n.parse::<usize>()
                .map_err(|_| format!("unexpected token: '{n}'"))?,
        );
        i += 1;
        // COQL allows `limit offset, count`.
        if toks.get(i) == Some(&Tok::Comma) {
            let n2 =
                word(i + 1).ok_or_else(|| "unexpected token: expected a number".to_string())?;
            let count = n2
                .parse::<usize>()
                .map_err(|_| format!("unexpected token: '{n2}'"))?;
            limit = Some(count);
            i += 2;
        }
    }
    if i != toks.len() {
        return Err(format!("unexpected token: '{}'", token_text(&toks[i])));
    }
    Ok(Select {
        fields,
        object,
        conditions,
        limit,
    })
}

fn token_text(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Comma => ",".into(),
        Tok::Eq => "=".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosl_phone_search() {
        let s = parse_sosl(
            "FIND {4155551212} IN PHONE FIELDS RETURNING Contact(Id,Name,Email,Phone,MobilePhone), Lead(Id,Name,Company LIMIT 5)",
        )
        .expect("parses");
        assert_eq!(s.scope, SearchGroup::Phone);
        assert_eq!(s.groups, vec![vec!["4155551212".to_string()]]);
        assert_eq!(s.returning.len(), 2);
        assert_eq!(s.returning[1].fields, vec!["Id", "Name", "Company"]);
        assert_eq!(s.returning[1].limit, Some(5));
    }

    #[test]
    fn sosl_escapes_and_or() {
        let s = parse_sosl(r"FIND {\+1 \(415\) 555\-1212 OR 525512345678} RETURNING Contact")
            .expect("parses");
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0], vec!["+1", "(415)", "555-1212"]);
        assert_eq!(s.scope, SearchGroup::All);
        let s = parse_sosl(r"find {a\}b} in name fields").expect("parses");
        assert_eq!(s.groups, vec![vec!["a}b".to_string()]]);
    }

    #[test]
    fn sosl_rejects_malformed() {
        for bad in [
            "FIND {abc",
            "FIND abc",
            "FIND {a{b}",
            "FIND {x}",
            "SELECT Id FROM Contact",
            "FIND {abc} IN PHONES FIELDS",
            "FIND {abc} RETURNING Contact(Id",
            "FIND {abc} garbage",
        ] {
            assert!(parse_sosl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn soql_subset() {
        let s = parse_select(
            r"SELECT Id FROM Task WHERE CallObject = 'k\'1' AND CallDurationInSeconds = 5 LIMIT 1",
        )
        .expect("parses");
        assert_eq!(s.object, "Task");
        assert_eq!(
            s.conditions[0],
            ("CallObject".to_string(), Literal::Str("k'1".into()))
        );
        assert_eq!(s.conditions[1].1, Literal::Num(5.0));
        assert_eq!(s.limit, Some(1));
        assert!(parse_select("SELECT FROM Task").is_err());
        assert!(parse_select("SELECT Id FROM Task WHERE X > 'a'").is_err());
        assert!(parse_select("SELECT Id FROM Task WHERE X = 'a").is_err());
        assert!(parse_select("SELECT Id FROM Task LIMIT 1 extra").is_err());
    }
}
