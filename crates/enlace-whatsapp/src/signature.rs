//! Who may talk to the webhook: the subscription handshake (`GET`, api-facts C1) and the
//! `X-Hub-Signature-256` HMAC over the raw body of every event (`POST`, C2).
//!
//! Both checks compare in constant time. Neither logs nor returns the secret, the verify token
//! or the received signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Meta signs every webhook POST with.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Longest `hub.challenge` echoed back (Meta sends a number of about ten digits).
pub const MAX_CHALLENGE_LEN: usize = 256;

/// The Meta app secret, the key of the webhook HMAC. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AppSecret(String);

impl AppSecret {
    pub fn new(secret: impl Into<String>) -> AppSecret {
        AppSecret(secret.into())
    }

    /// The secret itself, to store it: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

/// The outcome of checking `X-Hub-Signature-256` against a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The HMAC of the raw body with the app secret matches.
    Valid,
    /// No header at all.
    Missing,
    /// A header that is not `sha256=` followed by 64 hex digits.
    Malformed,
    /// A well-formed signature of some other body or key (or the app secret is empty).
    Mismatch,
}

impl SignatureCheck {
    pub fn is_valid(self) -> bool {
        self == SignatureCheck::Valid
    }

    /// Stable code of a refusal (`None` when valid): `whatsapp_signature_missing`,
    /// `whatsapp_signature_malformed`, `whatsapp_signature_mismatch`. All answer HTTP 401.
    pub fn code(self) -> Option<&'static str> {
        match self {
            SignatureCheck::Valid => None,
            SignatureCheck::Missing => Some("whatsapp_signature_missing"),
            SignatureCheck::Malformed => Some("whatsapp_signature_malformed"),
            SignatureCheck::Mismatch => Some("whatsapp_signature_mismatch"),
        }
    }
}

/// Checks `header` (the value of [`SIGNATURE_HEADER`], `None` when absent) against the raw
/// request `body`, byte for byte as received: a body parsed and serialized again does not match.
/// An empty app secret matches nothing, so a half-configured number accepts no events.
pub fn verify_signature(secret: &AppSecret, header: Option<&str>, body: &[u8]) -> SignatureCheck {
    let Some(header) = header else {
        return SignatureCheck::Missing;
    };
    let header = header.trim();
    let Some(hex) = header
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("sha256="))
        .map(|_| &header[7..])
    else {
        return SignatureCheck::Malformed;
    };
    let Some(claimed) = decode_hex_32(hex) else {
        return SignatureCheck::Malformed;
    };
    if secret.0.is_empty() {
        return SignatureCheck::Mismatch;
    }
    // verify_slice compares in constant time.
    match hmac_of(secret, body).verify_slice(&claimed) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Mismatch,
    }
}

