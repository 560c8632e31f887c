//! The `enlace-hub` command line: `init`, `serve`, `agent add|list|disable|reset-password`,
//! `pause-reason add`. Administration commands work on the database directly, so they run
//! with or without a serving hub. Every command that opens the database applies its pending
//! migrations first; `serve` also creates the Salida exit reason when it is missing.
//!
//! Secrets never travel as arguments (every user of the machine sees them in `ps`): a chosen
//! password comes on standard input (`--password-stdin`); generated ones are printed once.
//! Files holding secrets are written `0600` and refused when other users may read them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use enlace_core::SystemClock;

use crate::auth::{hash_password, is_valid_password, is_valid_user, random_digits};
use crate::config::{ConfigError, HubConfig};
use crate::error::HubError;
use crate::store::{NewAgent, Store, StoreError};

/// Name of the exit pause reason `init` creates.
pub const EXIT_REASON: &str = "Salida";

#[derive(Parser)]
#[command(name = "enlace-hub", about = "Enlace's organization server", version)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "enlace-hub.toml")]
    pub config: PathBuf,
    /// Database URL, overriding the file's `database_url`: `sqlite://path` or
    /// `postgres://user@host:port/db` (several instances share one PostgreSQL database).
    /// A URL with a password belongs in ENLACE_HUB_DATABASE_URL or `database_url_file`, not
    /// here: arguments are visible to every user in `ps`.
    #[arg(long, global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("config", &self.config)
            .field(
                "database",
                &self.database.as_deref().map(crate::store::redact_url),
            )
            .field("command", &self.command)
            .finish()
    }
}

/// The value of the retired `--password` option, dropped as soon as it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredPassword;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes enlace-hub.toml and the database in DIR, with the Salida exit reason.
    Init {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Serves the API.
    Serve {
        /// Address to listen on, overriding the file's `listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manages agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manages pause reasons.
    #[command(subcommand, name = "pause-reason")]
    PauseReason(PauseReasonCommand),
    /// Manages the organization's WhatsApp quick addresses.
    #[command(subcommand, name = "quick-address")]
    QuickAddress(QuickAddressCommand),
    /// Manages the organization's WhatsApp canned responses.
    #[command(subcommand, name = "canned-response")]
    CannedResponse(CannedResponseCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum QuickAddressCommand {
    /// Adds an address agents can send in one click.
    Add {
        name: String,
        address: String,
    },
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CannedResponseCommand {
    /// Adds a prepared answer, e.g. `/hola "¡Hola! ¿En qué le ayudo?"`.
    Add {
        shortcut: String,
        body: String,
    },
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentCommand {
    /// Adds an agent; prints its user and, when generated, its password (shown only once).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        extension: String,
        #[arg(long = "queue")]
        queues: Vec<String>,
        #[arg(long)]
        supervisor: bool,
        /// 7 digits (generated unless given).
        #[arg(long)]
        user: Option<String>,
        /// Reads the password (6 digits) from the first line of standard input instead of
        /// generating one, e.g. `printf '%s\n' "$PASSWORD" | enlace-hub agent add ... --password-stdin`.
        #[arg(long)]
        password_stdin: bool,
        /// Refused: a password on the command line is visible to every user in `ps`.
        #[arg(long, hide = true, value_parser = |_: &str| Ok::<_, std::convert::Infallible>(RetiredPassword))]
        password: Option<RetiredPassword>,
    },
    /// Lists agents.
    List,
    /// Disables an agent and ends its sessions.
    Disable { user: String },
    /// Gives an agent a new generated password and ends its sessions.
    ResetPassword { user: String },
}

#[derive(Debug, Subcommand)]
pub enum PauseReasonCommand {
    /// Adds a pause reason, optionally with a budget such as 15m, 90s or 1h.
    Add {
        name: String,
        #[arg(long)]
        budget: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Config(e) => e.code(),
            CliError::Hub(e) => e.code(),
            CliError::Usage(_) => "usage",
            CliError::Io(_) => "io",
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Hub(HubError::Store(e))
    }
}

/// Parses `15m`, `90s`, `1h` (a bare number means minutes) into seconds.
pub fn parse_budget(text: &str) -> Option<i64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "m"),
    };
    let n: i64 = digits.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then_some(seconds)
}

fn now_ms() -> i64 {
    use enlace_core::Clock;
    SystemClock.now().millis()
}

async fn open_store(config: &HubConfig) -> Result<Store, CliError> {
    Ok(Store::open(&config.database_url).await?)
}

async fn hash(config: &HubConfig, password: &str) -> Result<String, CliError> {
    let cost = config.password_cost();
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password, cost))
        .await
        .map_err(|e| CliError::Usage(format!("hash task: {e}")))?
        .map_err(CliError::from)
}

