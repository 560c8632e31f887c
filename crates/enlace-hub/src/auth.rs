//! Logins and sessions: argon2id password hashes, opaque random session tokens stored only as
//! SHA-256 hashes, idle expiry renewed on use with an absolute maximum, and throttling of
//! failed logins per user and per address.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::agents::AgentState;
use crate::error::HubError;
use crate::store::AgentRow;
use crate::Hub;

/// Failures counted in this window (ms).
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures of one user before logins for it are delayed.
pub const USER_FAILURE_LIMIT: i64 = 5;
/// Failures from one address before logins from it are delayed. Higher than the user limit
/// because a whole contact center often shares one public address.
pub const ADDRESS_FAILURE_LIMIT: i64 = 20;
const BASE_DELAY_MS: i64 = 30_000;
const MAX_DELAY_MS: i64 = 15 * 60 * 1000;

/// argon2id cost. The defaults follow OWASP (19 MiB, 2 passes); tests use a cheap one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

fn argon2(cost: PasswordCost) -> Result<Argon2<'static>, HubError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| HubError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HubError> {
    let mut buf = [0_u8; N];
    getrandom::fill(&mut buf).map_err(|e| HubError::Internal(format!("randomness: {e}")))?;
    Ok(buf)
}

/// Hashes a password into a PHC string (`$argon2id$…`), parameters included.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String, HubError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| HubError::Internal(format!("salt: {e}")))?;
    argon2(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HubError::Internal(format!("hashing: {e}")))
}

/// Checks a password against a stored PHC string; malformed hashes never match.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new session token: 32 random bytes, base64url without padding.
pub fn new_token() -> Result<String, HubError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random code of `digits` decimal digits (first digit non-zero for users).
pub fn random_digits(digits: usize, leading_nonzero: bool) -> Result<String, HubError> {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        // Rejection sampling keeps the digits uniform.
        for b in random_bytes::<16>()? {
            if b >= 250 || out.len() == digits {
                continue;
            }
            let d = b % 10;
            if out.is_empty() && leading_nonzero && d == 0 {
                continue;
            }
            out.push(char::from(b'0' + d));
        }
    }
    Ok(out)
}

pub fn is_valid_user(user: &str) -> bool {
    user.len() == 7 && user.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_valid_password(password: &str) -> bool {
    password.len() == 6 && password.bytes().all(|b| b.is_ascii_digit())
}

/// Delay imposed after `failures` failures against a limit, or none.
fn throttle_delay(failures: i64, limit: i64) -> Option<i64> {
    if failures < limit {
        return None;
    }
    let doublings = u32::try_from((failures - limit).min(10)).unwrap_or(10);
    Some((BASE_DELAY_MS.saturating_mul(1_i64 << doublings)).min(MAX_DELAY_MS))
}

/// A successful login. `Debug` leaves the token out.
#[derive(Clone)]
pub struct Login {
    pub token: String,
    pub expires_at: i64,
    pub agent: AgentRow,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("token", &crate::config::REDACTED)
            .field("expires_at", &self.expires_at)
            .field("agent", &self.agent)
            .finish()
    }
}

