//! Building the desktop app (`enlace-desktop`, binary `enlace`) with its UI embedded.

use crate::cmd::{self, TaskError, TaskResult};
use crate::paths;

/// `cargo build --locked -p enlace-desktop -p enlace-activation --features
/// enlace-desktop/custom-protocol [--release]`: the app and, beside it, `enlace-open` (the link
/// forwarder the handler entry names).
///
/// `custom-protocol` makes the binary serve the embedded `ui/dist` instead of a dev server,
/// which is what end-to-end tests and demo runs need (tauri-on-linux.md §6, pitfall P4).
pub fn build(release: bool) -> TaskResult<std::path::PathBuf> {
    let mut build = cmd::cargo();
    build.current_dir(paths::root()).args([
        "build",
        "--locked",
        "-p",
        "enlace-desktop",
        "-p",
        "enlace-activation",
        "--features",
        "enlace-desktop/custom-protocol",
    ]);
    if release {
        build.arg("--release");
    }
    cmd::run(&mut build)?;
    let bin = paths::app_bin(release);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(TaskError::Precondition(format!(
            "the build passed but {} does not exist",
            bin.display()
        )))
    }
}

/// Where the e2e tests find the app: a copy of the custom-protocol debug build, so a later
/// `cargo test` that rebuilds `target/debug/enlace` with other features cannot swap the
/// binary under the e2e tests.
pub fn e2e_bin() -> std::path::PathBuf {
    paths::target_dir()
        .join("e2e")
        .join("bin")
        .join(format!("enlace{}", std::env::consts::EXE_SUFFIX))
}

/// `enlace-open` beside the app binary `app`.
pub fn forwarder_beside(app: &std::path::Path) -> std::path::PathBuf {
    app.with_file_name(format!("enlace-open{}", std::env::consts::EXE_SUFFIX))
}

/// Builds the debug app with `custom-protocol` and copies it (and `enlace-open`) to
/// [`e2e_bin`]'s folder.
pub fn build_for_e2e() -> TaskResult<std::path::PathBuf> {
    let built = build(false)?;
    let staged = e2e_bin();
    if let Some(dir) = staged.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| TaskError::io(format!("create {}", dir.display()), e))?;
    }
    stage(&forwarder_beside(&built), &forwarder_beside(&staged))?;
    stage(&built, &staged)?;
    println!("e2e app binary: {}", staged.display());
    Ok(staged)
}

/// Copies to a temporary name and renames, so a running copy is never half-written.
fn stage(from: &std::path::Path, to: &std::path::Path) -> TaskResult<()> {
    let partial = to.with_extension("partial");
    std::fs::copy(from, &partial).map_err(|e| {
        TaskError::io(
            format!("copy {} to {}", from.display(), partial.display()),
            e,
        )
    })?;
    std::fs::rename(&partial, to)
        .map_err(|e| TaskError::io(format!("rename to {}", to.display()), e))
}
