//! What `enlace doctor` asks the phone line, without starting the app: the line the app would
//! use ([`doctor_line`]: the hub while a session is saved, else the configured one) and the
//! line's own answer.
//!
//! - baresip: one `reginfo` command over `ctrl_tcp` and its reply (matched by its token; events
//!   in between are skipped), within a time limit ([`ask_baresip`]). baresip keeps a single
//!   control client and a new connection drops the previous one: the caller checks first that
//!   no other program (a running Enlace) holds it.
//! - the hub: `GET /api/v1/me` with the saved session, then its event stream must come online
//!   ([`ask_hub`]).
//!
//! Everything here blocks (network, keyring): call it from a plain thread, never from a Tokio
//! runtime's.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use enlace_hub_client::{HubClient, HubEvent, StreamOptions};
use enlace_secrets::{SecretStore, SecretsError, Sensitive};
use enlace_telephony::netstring::{self, Decoder};
use enlace_telephony::protocol::{self, Message};

use crate::settings::{saved_settings, DemoLine, LineKind};

/// The token of the doctor's command (any reply with another token is not ours).
const TOKEN: &str = "enlace-doctor";
/// Largest reply frame read.
const MAX_FRAME: usize = 256 * 1024;

/// The line the app would use now.
pub enum DoctorLine {
    /// baresip's `ctrl_tcp` at this address (the configured one, or the demo line).
    Baresip(SocketAddr),
    /// Calls are handed to another program.
    HandOff,
    /// The organization's server, with the session saved in the keyring.
    Hub {
        client: HubClient,
        token: Sensitive<String>,
    },
    /// A server is configured but no session is saved: the agent has to log in.
    HubNotLoggedIn { server: String },
    /// Nothing configured.
    None,
}

impl std::fmt::Debug for DoctorLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DoctorLine::Baresip(addr) => f.debug_tuple("Baresip").field(addr).finish(),
            DoctorLine::HandOff => f.write_str("HandOff"),
            DoctorLine::Hub { client, .. } => f
                .debug_struct("Hub")
                .field("server", &client.base_url())
                .finish_non_exhaustive(),
            DoctorLine::HubNotLoggedIn { server } => f
                .debug_struct("HubNotLoggedIn")
                .field("server", server)
                .finish(),
            DoctorLine::None => f.write_str("None"),
        }
    }
}

/// The line of the settings saved in `data_dir`, as the app would start it: the hub when its
/// session token is in `secrets`, else the configured line, else `demo`.
pub fn doctor_line(data_dir: &Path, secrets: &SecretStore, demo: Option<&DemoLine>) -> DoctorLine {
    let settings = saved_settings(data_dir).unwrap_or_default();
    let server = settings.hub_server.clone();
    if !server.is_empty() && !settings.hub_user.is_empty() {
        if let Ok(client) = HubClient::new(&server) {
            match secrets.get(&crate::hub::token_ref(&server, &settings.hub_user)) {
                Ok(token) => return DoctorLine::Hub { client, token },
                Err(SecretsError::NotFound { .. }) => {}
                Err(e) => tracing::info!(code = %e.code(), "no hub session for the doctor"),
            }
        }
    }
    match settings.line_kind {
        LineKind::Baresip => match settings.baresip_ctrl_address.parse() {
            Ok(addr) => DoctorLine::Baresip(addr),
            Err(_) => DoctorLine::None,
        },
        LineKind::HandOff => DoctorLine::HandOff,
        LineKind::None | LineKind::Hub => match (demo, server.is_empty()) {
            (Some(demo), _) => DoctorLine::Baresip(demo.ctrl_addr),
            (None, false) => DoctorLine::HubNotLoggedIn { server },
            (None, true) => DoctorLine::None,
        },
    }
}

