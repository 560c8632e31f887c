//! Build channels are configuration: dev and release builds have separate identifiers, window
//! titles, data folders, keyring namespaces, handler entries and icons (`icons/dev/` for dev).

use std::path::PathBuf;

use crate::wire::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildChannel {
    Dev,
    Release,
}

impl BuildChannel {
    pub fn current() -> Self {
        if cfg!(debug_assertions) {
            BuildChannel::Dev
        } else {
            BuildChannel::Release
        }
    }

    pub fn store(self) -> enlace_store::Channel {
        match self {
            BuildChannel::Dev => enlace_store::Channel::Dev,
            BuildChannel::Release => enlace_store::Channel::Release,
        }
    }

    pub fn secrets(self) -> enlace_secrets::Channel {
        match self {
            BuildChannel::Dev => enlace_secrets::Channel::Dev,
            BuildChannel::Release => enlace_secrets::Channel::Release,
        }
    }

    pub fn wire(self) -> Channel {
        match self {
            BuildChannel::Dev => Channel::Dev,
            BuildChannel::Release => Channel::Release,
        }
    }

    /// Tauri's identifier also names the single-instance bus name, the webview data folder and
    /// the `org.freedesktop.Application` bus name links arrive on (`enlace-activation`).
    pub fn identifier(self) -> &'static str {
        match self {
            BuildChannel::Dev => enlace_activation::DEV_APP_ID,
            BuildChannel::Release => enlace_activation::RELEASE_APP_ID,
        }
    }

    pub fn apply(self, config: &mut tauri::Config) {
        config.identifier = self.identifier().to_owned();
        if self == BuildChannel::Dev {
            config.product_name = Some("Enlace Dev".to_owned());
            for window in &mut config.app.windows {
                window.title = "Enlace (dev)".to_owned();
            }
        }
    }

    /// The window icon (PNG): release's, or the dev artwork with its "DEV" band.
    pub fn window_icon(self) -> &'static [u8] {
        match self {
            BuildChannel::Dev => include_bytes!("../../icons/dev/128x128.png"),
            BuildChannel::Release => include_bytes!("../../icons/128x128.png"),
        }
    }

    /// The data folder (`ENLACE_DATA_DIR` overrides it, for tests and portable set-ups).
    /// Without a home folder, a folder under the system temp dir (the app says so at start-up).
    pub fn data_dir(self) -> PathBuf {
        enlace_store::data_dir_from(self.store(), std::env::var_os(enlace_store::DATA_DIR_ENV))
            .unwrap_or_else(|_| std::env::temp_dir().join(self.identifier()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_and_release_differ_in_everything_the_readme_names() {
        let (dev, release) = (BuildChannel::Dev, BuildChannel::Release);
        assert_ne!(dev.identifier(), release.identifier());
        assert_ne!(dev.secrets().service(), release.secrets().service());
        assert_ne!(
            crate::os::handler_spec(dev).desktop_id,
            crate::os::handler_spec(release).desktop_id
        );
        if let (Ok(d), Ok(r)) = (
            enlace_store::data_dir_from(dev.store(), None),
            enlace_store::data_dir_from(release.store(), None),
        ) {
            assert_ne!(d, r);
        }
        // Icons: the dev artwork is the one in icons/dev, and both are PNGs the window takes.
        let dev_png = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../icons/dev/128x128.png"),
        )
        .unwrap();
        assert_eq!(dev.window_icon(), dev_png.as_slice());
        assert_ne!(dev.window_icon(), release.window_icon());
        for icon in [dev.window_icon(), release.window_icon()] {
            assert!(tauri::image::Image::from_bytes(icon).is_ok());
        }
    }
}
