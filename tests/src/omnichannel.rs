//! Omnicanalidad on the real window: an organization server (`enlace-hub`, in-process, SQLite)
//! with a WhatsApp number served by the WhatsApp Cloud API double of `enlace-sandbox`, a TCP
//! relay in front of the hub that the desktop talks to (so a test can make the hub unreachable
//! for the desktop while Meta's webhooks still reach it), and readers of what the desktop shows
//! outside its window: the tray item (StatusNotifierItem properties and its D-Bus menu) and
//! dunst's notification history. Used by `tests/tests/e2e.rs` and `benches/inbox_window.rs`.
//!
//! Everything runs on loopback and is stopped when dropped (threads joined or left to exit on
//! their own closed sockets; no process is started here except `gdbus`/`dunstctl` queries).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enlace_hub::config::{WhatsAppNumber, WhatsAppSettings};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::{Served, AGENT, CHEAP, QUEUE};
use enlace_hub::HubConfig;
use enlace_sandbox::{
    AmiDouble, BatchLayout, Inbound, InboundMessage, SentMessage, StatusPlan, WhatsAppDouble,
};
use serde_json::json;

use crate::webdriver::WebDriverError;

/// The desktop's agent: user and password (the hub's seeded agent).
pub const AGENT_LOGIN: (&str, &str) = (AGENT.0, AGENT.1);
/// The agent's name as the hub knows it.
pub const AGENT_NAME: &str = AGENT.2;

/// How the test hub is set up.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// The AMI double as the hub's PBX (queue calls give call cards).
    pub pbx: bool,
    /// Statuses the double posts by itself after each accepted send. `None`: none but `sent`
    /// (the test posts `delivered`/`read` itself with [`OrgServer::post_status`]).
    pub status_plan: Option<StatusPlan>,
    /// Most open conversations routed to one agent (the hub's default is 10).
    pub max_open_per_agent: u32,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            pbx: false,
            status_plan: None,
            max_open_per_agent: 10,
        }
    }
}

/// The organization's server for one test: the hub, its WhatsApp number (the double), an
/// optional PBX (the AMI double) and the relay the desktop connects through. Fields drop in
/// order: the relay, the hub, its runtime, then the doubles and the folder.
pub struct OrgServer {
    relay: Relay,
    served: Option<Served>,
    runtime: Option<tokio::runtime::Runtime>,
    pub wa: WhatsAppDouble,
    pub pbx: Option<Arc<AmiDouble>>,
    hub_addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for OrgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgServer")
            .field("hub", &self.hub_addr)
            .field("relay", &self.relay.addr)
            .finish_non_exhaustive()
    }
}

