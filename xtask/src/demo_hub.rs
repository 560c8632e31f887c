//! The demo organization server of `cargo xtask run`: the real `enlace-hub` binary on a free
//! loopback port, with a SQLite file in a temporary folder, two agents and the usual pause
//! reasons, and the AMI double of `enlace-sandbox` as its PBX. A customer calls the queue every
//! minute while an agent is logged in. Everything is stopped (by PID) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_sandbox::{AmiDouble, AmiScenario};

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

pub struct DemoHub {
    pub url: String,
    hub: Child,
    stop: Arc<AtomicBool>,
    _pbx: Arc<AmiDouble>,
    _dir: TempDir,
}

impl DemoHub {
    pub fn start() -> TaskResult<DemoHub> {
        let bin = build()?;
        let dir = TempDir::new("enlace-demo-hub")?;
        let pbx =
            Arc::new(AmiDouble::start().map_err(|e| TaskError::io("start the AMI double", e))?);
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
        write_config(&config, dir.path(), port, &pbx)?;
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
        let hub = hub_cmd(&["serve"])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| TaskError::io("start enlace-hub serve", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (calls, flag) = (Arc::clone(&pbx), Arc::clone(&stop));
        std::thread::spawn(move || customers(&calls, &flag));
        Ok(DemoHub {
            url: format!("http://127.0.0.1:{port}"),
            hub,
            stop,
            _pbx: pbx,
            _dir: dir,
        })
    }
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

fn write_config(path: &Path, dir: &Path, port: u16, pbx: &AmiDouble) -> TaskResult<()> {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\n\
         database_url = \"sqlite://{db}\"\n\n\
         [ami]\n\
         addr = \"{ami}\"\n\
         username = \"ami\"\n\
         secret = \"amisecret\"\n\
         interface_template = \"PJSIP/{{extension}}\"\n\
         dial_context = \"from-internal\"\n",
        db = dir.join("enlace-hub.db").display(),
        ami = pbx.addr(),
    );
    std::fs::write(path, text).map_err(|e| TaskError::io("write the demo hub config", e))
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
