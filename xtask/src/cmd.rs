//! Running programs (never through a shell), timing steps and the error type of the tool.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Everything that can make a task fail. `code()` is stable and printed with the message.
#[derive(Debug)]
pub enum TaskError {
    /// The command line of `cargo xtask` itself is wrong.
    Usage(String),
    /// A program could not be started at all (usually: not installed).
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A program ran and failed.
    Failed { command: String, status: ExitStatus },
    /// Something the task needs is missing or in the wrong state.
    Precondition(String),
    /// A daemon or server did not come up in time.
    NotReady(String),
    /// File-system work failed.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A demo phone line (real baresip peers) could not be started.
    Peers(String),
}

impl TaskError {
    /// A short, stable identifier of the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::Spawn { .. } => "spawn",
            Self::Failed { .. } => "failed",
            Self::Precondition(_) => "precondition",
            Self::NotReady(_) => "not_ready",
            Self::Io { .. } => "io",
            Self::Peers(_) => "peers",
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(msg) => write!(f, "{msg}"),
            Self::Spawn { program, source } => {
                write!(f, "could not start `{program}`: {source}")?;
                if source.kind() == std::io::ErrorKind::NotFound {
                    write!(f, " (not installed? try `cargo xtask setup`)")?;
                }
                Ok(())
            }
            Self::Failed { command, status } => write!(f, "`{command}` failed ({status})"),
            Self::Precondition(msg) | Self::NotReady(msg) | Self::Peers(msg) => {
                write!(f, "{msg}")
            }
            Self::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } | Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type TaskResult<T> = Result<T, TaskError>;

/// `program arg1 arg2 …` for messages (arguments are not quoted: this is for humans only).
pub fn describe(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

/// Runs `cmd` with inherited stdio and fails unless it exits with 0.
pub fn run(cmd: &mut Command) -> TaskResult<()> {
    let status = status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(TaskError::Failed {
            command: describe(cmd),
            status,
        })
    }
}

/// Runs `cmd` with inherited stdio and returns its exit status whatever it is.
pub fn status(cmd: &mut Command) -> TaskResult<ExitStatus> {
    println!("$ {}", describe(cmd));
    cmd.status().map_err(|source| TaskError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// Runs `cmd` quietly and returns its stdout (lossy UTF-8) when it exits with 0.
pub fn output(cmd: &mut Command) -> TaskResult<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| TaskError::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(TaskError::Failed {
            command: describe(cmd),
            status: out.status,
        })
    }
}

/// Full path of `program` when it is on PATH.
pub fn which(program: impl AsRef<OsStr>) -> Option<PathBuf> {
    enlace_peers::find_program(program.as_ref().to_str()?)
}

/// The cargo that runs us (`$CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(program)
}

/// One timed step of a task.
#[derive(Debug)]
struct Step {
    name: String,
    took: Duration,
    ok: bool,
}

/// Records the steps of a task with their timings and prints a summary.
#[derive(Debug)]
pub struct Report {
    title: String,
    started: Instant,
    steps: Vec<Step>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            started: Instant::now(),
            steps: Vec::new(),
        }
    }

    /// Runs one step, announcing it and recording how long it took and whether it passed.
    pub fn step<T>(&mut self, name: &str, f: impl FnOnce() -> TaskResult<T>) -> TaskResult<T> {
        println!("\n==> {name}");
        let started = Instant::now();
        let result = f();
        let took = started.elapsed();
        let ok = result.is_ok();
        self.steps.push(Step {
            name: name.to_owned(),
            took,
            ok,
        });
        match &result {
            Ok(_) => println!("<== {name}: ok ({})", human(took)),
            Err(e) => eprintln!(
                "<== {name}: FAILED after {}: [{}] {e}",
                human(took),
                e.code()
            ),
        }
        result
    }

    /// Prints every recorded step with its timing, and the overall verdict.
    pub fn print_summary(&self, failure: Option<&TaskError>) {
        println!("\n{} summary", self.title);
        let width = self.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for step in &self.steps {
            let mark = if step.ok { "ok    " } else { "FAILED" };
            println!("  {mark} {:<width$}  {:>9}", step.name, human(step.took));
        }
        match failure {
            None => println!(
                "{}: all steps passed in {}",
                self.title,
                human(self.started.elapsed())
            ),
            Some(e) => eprintln!(
                "{}: FAILED after {} (stopped at the first failure): [{}] {e}",
                self.title,
                human(self.started.elapsed()),
                e.code()
            ),
        }
    }
}

/// `1.23 s`, `2 m 03 s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        let whole = d.as_secs();
        format!("{} m {:02} s", whole / 60, whole % 60)
    }
}