/// Where a `sqlite:` URL keeps its file (`None` for other databases and `:memory:`).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Creates a file that only its owner may read and write; fails if it exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Elsewhere (Windows) there is no mode: the file inherits its folder's ACL.
    options.open(path)
}

/// A SQLite database holds password hashes: a new one is created private (SQLite gives its
/// `-wal`/`-shm` files the same mode), and `serve` refuses one other users may read.
fn prepare_database(config: &HubConfig, refuse_exposed: bool) -> Result<(), CliError> {
    let Some(path) = sqlite_file(&config.database_url) else {
        return Ok(());
    };
    if path.exists() {
        if refuse_exposed {
            crate::config::check_private(&path)?;
        }
        return Ok(());
    }
    // If this fails (a missing folder, a race with another process creating it), opening
    // the database reports the problem or finds the file.
    let _ = create_private(&path);
    Ok(())
}

/// The configuration file with the command line's overrides.
fn load(cli: &Cli) -> Result<HubConfig, CliError> {
    let mut config = HubConfig::load(&cli.config)?;
    if let Some(url) = &cli.database {
        config.database_url = url.clone();
    }
    Ok(config)
}

/// Runs one command, writing its report to `out`; `--password-stdin` reads standard input.
pub async fn run(cli: Cli, out: &mut impl std::io::Write) -> Result<(), CliError> {
    let wants_stdin = matches!(
        &cli.command,
        Command::Agent(AgentCommand::Add {
            password_stdin: true,
            ..
        })
    );
    let mut password = None;
    if wants_stdin {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)?;
        password = Some(line);
    }
    run_with_password(cli, password, out).await
}

/// [`run`] with the `--password-stdin` input given (the first line of standard input).
pub async fn run_with_password(
    cli: Cli,
    stdin_password: Option<String>,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    match &cli.command {
        Command::Init { dir } => init(dir, cli.database.as_deref(), out).await,
        Command::Serve { listen } => {
            let mut config = load(&cli)?;
            if let Some(listen) = listen {
                config.listen = listen.clone();
            }
            serve(config, out).await
        }
        Command::Agent(cmd) => {
            let config = load(&cli)?;
            agent(&config, cmd.clone(), stdin_password, out).await
        }
        Command::QuickAddress(cmd) => {
            let config = load(&cli)?;
            let store = open_store(&config).await?;
            let done = quick_lists(&store, QuickList::Address(cmd.clone()), out).await;
            store.close().await;
            done
        }
        Command::CannedResponse(cmd) => {
            let config = load(&cli)?;
            let store = open_store(&config).await?;
            let done = quick_lists(&store, QuickList::Canned(cmd.clone()), out).await;
            store.close().await;
            done
        }
        Command::PauseReason(PauseReasonCommand::Add { name, budget }) => {
            let config = load(&cli)?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 64 {
                return Err(CliError::Usage(
                    "the name must have 1 to 64 characters".into(),
                ));
            }
            let budget = match budget {
                Some(b) => Some(parse_budget(b).ok_or_else(|| {
                    CliError::Usage(format!("invalid budget {b:?}: use e.g. 15m, 90s, 1h"))
                })?),
                None => None,
            };
            let store = open_store(&config).await?;
            let id = match store
                .insert_pause_reason(name, budget, false, now_ms())
                .await
            {
                Err(StoreError::Duplicate) => {
                    return Err(CliError::Usage(format!(
                        "a pause reason named {name:?} exists"
                    )))
                }
                other => other?,
            };
            writeln!(out, "pause reason {id}: {name}")?;
            store.close().await;
            Ok(())
        }
    }
}

