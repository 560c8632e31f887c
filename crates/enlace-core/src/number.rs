//! Customer numbers: one identity for a phone number whichever way it arrives — a WhatsApp
//! `wa_id`, a number typed on the dial pad, a `tel:` link, a CRM field — so that the same
//! customer is one conversation, matches the CRM contact and is the same number on a call card.
//!
//! [`CustomerNumber`] resolves a number into three things:
//!
//! * a [`NumberKey`]: digits that key the customer (conversations, caller ID);
//! * the E.164 string to show and dial ([`CustomerNumber::e164`]);
//! * every digit form the number may be stored under ([`CustomerNumber::equivalent_forms`]),
//!   the key first; [`equivalent_digits`] adds the digits as typed and is what calls, chats,
//!   the contacts cache and the CRM searches use.
//!
//! Country rules, applied to mobiles only (libphonenumber metadata decides what a mobile is):
//!
//! * **Mexico** retired the `1` after `+52` in 2019: `521 55 1234 5678` (still the wa_id of many
//!   mobiles) and `52 55 1234 5678` are one number; the key and E.164 have no `1`.
//! * **Argentina** dials mobiles as `+54 9 <area> <number>` from abroad and
//!   `0<area> 15 <number>` at home. The `9` and the `15` only say "a mobile is being called":
//!   area plus number is unique across fixed and mobile lines, so the key is `54` + area +
//!   number (no `9`), and `549…`, `54 <area> 15 …` and `54 <area> …` share it. The E.164 keeps
//!   the `9` when the input said mobile (it is what must be dialed from abroad).
//! * **Brazil** gave every mobile a leading `9` (2012–2016); contacts and some wa_ids still lack
//!   it. An 8-digit number starting 6 to 9 after the 2-digit area code that is not valid as it
//!   is gets the `9` when that makes a valid mobile; landlines (2 to 5) never do. The key and
//!   E.164 have the `9`.
//!
//! To extend: add a country's variants in `CustomerNumber::from_e164` and rows to
//! `tests/customer_number.rs`; the property tests check that every form resolves to the key.

use crate::dial::numbering::{self, NumberFacts};
use crate::dial::{parse_dial_uri, Country, DialError, DialTarget, MAX_INPUT_BYTES};

/// Most digits accepted in a wa_id or international number: 15 (E.164) plus an Argentine `15`.
const MAX_INTERNATIONAL_DIGITS: usize = 17;

/// The digits that identify a customer's number across calls, WhatsApp and CRMs: the country
/// code and national number in today's numbering plan, without dialing-only marks (Mexico's
/// `1`, Argentina's mobile `9`) and with Brazil's ninth digit (`525512345678`,
/// `541161234567`, `5511987654321`). Resolving a key again gives the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberKey(String);