impl OrgServer {
    /// Starts the double, the hub (agent [`AGENT_LOGIN`] in queue `support`, pause reasons
    /// Baño and Salida, the double as its WhatsApp number with `support` as its queue), points
    /// the double's webhook at the hub and opens the relay.
    pub fn start(options: &HubOptions) -> Result<Self, WebDriverError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| WebDriverError::io(what, e)
        };
        let dir = tempfile::Builder::new()
            .prefix("enlace-e2e-hub-")
            .tempdir()
            .map_err(io("hub data dir"))?;
        let wa = WhatsAppDouble::start().map_err(io("start the WhatsApp double"))?;
        wa.set_status_plan(options.status_plan.clone().unwrap_or(StatusPlan {
            sent: Duration::ZERO,
            delivered: None,
            read: None,
            out_of_order: false,
            duplicate: false,
        }));
        let pbx = if options.pbx {
            Some(Arc::new(
                AmiDouble::start().map_err(io("start the AMI double"))?,
            ))
        } else {
            None
        };
        // From its TOML shape, so optional fields keep their defaults.
        let number: WhatsAppNumber = serde_json::from_value(json!({
            "phone_number_id": wa.phone_number_id(),
            "display_number": format!("+{}", wa.display_phone_number()),
            "queue": QUEUE,
        }))
        .map_err(|e| WebDriverError::Reply {
            what: "the test hub's WhatsApp number".into(),
            body: e.to_string(),
        })?;
        let config = HubConfig {
            whatsapp: Some(WhatsAppSettings {
                verify_token: "e2e-verify-token".into(),
                app_secret: wa.app_secret(),
                access_token: wa.access_token(),
                graph_url: wa.graph_url(),
                waba_id: wa.waba_id(),
                numbers: vec![number],
                pair_burst: 1000,
                pair_interval_ms: 1,
                max_open_per_agent: options.max_open_per_agent,
                media_dir: dir.path().join("media").display().to_string(),
                ..WhatsAppSettings::default()
            }),
            ..enlace_hub::testing::config(dir.path(), pbx.as_ref().map(|p| p.addr()))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io("tokio runtime for the hub"))?;
        let served = runtime.block_on(async {
            let served =
                Served::start(config, Arc::new(enlace_core::SystemClock), "127.0.0.1:0").await;
            seed(&served).await.map(|()| served)
        })?;
        let hub_addr = served.addr;
        wa.set_webhook_url(Some(&format!("http://{hub_addr}/webhooks/whatsapp")));
        let relay = Relay::start(hub_addr)?;
        Ok(Self {
            relay,
            served: Some(served),
            runtime: Some(runtime),
            wa,
            pbx,
            hub_addr,
            _dir: dir,
        })
    }

    /// The address the desktop logs in to (`http://127.0.0.1:PORT` of the relay).
    pub fn url(&self) -> String {
        format!("http://{}", self.relay.addr)
    }

    /// The hub itself (not through the relay).
    pub fn hub_addr(&self) -> SocketAddr {
        self.hub_addr
    }

    /// The hub becomes unreachable for the desktop: the relay stops listening and cuts every
    /// connection it carries (the stream included). Meta's webhooks still reach the hub.
    pub fn cut_desktop_off(&self) {
        self.relay.set_down(true);
    }

    /// The hub is reachable again through the same address.
    pub fn reconnect_desktop(&self) -> Result<(), WebDriverError> {
        self.relay.set_down(false);
        self.relay.wait_listening(Duration::from_secs(10))
    }

    /// The customer `wa_id` (digits) named `name` writes `text` now. Returns its wamid.
    pub fn customer_writes(&self, wa_id: &str, name: &str, text: &str) -> String {
        self.wa.add_customer(wa_id, name);
        self.wa
            .customer_sends(wa_id, Inbound::Text(text.to_owned()))
    }

    /// The customer wrote `text` `ago` before now (Meta delivers it late): the conversation's
    /// 24-hour window is measured from then, so with `ago` ≥ 24 h it is already closed.
    pub fn customer_wrote_long_ago(
        &self,
        wa_id: &str,
        name: &str,
        text: &str,
        ago: Duration,
    ) -> String {
        self.wa.add_customer(wa_id, name);
        let at = unix_secs().saturating_sub(ago.as_secs());
        let wamid = self.wa.customer_sends(
            wa_id,
            Inbound::Raw(json!({
                "type": "text",
                "text": {"body": text},
                "timestamp": at.to_string(),
            })),
        );
        // The double's own idea of the window agrees with the hub's.
        self.wa.set_last_inbound(wa_id, ago);
        wamid
    }

    /// `count` customers (`first_wa_id` + i) write one message each, `per_post` messages per
    /// webhook POST. Returns when the hub acknowledged every POST.
    pub fn many_customers_write(
        &self,
        first_wa_id: u64,
        count: u64,
        per_post: usize,
        text: impl Fn(u64) -> String,
    ) -> Result<(), WebDriverError> {
        let messages: Vec<InboundMessage> = (0..count)
            .map(|i| {
                let wa_id = (first_wa_id + i).to_string();
                self.wa.add_customer(&wa_id, &format!("Cliente {i}"));
                InboundMessage::new(&wa_id, Inbound::Text(text(i)))
            })
            .collect();
        for chunk in messages.chunks(per_post.max(1)) {
            self.wa
                .customer_sends_batch(BatchLayout::OneChange, chunk.to_vec());
        }
        self.wait_webhooks_taken(Duration::from_secs(120))
    }

    /// One customer writes `count` messages, `per_post` per webhook POST.
    pub fn customer_writes_many(
        &self,
        wa_id: &str,
        name: &str,
        count: u64,
        per_post: usize,
        text: impl Fn(u64) -> String,
    ) -> Result<(), WebDriverError> {
        self.wa.add_customer(wa_id, name);
        let messages: Vec<InboundMessage> = (0..count)
            .map(|i| InboundMessage::new(wa_id, Inbound::Text(text(i))))
            .collect();
        for chunk in messages.chunks(per_post.max(1)) {
            self.wa
                .customer_sends_batch(BatchLayout::OneChange, chunk.to_vec());
        }
        self.wait_webhooks_taken(Duration::from_secs(120))
    }

    /// The customer writes `text` now; returns its wamid and when the hub answered the
    /// webhook POST with 200 (ms since the epoch, seen by polling the double every 0.5 ms).
    pub fn customer_writes_timed(
        &self,
        wa_id: &str,
        text: &str,
        timeout: Duration,
    ) -> Result<(String, f64), WebDriverError> {
        let before = self.wa.webhooks().len();
        let wamid = self
            .wa
            .customer_sends(wa_id, Inbound::Text(text.to_owned()));
        let deadline = Instant::now() + timeout;
        loop {
            let acked = self
                .wa
                .webhooks()
                .iter()
                .skip(before)
                .any(|d| d.acknowledged && d.body.contains(&wamid));
            if acked {
                return Ok((wamid, unix_millis_f64()));
            }
            if Instant::now() >= deadline {
                return Err(WebDriverError::Timeout(format!(
                    "the hub did not accept the webhook of {wamid} within {timeout:?}"
                )));
            }
            sleep(Duration::from_micros(500));
        }
    }

    /// Waits until the hub answered every webhook the double queued.
    pub fn wait_webhooks_taken(&self, timeout: Duration) -> Result<(), WebDriverError> {
        if self.wa.wait_webhooks_idle(timeout) {
            Ok(())
        } else {
            Err(WebDriverError::Timeout(format!(
                "the hub did not take the WhatsApp webhooks within {timeout:?}"
            )))
        }
    }

    /// Everything the business sent to `wa_id` (digits), in order.
    pub fn sent_to(&self, wa_id: &str) -> Vec<SentMessage> {
        self.wa
            .sent_messages()
            .into_iter()
            .filter(|m| digits(&m.to) == wa_id || m.wa_id == wa_id)
            .collect()
    }

    /// Waits until the business sent `wa_id` at least `count` messages; returns them all.
    pub fn wait_sent_to(
        &self,
        wa_id: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<SentMessage>, WebDriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.sent_to(wa_id);
            if sent.len() >= count {
                return Ok(sent);
            }
            if Instant::now() >= deadline {
                return Err(WebDriverError::Timeout(format!(
                    "the WhatsApp double received {} message(s) for {wa_id}, expected {count}, \
                     within {timeout:?}: {sent:?}",
                    sent.len()
                )));
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// An organization-wide quick address (what `enlace-hub quick-address add` stores);
    /// returns its id in the hub.
    pub fn add_quick_address(&self, name: &str, address: &str) -> Result<i64, WebDriverError> {
        let (Some(runtime), Some(served)) = (self.runtime.as_ref(), self.served.as_ref()) else {
            return Err(WebDriverError::Reply {
                what: "add a quick address".into(),
                body: "the hub is stopped".into(),
            });
        };
        let now = i64::try_from(unix_secs()).unwrap_or(0) * 1000;
        runtime
            .block_on(
                served
                    .hub
                    .store()
                    .insert_wa_quick_address(name, address, now),
            )
            .map_err(|e| WebDriverError::Reply {
                what: "add a quick address".into(),
                body: e.to_string(),
            })
    }

    /// Meta reports `status` (`delivered`, `read`) for a message the business sent.
    pub fn post_status(&self, wamid: &str, status: &str) -> Result<(), WebDriverError> {
        if self.wa.post_status(wamid, status) {
            self.wait_webhooks_taken(Duration::from_secs(30))
        } else {
            Err(WebDriverError::Timeout(format!(
                "the WhatsApp double never sent {wamid}"
            )))
        }
    }
}

impl Drop for OrgServer {
    fn drop(&mut self) {
        self.relay.stop();
        // Meta's retries of anything left must not outlive the hub's log lines of this test.
        self.wa.set_webhook_url(None);
        drop(self.served.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

async fn seed(served: &Served) -> Result<(), WebDriverError> {
    let (user, password, name, extension) = AGENT;
    let now = i64::try_from(unix_secs()).unwrap_or(0) * 1000;
    let failed = |e: &dyn std::fmt::Display| WebDriverError::Reply {
        what: "seed the test hub".into(),
        body: e.to_string(),
    };
    let hash = enlace_hub::auth::hash_password(password, CHEAP).map_err(|e| failed(&e))?;
    let store = served.hub.store();
    store
        .insert_agent(
            &NewAgent {
                user,
                password_hash: &hash,
                name,
                extension,
                queues: &[QUEUE.to_string()],
                supervisor: false,
            },
            now,
        )
        .await
        .map_err(|e| failed(&e))?;
    for (reason, budget, exit) in [("Baño", Some(900), false), ("Salida", None, true)] {
        store
            .insert_pause_reason(reason, budget, exit, now)
            .await
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}

/// The digits of a number (`+506 8888-7777` → `50688887777`).
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the epoch, with the sub-millisecond part (the page's
/// `performance.timeOrigin + performance.now()` is on the same clock).
pub fn unix_millis_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// The relay

/// A TCP relay on a fixed loopback port to `target`. While down it does not listen (connects
/// are refused) and every connection it carried is shut down.
struct Relay {
    addr: SocketAddr,
    shared: Arc<RelayShared>,
    thread: Option<JoinHandle<()>>,
}

struct RelayShared {
    down: AtomicBool,
    stop: AtomicBool,
    listening: AtomicBool,
    /// Both ends of every live connection, to cut them when going down.
    live: Mutex<Vec<(TcpStream, TcpStream)>>,
}

impl Relay {
    fn start(target: SocketAddr) -> Result<Self, WebDriverError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| WebDriverError::io("bind the hub relay", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| WebDriverError::io("relay address", e))?;
        let shared = Arc::new(RelayShared {
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            listening: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hub-relay".into())
            .spawn(move || relay_loop(Some(listener), addr, target, &for_thread))
            .map_err(|e| WebDriverError::io("start the relay thread", e))?;
        let relay = Self {
            addr,
            shared,
            thread: Some(thread),
        };
        relay.wait_listening(Duration::from_secs(5))?;
        Ok(relay)
    }

    fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            cut_all(&self.shared);
            // Wait until the listener is closed, so a connect is refused from now on.
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.shared.listening.load(Ordering::SeqCst) && Instant::now() < deadline {
                sleep(Duration::from_millis(5));
            }
            // A connection accepted while the listener was closing.
            cut_all(&self.shared);
        }
    }

    fn wait_listening(&self, timeout: Duration) -> Result<(), WebDriverError> {
        let deadline = Instant::now() + timeout;
        while !self.shared.listening.load(Ordering::SeqCst) {
            if Instant::now() >= deadline {
                return Err(WebDriverError::Timeout(format!(
                    "the hub relay could not listen on {} again",
                    self.addr
                )));
            }
            sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        cut_all(&self.shared);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cut_all(shared: &RelayShared) {
    let live = std::mem::take(&mut *shared.live.lock().unwrap_or_else(PoisonError::into_inner));
    for (a, b) in live {
        let _ = a.shutdown(Shutdown::Both);
        let _ = b.shutdown(Shutdown::Both);
    }
}

/// Accepts while up (non-blocking accept, polled), closes the listener while down and binds
/// the same port again when back up.
fn relay_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    target: SocketAddr,
    shared: &RelayShared,
) {
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.down.load(Ordering::SeqCst) {
            if listener.take().is_some() {
                shared.listening.store(false, Ordering::SeqCst);
            }
            sleep(Duration::from_millis(10));
            continue;
        }
        let Some(l) = listener.as_ref() else {
            // std sets SO_REUSEADDR on Unix: the port can be bound again at once.
            match TcpListener::bind(addr) {
                Ok(l) => listener = Some(l),
                Err(_) => sleep(Duration::from_millis(20)),
            }
            continue;
        };
        if l.set_nonblocking(true).is_err() {
            sleep(Duration::from_millis(10));
            continue;
        }
        shared.listening.store(true, Ordering::SeqCst);
        match l.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                if let Ok(upstream) = TcpStream::connect(target) {
                    carry(client, upstream, shared);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                sleep(Duration::from_millis(2));
            }
            Err(_) => sleep(Duration::from_millis(10)),
        }
    }
    shared.listening.store(false, Ordering::SeqCst);
}

/// Copies both ways on two threads; both sockets are shut when either side ends.
fn carry(client: TcpStream, upstream: TcpStream, shared: &RelayShared) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(c2), Ok(u2), Ok(c3), Ok(u3)) = (
        client.try_clone(),
        upstream.try_clone(),
        client.try_clone(),
        upstream.try_clone(),
    ) else {
        return;
    };
    shared
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((c3, u3));
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        }
    };
    let _ = std::thread::Builder::new()
        .name("hub-relay-up".into())
        .spawn(pump(client, upstream));
    let _ = std::thread::Builder::new()
        .name("hub-relay-down".into())
        .spawn(pump(u2, c2));
}

// ---------------------------------------------------------------------------------------------
// Outside the window: the tray item and the notifications

/// The tray item as the session bus shows it (libayatana-appindicator's StatusNotifierItem):
/// its label (Tauri's `set_title` on Linux), title, icon and the labels of its menu.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayItem {
    pub label: String,
    pub title: String,
    pub icon: String,
    pub menu: Vec<String>,
}

