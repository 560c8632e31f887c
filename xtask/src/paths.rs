//! Where things are: the repository root, the cargo target dir, the app binary.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// The cargo target dir: `$CARGO_TARGET_DIR` (or `$CARGO_BUILD_TARGET_DIR`), relative paths
/// taken from the workspace root, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    let configured = std::env::var_os("CARGO_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR"))
        .filter(|v| !v.is_empty());
    match configured {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// The UI project folder.
pub fn ui() -> PathBuf {
    root().join("ui")
}

/// The desktop app binary built by `cargo build -p enlace-desktop`.
pub fn app_bin(release: bool) -> PathBuf {
    let profile = if release { "release" } else { "debug" };
    target_dir()
        .join(profile)
        .join(format!("enlace{}", std::env::consts::EXE_SUFFIX))
}
