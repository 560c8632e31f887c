//! The local cache of CRM contacts and leads, searchable through the `contacts_fts` FTS5 index
//! (kept in sync by triggers) and by phone number for caller identification.

use enlace_core::{Contact, ContactKind, Crm, Timestamp};
use rusqlite::{params, Row};

use crate::error::StoreError;
use crate::{Result, Store};

/// Longest search query considered, in characters; the rest is ignored.
const MAX_QUERY_CHARS: usize = 256;
/// Most search terms considered.
const MAX_QUERY_TERMS: usize = 16;
/// Most rows a search returns, whatever the caller asks.
const MAX_RESULTS: usize = 200;
/// Shortest number matched by its ending (a national number against its E.164 form).
const MIN_SUFFIX_DIGITS: usize = 7;

/// A cached contact with its local row id and the time it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub id: i64,
    pub contact: Contact,
    pub updated_at: Timestamp,
}

impl Store {
    /// Insert the contact, or update the one with the same `(crm, crm_id)`. Returns its row id.
    pub fn upsert_contact(&self, contact: &Contact) -> Result<i64> {
        let digits = phone_digits([contact.phone.as_deref(), contact.mobile.as_deref()]);
        let id = self.conn.query_row(
            "INSERT INTO contacts (crm, crm_id, kind, first_name, last_name, email, phone, mobile,
                 company, phone_digits, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (crm, crm_id) DO UPDATE SET
                 kind = excluded.kind,
                 first_name = excluded.first_name,
                 last_name = excluded.last_name,
                 email = excluded.email,
                 phone = excluded.phone,
                 mobile = excluded.mobile,
                 company = excluded.company,
                 phone_digits = excluded.phone_digits,
                 updated_at = excluded.updated_at
             RETURNING id",
            params![
                contact.crm.as_str(),
                contact.crm_id,
                contact.kind.as_str(),
                contact.first_name,
                contact.last_name,
                contact.email,
                contact.phone,
                contact.mobile,
                contact.company,
                digits,
                self.now_millis(),
            ],
            |row| row.get(0),
        )?;
        Ok(id)
    }

    /// Remove a cached record (deleted or merged in its CRM); returns whether it existed.
    pub fn delete_contact(&self, crm: Crm, crm_id: &str) -> Result<bool> {
        let changed = self.conn.execute(
            "DELETE FROM contacts WHERE crm = ?1 AND crm_id = ?2",
            params![crm.as_str(), crm_id],
        )?;
        Ok(changed > 0)
    }

    /// Search as the agent types: every word must start a word of the first name, last name,
    /// email or phone digits ("ana gar", "ana@exa", "8888-12"). Any text is accepted: FTS5
    /// syntax characters are taken literally, never as operators. Best matches first.
    pub fn search_contacts(&self, query: &str, limit: usize) -> Result<Vec<StoredContact>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit.min(MAX_RESULTS)).unwrap_or(0);
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.crm, c.crm_id, c.kind, c.first_name, c.last_name, c.email, c.phone,
                    c.mobile, c.company, c.updated_at
             FROM contacts_fts JOIN contacts c ON c.id = contacts_fts.rowid
             WHERE contacts_fts MATCH ?1
             ORDER BY contacts_fts.rank, c.id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![fts, limit], read_raw)?;
        let mut found = Vec::new();
        for row in rows {
            found.push(row?.into_contact()?);
        }
        Ok(found)
    }

    /// Contacts whose phone or mobile is `number` (any formatting). Numbers of 7 digits or more
    /// also match by their ending, so a stored national "8888-1234" matches the caller
    /// "+506 8888 1234" and vice versa. Exact matches come first.
    pub fn contacts_by_phone(&self, number: &str) -> Result<Vec<StoredContact>> {
        let wanted: String = number
            .chars()
            .filter(char::is_ascii_digit)
            .take(32)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // Candidates by SQL (digits only, so nothing to escape in LIKE), exact check in Rust.
        let tail_start = wanted.len().saturating_sub(MIN_SUFFIX_DIGITS);
        let pattern = if wanted.len() >= MIN_SUFFIX_DIGITS {
            format!("%{}%", &wanted[tail_start..])
        } else {
            format!("% {wanted} %")
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, crm, crm_id, kind, first_name, last_name, email, phone, mobile, company,
                    updated_at, phone_digits
             FROM contacts WHERE ' ' || phone_digits || ' ' LIKE ?1 ORDER BY id LIMIT 500",
        )?;
        let rows = stmt.query_map([&pattern], |row| {
            Ok((read_raw(row)?, row.get::<_, String>(11)?))
        })?;
        let mut exact = Vec::new();
        let mut by_ending = Vec::new();
        for row in rows {
            let (raw, digits) = row?;
            let mut forms = digits.split(' ').filter(|d| !d.is_empty());
            if forms.clone().any(|d| d == wanted) {
                exact.push(raw.into_contact()?);
            } else if forms.any(|d| same_by_ending(d, &wanted)) {
                by_ending.push(raw.into_contact()?);
            }
        }
        exact.extend(by_ending);
        Ok(exact)
    }
}