const SNI_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_enlace_tray";

/// Reads the tray item of the app running as one of `app_pids` from the session bus
/// (`gdbus`), `None` while there is none. Only that process's connections are asked: another
/// peer on the bus may never answer a call it does not expect.
pub fn tray_item(app_pids: &[u32]) -> Option<TrayItem> {
    for name in bus_unique_names() {
        let owner = gdbus(&[
            "call",
            "--session",
            "--timeout",
            "2",
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &name,
        ])
        // `(uint32 15696,)`
        .and_then(|reply| digits(reply.split_whitespace().nth(1)?).parse::<u32>().ok());
        if !owner.is_some_and(|pid| app_pids.contains(&pid)) {
            continue;
        }
        let Some(props) = gdbus(&[
            "call",
            "--session",
            "--timeout",
            "2",
            "--dest",
            &name,
            "--object-path",
            SNI_PATH,
            "--method",
            "org.freedesktop.DBus.Properties.GetAll",
            "org.kde.StatusNotifierItem",
        ]) else {
            continue;
        };
        let menu = gdbus(&[
            "call",
            "--session",
            "--timeout",
            "2",
            "--dest",
            &name,
            "--object-path",
            &format!("{SNI_PATH}/Menu"),
            "--method",
            "com.canonical.dbusmenu.GetLayout",
            "--",
            "0",
            "-1",
            "[]",
        ])
        .unwrap_or_default();
        return Some(TrayItem {
            label: gvariant_string(&props, "XAyatanaLabel").unwrap_or_default(),
            title: gvariant_string(&props, "Title").unwrap_or_default(),
            icon: gvariant_string(&props, "IconName").unwrap_or_default(),
            menu: gvariant_strings(&menu, "label"),
        });
    }
    None
}

