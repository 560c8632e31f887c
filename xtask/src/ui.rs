//! The Svelte UI's npm scripts (`ui/package.json`): lint, check, test, build → `ui/dist`.

use std::process::Command;

use crate::cmd::{self, TaskResult};
use crate::paths;

/// `npm` (`npm.cmd` on Windows), to be given explicit arguments.
pub fn npm() -> Command {
    Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" })
}

/// `npm run <script>` in `ui/`.
pub fn run_script(script: &str) -> TaskResult<()> {
    cmd::run(npm().args(["run", script]).current_dir(paths::ui()))
}

/// `npm test` in `ui/`.
pub fn test() -> TaskResult<()> {
    cmd::run(npm().arg("test").current_dir(paths::ui()))
}

/// `npm run build`: the assets the app embeds with `custom-protocol`.
pub fn build() -> TaskResult<()> {
    run_script("build")
}
