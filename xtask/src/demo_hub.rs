//! The demo organization server of `cargo xtask run`: the real `enlace-hub` binary on a free
//! loopback port, with a SQLite file in a temporary folder, two agents and the usual pause
//! reasons, and the AMI double of `enlace-sandbox` as its PBX. A customer calls the queue every
//! minute while an agent is logged in. The WhatsApp Cloud API double is its WhatsApp number
//! (tokens generated per run, in the 0600 config file); its webhook points at the hub's
//! `/webhooks/whatsapp` (verified like Meta does) and demo customers write every
//! [`WHATSAPP_EVERY`], the first a few seconds after start. Two organization quick addresses
//! ([`QUICK_ADDRESSES`]) are the yellow buttons of Enviar ubicación. Everything is stopped (by
//! PID) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_sandbox::{AmiDouble, AmiScenario, DemoCustomers, WhatsAppConfig, WhatsAppDouble};

use crate::cmd::{self, TaskError, TaskResult};
use crate::paths;
use crate::session::TempDir;

/// The demo agent's credentials (7-digit user, 6-digit password), printed for the newcomer.
pub const AGENT: (&str, &str) = ("1234567", "123456");
/// A supervisor who sees every agent in Gestión.
pub const SUPERVISOR: (&str, &str) = ("7654321", "654321");
const QUEUE: &str = "support";
/// Seconds between two customer calls.
const CALL_EVERY_S: u32 = 60;
/// Time between two WhatsApp messages of the demo customers.
pub const WHATSAPP_EVERY: Duration = Duration::from_secs(3 * 60);
/// The organization's quick addresses (the yellow buttons of Enviar ubicación).
pub const QUICK_ADDRESSES: [(&str, &str); 2] = [
    (
        "Oficina central",
        "Avenida Central, calles 5 y 7, San José, Costa Rica",
    ),
    ("Bodega Heredia", "Zona Franca América, Heredia, Costa Rica"),
];
/// How long the hub may take to start answering its webhook verification.
const HUB_START: Duration = Duration::from_secs(30);

pub struct DemoHub {
    pub url: String,
    /// The demo WhatsApp number as customers see it (digits, no `+`).
    pub whatsapp_number: String,
    // Field order is drop order: customers stop writing, then the hub (Drop), then the double.
    _wa_customers: Option<DemoCustomers>,
    hub: Child,
    stop: Arc<AtomicBool>,
    _wa: WhatsAppDouble,
    _pbx: Arc<AmiDouble>,
    _dir: TempDir,
}

impl DemoHub {
    pub fn start() -> TaskResult<DemoHub> {
        DemoHub::start_with(WHATSAPP_EVERY)
    }