fn gdbus(args: &[&str]) -> Option<String> {
    let out = Command::new("gdbus").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn bus_unique_names() -> Vec<String> {
    let Some(reply) = gdbus(&[
        "call",
        "--session",
        "--dest",
        "org.freedesktop.DBus",
        "--object-path",
        "/org/freedesktop/DBus",
        "--method",
        "org.freedesktop.DBus.ListNames",
    ]) else {
        return Vec::new();
    };
    reply
        .split(|c: char| c == '\'' || c == ',' || c.is_whitespace() || c == '[' || c == ']')
        .filter(|s| s.starts_with(':'))
        .map(str::to_owned)
        .collect()
}

/// The string values of `'key': <'…'>` in gdbus's GVariant text (first one).
fn gvariant_string(text: &str, key: &str) -> Option<String> {
    gvariant_strings(text, key).into_iter().next()
}

/// Every `'key': <'value'>` (or `<"value">`) in gdbus's GVariant text, unescaped.
fn gvariant_strings(text: &str, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    let needle = format!("'{key}': <");
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let mut chars = rest.char_indices();
        let Some((_, quote)) = chars.next().filter(|(_, q)| *q == '\'' || *q == '"') else {
            continue;
        };
        let mut value = String::new();
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in chars {
            if escaped {
                value.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                end = i + 1;
                break;
            } else {
                value.push(c);
            }
        }
        found.push(value);
        rest = &rest[end.min(rest.len())..];
    }
    found
}