async fn init(
    dir: &Path,
    database: Option<&str>,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let config_path = dir.join("enlace-hub.toml");
    let exists = || {
        CliError::Usage(format!(
            "{} exists already; not overwriting it",
            config_path.display()
        ))
    };
    if config_path.exists() {
        return Err(exists());
    }
    let config = HubConfig {
        database_url: match database {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", dir.join("enlace-hub.db").display()),
        },
        ..HubConfig::default()
    };
    prepare_database(&config, false)?;
    let store = open_store(&config).await?;
    ensure_exit_reason(&store).await?;
    store.close().await;
    // Private from the start: the file will hold the AMI secret.
    let mut file = match create_private(&config_path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
        other => other?,
    };
    std::io::Write::write_all(&mut file, config.to_toml().as_bytes())?;
    writeln!(out, "wrote {}", config_path.display())?;
    Ok(())
}

/// Creates the exit reason ([`EXIT_REASON`]) unless the database has one. `init` and `serve`
/// both call it, so a database that `init` never saw (the package's, the container's: `serve`
/// creates it and applies the migrations) offers Salida too.
async fn ensure_exit_reason(store: &Store) -> Result<(), CliError> {
    if store.pause_reasons().await?.iter().any(|r| r.is_exit) {
        return Ok(());
    }
    // Another instance of a cluster may insert it at the same moment: that one counts.
    match store
        .insert_pause_reason(EXIT_REASON, None, true, now_ms())
        .await
    {
        Ok(_) | Err(StoreError::Duplicate) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn agent(
    config: &HubConfig,
    cmd: AgentCommand,
    stdin_password: Option<String>,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    if let AgentCommand::Add {
        password: Some(_), ..
    } = &cmd
    {
        return Err(CliError::Usage(
            "--password is not accepted: every user of this machine sees it in `ps`; \
             pass the password on standard input with --password-stdin, or let it be generated"
                .into(),
        ));
    }
    prepare_database(config, false)?;
    let store = open_store(config).await?;
    match cmd {
        AgentCommand::Add {
            name,
            extension,
            queues,
            supervisor,
            user,
            password_stdin,
            password: _,
        } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 128 {
                return Err(CliError::Usage(
                    "the name must have 1 to 128 characters".into(),
                ));
            }
            if extension.is_empty()
                || extension.len() > 32
                || !extension.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(CliError::Usage(
                    "the extension must be letters and digits".into(),
                ));
            }
            for q in &queues {
                if q.is_empty() || q.len() > 64 || q.bytes().any(|b| b.is_ascii_control()) {
                    return Err(CliError::Usage(format!("invalid queue name {q:?}")));
                }
            }
            let generated = user.is_none();
            let user = match user {
                Some(u) if is_valid_user(&u) => u,
                Some(_) => return Err(CliError::Usage("the user must be 7 digits".into())),
                None => random_digits(7, true)?,
            };
            let chosen = if password_stdin {
                let line = stdin_password.unwrap_or_default();
                let p = line.trim_end_matches(['\r', '\n']).trim();
                if !is_valid_password(p) {
                    return Err(CliError::Usage(
                        "the password read from standard input must be 6 digits".into(),
                    ));
                }
                Some(p.to_owned())
            } else {
                None
            };
            let password = match &chosen {
                Some(p) => p.clone(),
                None => random_digits(6, false)?,
            };
            let hash = hash(config, &password).await?;
            let mut attempt_user = user;
            let mut attempts = 0;
            loop {
                let new = NewAgent {
                    user: &attempt_user,
                    password_hash: &hash,
                    name,
                    extension: &extension,
                    queues: &queues,
                    supervisor,
                };
                match store.insert_agent(&new, now_ms()).await {
                    Ok(_) => break,
                    Err(StoreError::Duplicate) if generated && attempts < 5 => {
                        attempts += 1;
                        attempt_user = random_digits(7, true)?;
                    }
                    Err(StoreError::Duplicate) => {
                        return Err(CliError::Usage(format!(
                            "user {attempt_user} exists already"
                        )))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            writeln!(out, "user: {attempt_user}")?;
            if chosen.is_none() {
                // Generated: shown this once, never stored in clear.
                writeln!(out, "password: {password}")?;
            }
        }
        AgentCommand::List => {
            writeln!(out, "user\tname\textension\tqueues\tsupervisor\tdisabled")?;
            for a in store.agents().await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    a.user,
                    a.name,
                    a.extension,
                    a.queues.join(","),
                    a.supervisor,
                    a.disabled
                )?;
            }
        }
        AgentCommand::Disable { user } => {
            let Some(agent) = store.agent_by_user(&user).await? else {
                return Err(CliError::Usage(format!("no agent with user {user}")));
            };
            store.set_agent_disabled(&user, true).await?;
            let ended = store.delete_agent_sessions(agent.id).await?;
            writeln!(out, "disabled {user}; ended {ended} session(s)")?;
        }
        AgentCommand::ResetPassword { user } => {
            let Some(agent) = store.agent_by_user(&user).await? else {
                return Err(CliError::Usage(format!("no agent with user {user}")));
            };
            let password = random_digits(6, false)?;
            let hash = hash(config, &password).await?;
            store.set_password_hash(&user, &hash).await?;
            store.delete_agent_sessions(agent.id).await?;
            store.clear_user_failures(&user).await?;
            writeln!(out, "user: {user}")?;
            writeln!(out, "password: {password}")?;
        }
    }
    store.close().await;
    Ok(())
}

async fn serve(config: HubConfig, out: &mut impl std::io::Write) -> Result<(), CliError> {
    prepare_database(&config, true)?;
    let tls = match &config.tls {
        Some(tls) => {
            if Path::new(&tls.key).exists() {
                crate::config::check_private(Path::new(&tls.key))?;
            }
            Some(
                crate::tls::acceptor(Path::new(&tls.cert), Path::new(&tls.key))
                    .map_err(|e| CliError::Usage(format!("{} ({})", e, e.code())))?,
            )
        }
        None => None,
    };
    let tcp = tokio::net::TcpListener::bind(&config.listen).await?;
    let hub = crate::Hub::open(config, Arc::new(SystemClock)).await?;
    ensure_exit_reason(hub.store()).await?;
    let addr = tcp.local_addr()?;
    tracing::info!(%addr, tls = tls.is_some(), "serving");
    // Scripts (and the tests) learn the port from this line when listening on port 0.
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(acceptor) => {
            let listener = crate::tls::TlsListener::new(tcp, acceptor)?;
            crate::api::serve(hub, listener, stop).await?;
        }
        None => crate::api::serve(hub, tcp, stop).await?,
    }
    Ok(())
}