    /// [`DemoHub::start`] with demo WhatsApp customers writing every `every`.
    pub fn start_with(every: Duration) -> TaskResult<DemoHub> {
        let bin = build()?;
        let dir = TempDir::new("enlace-demo-hub")?;
        let pbx =
            Arc::new(AmiDouble::start().map_err(|e| TaskError::io("start the AMI double", e))?);
        // WhatsAppConfig::default() draws a fresh access token and app secret.
        let wa = WhatsAppDouble::start_with(0, WhatsAppConfig::default())
            .map_err(|e| TaskError::io("start the WhatsApp double", e))?;
        let verify_token = random_token()?;
        let port = free_port()?;
        let config = dir.path().join("enlace-hub.toml");
        let hub_cmd = |args: &[&str]| {
            let mut c = Command::new(&bin);
            c.arg("--config").arg(&config).args(args);
            c
        };
        cmd::run(
            hub_cmd(&["init", "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null()),
        )?;
        write_config(&config, dir.path(), port, &pbx, &wa, &verify_token)?;
        for (name, ext, (user, password), extra) in [
            ("Agente Demo", "1001", AGENT, vec!["--queue", QUEUE]),
            ("Supervisora Demo", "1002", SUPERVISOR, vec!["--supervisor"]),
        ] {
            let mut add = hub_cmd(&["agent", "add", "--name", name, "--extension", ext]);
            add.args(extra)
                .args(["--user", user, "--password-stdin"])
                .stdout(Stdio::null());
            run_with_input(&mut add, &format!("{password}\n"))?;
        }
        for (reason, budget) in [("Baño", "15m"), ("Almuerzo", "1h")] {
            cmd::run(
                hub_cmd(&["pause-reason", "add", reason, "--budget", budget]).stdout(Stdio::null()),
            )?;
        }
        cmd::run(hub_cmd(&["pause-reason", "add", "Capacitación"]).stdout(Stdio::null()))?;
        for (name, address) in QUICK_ADDRESSES {
            cmd::run(hub_cmd(&["quick-address", "add", name, address]).stdout(Stdio::null()))?;
        }
        let hub = hub_cmd(&["serve"])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| TaskError::io("start enlace-hub serve", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (calls, flag) = (Arc::clone(&pbx), Arc::clone(&stop));
        std::thread::spawn(move || customers(&calls, &flag));
        let url = format!("http://127.0.0.1:{port}");
        let whatsapp_number = wa.display_phone_number();
        let mut demo = DemoHub {
            url,
            whatsapp_number,
            _wa_customers: None,
            hub,
            stop,
            _wa: wa,
            _pbx: pbx,
            _dir: dir,
        };
        let webhook = format!("{}/webhooks/whatsapp", demo.url);
        subscribe(&demo._wa, &mut demo.hub, &webhook, &verify_token)?;
        demo._wa.set_webhook_url(Some(&webhook));
        demo._wa_customers = Some(demo._wa.start_demo_customers(every));
        Ok(demo)
    }
}

/// Meta's webhook verification (`GET …?hub.mode=subscribe`), retried while the hub starts.
fn subscribe(
    wa: &WhatsAppDouble,
    hub: &mut Child,
    webhook: &str,
    verify_token: &str,
) -> TaskResult<()> {
    let deadline = std::time::Instant::now() + HUB_START;
    loop {
        match wa.verify_webhook(webhook, verify_token) {
            Ok(true) => return Ok(()),
            Ok(false) => {
                return Err(TaskError::Precondition(
                    "the demo hub refused the WhatsApp webhook verification".into(),
                ))
            }
            Err(_) if std::time::Instant::now() < deadline => {}
            Err(e) => {
                return Err(TaskError::Precondition(format!(
                    "the demo hub did not answer the WhatsApp webhook verification: {e}"
                )))
            }
        }
        if let Ok(Some(status)) = hub.try_wait() {
            return Err(TaskError::Precondition(format!(
                "enlace-hub serve exited while starting: {status}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 32 random hex digits from the OS (the webhook verify token of this run).
fn random_token() -> TaskResult<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| TaskError::io("read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Drop for DemoHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.hub.kill();
        let _ = self.hub.wait();
    }
}

/// Runs `cmd` with `input` on its standard input (a password never goes on the command line).
fn run_with_input(cmd: &mut Command, input: &str) -> TaskResult<()> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| TaskError::io("start enlace-hub agent add", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| TaskError::io("write to enlace-hub agent add", e))?;
    }
    let status = child
        .wait()
        .map_err(|e| TaskError::io("wait for enlace-hub agent add", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(TaskError::Failed {
            command: "enlace-hub agent add".into(),
            status,
        })
    }
}

fn build() -> TaskResult<PathBuf> {
    cmd::run(cmd::cargo().current_dir(paths::root()).args([
        "build",
        "--locked",
        "-p",
        "enlace-hub",
    ]))?;
    Ok(paths::target_dir().join("debug").join("enlace-hub"))
}

fn free_port() -> TaskResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TaskError::io("find a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| TaskError::io("find a free port", e))
}

fn write_config(
    path: &Path,
    dir: &Path,
    port: u16,
    pbx: &AmiDouble,
    wa: &WhatsAppDouble,
    verify_token: &str,
) -> TaskResult<()> {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\n\
         database_url = \"sqlite://{db}\"\n\n\
         [ami]\n\
         addr = \"{ami}\"\n\
         username = \"ami\"\n\
         secret = \"amisecret\"\n\
         interface_template = \"PJSIP/{{extension}}\"\n\
         dial_context = \"from-internal\"\n\n\
         [whatsapp]\n\
         verify_token = \"{verify_token}\"\n\
         app_secret = \"{app_secret}\"\n\
         access_token = \"{access_token}\"\n\
         graph_url = \"{graph_url}\"\n\
         waba_id = \"{waba_id}\"\n\
         media_dir = \"{media}\"\n\n\
         [[whatsapp.numbers]]\n\
         phone_number_id = \"{phone_number_id}\"\n\
         display_number = \"+{display_number}\"\n\
         queue = \"{QUEUE}\"\n",
        db = dir.join("enlace-hub.db").display(),
        ami = pbx.addr(),
        app_secret = wa.app_secret(),
        access_token = wa.access_token(),
        graph_url = wa.graph_url(),
        waba_id = wa.waba_id(),
        media = dir.join("whatsapp-media").display(),
        phone_number_id = wa.phone_number_id(),
        display_number = wa.display_phone_number(),
    );
    write_private(path, &text).map_err(|e| TaskError::io("write the demo hub config", e))
}

/// Writes `text` to `path` readable by its owner only (the hub refuses secrets in files others
/// may read).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        // An existing file (written by `init`) keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, text)
}

/// Every minute, a customer calls the queue when an agent is in it.
fn customers(pbx: &AmiDouble, stop: &AtomicBool) {
    let mut n = 0u32;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_secs(1));
        n += 1;
        if !n.is_multiple_of(CALL_EVERY_S) {
            continue;
        }
        let members = pbx.queue_members(QUEUE);
        if let Some((interface, false, _)) = members.into_iter().next() {
            pbx.run(AmiScenario::InboundViaQueue {
                queue: QUEUE.into(),
                caller: "+50688887777".into(),
                caller_name: "Cliente Demo".into(),
                agent_interface: interface,
                talk_ms: 8_000,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::io::{Read, Write};

    /// One HTTP/1.1 request over a fresh connection; (status, body).
    fn http(url: &str, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
        let addr = url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let status = reply
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The demo hub of `cargo xtask run` has a WhatsApp number: its config is private, Meta's
    /// verification succeeded, and a demo customer's message becomes a conversation the demo
    /// agent lists through the agents' API.
    #[test]
    fn demo_customer_chat_reaches_the_demo_agent() {
        let demo = DemoHub::start_with(Duration::from_secs(3600)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let config = demo._dir.path().join("enlace-hub.toml");
            let mode = std::fs::metadata(config).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "config readable by others: {mode:o}");
        }
        let (user, password) = AGENT;
        let (status, body) = http(
            &demo.url,
            "POST",
            "/api/v1/sessions",
            None,
            &serde_json::json!({"user": user, "password": password}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = reply["token"].as_str().unwrap().to_owned();
        // The organization's quick addresses are there for Enviar ubicación.
        let (status, body) = http(
            &demo.url,
            "GET",
            "/api/v1/quick-addresses",
            Some(&token),
            "",
        );
        assert_eq!(status, 200, "{body}");
        for (name, address) in QUICK_ADDRESSES {
            assert!(body.contains(name) && body.contains(address), "{body}");
        }
        // The first demo message is sent at once; wait for it to be processed (a deadline, not
        // a timing assertion).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = http(&demo.url, "GET", "/api/v1/conversations", Some(&token), "");
            assert_eq!(status, 200, "{body}");
            let list: serde_json::Value = serde_json::from_str(&body).unwrap();
            let found = list
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c.to_string().contains(enlace_sandbox::DEMO_CUSTOMERS[0].0));
            if found {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no demo conversation listed: {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