/// dunst's history (notifications shown and closed) as JSON text (`dunstctl history`),
/// together with the ones still displayed (`dunstctl` cannot list those; the history is what
/// a closed or timed-out notification leaves). Empty when dunst is not there.
pub fn notification_history() -> String {
    Command::new("dunstctl")
        .arg("history")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Closes every notification on screen, so they land in the history.
pub fn close_all_notifications() {
    let _ = Command::new("dunstctl").arg("close-all").output();
}

/// Waits until some notification (shown now or in the history) mentions any of `texts`;
/// returns the text found.
pub fn wait_notification_mentioning(
    texts: &[&str],
    timeout: Duration,
) -> Result<String, WebDriverError> {
    let deadline = Instant::now() + timeout;
    loop {
        close_all_notifications();
        let history = notification_history();
        if let Some(found) = texts.iter().find(|t| history.contains(**t)) {
            return Ok((*found).to_owned());
        }
        if Instant::now() >= deadline {
            return Err(WebDriverError::Timeout(format!(
                "no desktop notification mentioned {texts:?} within {timeout:?}; dunst history: {}",
                history.chars().take(2000).collect::<String>()
            )));
        }
        sleep(Duration::from_millis(100));
    }
}

/// The proportional set size (KiB) of a process, from `/proc/PID/smaps_rollup`.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(
        Path::new("/proc")
            .join(pid.to_string())
            .join("smaps_rollup"),
    )
    .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// `root` and every process descending from it (from /proc), with their names.
