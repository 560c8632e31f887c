//! A small W3C WebDriver client over `reqwest` (blocking), talking directly to `WebKitWebDriver`
//! (package webkit2gtk-driver), which launches the Tauri app itself (tauri-on-linux.md §8.2):
//! `TAURI_WEBVIEW_AUTOMATION=true WebKitWebDriver --port=<free> --host=127.0.0.1` and the
//! capabilities `{"browserName":"wry","webkitgtk:browserOptions":{"binary":APP,"args":[]}}`.
//!
//! The app inherits WebKitWebDriver's environment, so the per-test variables are set on the
//! driver process. Sessions are serialised through a process-wide lock: all e2e tests share one
//! X display and one session bus, and the app is single-instance on that bus (pitfall P3).
//! Dropping a [`Session`] deletes it, makes sure the app is gone and kills the driver by PID.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::app::artifacts_dir;

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const DRIVER_START_ATTEMPTS: usize = 3;
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);
/// Replies are read up to this size (screenshots are the large ones).
const BODY_LIMIT: u64 = 128 * 1024 * 1024;

/// One app window at a time per test process (see the module docs).
static WINDOW_LOCK: Mutex<()> = Mutex::new(());

/// Why a WebDriver interaction failed. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum WebDriverError {
    #[error(
        "the app binary {0} does not exist: run the e2e tests with `cargo xtask e2e` (it builds \
         it with `cargo build -p enlace-desktop --features custom-protocol`)"
    )]
    AppMissing(PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("WebKitWebDriver did not start: {0}")]
    DriverStart(String),
    #[error("HTTP request to WebKitWebDriver failed ({what}): {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("WebDriver error `{error}` ({what}): {message}")]
    Protocol {
        what: String,
        error: String,
        message: String,
    },
    #[error("unexpected WebDriver reply ({what}): {body}")]
    Reply { what: String, body: String },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("the screenshot is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

impl WebDriverError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AppMissing(_) => "app_missing",
            Self::Io { .. } => "io",
            Self::DriverStart(_) => "driver_start",
            Self::Http { .. } => "http",
            Self::Protocol { .. } => "protocol",
            Self::Reply { .. } => "reply",
            Self::Timeout(_) => "timeout",
            Self::Base64(_) => "base64",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The W3C error name (`no such element`, …) of a protocol error.
    pub fn w3c_error(&self) -> Option<&str> {
        match self {
            Self::Protocol { error, .. } => Some(error),
            _ => None,
        }
    }
}

pub type Result<T, E = WebDriverError> = std::result::Result<T, E>;

/// A reference to an element of the current page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    id: String,
}

impl Element {
    fn from_value(value: &Value, what: &str) -> Result<Self> {
        value[ELEMENT_KEY]
            .as_str()
            .map(|id| Self { id: id.to_owned() })
            .ok_or_else(|| WebDriverError::Reply {
                what: what.to_owned(),
                body: value.to_string(),
            })
    }

    /// As a script argument (`arguments[i]` is then the DOM element).
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

/// CSS selector of a `data-testid`.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// A WebDriver session: one WebKitWebDriver process and the app window it launched.
#[derive(Debug)]
pub struct Session {
    agent: reqwest::blocking::Client,
    base: String,
    session: Option<String>,
    driver: Child,
    driver_log: PathBuf,
    app_pids: Vec<(u32, String)>,
    _window: MutexGuard<'static, ()>,
}

/// WebKitGTK's switch for compositing (`0`: on).
const COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

impl Session {
    /// Starts WebKitWebDriver on a free loopback port with `env` (plus
    /// `TAURI_WEBVIEW_AUTOMATION=true`) and opens a session that launches `app`.
    ///
    /// The app runs with compositing on (`WEBKIT_DISABLE_COMPOSITING_MODE=0`): without a GPU
    /// Enlace turns it off to save ≈ 100 MiB, and WebKitGTK 2.50 then never answers
    /// WebDriver's screenshot command. How the shipped setting paints is checked without
    /// WebDriver (`a_window_hidden_for_a_while_is_released_and_comes_back`).
    pub fn start(app: &Path, env: &[(String, OsString)]) -> Result<Self> {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| k == COMPOSITING) {
            env.push((COMPOSITING.to_owned(), "0".into()));
        }
        Self::launch(app, Some("wry"), &[], &env)
    }