enum QuickList {
    Address(QuickAddressCommand),
    Canned(CannedResponseCommand),
}

/// `quick-address` and `canned-response`: organization-wide lists the agents' app shows.
async fn quick_lists(
    store: &crate::store::Store,
    cmd: QuickList,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let check = |what: &str, text: &str, max: usize| {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > max {
            Err(CliError::Usage(format!(
                "{what} must have 1 to {max} characters"
            )))
        } else {
            Ok(text.to_owned())
        }
    };
    let duplicate = |what: &str, key: &str| CliError::Usage(format!("{what} {key:?} exists"));
    match cmd {
        QuickList::Address(QuickAddressCommand::Add { name, address }) => {
            let name = check("the name", &name, 64)?;
            let address = check("the address", &address, 1024)?;
            let id = match store
                .insert_wa_quick_address(&name, &address, now_ms())
                .await
            {
                Err(StoreError::Duplicate) => {
                    return Err(duplicate("a quick address named", &name))
                }
                other => other.map_err(HubError::from)?,
            };
            writeln!(out, "quick address {id}: {name}")?;
        }
        QuickList::Address(QuickAddressCommand::List) => {
            for (id, name, address) in store.wa_quick_addresses().await.map_err(HubError::from)? {
                writeln!(out, "{id}\t{name}\t{address}")?;
            }
        }
        QuickList::Canned(CannedResponseCommand::Add { shortcut, body }) => {
            let shortcut = check("the shortcut", &shortcut, 32)?;
            let body = check("the response", &body, 4096)?;
            let id = match store
                .insert_wa_canned_response(&shortcut, &body, now_ms())
                .await
            {
                Err(StoreError::Duplicate) => {
                    return Err(duplicate("a canned response", &shortcut))
                }
                other => other.map_err(HubError::from)?,
            };
            writeln!(out, "canned response {id}: {shortcut}")?;
        }
        QuickList::Canned(CannedResponseCommand::List) => {
            for (id, shortcut, body) in store.wa_canned_responses().await.map_err(HubError::from)? {
                writeln!(out, "{id}\t{shortcut}\t{body}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        assert_eq!(parse_budget("15m"), Some(900));
        assert_eq!(parse_budget("90s"), Some(90));
        assert_eq!(parse_budget("1h"), Some(3600));
        assert_eq!(parse_budget("10"), Some(600));
        assert_eq!(parse_budget("0m"), None);
        assert_eq!(parse_budget("5d"), None);
        assert_eq!(parse_budget("m"), None);
    }
}