impl NumberKey {
    /// The key of a stored key or any international digits (a wa_id); `None` when they are
    /// not a valid number.
    pub fn parse(digits: &str) -> Option<NumberKey> {
        CustomerNumber::from_wa_id(digits)
            .ok()
            .map(CustomerNumber::into_key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NumberKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for NumberKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A customer's phone number, resolved: its [`NumberKey`], its E.164 string and its equivalent
/// digit forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerNumber {
    key: NumberKey,
    e164: String,
    country: Option<Country>,
    /// International forms (the key first), then national forms from `national_from` on.
    forms: Vec<String>,
    national_from: usize,
}

impl CustomerNumber {
    /// A WhatsApp `wa_id` (digits with the country code, no `+`), or any number written with
    /// its country code. Surrounding whitespace and a leading `+` are accepted. Never panics.
    pub fn from_wa_id(wa_id: &str) -> Result<CustomerNumber, DialError> {
        if wa_id.len() > MAX_INPUT_BYTES {
            return Err(DialError::TooLong);
        }
        let trimmed = wa_id.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if digits.is_empty() {
            return Err(DialError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DialError::NotAPhoneNumber);
        }
        if digits.len() > MAX_INTERNATIONAL_DIGITS {
            return Err(DialError::InvalidNumber);
        }
        numbering::international_e164(digits)
            .and_then(CustomerNumber::from_e164)
            .ok_or(DialError::InvalidNumber)
    }

    /// A number typed, dialed or clicked (`tel:`/`callto:`/`sip:` links too), national
    /// numbers read in `default_country`. An extension (`4000`) is not a customer number:
    /// [`DialError::NotAPhoneNumber`]. An `;ext=` is dropped: it reaches the same line.
    pub fn parse(input: &str, default_country: Country) -> Result<CustomerNumber, DialError> {
        match parse_dial_uri(input, default_country)? {
            DialTarget::Number { e164, .. } => {
                CustomerNumber::from_e164(e164).ok_or(DialError::InvalidNumber)
            }
            DialTarget::Extension(_) => Err(DialError::NotAPhoneNumber),
        }
    }

    /// The key of this customer's number.
    pub fn key(&self) -> &NumberKey {
        &self.key
    }

    pub fn into_key(self) -> NumberKey {
        self.key
    }

    /// The E.164 string to show and dial (`+5491161234567`).
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The international format an agent reads (`+54 9 11 6123-4567`).
    pub fn display(&self) -> String {
        numbering::international(&self.e164).unwrap_or_else(|| self.e164.clone())
    }

    /// What to hand the phone line.
    pub fn dial_target(&self) -> DialTarget {
        DialTarget::Number {
            e164: self.e164.clone(),
            extension: None,
        }
    }

    /// The number's country (`AR`), when it belongs to one region.
    pub fn country(&self) -> Option<Country> {
        self.country
    }

    /// Every digit form of the number, without duplicates: the international ones (the key
    /// first) then the national ones.
    pub fn equivalent_forms(&self) -> &[String] {
        &self.forms
    }

    /// The forms with the country code (`541161234567`, `5491161234567`,
    /// `54111561234567`); each resolves to the key as a wa_id.
    pub fn international_forms(&self) -> &[String] {
        self.forms.get(..self.national_from).unwrap_or(&[])
    }

    /// The forms without the country code (`1161234567`, `111561234567`); each resolves to
    /// the key as a national number of [`CustomerNumber::country`].
    pub fn national_forms(&self) -> &[String] {
        self.forms.get(self.national_from..).unwrap_or(&[])
    }

    fn into_forms(self) -> Vec<String> {
        self.forms
    }

    /// Resolve a valid E.164 string (already through the dial rules: Mexico's `1` removed,
    /// Brazil's ninth digit added).
    fn from_e164(e164: String) -> Option<CustomerNumber> {
        let facts = numbering::facts(&e164)?;
        let digits = e164.strip_prefix('+')?.to_owned();
        let NumberFacts { code, national, .. } = &facts;
        let mut forms = Forms::default();
        let key = match code.as_str() {
            "54" => argentina(&facts, &digits, &mut forms),
            "52" => {
                forms.international(digits.clone());
                if national.len() == 10 {
                    forms.international(format!("521{national}"));
                }
                forms.national(national.clone());
                digits.clone()
            }
            "55" => {
                forms.international(digits.clone());
                forms.national(national.clone());
                if let Some(without) = brazil_without_nine(&facts) {
                    forms.international(format!("55{without}"));
                    forms.national(without);
                }
                digits.clone()
            }
            _ => {
                forms.international(digits.clone());
                forms.national(national.clone());
                digits.clone()
            }
        };
        let national_from = forms.international.len();
        let mut all = forms.international;
        all.extend(forms.national);
        Some(CustomerNumber {
            key: NumberKey(key),
            e164,
            country: facts.region,
            forms: all,
            national_from,
        })
    }
}

/// International and national forms being collected, without duplicates.
#[derive(Default)]
struct Forms {
    international: Vec<String>,
    national: Vec<String>,
}

impl Forms {
    fn international(&mut self, form: String) {
        if !self.international.contains(&form) {
            self.international.push(form);
        }
    }

    fn national(&mut self, form: String) {
        if !self.national.contains(&form) && !self.international.contains(&form) {
            self.national.push(form);
        }
    }
}

/// Argentina: the key is `54` + area + number; the forms add the mobile ones (`549…`,
/// `54 <area> 15 …`) whenever the metadata says area + number is a mobile when dialed with
/// the `9`. Returns the key.
fn argentina(facts: &NumberFacts, digits: &str, forms: &mut Forms) -> String {
    let national = facts.national.as_str();
    let subscriber = match national.strip_prefix('9') {
        Some(rest) if facts.mobile && national.len() == 11 => rest,
        _ => national,
    };
    let key = format!("54{subscriber}");
    forms.international(key.clone());
    forms.international(digits.to_owned());
    let variant: Option<NumberFacts>;
    let mobile: Option<&NumberFacts> = if subscriber.len() != national.len() {
        Some(facts) // the `9` form: a mobile already
    } else if national.len() == 10 {
        variant = numbering::facts(&format!("+549{subscriber}")).filter(|m| m.mobile);
        variant.as_ref()
    } else {
        None
    };
    let mut national_forms = vec![subscriber.to_owned()];
    if let Some(m) = mobile {
        forms.international(format!("549{subscriber}"));
        // `011 15-6123-4567` → `111561234567`: area, 15, number.
        let with_15 = m
            .national_format_digits
            .strip_prefix('0')
            .unwrap_or(&m.national_format_digits);
        if with_15.len() == subscriber.len() + 2 && with_15.contains("15") {
            forms.international(format!("54{with_15}"));
            national_forms.push(with_15.to_owned());
        }
    }
    for form in national_forms {
        forms.national(form);
    }
    key
}

/// Brazil: the form of a 9-digit mobile without its ninth digit (`11 98765-4321` →
/// `1187654321`) when that form resolves back to it: the old 8-digit shape (6 to 9) that is
/// not a valid number by itself.
fn brazil_without_nine(facts: &NumberFacts) -> Option<String> {
    let national = facts.national.as_str();
    if !facts.mobile || national.len() != 11 || national.get(2..3) != Some("9") {
        return None;
    }
    let without = format!("{}{}", national.get(..2)?, national.get(3..)?);
    numbering::brazil_ninth_digit(&format!("55{without}"))?;
    if numbering::facts(&format!("+55{without}")).is_some() {
        return None; // a different valid number (a 10-digit mobile starting 7)
    }
    Some(without)
}

/// The digit-only forms under which the same phone number may be stored or searched (in a
/// CRM, the contacts cache, a conversation), without duplicates: for a valid number the
/// [`CustomerNumber::equivalent_forms`] (the [`NumberKey`] first, then the other
/// international forms, then the national ones: `50688881234`, `88881234`), then the digits
/// as typed when they differ (`0050688881234`). Input that is not a valid number yields only
/// its digits (empty when it has none), so a partial number typed in a search box still finds
/// something. One function for calls and chats.
pub fn equivalent_digits(input: &str, default_country: Country) -> Vec<String> {
    let mut forms = CustomerNumber::parse(input, default_country)
        .map(CustomerNumber::into_forms)
        .unwrap_or_default();
    let typed: String = input
        .chars()
        .take(MAX_INPUT_BYTES)
        .filter(char::is_ascii_digit)
        .collect();
    if !typed.is_empty() && !forms.contains(&typed) {
        forms.push(typed);
    }
    forms
}