/// Digits-only forms of the given numbers, space-separated, without repeats.
fn phone_digits<'a>(numbers: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut forms: Vec<String> = Vec::new();
    for number in numbers.into_iter().flatten() {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() && !forms.contains(&digits) {
            forms.push(digits);
        }
    }
    forms.join(" ")
}

fn same_by_ending(a: &str, b: &str) -> bool {
    a.len().min(b.len()) >= MIN_SUFFIX_DIGITS && (a.ends_with(b) || b.ends_with(a))
}

fn is_phone_punctuation(c: char) -> bool {
    matches!(c, '+' | '-' | '(' | ')' | '.' | '/')
}

/// Turn what the agent typed into a safe FTS5 query: each word becomes a quoted prefix
/// phrase (`"ana"*`), so `"`, `*`, `(`, `-`, `:`, `AND`, `NEAR` ... are plain text. Phone-like
/// words keep only their digits (the index holds digits-only phone forms). `None` when
/// nothing searchable is left.
fn fts_query(input: &str) -> Option<String> {
    let input: String = input
        .chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let all_phone = input.chars().any(|c| c.is_ascii_digit())
        && input
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || is_phone_punctuation(c));
    let words: Vec<String> = if all_phone {
        vec![input.chars().filter(char::is_ascii_digit).collect()]
    } else {
        input
            .split_whitespace()
            .map(|w| {
                if w.chars()
                    .all(|c| c.is_ascii_digit() || is_phone_punctuation(c))
                {
                    w.chars().filter(char::is_ascii_digit).collect()
                } else {
                    w.to_owned()
                }
            })
            .collect()
    };
    let terms: Vec<String> = words
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_TERMS)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" "))
    }
}

/// A contacts row as stored, before its text columns are checked.
struct RawContact {
    id: i64,
    crm: String,
    crm_id: String,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    company: Option<String>,
    updated_at: i64,
}

fn read_raw(row: &Row<'_>) -> rusqlite::Result<RawContact> {
    Ok(RawContact {
        id: row.get(0)?,
        crm: row.get(1)?,
        crm_id: row.get(2)?,
        kind: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        email: row.get(6)?,
        phone: row.get(7)?,
        mobile: row.get(8)?,
        company: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

impl RawContact {
    fn into_contact(self) -> Result<StoredContact> {
        let corrupt = |reason: String| StoreError::CorruptRow {
            table: "contacts",
            id: self.id.to_string(),
            reason,
        };
        let crm = Crm::parse(&self.crm).ok_or_else(|| corrupt(format!("crm {:?}", self.crm)))?;
        let kind = ContactKind::parse(&self.kind)
            .ok_or_else(|| corrupt(format!("kind {:?}", self.kind)))?;
        Ok(StoredContact {
            id: self.id,
            contact: Contact {
                crm,
                crm_id: self.crm_id,
                kind,
                first_name: self.first_name,
                last_name: self.last_name,
                email: self.email,
                phone: self.phone,
                mobile: self.mobile,
                company: self.company,
            },
            updated_at: Timestamp(self.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_every_word_as_a_prefix() {
        assert_eq!(fts_query("ana gar").as_deref(), Some("\"ana\"* \"gar\"*"));
        assert_eq!(
            fts_query("say \"hi\"").as_deref(),
            Some("\"say\"* \"\"\"hi\"\"\"*")
        );
        assert_eq!(fts_query("+506 8888-12").as_deref(), Some("\"506888812\"*"));
        assert_eq!(
            fts_query("ana 8888-12").as_deref(),
            Some("\"ana\"* \"888812\"*")
        );
        assert_eq!(fts_query("  \" * ( - ) "), None);
        assert_eq!(fts_query(""), None);
    }

    #[test]
    fn phone_digits_keep_each_distinct_number() {
        assert_eq!(
            phone_digits([Some("+506 8888-1234"), Some("(506) 8888 1234")]),
            "50688881234"
        );
        assert_eq!(
            phone_digits([Some("8888-1234"), Some("+1 555 0100")]),
            "88881234 15550100"
        );
        assert_eq!(phone_digits([None, Some("n/a")]), "");
    }

    #[test]
    fn endings_need_seven_digits() {
        assert!(same_by_ending("50688881234", "88881234"));
        assert!(!same_by_ending("1001", "21001"));
    }
}
