//! The local cache of CRM contacts and leads: search-as-you-type through the `contacts_fts`
//! FTS5 index (kept in sync by triggers, with prefix indexes for 1 to 3 characters) and caller
//! identification through `contact_phones`, which holds every digit form of every stored
//! number (see [`enlace_core::equivalent_digits`]) under a plain B-tree index.
//!
//! Phone forms depend on the agent's country (a national "8888-1234" is `50688881234` in Costa
//! Rica), so writes take the country; when the agent changes it, call
//! [`Store::rebuild_contact_phones`].

use std::collections::HashMap;

use enlace_core::{
    equivalent_digits, Contact, ContactKind, Country, Crm, CustomerNumber, Timestamp,
};
use rusqlite::{params, OptionalExtension, Row};

use crate::error::StoreError;
use crate::{Result, Store};

/// Longest search query considered, in characters; the rest is ignored.
const MAX_QUERY_CHARS: usize = 256;
/// Most search terms considered.
const MAX_QUERY_TERMS: usize = 16;
/// Most rows a search returns, whatever the caller asks.
const MAX_RESULTS: usize = 200;
/// Most full-text matches ranked per search. A short prefix ("a") matches most of the cache;
/// ranking every match would cost milliseconds (FTS5's bm25 even counts every match to weigh
/// the terms), so the first matches by row id are ranked and the best returned. Prefixes
/// that match fewer rows than this are ranked exactly.
const MAX_RANKED: usize = 256;
/// Most contacts returned for one caller.
const MAX_CALLER_MATCHES: usize = 50;
/// Most digit forms of a caller looked up (an Argentine mobile has 5, plus the typed digits).
const MAX_CALLER_FORMS: usize = 12;

const CONTACT_COLUMNS: &str = "c.id, c.crm, c.crm_id, c.kind, c.first_name, c.last_name, c.email, \
     c.phone, c.mobile, c.company, c.updated_at";

/// A cached contact with its local row id and the time it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub id: i64,
    pub contact: Contact,
    pub updated_at: Timestamp,
}

