//! Browser sign-in: PKCE, the random `state`, and the loopback listener that receives the
//! OAuth redirect (RFC 8252 style, like the Salesforce CLI): GET only on the redirect path
//! (404 for other paths, 405 for other methods), `state` checked, a small page telling the
//! agent to go back to Enlace, then the code is exchanged by the provider module.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use enlace_core::Crm;
use enlace_secrets::Sensitive;
use sha2::{Digest, Sha256};

use crate::account::{CrmAccount, SalesforceConfig, Tokens, ZohoConfig};
use crate::error::CrmError;
use crate::http::Http;
use crate::{salesforce, zoho};

/// `n` random bytes as base64url without padding.
pub(crate) fn random_token(n: usize) -> Result<String, CrmError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| CrmError::Internal {
        detail: format!("no randomness from the OS: {e}"),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PKCE verifier: 64 random bytes → 86 base64url characters (RFC 7636 allows 43–128).
pub(crate) fn pkce_verifier() -> Result<Sensitive<String>, CrmError> {
    random_token(64).map(Sensitive::new)
}

/// A browser sign-in in progress: the loopback listener is bound; open
/// [`PendingSignIn::authorize_url`] in the system browser, then call [`PendingSignIn::finish`].
pub struct PendingSignIn {
    listener: Loopback,
    authorize_url: String,
    redirect_uri: String,
    state: String,
    flow: Flow,
}

enum Flow {
    Salesforce {
        config: SalesforceConfig,
        verifier: Sensitive<String>,
    },
    Zoho {
        config: ZohoConfig,
    },
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let crm = match self.flow {
            Flow::Salesforce { .. } => Crm::Salesforce,
            Flow::Zoho { .. } => Crm::Zoho,
        };
        f.debug_struct("PendingSignIn")
            .field("crm", &crm)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl PendingSignIn {
    /// Bind `http://localhost:{redirect_port}/OauthRedirect` and prepare the authorize URL
    /// (Web Server flow, PKCE S256, random state, `prompt=login`).
    pub fn salesforce(config: &SalesforceConfig) -> Result<PendingSignIn, CrmError> {
        let listener = Loopback::bind(config.redirect_port, "/OauthRedirect")?;
        let redirect_uri = listener.redirect_uri();
        let state = random_token(16)?;
        let verifier = pkce_verifier()?;
        let authorize_url = salesforce::authorize_url(
            config,
            &redirect_uri,
            &state,
            &pkce_challenge(verifier.expose()),
        );
        Ok(PendingSignIn {
            listener,
            authorize_url,
            redirect_uri,
            state,
            flow: Flow::Salesforce {
                config: config.clone(),
                verifier,
            },
        })
    }

    /// Bind `http://localhost:{redirect_port}/callback` and prepare the authorize URL
    /// (`access_type=offline`, `prompt=consent`, random state).
    pub fn zoho(config: &ZohoConfig) -> Result<PendingSignIn, CrmError> {
        let listener = Loopback::bind(config.redirect_port, "/callback")?;
        let redirect_uri = listener.redirect_uri();
        let state = random_token(16)?;
        let authorize_url = zoho::authorize_url(config, &redirect_uri, &state);
        Ok(PendingSignIn {
            listener,
            authorize_url,
            redirect_uri,
            state,
            flow: Flow::Zoho {
                config: config.clone(),
            },
        })
    }

    /// The URL to open in the system browser.
    pub fn authorize_url(&self) -> &str {
        &self.authorize_url
    }

    /// The loopback redirect URI (with the real port when the configured one was 0); it must
    /// be registered in the connected app / API console character for character.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Wait (up to `timeout`) for the browser to come back, answer it with a small page, then
    /// exchange the code for tokens.
    pub fn finish(self, timeout: Duration) -> Result<(CrmAccount, Tokens), CrmError> {
        let crm = match self.flow {
            Flow::Salesforce { .. } => Crm::Salesforce,
            Flow::Zoho { .. } => Crm::Zoho,
        };
        let params = self.listener.wait(&self.state, crm, timeout)?;
        let code = params.get("code").cloned().unwrap_or_default();
        let http = Http::new();
        let (account, tokens) = match &self.flow {
            Flow::Salesforce { config, verifier } => salesforce::exchange_code(
                &http,
                config,
                &self.redirect_uri,
                &Sensitive::new(code),
                verifier,
            )?,
            Flow::Zoho { config } => zoho::exchange_code(
                &http,
                config,
                &self.redirect_uri,
                &Sensitive::new(code),
                params.get("accounts-server").map(String::as_str),
                params.get("location").map(String::as_str),
                &enlace_core::SystemClock,
            )?,
        };
        tokens.check_fits_keyring()?;
        Ok((account, tokens))
    }
}

/// Sign in to Salesforce with the (legacy) username-password flow. `password_and_token` is
/// the password with the security token appended.
pub fn salesforce_password_sign_in(
    config: &SalesforceConfig,
    username: &str,
    password_and_token: &Sensitive<String>,
) -> Result<(CrmAccount, Tokens), CrmError> {
    let (account, tokens) =
        salesforce::password_sign_in(&Http::new(), config, username, password_and_token)?;
    tokens.check_fits_keyring()?;
    Ok((account, tokens))
}

/// The loopback listener: IPv4 `127.0.0.1` always, IPv6 `::1` on the same port when possible
/// (browsers may resolve `localhost` to either).
struct Loopback {
    listeners: Vec<TcpListener>,
    port: u16,
    path: &'static str,
}

const PAGE_OK: &str = "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
<title>Enlace</title></head><body style=\"font-family:sans-serif;margin:3em\">\
<h1>Listo</h1><p>Ya puede volver a Enlace. Puede cerrar esta pestaña.</p>\
<p lang=\"en\">You can go back to Enlace and close this tab.</p></body></html>";
const PAGE_DENIED: &str = "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
<title>Enlace</title></head><body style=\"font-family:sans-serif;margin:3em\">\
<h1>Inicio de sesión cancelado</h1><p>Vuelva a Enlace para intentarlo de nuevo.</p>\
<p lang=\"en\">Sign-in was cancelled. Go back to Enlace to try again.</p></body></html>";
const PAGE_BAD: &str = "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
<title>Enlace</title></head><body style=\"font-family:sans-serif;margin:3em\">\
<h1>Enlace no reconoce este inicio de sesión</h1>\
<p>Inicie sesión desde Enlace (Configuración).</p></body></html>";
const MAX_REQUEST_HEAD: usize = 16 * 1024;

impl Loopback {
    fn bind(port: u16, path: &'static str) -> Result<Loopback, CrmError> {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
            let detail = if e.kind() == ErrorKind::AddrInUse {
                "another program uses it (the Salesforce CLI uses 1717 too); close it or \
                 change the port in Configuración"
                    .to_owned()
            } else {
                format!("{:?}", e.kind())
            };
            CrmError::RedirectPort { port, detail }
        })?;
        let port = v4
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| CrmError::RedirectPort {
                port,
                detail: format!("{:?}", e.kind()),
            })?;
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            listeners.push(v6);
        }
        for l in &listeners {
            l.set_nonblocking(true)
                .map_err(|e| CrmError::RedirectPort {
                    port,
                    detail: format!("{:?}", e.kind()),
                })?;
        }
        Ok(Loopback {
            listeners,
            port,
            path,
        })
    }

    fn redirect_uri(&self) -> String {
        format!("http://localhost:{}{}", self.port, self.path)
    }

    /// Serve connections until one brings the redirect with our `state`: its query
    /// parameters, or `AccessDenied` when the browser reports an error.
    fn wait(
        &self,
        state: &str,
        crm: Crm,
        timeout: Duration,
    ) -> Result<HashMap<String, String>, CrmError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut accepted = false;
            for listener in &self.listeners {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted = true;
                        if let Some(outcome) = self.serve(stream, state, crm) {
                            return outcome;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => {
                        tracing::debug!(kind = ?e.kind(), "loopback accept failed");
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(CrmError::SignInTimeout { waited: timeout });
            }
            if !accepted {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Answer one connection. `Some` ends the wait (code or error with a valid state).
    fn serve(
        &self,
        mut stream: TcpStream,
        state: &str,
        crm: Crm,
    ) -> Option<Result<HashMap<String, String>, CrmError>> {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let Some(head) = read_head(&mut stream) else {
            respond(&mut stream, 400, "Bad Request", PAGE_BAD);
            return None;
        };
        let request_line = head.lines().next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != self.path {
            respond(&mut stream, 404, "Not Found", PAGE_BAD);
            return None;
        }
        if method != "GET" {
            respond(&mut stream, 405, "Method Not Allowed", PAGE_BAD);
            return None;
        }
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if !params
            .get("state")
            .is_some_and(|s| constant_time_eq(s.as_bytes(), state.as_bytes()))
        {
            respond(&mut stream, 400, "Bad Request", PAGE_BAD);
            return None;
        }
        if let Some(error) = params.get("error") {
            respond(&mut stream, 200, "OK", PAGE_DENIED);
            let description = params
                .get("error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            return Some(Err(CrmError::AccessDenied {
                crm,
                detail: format!("{error}{description}"),
            }));
        }
        if params.get("code").is_none_or(String::is_empty) {
            respond(&mut stream, 400, "Bad Request", PAGE_BAD);
            return None;
        }
        respond(&mut stream, 200, "OK", PAGE_OK);
        Some(Ok(params))
    }
}

fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
    String::from_utf8(buf).ok()
}

fn respond(stream: &mut TcpStream, status: u16, reason: &str, page: &str) {
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         {allow}Connection: close\r\n\r\n",
        page.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(page.as_bytes());
    let _ = stream.flush();
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_random_base64url() {
        let a = pkce_verifier().expect("random");
        let b = pkce_verifier().expect("random");
        assert_eq!(a.expose().len(), 86);
        assert_ne!(a.expose(), b.expose());
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    fn send_raw(port: u16, request: &str) -> String {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        s.write_all(request.as_bytes()).expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn loopback_rejects_wrong_paths_methods_and_states_then_accepts_the_redirect() {
        let lb = Loopback::bind(0, "/callback").expect("bind");
        let port = lb.port;
        let client = std::thread::spawn(move || {
            let not_found = send_raw(port, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n");
            let not_allowed = send_raw(port, "POST /callback?state=s1&code=c HTTP/1.1\r\n\r\n");
            let bad_state = send_raw(port, "GET /callback?state=forged&code=c HTTP/1.1\r\n\r\n");
            let ok = send_raw(
                port,
                "GET /callback?state=s1&code=1000.abc&location=eu HTTP/1.1\r\nHost: x\r\n\r\n",
            );
            (not_found, not_allowed, bad_state, ok)
        });
        let params = lb
            .wait("s1", Crm::Zoho, Duration::from_secs(20))
            .expect("redirect");
        let (not_found, not_allowed, bad_state, ok) = client.join().expect("client");
        assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
        assert!(not_allowed.starts_with("HTTP/1.1 405"), "{not_allowed}");
        assert!(bad_state.starts_with("HTTP/1.1 400"), "{bad_state}");
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.contains("volver a Enlace"),
            "{ok}"
        );
        assert_eq!(params.get("code").map(String::as_str), Some("1000.abc"));
        assert_eq!(params.get("location").map(String::as_str), Some("eu"));
    }

    #[test]
    fn loopback_reports_denial_and_timeout() {
        let lb = Loopback::bind(0, "/OauthRedirect").expect("bind");
        let port = lb.port;
        let client = std::thread::spawn(move || {
            send_raw(
                port,
                "GET /OauthRedirect?error=access_denied&error_description=end-user+denied&state=s HTTP/1.1\r\n\r\n",
            )
        });
        let err = lb
            .wait("s", Crm::Salesforce, Duration::from_secs(20))
            .expect_err("denied");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmAccessDenied);
        assert!(err.to_string().contains("end-user denied"));
        assert!(client.join().expect("client").contains("cancelado"));

        let err = lb
            .wait("s", Crm::Salesforce, Duration::from_millis(50))
            .expect_err("timeout");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmSignInTimeout);
    }

    #[test]
    fn a_busy_port_is_a_clear_setting_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let err = Loopback::bind(port, "/callback").err().expect("busy");
        assert_eq!(err.code(), enlace_core::ErrorCode::InvalidSetting);
        assert!(err.to_string().contains(&port.to_string()));
    }
}
