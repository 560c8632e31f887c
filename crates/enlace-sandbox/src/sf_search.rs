//! The loose SOSL parser and the tiny SOQL subset of the Salesforce double.
//!
//! SOSL: `FIND {term} [IN ALL|NAME|EMAIL|PHONE|SIDEBAR FIELDS] [RETURNING Obj[(f, f [WHERE …]
//! [ORDER BY …] [LIMIT n])], …] [LIMIT n]`. Inside the braces a backslash escapes the next
//! character; an unescaped `{` or a missing `}` is malformed. The term is split into OR groups
//! (by the word `OR`); each group is a list of words that must all match. `WHERE` and `ORDER BY`
//! inside `RETURNING` are accepted and ignored.
//!
//! SOQL: `SELECT f, f FROM Obj [WHERE F op v [AND F op v]*] [ORDER BY F [ASC|DESC]] [LIMIT n]`
//! with `op` one of `=`, `>`, `>=`, `<`, `<=`; values are quoted strings (backslash escapes),
//! numbers, date-times (`2024-06-10T12:00:00Z`, unquoted in SOQL, quoted in COQL), `true`,
//! `false` or `null`; string comparison is case-insensitive like Salesforce's, date-times
//! compare as instants.

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

/// A comparison of a `WHERE` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    /// Does the stored value compare with the literal? Date-times (any offset) compare as
    /// instants, numbers as numbers; `=` is [`Literal::matches`]; other orders are false.
    pub fn holds(self, lit: &Literal, v: Option<&serde_json::Value>) -> bool {
        use serde_json::Value;
        if self == Cmp::Eq {
            if let (Literal::Str(s), Some(Value::String(t))) = (lit, v) {
                if let (Some(a), Some(b)) = (parse_instant(t), parse_instant(s)) {
                    return a == b;
                }
            }
            return lit.matches(v);
        }
        let order = match (lit, v) {
            (Literal::Str(s), Some(Value::String(t))) => {
                match (parse_instant(t), parse_instant(s)) {
                    (Some(a), Some(b)) => a.cmp(&b),
                    _ => t.to_lowercase().cmp(&s.to_lowercase()),
                }
            }
            (Literal::Num(n), Some(Value::Number(m))) => match m.as_f64() {
                Some(m) => m.total_cmp(n),
                None => return false,
            },
            _ => return false,
        };
        match self {
            Cmp::Gt => order.is_gt(),
            Cmp::Ge => order.is_ge(),
            Cmp::Lt => order.is_lt(),
            Cmp::Le => order.is_le(),
            Cmp::Eq => order.is_eq(),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)` → milliseconds since the epoch.
pub(crate) fn parse_instant(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let digits = &frac[..end];
        if digits.is_empty() {
            return None;
        }
        millis = format!("{digits:0<3}")[..3].parse().ok()?;
        rest = &frac[end..];
    }
    let offset_secs = match rest {
        "Z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = hm[..2].parse().ok()?;
            let om: i64 = hm[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset_secs) * 1000 + millis)
}

/// One `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub field: String,
    pub cmp: Cmp,
    pub value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Select {
    pub fields: Vec<String>,
    pub object: String,
    /// Conditions joined by AND.
    pub conditions: Vec<Condition>,
    /// `ORDER BY field [DESC]`: the field and whether descending.
    pub order_by: Option<(String, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Comma,
    Eq,
    Cmp(Cmp),
    Open,
    Close,
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
        } else if c == '(' || c == ')' {
            // COQL wants criteria in brackets; they group nothing in this subset.
            it.next();
            out.push(if c == '(' { Tok::Open } else { Tok::Close });
        } else if c == '>' || c == '<' {
            it.next();
            let or_equal = it.peek() == Some(&'=');
            if or_equal {
                it.next();
            }
            out.push(Tok::Cmp(match (c, or_equal) {
                ('>', false) => Cmp::Gt,
                ('>', true) => Cmp::Ge,
                (_, false) => Cmp::Lt,
                (_, true) => Cmp::Le,
            }));
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
            // An unquoted SOQL date-time (`2024-06-10T12:00:00Z`, `…+05:30`) is one word.
            let datetime = c.is_ascii_digit();
            let mut w = String::new();
            while let Some(&c) = it.peek() {
                if c.is_ascii_alphanumeric()
                    || c == '_'
                    || c == '.'
                    || c == '-'
                    || c == '$'
                    || (datetime && (c == ':' || c == '+'))
                {
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
            while toks.get(i) == Some(&Tok::Open) {
                i += 1;
            }
            let field = word(i)
                .ok_or_else(|| "unexpected token: expected a field name".to_string())?
                .to_string();
            i += 1;
            let cmp = match toks.get(i) {
                Some(Tok::Eq) => Cmp::Eq,
                Some(Tok::Cmp(c)) => *c,
                _ => return Err("unexpected token: expected =, >, >=, < or <=".into()),
            };
            i += 1;
            let lit = match toks.get(i) {
                Some(Tok::Str(s)) => Literal::Str(s.clone()),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                // An unquoted SOQL date-time literal.
                Some(Tok::Word(w)) if parse_instant(w).is_some() => Literal::Str(w.clone()),
                Some(Tok::Word(w)) => Literal::Num(
                    w.parse::<f64>()
                        .map_err(|_| format!("unexpected token: '{w}'"))?,
                ),
                _ => return Err("unexpected token: expected a value".into()),
            };
            i += 1;
            while toks.get(i) == Some(&Tok::Close) {
                i += 1;
            }
            conditions.push(Condition {
                field,
                cmp,
                value: lit,
            });
            if word(i).is_some_and(|w| w.eq_ignore_ascii_case("AND")) {
                i += 1;
            } else {
                break;
            }
        }
    }
    let mut order_by = None;
    if word(i).is_some_and(|w| w.eq_ignore_ascii_case("ORDER"))
        && word(i + 1).is_some_and(|w| w.eq_ignore_ascii_case("BY"))
    {
        let field = word(i + 2)
            .ok_or_else(|| "unexpected token: expected a field name".to_string())?
            .to_string();
        i += 3;
        let mut desc = false;
        match word(i) {
            Some(w) if w.eq_ignore_ascii_case("DESC") => {
                desc = true;
                i += 1;
            }
            Some(w) if w.eq_ignore_ascii_case("ASC") => i += 1,
            _ => {}
        }
        order_by = Some((field, desc));
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
        order_by,
        limit,
    })
}

fn token_text(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Comma => ",".into(),
        Tok::Eq => "=".into(),
        Tok::Cmp(c) => format!("{c:?}"),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
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
            Condition {
                field: "CallObject".into(),
                cmp: Cmp::Eq,
                value: Literal::Str("k'1".into())
            }
        );
        assert_eq!(s.conditions[1].value, Literal::Num(5.0));
        assert_eq!(s.limit, Some(1));
        assert!(parse_select("SELECT FROM Task").is_err());
        assert!(parse_select("SELECT Id FROM Task WHERE X ! 'a'").is_err());
        assert!(parse_select("SELECT Id FROM Task WHERE X = 'a").is_err());
        assert!(parse_select("SELECT Id FROM Task LIMIT 1 extra").is_err());
    }

    #[test]
    fn soql_and_coql_ranges_and_order() {
        let s = parse_select(
            "SELECT Id, Description FROM Contact WHERE CreatedById = '005x' AND CreatedDate >= 2024-06-10T12:00:00Z ORDER BY CreatedDate ASC LIMIT 200",
        )
        .expect("parses");
        assert_eq!(s.conditions[1].cmp, Cmp::Ge);
        assert_eq!(
            s.conditions[1].value,
            Literal::Str("2024-06-10T12:00:00Z".into())
        );
        assert_eq!(s.order_by, Some(("CreatedDate".into(), false)));
        let c = parse_select(
            "select id, Description from Calls where (Who_Id = '1' and Created_Time >= '2024-06-10T12:00:00+00:00') order by Created_Time desc limit 200",
        )
        .expect("parses");
        assert_eq!(c.conditions.len(), 2);
        assert_eq!(c.order_by, Some(("Created_Time".into(), true)));
        let later = serde_json::json!("2024-06-10T17:30:00+05:30");
        assert!(Cmp::Ge.holds(&Literal::Str("2024-06-10T12:00:00Z".into()), Some(&later)));
        assert!(!Cmp::Gt.holds(&Literal::Str("2024-06-10T12:00:00Z".into()), Some(&later)));
        assert!(Cmp::Eq.holds(&Literal::Str("2024-06-10T12:00:00Z".into()), Some(&later)));
        let sf = serde_json::json!("2024-06-10T12:00:00.500+0000");
        assert!(Cmp::Gt.holds(&Literal::Str("2024-06-10T12:00:00Z".into()), Some(&sf)));
        assert_eq!(
            parse_instant("2024-06-10T12:00:00Z"),
            Some(1_718_020_800_000)
        );
        assert_eq!(parse_instant("2024-06-10T12:00:00"), None);
    }
}