impl Store {
    /// Insert or update (by `(crm, crm_id)`) every contact in one transaction: either all are
    /// written or none. `country` reads numbers stored without a country code. Returns the row
    /// ids, in the order given.
    pub fn upsert_contacts(&self, contacts: &[Contact], country: Country) -> Result<Vec<i64>> {
        let tx = self.conn.unchecked_transaction()?;
        let now = self.now_millis();
        let mut ids = Vec::with_capacity(contacts.len());
        for contact in contacts {
            ids.push(write_contact(&tx, contact, country, now)?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Insert the contact, or update the one with the same `(crm, crm_id)`. Returns its row id.
    pub fn upsert_contact(&self, contact: &Contact, country: Country) -> Result<i64> {
        let ids = self.upsert_contacts(std::slice::from_ref(contact), country)?;
        ids.first()
            .copied()
            .ok_or_else(|| StoreError::InvalidValue {
                field: "contact",
                reason: "the upsert returned no row id".into(),
            })
    }

    /// Recompute every cached contact's phone forms for `country` (after the agent changed
    /// the country setting). One transaction. Returns how many contacts were reindexed.
    pub fn rebuild_contact_phones(&self, country: Country) -> Result<usize> {
        let tx = self.conn.unchecked_transaction()?;
        let rows: Vec<(i64, Option<String>, Option<String>)> = {
            let mut stmt = tx.prepare("SELECT id, phone, mobile FROM contacts")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.execute("DELETE FROM contact_phones", [])?;
        for (id, phone, mobile) in &rows {
            let forms = PhoneForms::of([phone.as_deref(), mobile.as_deref()], country);
            tx.execute(
                "UPDATE contacts SET phone_digits = ?2 WHERE id = ?1 AND phone_digits <> ?2",
                params![id, forms.joined()],
            )?;
            forms.insert(&tx, *id)?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// Merge the full-text index into one segment: searches read one doclist per term
    /// instead of one per segment. Worth it after a large sync (thousands of contacts); takes
    /// about a second at 100,000 contacts, so run it off the UI path.
    pub fn optimize_contacts_index(&self) -> Result<()> {
        self.conn.execute(
            "INSERT INTO contacts_fts (contacts_fts) VALUES ('optimize')",
            [],
        )?;
        Ok(())
    }

    /// The cached record `crm_id` of `crm`, if any.
    pub fn contact(&self, crm: Crm, crm_id: &str) -> Result<Option<StoredContact>> {
        let sql =
            format!("SELECT {CONTACT_COLUMNS} FROM contacts c WHERE crm = ?1 AND crm_id = ?2");
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![crm.as_str(), crm_id], read_raw)
            .optional()?;
        raw.map(RawContact::into_contact).transpose()
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
    /// e-mail or phone digits ("ana gar", "ana@exa", "8888-12"; a phone's national number is
    /// indexed too, so "8888" finds "+506 8888-1234"). Any text is accepted: FTS5 syntax
    /// characters are taken literally, never as operators. Best matches first (names weigh
    /// more than e-mails and numbers); when a very short prefix matches more than a few hundred
    /// records, the best of the first few hundred are returned.
    pub fn search_contacts(&self, query: &str, limit: usize) -> Result<Vec<StoredContact>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(MAX_RESULTS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id IN
                 (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?1 LIMIT ?2)"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let cap = i64::try_from(MAX_RANKED).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![fts, cap], read_raw)?;
        let terms: Vec<String> = search_words(query).iter().map(|w| fold(w)).collect();
        let mut ranked: Vec<(u32, String, RawContact)> = Vec::new();
        for row in rows {
            let raw = row?;
            let (score, name) = relevance(&raw, &terms);
            ranked.push((score, name, raw));
        }
        ranked.sort_by(|a, b| (a.0, &a.1, a.2.id).cmp(&(b.0, &b.1, b.2.id)));
        ranked.truncate(limit);
        ranked
            .into_iter()
            .map(|(_, _, raw)| raw.into_contact())
            .collect()
    }

    /// Caller identification: the cached records whose phone or mobile is the same number as
    /// `number` (any formatting, with or without country code; `country` reads numbers without
    /// one). Every digit form of the caller ([`equivalent_digits`]) is looked up in the
    /// `contact_phones` index; forms of 7 digits or more also match a stored form that ends
    /// with them or that they end with (numbers the numbering data does not know yet). A
    /// stored number that is a different valid number than the caller's (the same national
    /// digits in another country) never matches. Order: the caller's exact international
    /// number first, then a shared digit form, then a shared ending; ties by row id. At most 50.
    pub fn contacts_for_caller(
        &self,
        number: &str,
        country: Country,
    ) -> Result<Vec<StoredContact>> {
        let customer = CustomerNumber::parse(number, country).ok();
        self.contacts_for_forms(customer.as_ref(), &equivalent_digits(number, country))
    }

    /// Caller identification of a number already resolved, such as a WhatsApp `wa_id`
    /// ([`CustomerNumber::from_wa_id`]): the same rules as [`Store::contacts_for_caller`], so
    /// `5215512345678` finds a contact saved as "+52 55 1234 5678".
    pub fn contacts_for_customer(&self, number: &CustomerNumber) -> Result<Vec<StoredContact>> {
        self.contacts_for_forms(Some(number), number.equivalent_forms())
    }

    fn contacts_for_forms(
        &self,
        customer: Option<&CustomerNumber>,
        forms: &[String],
    ) -> Result<Vec<StoredContact>> {
        let forms = forms
            .get(..forms.len().min(MAX_CALLER_FORMS))
            .unwrap_or(&[]);
        if forms.is_empty() {
            return Ok(Vec::new());
        }
        let tails: Vec<&str> = forms.iter().filter_map(|f| tail_of(f)).collect();
        let placeholders = |from: usize, count: usize| -> String {
            (from..from + count)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT {CONTACT_COLUMNS}, p.e164, p.digits
             FROM contact_phones p JOIN contacts c ON c.id = p.contact_id
             WHERE p.digits IN ({}) OR p.tail IN ({})
             ORDER BY c.id
             LIMIT 500",
            placeholders(1, forms.len()),
            placeholders(forms.len() + 1, tails.len().max(1)),
        );
        let mut values: Vec<&str> = forms.iter().map(String::as_str).collect();
        if tails.is_empty() {
            values.push("");
        }
        values.extend(tails);
        // The stored number (its key, or its E.164 digits if indexed before keys existed)
        // is the caller's when it is one of the caller's international forms.
        let same_number = |stored: &str| {
            customer.is_some_and(|c| c.international_forms().iter().any(|f| f == stored))
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
            Ok((
                read_raw(row)?,
                row.get::<_, Option<String>>(11)?,
                row.get::<_, String>(12)?,
            ))
        })?;
        // Best score per contact: 0 = same international number, 1 = a shared digit form,
        // 2 = a shared ending.
        let mut best: HashMap<i64, (u8, RawContact)> = HashMap::new();
        for row in rows {
            let (raw, stored_e164, digits) = row?;
            if let (Some(_), Some(stored)) = (customer, stored_e164.as_deref()) {
                if !same_number(stored) {
                    continue;
                }
            }
            let score = if forms.contains(&digits) {
                if stored_e164.as_deref().is_some_and(same_number) {
                    0
                } else {
                    1
                }
            } else if forms.iter().any(|f| same_by_ending(f, &digits)) {
                2
            } else {
                continue; // same last 7 digits, different number
            };
            match best.get(&raw.id) {
                Some((existing, _)) if *existing <= score => {}
                _ => {
                    best.insert(raw.id, (score, raw));
                }
            }
        }
        let mut matches: Vec<(u8, RawContact)> = best.into_values().collect();
        matches.sort_by_key(|(score, raw)| (*score, raw.id));
        matches.truncate(MAX_CALLER_MATCHES);
        matches
            .into_iter()
            .map(|(_, raw)| raw.into_contact())
            .collect()
    }
}

/// Shortest number matched by its ending.
const MIN_SUFFIX_DIGITS: usize = 7;

/// The last 7 digits of a form of at least 7 digits: the key of the ending index.
fn tail_of(digits: &str) -> Option<&str> {
    digits
        .len()
        .checked_sub(MIN_SUFFIX_DIGITS)
        .and_then(|start| digits.get(start..))
}

/// One number ends with the other, and both have at least 7 digits.
fn same_by_ending(a: &str, b: &str) -> bool {
    a.len().min(b.len()) >= MIN_SUFFIX_DIGITS && (a.ends_with(b) || b.ends_with(a))
}

/// Upsert one contact and replace its phone forms. Runs inside the caller's transaction.
fn write_contact(
    conn: &rusqlite::Connection,
    contact: &Contact,
    country: Country,
    now: i64,
) -> Result<i64> {
    let forms = PhoneForms::of(
        [contact.phone.as_deref(), contact.mobile.as_deref()],
        country,
    );
    let id: i64 = conn
        .prepare_cached(
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
        )?
        .query_row(
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
                forms.joined(),
                now,
            ],
            |row| row.get(0),
        )?;
    conn.prepare_cached("DELETE FROM contact_phones WHERE contact_id = ?1")?
        .execute([id])?;
    forms.insert(conn, id)?;
    Ok(id)
}

/// The number key among `forms` as [`equivalent_digits`] returns them (stored in the `e164`
/// column): a valid number yields its key first and at least one more form (its national
/// number; never equal: the country code is not empty); anything else yields at most the
/// typed digits.
fn e164_of(forms: &[String]) -> Option<&str> {
    if forms.len() >= 2 {
        forms.first().map(String::as_str)
    } else {
        None
    }
}

/// Every digit form of a contact's numbers, each with the E.164 digits of its number.
struct PhoneForms(Vec<(String, Option<String>)>);

impl PhoneForms {
    fn of<'a>(numbers: impl IntoIterator<Item = Option<&'a str>>, country: Country) -> PhoneForms {
        let mut all: Vec<(String, Option<String>)> = Vec::new();
        for number in numbers.into_iter().flatten() {
            let forms = equivalent_digits(number, country);
            let e164 = e164_of(&forms).map(str::to_owned);
            for form in forms {
                if !all.iter().any(|(d, _)| *d == form) {
                    all.push((form, e164.clone()));
                }
            }
        }
        PhoneForms(all)
    }

    /// Space-separated, for the full-text index.
    fn joined(&self) -> String {
        let forms: Vec<&str> = self.0.iter().map(|(d, _)| d.as_str()).collect();
        forms.join(" ")
    }

    fn insert(&self, conn: &rusqlite::Connection, contact_id: i64) -> Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT OR IGNORE INTO contact_phones (digits, contact_id, e164, tail)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (digits, e164) in &self.0 {
            stmt.execute(params![digits, contact_id, e164, tail_of(digits)])?;
        }
        Ok(())
    }
}

fn is_phone_punctuation(c: char) -> bool {
    matches!(c, '+' | '-' | '(' | ')' | '.' | '/')
}

/// The words of a search as matched: phone-like words keep only their digits (the index
/// holds digits-only phone forms), words without a letter or digit are dropped, at most 16.
fn search_words(input: &str) -> Vec<String> {
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
    words
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_TERMS)
        .collect()
}

/// Turn what the agent typed into a safe FTS5 query: each word becomes a quoted prefix
/// phrase (`"ana"*`), so `"`, `*`, `(`, `-`, `:`, `AND`, `NEAR` ... are plain text. `None`
/// when nothing searchable is left.
fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = search_words(input)
        .into_iter()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" "))
    }
}