/// A request's verified session. `Debug` leaves the token's hash out.
#[derive(Clone)]
pub struct Authed {
    pub agent: AgentRow,
    pub token_hash: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for Authed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authed")
            .field("agent", &self.agent)
            .field("token_hash", &crate::config::REDACTED)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Hub {
    fn ms(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    async fn retry_after(
        &self,
        user: &str,
        address: &str,
        now: i64,
    ) -> Result<Option<u64>, HubError> {
        let since = now - FAILURE_WINDOW_MS;
        let (mut user_n, mut user_last) = self.store().failures_for_user(user, since).await?;
        let (mut addr_n, mut addr_last) = self.store().failures_for_address(address, since).await?;
        if user_last.max(addr_last).is_some_and(|last| last > now) {
            // Failures stamped in the future: the clock jumped back. They are re-stamped to
            // now, so they still count and the delay runs from now, not from the future.
            self.store().restamp_future_failures(now).await?;
            (user_n, user_last) = self.store().failures_for_user(user, since).await?;
            (addr_n, addr_last) = self.store().failures_for_address(address, since).await?;
        }
        let mut until = 0_i64;
        if let (Some(delay), Some(last)) = (throttle_delay(user_n, USER_FAILURE_LIMIT), user_last) {
            until = until.max(last + delay);
        }
        if let (Some(delay), Some(last)) =
            (throttle_delay(addr_n, ADDRESS_FAILURE_LIMIT), addr_last)
        {
            until = until.max(last + delay);
        }
        if until > now {
            let secs = (until - now + 999) / 1000;
            Ok(Some(u64::try_from(secs).unwrap_or(1)))
        } else {
            Ok(None)
        }
    }

    /// Checks the credentials and opens a session. The agent becomes available (and joins its
    /// queues) unless it was already logged in from another session.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        address: &str,
    ) -> Result<Login, HubError> {
        // One attempt at a time per user, so parallel guesses cannot outrun the throttle.
        let user_lock = self.login_lock(user);
        let _serialized = user_lock.lock().await;
        let now = self.now();
        if let Some(retry_after_secs) = self.retry_after(user, address, now).await? {
            return Err(HubError::Throttled { retry_after_secs });
        }
        let well_formed = is_valid_user(user) && is_valid_password(password);
        let agent = if well_formed {
            self.store().agent_by_user(user).await?
        } else {
            None
        };
        let phc = agent
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| self.inner.dummy_hash.clone());
        let candidate = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&candidate, &phc))
            .await
            .map_err(|e| HubError::Internal(format!("verifier task: {e}")))?;
        let agent = match agent {
            Some(agent) if matches && well_formed => agent,
            _ => {
                // Keep the recorded user bounded: it is untrusted input.
                let recorded: String = user.chars().take(32).collect();
                self.store()
                    .record_login_failure(&recorded, address, now)
                    .await?;
                return Err(HubError::BadCredentials);
            }
        };
        if agent.disabled {
            return Err(HubError::AgentDisabled);
        }
        self.store().clear_user_failures(user).await?;
        let token = new_token()?;
        let expires_at = self.session_expiry(now, now);
        self.store()
            .insert_session(&token_hash(&token), agent.id, now, expires_at, address)
            .await?;
        if matches!(
            self.agent_state(agent.id).await?,
            AgentState::LoggedOut { .. }
        ) {
            self.log_in_agent(&agent).await?;
        }
        Ok(Login {
            token,
            expires_at,
            agent,
        })
    }

    fn login_lock(&self, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key: String = user.chars().take(32).collect();
        match self.inner.login_locks.lock() {
            Ok(mut locks) => {
                // Forget locks nobody holds, so the map stays small.
                locks.retain(|_, l| Arc::strong_count(l) > 1);
                locks.entry(key).or_default().clone()
            }
            Err(_) => Arc::default(),
        }
    }

    fn session_expiry(&self, created_at: i64, now: i64) -> i64 {
        let idle = now.saturating_add(Self::ms(self.config().session_idle()));
        let max = created_at.saturating_add(Self::ms(self.config().session_max()));
        idle.min(max)
    }

    /// Verifies a bearer token and renews its idle expiry.
    pub async fn authenticate(&self, token: &str) -> Result<Authed, HubError> {
        if token.is_empty() || token.len() > 128 {
            return Err(HubError::SessionExpired);
        }
        let hash = token_hash(token);
        let now = self.now();
        let Some(session) = self.store().session(&hash).await? else {
            return Err(HubError::SessionExpired);
        };
        if now >= session.expires_at {
            self.store().delete_session(&hash).await?;
            return Err(HubError::SessionExpired);
        }
        let Some(agent) = self.store().agent_by_id(session.agent_id).await? else {
            self.store().delete_session(&hash).await?;
            return Err(HubError::SessionExpired);
        };
        if agent.disabled {
            self.store().delete_agent_sessions(agent.id).await?;
            return Err(HubError::AgentDisabled);
        }
        let expires_at = self.session_expiry(session.created_at, now);
        self.store().touch_session(&hash, now, expires_at).await?;
        Ok(Authed {
            agent,
            token_hash: hash,
            expires_at,
        })
    }

    /// Checks a session without renewing it (used when a stream sees its agent log out).
    pub async fn session_alive(&self, token_hash: &str) -> Result<bool, HubError> {
        let now = self.now();
        Ok(match self.store().session(token_hash).await? {
            Some(s) if now < s.expires_at => match self.store().agent_by_id(s.agent_id).await? {
                Some(agent) => !agent.disabled,
                None => false,
            },
            _ => false,
        })
    }

    /// A stream whose peer answers pings is in use: renews the idle expiry (never past the
    /// session's maximum) and says whether the session is still alive.
    pub async fn renew_session(&self, token_hash: &str) -> Result<bool, HubError> {
        if !self.session_alive(token_hash).await? {
            return Ok(false);
        }
        let now = self.now();
        if let Some(s) = self.store().session(token_hash).await? {
            let expires_at = self.session_expiry(s.created_at, now);
            self.store()
                .touch_session(token_hash, now, expires_at)
                .await?;
        }
        Ok(true)
    }

    /// Ends this session; when it was the agent's last, the agent logs out of its queues.
    pub async fn logout(&self, authed: &Authed) -> Result<(), HubError> {
        self.store().delete_session(&authed.token_hash).await?;
        if self
            .store()
            .count_agent_sessions(authed.agent.id, self.now())
            .await?
            == 0
        {
            self.log_out_agent(&authed.agent).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: PasswordCost = PasswordCost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let phc = hash_password("123456", CHEAP).expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("123456", &phc));
        assert!(!verify_password("123457", &phc));
        assert!(!verify_password("123456", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn generated_codes_have_the_right_shape() {
        for _ in 0..50 {
            let user = random_digits(7, true).expect("digits");
            assert!(is_valid_user(&user), "{user}");
            assert!(!user.starts_with('0'));
            assert!(is_valid_password(&random_digits(6, false).expect("digits")));
        }
        assert!(!is_valid_user("123456"));
        assert!(!is_valid_user("12345a7"));
        assert!(!is_valid_password("１２３４５６"));
    }

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(throttle_delay(4, 5), None);
        assert_eq!(throttle_delay(5, 5), Some(30_000));
        assert_eq!(throttle_delay(6, 5), Some(60_000));
        assert_eq!(throttle_delay(40, 5), Some(MAX_DELAY_MS));
    }
}