    /// Like [`Session::start`] for any WebKitGTK program WebDriver can launch, with
    /// arguments (e.g. WebKitGTK's `MiniBrowser --automation`, used to test this client).
    pub fn start_browser(app: &Path, args: &[&str], env: &[(String, OsString)]) -> Result<Self> {
        Self::launch(app, None, args, env)
    }

    fn launch(
        app: &Path,
        browser_name: Option<&str>,
        args: &[&str],
        env: &[(String, OsString)],
    ) -> Result<Self> {
        if !app.is_file() {
            return Err(WebDriverError::AppMissing(app.to_path_buf()));
        }
        let app = app
            .canonicalize()
            .map_err(|e| WebDriverError::io(format!("resolve {}", app.display()), e))?;
        let window = WINDOW_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // reqwest's features choose no crypto provider: ring, as in the app's clients.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let agent = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .map_err(|source| WebDriverError::Http {
                what: "start the HTTP client".to_owned(),
                source,
            })?;

        let mut last_error = String::new();
        for _ in 0..DRIVER_START_ATTEMPTS {
            let port = free_port()?;
            let driver_log = artifacts_dir()
                .join("logs")
                .join(format!("webdriver-{port}.log"));
            let mut driver = spawn_driver(port, env, &driver_log)?;
            let base = format!("http://127.0.0.1:{port}");
            match wait_driver_ready(&agent, &base, &mut driver) {
                Ok(()) => {
                    let mut session = Self {
                        agent,
                        base,
                        session: None,
                        driver,
                        driver_log,
                        app_pids: Vec::new(),
                        _window: window,
                    };
                    session.open(&app, browser_name, args)?;
                    return Ok(session);
                }
                Err(why) => {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    last_error = format!("{why}; log {}", driver_log.display());
                }
            }
        }
        Err(WebDriverError::DriverStart(last_error))
    }

    fn open(&mut self, app: &Path, browser_name: Option<&str>, args: &[&str]) -> Result<()> {
        let mut always = json!({
            "webkitgtk:browserOptions": { "binary": app, "args": args }
        });
        if let Some(name) = browser_name {
            // Tauri's wry webview reports itself as "wry" (tauri-on-linux.md §8.2).
            always["browserName"] = json!(name);
        }
        let caps = json!({ "capabilities": { "alwaysMatch": always } });
        let url = format!("{}/session", self.base);
        let value = self
            .send("POST", &url, Some(caps), "new session")
            .map_err(|e| match e {
                // Usually the app exited or never opened a webview: its output is in the log.
                WebDriverError::Http { .. } => {
                    WebDriverError::DriverStart(format!("{e}\n{}", self.log_tail()))
                }
                other => self.with_log(other),
            })?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError::Reply {
                what: "new session".to_owned(),
                body: value.to_string(),
            })?;
        self.session = Some(id.to_owned());
        self.app_pids = children_of(self.driver.id());
        Ok(())
    }

    /// The PIDs of the app processes WebKitWebDriver launched for this session.
    pub fn app_pids(&self) -> Vec<u32> {
        self.app_pids.iter().map(|(pid, _)| *pid).collect()
    }

    /// The log of WebKitWebDriver, which also receives the app's stdout/stderr.
    pub fn driver_log(&self) -> &Path {
        &self.driver_log
    }

    /// Adds the tail of the driver/app log to timeouts and protocol errors.
    fn with_log(&self, e: WebDriverError) -> WebDriverError {
        match e {
            WebDriverError::Timeout(msg) => {
                WebDriverError::Timeout(format!("{msg}\n{}", self.log_tail()))
            }
            WebDriverError::Protocol {
                what,
                error,
                message,
            } => WebDriverError::Protocol {
                what,
                error,
                message: format!("{message}\n{}", self.log_tail()),
            },
            other => other,
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.driver_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- last lines of {} ---\n{}",
            self.driver_log.display(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/session/{}{path}",
            self.base,
            self.session.as_deref().unwrap_or("none")
        )
    }

    fn send(&self, method: &str, url: &str, body: Option<Value>, what: &str) -> Result<Value> {
        let http = |source| WebDriverError::Http {
            what: what.to_owned(),
            source,
        };
        let response = match (method, body) {
            ("GET", _) => self.agent.get(url).send(),
            ("DELETE", _) => self.agent.delete(url).send(),
            (_, body) => self
                .agent
                .post(url)
                .json(&body.unwrap_or_else(|| json!({})))
                .send(),
        }
        .map_err(http)?;
        let ok = response.status().is_success();
        let mut bytes = Vec::new();
        response
            .take(BODY_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| WebDriverError::io(format!("read the reply ({what})"), e))?;
        let reply_error = |body: String| WebDriverError::Reply {
            what: what.to_owned(),
            body,
        };
        if bytes.len() as u64 > BODY_LIMIT {
            return Err(reply_error(format!("larger than {} MiB", BODY_LIMIT >> 20)));
        }
        let mut reply: Value =
            serde_json::from_slice(&bytes).map_err(|e| reply_error(format!("not JSON ({e})")))?;
        let value = reply["value"].take();
        if ok {
            Ok(value)
        } else {
            Err(WebDriverError::Protocol {
                what: what.to_owned(),
                error: value["error"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }

    fn get(&self, path: &str, what: &str) -> Result<Value> {
        self.send("GET", &self.url(path), None, what)
    }

    fn post(&self, path: &str, body: Value, what: &str) -> Result<Value> {
        self.send("POST", &self.url(path), Some(body), what)
    }

    /// Loads `url` in the window (W3C "Navigate To").
    pub fn navigate(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url }), "navigate")
            .map(drop)
    }

    /// The first element matching a CSS selector.
    pub fn find_css(&self, css: &str) -> Result<Element> {
        let value = self.post(
            "/element",
            json!({"using": "css selector", "value": css}),
            &format!("find {css}"),
        )?;
        Element::from_value(&value, css)
    }

    /// All elements matching a CSS selector (possibly none).
    pub fn find_all_css(&self, css: &str) -> Result<Vec<Element>> {
        let value = self.post(
            "/elements",
            json!({"using": "css selector", "value": css}),
            &format!("find all {css}"),
        )?;
        value
            .as_array()
            .map(|items| items.iter().map(|v| Element::from_value(v, css)).collect())
            .unwrap_or_else(|| {
                Err(WebDriverError::Reply {
                    what: css.to_owned(),
                    body: value.to_string(),
                })
            })
    }

    /// The element with `data-testid="<id>"`.
    pub fn find(&self, id: &str) -> Result<Element> {
        self.find_css(&testid(id))
    }

    /// All elements with `data-testid="<id>"`.
    pub fn find_all(&self, id: &str) -> Result<Vec<Element>> {
        self.find_all_css(&testid(id))
    }

    /// The first descendant of `parent` with `data-testid="<id>"`.
    pub fn find_in(&self, parent: &Element, id: &str) -> Result<Element> {
        let value = self.post(
            &format!("/element/{}/element", parent.id),
            json!({"using": "css selector", "value": testid(id)}),
            &format!("find {id} in element"),
        )?;
        Element::from_value(&value, id)
    }

    pub fn click(&self, element: &Element) -> Result<()> {
        self.post(
            &format!("/element/{}/click", element.id),
            json!({}),
            "click",
        )
        .map(drop)
    }

    /// Clicks `element` at (`dx`, `dy`) CSS pixels from its centre, with W3C pointer actions
    /// (a mouse moved there, pressed and released), e.g. a spot on a map.
    pub fn click_at(&self, element: &Element, dx: i64, dy: i64) -> Result<()> {
        let actions = json!({"actions": [{
            "type": "pointer",
            "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "origin": element.to_json(), "x": dx, "y": dy},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0},
            ],
        }]});
        self.post("/actions", actions, "click at an offset")?;
        self.send("DELETE", &self.url("/actions"), None, "release the pointer")
            .map(drop)
    }

    /// Waits for the element with `data-testid="<id>"` to be displayed, then clicks it.
    pub fn click_testid(&self, id: &str, timeout: Duration) -> Result<()> {
        let element = self.wait_for(id, timeout)?;
        self.click(&element)
    }

    /// The rendered (visible) text.
    pub fn text(&self, element: &Element) -> Result<String> {
        let value = self.get(&format!("/element/{}/text", element.id), "text")?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute (`None` when absent).
    pub fn attr(&self, element: &Element, name: &str) -> Result<Option<String>> {
        let value = self.get(
            &format!("/element/{}/attribute/{name}", element.id),
            &format!("attribute {name}"),
        )?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// A DOM property (e.g. `value` of an input or select).
    pub fn property(&self, element: &Element, name: &str) -> Result<Value> {
        self.get(
            &format!("/element/{}/property/{name}", element.id),
            &format!("property {name}"),
        )
    }

    pub fn is_displayed(&self, element: &Element) -> Result<bool> {
        let value = self.get(&format!("/element/{}/displayed", element.id), "displayed")?;
        Ok(value.as_bool().unwrap_or(false))
    }

    /// Types `text` into the element.
    pub fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        self.post(
            &format!("/element/{}/value", element.id),
            json!({ "text": text }),
            "send keys",
        )
        .map(drop)
    }

    pub fn clear(&self, element: &Element) -> Result<()> {
        self.post(
            &format!("/element/{}/clear", element.id),
            json!({}),
            "clear",
        )
        .map(drop)
    }

    /// Chooses `<option value="<value>">` of the `<select data-testid="<id>">` and checks
    /// that the select took it.
    pub fn select_option(&self, id: &str, value: &str, timeout: Duration) -> Result<()> {
        let option = format!("{} option[value=\"{value}\"]", testid(id));
        self.wait_until(timeout, &format!("option {value} of {id}"), |s| {
            Ok(s.find_css(&option).ok())
        })
        .and_then(|element| self.click(&element))?;
        let select = self.find(id)?;
        if self.property(&select, "value")?.as_str() == Some(value) {
            return Ok(());
        }
        // Some WebKitGTK versions ignore clicks on <option>: set it like a user would and
        // fire the events Svelte's bind:value listens to.
        self.execute(
            "arguments[0].value = arguments[1];\
             arguments[0].dispatchEvent(new Event('input', {bubbles: true}));\
             arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            vec![select.to_json(), json!(value)],
        )
        .map(drop)
    }

    /// Runs a synchronous script in the page and returns its result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post(
            "/execute/sync",
            json!({ "script": script, "args": args }),
            "execute script",
        )
    }

    /// Runs an asynchronous script: it gets a callback as its last argument and the value
    /// passed to the callback is returned.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post(
            "/execute/async",
            json!({ "script": script, "args": args }),
            "execute async script",
        )
    }

    /// Waits until the page has painted twice more (two animation frames), so what the DOM
    /// says is on the screen.
    pub fn wait_for_paint(&self) -> Result<()> {
        self.execute_async(
            "const done = arguments[arguments.length - 1];\
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            Vec::new(),
        )
        .map(drop)
    }

    /// `<html lang>`.
    pub fn html_lang(&self) -> Result<String> {
        let value = self.execute("return document.documentElement.lang;", Vec::new())?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Saves a PNG screenshot of the window (parent directories are created), after the
    /// page has painted its current state.
    pub fn screenshot_png(&self, path: &Path) -> Result<()> {
        self.wait_for_paint()?;
        let value = self.get("/screenshot", "screenshot")?;
        let encoded = value.as_str().ok_or_else(|| WebDriverError::Reply {
            what: "screenshot".to_owned(),
            body: value.to_string().chars().take(200).collect(),
        })?;
        let png = base64::engine::general_purpose::STANDARD.decode(encoded)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| WebDriverError::io(format!("create {}", parent.display()), e))?;
        }
        std::fs::write(path, png)
            .map_err(|e| WebDriverError::io(format!("write {}", path.display()), e))
    }

    /// Polls `probe` until it returns `Some`. Errors (stale or missing elements while the UI
    /// re-renders) count as "not yet"; the last one is reported on timeout.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut probe: impl FnMut(&Self) -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match probe(self) {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => "condition not met".to_owned(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(self.with_log(WebDriverError::Timeout(format!(
                    "{what} (after {timeout:?}; last: {last})"
                ))));
            }
            sleep(POLL);
        }
    }

    /// Waits until the element with `data-testid="<id>"` exists and is displayed.
    pub fn wait_for(&self, id: &str, timeout: Duration) -> Result<Element> {
        self.wait_until(timeout, &format!("{id} to be displayed"), |s| {
            let element = s.find(id)?;
            Ok(s.is_displayed(&element)?.then_some(element))
        })
    }

    /// Waits until no displayed element has `data-testid="<id>"`.
    pub fn wait_gone(&self, id: &str, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, &format!("{id} to disappear"), |s| {
            for element in s.find_all(id)? {
                if s.is_displayed(&element)? {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.session.is_some() {
            let url = self.url("");
            let _ = self.send("DELETE", &url, None, "delete session");
        }
        // The app must be gone before the next test launches one (single instance).
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.app_pids.iter().any(still_running) && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        for pid in self.app_pids.iter().filter(|p| still_running(p)) {
            // Launched by our driver for this session: end it by its PID.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.0.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // A killed app leaves the session bus (and its single-instance name) a moment after
        // the signal: wait until it is gone, or the next app forwards its start to a dying one.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.app_pids.iter().any(still_running) && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| WebDriverError::io("bind a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| WebDriverError::io("read the free port", e))
}

fn spawn_driver(port: u16, env: &[(String, OsString)], log: &Path) -> Result<Child> {
    let out = File::create(log)
        .map_err(|e| WebDriverError::io(format!("create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| WebDriverError::io("open the driver log", e))?;
    Command::new("WebKitWebDriver")
        .arg(format!("--port={port}"))
        .arg("--host=127.0.0.1")
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            WebDriverError::io(
                "spawn WebKitWebDriver (Debian package webkit2gtk-driver)",
                e,
            )
        })
}

fn wait_driver_ready(
    agent: &reqwest::blocking::Client,
    base: &str,
    driver: &mut Child,
) -> std::result::Result<(), String> {
    let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!("WebKitWebDriver exited ({status})"));
        }
        if let Ok(response) = agent.get(format!("{base}/status")).send() {
            if response.status().is_success() {
                let ready = response
                    .json::<Value>()
                    .is_ok_and(|v| v["value"]["ready"].as_bool() == Some(true));
                if ready {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("no ready /status within {DRIVER_READY_TIMEOUT:?}"));
        }
        sleep(Duration::from_millis(50));
    }
}

/// Direct children of `pid` (from /proc; empty where there is no /proc), with their names.
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let comm = stat.get(open + 1..close)?.to_owned();
            let ppid: u32 = stat
                .get(close + 1..)?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == pid).then_some((child, comm))
        })
        .collect()
}

/// Whether the PID still runs the same program (guards against PID reuse); zombies count
/// as gone.
fn still_running((pid, comm): &(u32, String)) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let name_matches = stat.contains(&format!("({comm})"));
        let state = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 1..))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("Z");
        name_matches && state != "Z"
    })
}