/// The header value Meta would send for `body`: `sha256=` and the lowercase hex HMAC. For
/// doubles and tests.
pub fn sign(secret: &AppSecret, body: &[u8]) -> String {
    let digest = hmac_of(secret, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn hmac_of(secret: &AppSecret, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: new_from_slice never fails for it. Were it to, a zero
    // key of the block size matches no signature made with the real secret.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.0.as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(body);
    mac
}

fn decode_hex_32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Why the subscription handshake was refused (answer 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionRefused {
    /// `hub.mode` is missing or not `subscribe`.
    #[error("hub.mode is not subscribe")]
    WrongMode,
    /// `hub.verify_token` is missing or differs from the configured one (or none is configured).
    #[error("the verify token does not match")]
    WrongToken,
    /// `hub.challenge` is missing, empty, too long or not printable ASCII.
    #[error("hub.challenge is missing or invalid")]
    BadChallenge,
}

impl SubscriptionRefused {
    /// Stable code: `whatsapp_subscription_refused` (the reason stays in the message).
    pub fn code(self) -> &'static str {
        "whatsapp_subscription_refused"
    }
}

/// The `GET` handshake (api-facts C1): with `hub.mode=subscribe` and a `hub.verify_token` equal
/// to `expected_token`, the challenge to answer with (200, plain text, exactly these bytes);
/// otherwise why to answer 403. An empty `expected_token` refuses every request.
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Result<String, SubscriptionRefused> {
    if mode != Some("subscribe") {
        return Err(SubscriptionRefused::WrongMode);
    }
    let token = token.unwrap_or("");
    let matches: bool = token.as_bytes().ct_eq(expected_token.as_bytes()).into();
    if expected_token.is_empty() || !matches {
        return Err(SubscriptionRefused::WrongToken);
    }
    match challenge {
        Some(c)
            if !c.is_empty()
                && c.len() <= MAX_CHALLENGE_LEN
                && c.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(c.to_owned())
        }
        _ => Err(SubscriptionRefused::BadChallenge),
    }
}

/// [`verify_subscription`] on a raw query string (`hub.mode=subscribe&hub.verify_token=…`),
/// percent-decoded; a repeated key takes its first value.
pub fn verify_subscription_query(
    query: &str,
    expected_token: &str,
) -> Result<String, SubscriptionRefused> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "hub.mode" => &mut mode,
            "hub.verify_token" => &mut token,
            "hub.challenge" => &mut challenge,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    verify_subscription(
        mode.as_deref(),
        token.as_deref(),
        challenge.as_deref(),
        expected_token,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[]}]}"#;

    fn secret() -> AppSecret {
        AppSecret::new("app-secret-123")
    }

    #[test]
    fn a_signature_of_the_raw_bytes_is_valid() {
        let header = sign(&secret(), BODY);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 71);
        assert_eq!(
            verify_signature(&secret(), Some(&header), BODY),
            SignatureCheck::Valid
        );
        // Upper-case hex and surrounding blanks are the same signature.
        let upper = format!("  sha256={} ", header[7..].to_ascii_uppercase());
        assert!(verify_signature(&secret(), Some(&upper), BODY).is_valid());
    }

    #[test]
    fn a_known_vector_matches() {
        // The widely published HMAC-SHA256 example: key "key", the quick brown fox.
        let header = sign(
            &AppSecret::new("key"),
            b"The quick brown fox jumps over the lazy dog",
        );
        assert_eq!(
            header,
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn missing_malformed_and_wrong_signatures_are_refused() {
        let good = sign(&secret(), BODY);
        assert_eq!(
            verify_signature(&secret(), None, BODY),
            SignatureCheck::Missing
        );
        for bad in [
            "",
            "sha256=",
            "sha1=0123",
            &good[7..],
            &format!("sha256={}", &good[8..]),
            &format!("sha256={}zz", &good[7..69]),
            &format!("sha256=ü{}", &good[9..]),
        ] {
            assert_eq!(
                verify_signature(&secret(), Some(bad), BODY),
                SignatureCheck::Malformed,
                "{bad:?}"
            );
        }
        // Another key.
        assert_eq!(
            verify_signature(&AppSecret::new("other"), Some(&good), BODY),
            SignatureCheck::Mismatch
        );
        // One byte of the body changed.
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        assert_eq!(
            verify_signature(&secret(), Some(&good), &changed),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            SignatureCheck::Mismatch.code(),
            Some("whatsapp_signature_mismatch")
        );
        assert_eq!(SignatureCheck::Valid.code(), None);
    }

    #[test]
    fn a_reserialized_body_does_not_match() {
        let raw = b"{\"object\": \"whatsapp_business_account\",\n \"entry\": [ ]}";
        let header = sign(&secret(), raw);
        let value: serde_json::Value = serde_json::from_slice(raw).expect("json");
        let reserialized = serde_json::to_vec(&value).expect("serialize");
        assert_ne!(reserialized.as_slice(), raw.as_slice());
        assert_eq!(
            verify_signature(&secret(), Some(&header), &reserialized),
            SignatureCheck::Mismatch
        );
        assert!(verify_signature(&secret(), Some(&header), raw).is_valid());
    }

    #[test]
    fn an_empty_app_secret_matches_nothing() {
        let empty = AppSecret::new("");
        let header = sign(&empty, BODY);
        assert_eq!(
            verify_signature(&empty, Some(&header), BODY),
            SignatureCheck::Mismatch
        );
    }

    #[test]
    fn the_secret_is_not_in_debug() {
        assert!(!format!("{:?}", secret()).contains("app-secret-123"));
    }

    #[test]
    fn subscription_echoes_the_challenge_only_for_the_right_token() {
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("tok"), Some("1158201444"), "tok"),
            Ok("1158201444".to_owned())
        );
        let cases = [
            (
                None,
                Some("tok"),
                Some("1"),
                "tok",
                SubscriptionRefused::WrongMode,
            ),
            (
                Some("unsubscribe"),
                Some("tok"),
                Some("1"),
                "tok",
                SubscriptionRefused::WrongMode,
            ),
            (
                Some("subscribe"),
                Some("tok2"),
                Some("1"),
                "tok",
                SubscriptionRefused::WrongToken,
            ),
            (
                Some("subscribe"),
                None,
                Some("1"),
                "tok",
                SubscriptionRefused::WrongToken,
            ),
            (
                Some("subscribe"),
                Some(""),
                Some("1"),
                "",
                SubscriptionRefused::WrongToken,
            ),
            (
                Some("subscribe"),
                Some("tok"),
                None,
                "tok",
                SubscriptionRefused::BadChallenge,
            ),
            (
                Some("subscribe"),
                Some("tok"),
                Some("a b"),
                "tok",
                SubscriptionRefused::BadChallenge,
            ),
        ];
        for (mode, token, challenge, expected, why) in cases {
            assert_eq!(
                verify_subscription(mode, token, challenge, expected),
                Err(why),
                "{mode:?} {token:?} {challenge:?} {expected:?}"
            );
        }
        let long = "9".repeat(MAX_CHALLENGE_LEN + 1);
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("tok"), Some(&long), "tok"),
            Err(SubscriptionRefused::BadChallenge)
        );
    }

    #[test]
    fn subscription_from_a_query_string() {
        assert_eq!(
            verify_subscription_query(
                "hub.mode=subscribe&hub.verify_token=a%2Bb%20c&hub.challenge=1158201444",
                "a+b c"
            ),
            Ok("1158201444".to_owned())
        );
        assert_eq!(
            verify_subscription_query("hub.mode=subscribe&hub.challenge=1", "tok"),
            Err(SubscriptionRefused::WrongToken)
        );
        assert_eq!(
            verify_subscription_query("", "tok"),
            Err(SubscriptionRefused::WrongMode)
        );
    }
}