pub fn process_tree(root: u32) -> Vec<(u32, String)> {
    let mut parents: Vec<(u32, u32, String)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for pid in entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat.get(open + 1..close).unwrap_or_default().to_owned();
            let ppid = stat
                .get(close + 1..)
                .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
                .unwrap_or(0);
            parents.push((pid, ppid, comm));
        }
    }
    let mut tree: Vec<(u32, String)> = parents
        .iter()
        .filter(|(pid, _, _)| *pid == root)
        .map(|(pid, _, comm)| (*pid, comm.clone()))
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].0;
        for (pid, ppid, comm) in &parents {
            if *ppid == parent && !tree.iter().any(|(p, _)| p == pid) {
                tree.push((*pid, comm.clone()));
            }
        }
        i += 1;
    }
    tree
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::Value;

    #[test]
    fn reads_gvariant_strings() {
        let props = "({'Id': <'tray-icon tray app enlace-tray'>, 'Title': <'Enlace'>, \
                     'XAyatanaLabel': <'2'>},)";
        assert_eq!(
            gvariant_string(props, "XAyatanaLabel").as_deref(),
            Some("2")
        );
        assert_eq!(gvariant_string(props, "Title").as_deref(), Some("Enlace"));
        let menu = "(uint32 2, (0, {'children-display': <'submenu'>}, [<(2, {'label': \
                    <\"Lucía's chat\">}, @av [])>, <(3, {'label': <'Quit'>}, @av [])>]))";
        assert_eq!(
            gvariant_strings(menu, "label"),
            vec!["Lucía's chat", "Quit"]
        );
        assert_eq!(gvariant_string("()", "label"), None);
    }

    fn agent_api(
        client: &reqwest::blocking::Client,
        url: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = match method {
            "POST" => client.post(format!("{url}{path}")),
            _ => client.get(format!("{url}{path}")),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send()?;
        let status = reply.status().as_u16();
        Ok((status, reply.json().unwrap_or(Value::Null)))
    }

    /// The harness itself, without a window: the agent (through the relay) gets the customer's
    /// conversation, a message Meta delivered 25 h late opens a conversation whose window is
    /// closed, and the relay cuts the agent off while webhooks still reach the hub.
    #[test]
    fn the_org_server_routes_customers_to_the_agent_through_the_relay() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let org = OrgServer::start(&HubOptions::default()).unwrap();
        let url = org.url();
        let (user, password) = AGENT_LOGIN;
        let (status, session) = agent_api(
            &client,
            &url,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"user": user, "password": password})),
        )
        .unwrap();
        assert_eq!(status, 201, "{session}");
        let token = session["token"].as_str().unwrap().to_owned();
        let conversations = |client: &reqwest::blocking::Client| {
            agent_api(
                client,
                &url,
                "GET",
                "/api/v1/conversations",
                Some(&token),
                None,
            )
        };
        org.customer_writes("50688887777", "Lucía Quesada", "Hola");
        org.customer_wrote_long_ago(
            "50688886666",
            "Ana Solís",
            "¿Siguen abiertos?",
            Duration::from_secs(25 * 3600),
        );
        org.wait_webhooks_taken(Duration::from_secs(30)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let list = loop {
            let (status, list) = conversations(&client).unwrap();
            assert_eq!(status, 200, "{list}");
            if list.as_array().is_some_and(|l| l.len() == 2) {
                break list;
            }
            assert!(Instant::now() < deadline, "not both conversations: {list}");
            sleep(Duration::from_millis(100));
        };
        let by_number = |digits_: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|c| c.to_string().contains(digits_))
                .cloned()
                .unwrap()
        };
        let lucia = by_number("50688887777");
        let ana = by_number("50688886666");
        assert_eq!(lucia["windowOpen"], true, "{lucia}");
        assert_eq!(ana["windowOpen"], false, "{ana}");
        assert!(!lucia["agentId"].is_null(), "routed to the agent: {lucia}");

        org.cut_desktop_off();
        assert!(conversations(&client).is_err(), "the relay is down");
        org.customer_writes("50677776666", "Pedro Mora", "¿Hay cupo?");
        org.wait_webhooks_taken(Duration::from_secs(30)).unwrap();
        org.reconnect_desktop().unwrap();
        let (status, list) = conversations(&client).unwrap();
        assert_eq!(status, 200);
        assert!(list.to_string().contains("50677776666"), "{list}");
    }

    #[test]
    fn relay_carries_bytes_refuses_while_down_and_comes_back_on_the_same_port() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in echo.incoming() {
                let Ok(mut conn) = conn else { break };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let relay = Relay::start(target).unwrap();
        let roundtrip = || -> std::io::Result<Vec<u8>> {
            let mut c = TcpStream::connect(relay.addr)?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"hola")?;
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf)?;
            Ok(buf.to_vec())
        };
        assert_eq!(roundtrip().unwrap(), b"hola");
        let mut open = TcpStream::connect(relay.addr).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        relay.set_down(true);
        assert!(
            TcpStream::connect(relay.addr).is_err(),
            "refused while down"
        );
        let mut buf = [0u8; 4];
        assert!(
            matches!(open.read(&mut buf), Ok(0) | Err(_)),
            "a carried connection is cut"
        );
        relay.set_down(false);
        relay.wait_listening(Duration::from_secs(5)).unwrap();
        assert_eq!(roundtrip().unwrap(), b"hola");
    }
}