/// Lower case without the accents the index ignores, for ranking ("Ángela" → "angela").
fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

/// How well a full-text match fits the search, lower is better: per search word, 0 when a
/// word of the name starts with it, 1 for the e-mail or a number, 2 otherwise (matched by a
/// tokenizer subtlety). Also returns the folded display name, the tie-breaker.
fn relevance(raw: &RawContact, terms: &[String]) -> (u32, String) {
    let name = fold(&format!(
        "{} {}",
        raw.first_name.as_deref().unwrap_or(""),
        raw.last_name.as_deref().unwrap_or("")
    ));
    let email = fold(raw.email.as_deref().unwrap_or(""));
    let digits: String = [raw.phone.as_deref(), raw.mobile.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(|p| p.chars().filter(char::is_ascii_digit).chain([' ']))
        .collect();
    let starts_a_word = |text: &str, term: &str| {
        text.split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with(term))
    };
    let score = terms
        .iter()
        .map(|term| {
            if starts_a_word(&name, term) {
                0
            } else if email.contains(term.as_str()) || digits.contains(term.as_str()) {
                1
            } else {
                2
            }
        })
        .sum();
    (score, name.trim().to_owned())
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

    fn cr() -> Country {
        Country::parse("CR").unwrap()
    }

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
    fn phone_forms_hold_international_and_national_digits_once() {
        let forms = PhoneForms::of([Some("+506 8888-1234"), Some("(506) 8888 1234")], cr());
        assert_eq!(forms.joined(), "50688881234 88881234");
        assert!(forms
            .0
            .iter()
            .all(|(_, e164)| e164.as_deref() == Some("50688881234")));
        let national = PhoneForms::of([Some("8888-1234")], cr());
        assert_eq!(national.joined(), "50688881234 88881234");
        let extension = PhoneForms::of([Some("1001"), None], cr());
        assert_eq!(extension.0, [("1001".to_owned(), None)]);
        assert_eq!(PhoneForms::of([None, Some("n/a")], cr()).joined(), "");
    }

    #[test]
    fn endings_need_seven_digits() {
        assert!(same_by_ending("50682375850", "82375850"));
        assert!(!same_by_ending("50682375850", "92375850"));
        assert!(!same_by_ending("1001", "21001"));
        assert_eq!(tail_of("50682375850"), Some("2375850"));
        assert_eq!(tail_of("2375850"), Some("2375850"));
        assert_eq!(tail_of("375850"), None);
    }

    #[test]
    fn the_e164_form_comes_first_only_for_valid_numbers() {
        // The rule `e164_of` relies on, checked against the real `equivalent_digits`.
        let valid = equivalent_digits("8888-1234", cr());
        assert_eq!(e164_of(&valid), Some("50688881234"));
        let typed = equivalent_digits("00 506 8888 1234", cr());
        assert_eq!(e164_of(&typed), Some("50688881234"), "{typed:?}");
        assert_eq!(e164_of(&equivalent_digits("1001", cr())), None);
        assert_eq!(e164_of(&equivalent_digits("8888-12", cr())), None);
        assert_eq!(e164_of(&equivalent_digits("", cr())), None);
    }
}