/// Asks baresip at `addr` for its accounts (`reginfo`) and returns what it says, in one line.
/// Errors say what went wrong (no connection, no reply in `timeout`, a refused command).
pub fn ask_baresip(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("no connection: {e}"))?;
    stream
        .write_all(&netstring::encode(&protocol::command_json(
            "reginfo", None, TOKEN,
        )))
        .map_err(|e| format!("could not send a command: {e}"))?;
    let mut decoder = Decoder::new(MAX_FRAME);
    let mut buf = [0u8; 8192];
    loop {
        while let Some(frame) = decoder
            .next_frame()
            .map_err(|e| format!("it does not speak ctrl_tcp: {e}"))?
        {
            match protocol::parse_message(&frame) {
                Message::Response(r) if r.token.as_deref() == Some(TOKEN) => {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return if r.ok {
                        summarize_reginfo(&r.data)
                    } else {
                        Err(format!("it refused reginfo: {}", one_line(&r.data)))
                    };
                }
                _ => {}
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no reply to reginfo within {} s",
                timeout.as_secs_f32()
            ));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => {
                return Err(
                    "it closed the connection without replying (another program may have \
                     taken baresip's only control connection)"
                        .to_owned(),
                )
            }
            Ok(n) => decoder.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no reply to reginfo within {} s",
                    timeout.as_secs_f32()
                ))
            }
            Err(e) => return Err(format!("the connection failed: {e}")),
        }
    }
}

/// `reginfo`'s text in one line: each account and its registration. An account whose
/// registration failed is an error: calls through it will not work.
fn summarize_reginfo(data: &str) -> Result<String, String> {
    // baresip 1.x: "\nUser Agents (1):\n> sip:1001@host:5061  OK\n" (`>`: the current
    // account; no status word when the account does not register).
    let mut failed = false;
    let accounts: Vec<String> = data
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let aor = words
                .iter()
                .find(|w| w.starts_with("sip:") || w.starts_with("sips:"))?;
            let state = if words.contains(&"OK") {
                "registered"
            } else if words.contains(&"ERR") {
                failed = true;
                "registration failed"
            } else if words.contains(&"zzz") {
                "registering"
            } else {
                "not registering"
            };
            Some(format!("{aor} ({state})"))
        })
        .collect();
    if accounts.is_empty() {
        return Err("baresip answers but has no SIP account".to_owned());
    }
    let text = format!("baresip answers: {}", accounts.join(", "));
    if failed {
        Err(text)
    } else {
        Ok(text)
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asks the hub: the session (`GET /api/v1/me`) and its event stream, which must come online
/// within `timeout`. Returns who is logged in.
pub fn ask_hub(
    client: &HubClient,
    token: &Sensitive<String>,
    timeout: Duration,
) -> Result<String, String> {
    let me = client
        .me(token)
        .map_err(|e| format!("{} ({})", e, e.code()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime for the stream: {e}"))?;
    let options = StreamOptions {
        connect_timeout: timeout,
        ..StreamOptions::default()
    };
    // From the newest possible id: the hub replays nothing, only says it is there.
    let after = Some(i64::MAX.unsigned_abs());
    let first = runtime.block_on(async {
        let mut stream = client.stream_with(token, after, options);
        tokio::time::timeout(timeout, stream.next()).await
    });
    match first {
        Ok(Some(HubEvent::Online)) => Ok(format!(
            "the hub answers and its event stream is up; logged in as {} (user {}, extension {})",
            me.agent.name, me.agent.user, me.agent.extension
        )),
        Ok(Some(HubEvent::Offline { reason })) => {
            Err(format!("its event stream is down: {reason}"))
        }
        Ok(Some(HubEvent::SessionEnded)) | Ok(None) => {
            Err("the hub ended the session on the stream; log in again".to_owned())
        }
        Ok(Some(other)) => Err(format!(
            "its event stream said {other:?} before coming online"
        )),
        Err(_) => Err(format!(
            "its event stream did not come online within {} s",
            timeout.as_secs_f32()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reginfo_is_summed_up_in_one_line() {
        assert_eq!(
            summarize_reginfo("\nUser Agents (1):\n> sip:1001@127.0.0.1:5061\n"),
            Ok("baresip answers: sip:1001@127.0.0.1:5061 (not registering)".to_owned())
        );
        assert_eq!(
            summarize_reginfo("\nUser Agents (2):\n> sip:1001@a OK\n  sip:1002@b zzz\n"),
            Ok("baresip answers: sip:1001@a (registered), sip:1002@b (registering)".to_owned())
        );
        assert_eq!(
            summarize_reginfo("\nUser Agents (1):\n> sip:1001@a ERR\n"),
            Err("baresip answers: sip:1001@a (registration failed)".to_owned())
        );
        assert_eq!(
            summarize_reginfo("\nUser Agents (0):\n"),
            Err("baresip answers but has no SIP account".to_owned())
        );
    }
}
