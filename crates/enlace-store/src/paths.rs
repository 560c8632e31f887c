//! Where the database lives: a per-OS data folder that differs by build channel, overridable
//! with [`DATA_DIR_ENV`].

use std::ffi::OsString;
use std::path::PathBuf;

use directories::ProjectDirs;

use crate::error::StoreError;

/// Environment variable that replaces the data folder (tests, end-to-end runs, portable use).
pub const DATA_DIR_ENV: &str = "ENLACE_DATA_DIR";

/// File name of the database inside the data folder.
pub const DATABASE_FILE_NAME: &str = "enlace.sqlite3";

/// Build channel: dev and release builds never share data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Dev,
    Release,
}

impl Channel {
    /// `(qualifier, organization, application)` for [`ProjectDirs::from`].
    pub fn project(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Channel::Dev => ("dev", "enlace", "Enlace Dev"),
            Channel::Release => ("app", "enlace", "Enlace"),
        }
    }

    /// The application identifier (the Tauri `identifier` of the channel's build).
    pub fn identifier(self) -> &'static str {
        match self {
            Channel::Dev => "dev.enlace.desktop.dev",
            Channel::Release => "app.enlace.desktop",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Dev => "dev",
            Channel::Release => "release",
        }
    }
}

/// The data folder for `channel`, honoring [`DATA_DIR_ENV`] from the process environment.
pub fn data_dir(channel: Channel) -> Result<PathBuf, StoreError> {
    data_dir_from(channel, std::env::var_os(DATA_DIR_ENV))
}

/// The data folder for `channel`, given the value of [`DATA_DIR_ENV`] (`None` when unset).
/// An empty override is ignored. Without an override this is the OS's local data folder
/// (not the roaming one on Windows: a SQLite file must not travel with a roaming profile):
/// Linux `~/.local/share/enlacedev` / `enlace`, macOS
/// `~/Library/Application Support/dev.enlace.Enlace-Dev` / `app.enlace.Enlace`, Windows
/// `%LOCALAPPDATA%\enlace\Enlace Dev\data` / `Enlace\data`.
pub fn data_dir_from(
    channel: Channel,
    env_override: Option<OsString>,
) -> Result<PathBuf, StoreError> {
    if let Some(dir) = env_override.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let (qualifier, organization, application) = channel.project();
    ProjectDirs::from(qualifier, organization, application)
        .map(|dirs| dirs.data_local_dir().to_path_buf())
        .ok_or(StoreError::NoDataDir)
}

/// The database file for `channel` (inside [`data_dir`]).
pub fn database_path(channel: Channel) -> Result<PathBuf, StoreError> {
    Ok(data_dir(channel)?.join(DATABASE_FILE_NAME))
}

/// The database file for `channel`, given the value of [`DATA_DIR_ENV`].
pub fn database_path_from(
    channel: Channel,
    env_override: Option<OsString>,
) -> Result<PathBuf, StoreError> {
    Ok(data_dir_from(channel, env_override)?.join(DATABASE_FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_wins_and_empty_override_is_ignored() {
        let dir = data_dir_from(Channel::Dev, Some(OsString::from("/tmp/enlace-x"))).unwrap();
        assert_eq!(dir, PathBuf::from("/tmp/enlace-x"));
        let db = database_path_from(Channel::Release, Some("/d".into())).unwrap();
        assert_eq!(db, PathBuf::from("/d").join(DATABASE_FILE_NAME));
        // Empty means "not set": falls back to the OS folder, never to the current directory.
        if let Ok(dir) = data_dir_from(Channel::Dev, Some(OsString::new())) {
            assert!(dir.is_absolute(), "{dir:?}");
        }
    }

    #[test]
    fn channels_have_separate_folders_and_identifiers() {
        assert_ne!(Channel::Dev.identifier(), Channel::Release.identifier());
        assert_eq!(Channel::Dev.identifier(), "dev.enlace.desktop.dev");
        assert_eq!(Channel::Release.identifier(), "app.enlace.desktop");
        let (Ok(dev), Ok(release)) = (
            data_dir_from(Channel::Dev, None),
            data_dir_from(Channel::Release, None),
        ) else {
            // No home folder on this machine: both must say so the same way.
            assert!(matches!(
                data_dir_from(Channel::Dev, None),
                Err(StoreError::NoDataDir)
            ));
            return;
        };
        assert_ne!(dev, release);
        if cfg!(target_os = "linux") {
            assert!(dev.ends_with("enlacedev"), "{dev:?}");
            assert!(release.ends_with("enlace"), "{release:?}");
        }
    }
}
