#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Map tiles for real: the app fetches from the tile server double of `enlace-sandbox` over
//! HTTP, keeps them on disk beside its database and serves them again without asking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use enlace_app::map_tiles::{MAX_ZOOM, TILE_MAX_AGE, USER_AGENT};
use enlace_app::{App, AppOptions, DomainEvent, Host, DEFAULT_MAP_TILE_URL};
use enlace_core::{ErrorCode, SystemClock};
use enlace_sandbox::{TileDouble, TileReply};
use enlace_store::Store;

struct TestHost;

impl Host for TestHost {
    fn emit(&self, _event: DomainEvent) {}

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser here".into())
    }
}

async fn app_on(dir: &Path, options: AppOptions) -> App<TestHost> {
    App::start(
        TestHost,
        Store::open(&dir.join("desk.sqlite3")).unwrap(),
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(enlace_secrets::SecretStore::in_memory()),
            ..options
        },
    )
    .await
    .unwrap()
}

/// The app with its `map_tile_url` set to the double.
async fn app_with_tiles(dir: &Path, tiles: &TileDouble) -> App<TestHost> {
    let app = app_on(dir, AppOptions::default()).await;
    let mut settings = app.settings();
    settings.map_tile_url = tiles.url_template();
    app.save_settings(settings).await.unwrap();
    app
}

fn cached_tiles(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("tiles"), &mut out);
    out
}

#[tokio::test]
async fn a_tile_is_fetched_once_with_the_apps_user_agent_then_served_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDouble::start().unwrap();
    let app = app_with_tiles(dir.path(), &tiles).await;

    let (bytes, mime) = app.map_tile(3, 5, 2).await.unwrap();
    assert_eq!(mime, "image/png");
    assert_eq!(bytes, enlace_sandbox::tiles::tile_png(3, 5, 2).unwrap());
    let requests = tiles.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/3/5/2.png");
    assert_eq!(requests[0].header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("Enlace/"));

    // Again, and from another app on the same data folder (a restart): from disk.
    assert_eq!(app.map_tile(3, 5, 2).await.unwrap().0, bytes);
    drop(app);
    let again = app_on(dir.path(), AppOptions::default()).await;
    assert_eq!(again.map_tile(3, 5, 2).await.unwrap().0, bytes);
    assert_eq!(tiles.request_count(), 1, "the cached tile was asked again");
    assert_eq!(cached_tiles(dir.path()).len(), 1);
}

#[tokio::test]
async fn an_old_tile_is_fetched_again_and_served_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDouble::start().unwrap();
    let app = app_with_tiles(dir.path(), &tiles).await;
    let (fresh, _) = app.map_tile(2, 1, 1).await.unwrap();
    let age = |days: u64| {
        for file in cached_tiles(dir.path()) {
            let old = SystemTime::now() - TILE_MAX_AGE - Duration::from_secs(days * 86_400);
            std::fs::File::options()
                .write(true)
                .open(file)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
    };

    // Older than the maximum age: asked again.
    age(1);
    assert_eq!(app.map_tile(2, 1, 1).await.unwrap().0, fresh);
    assert_eq!(tiles.request_count(), 2);

    // Old, and the server fails: the old tile rather than nothing.
    age(30);
    tiles.set_reply(TileReply::Unavailable);
    assert_eq!(app.map_tile(2, 1, 1).await.unwrap().0, fresh);
    assert_eq!(tiles.request_count(), 3);

    // A tile never fetched while the server fails: an error, nothing kept.
    assert!(app.map_tile(2, 2, 2).await.is_err());
    assert_eq!(cached_tiles(dir.path()).len(), 1);
}

#[tokio::test]
async fn tiles_outside_the_map_are_refused_without_asking_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDouble::start().unwrap();
    let app = app_with_tiles(dir.path(), &tiles).await;
    for (z, x, y) in [
        (MAX_ZOOM + 1, 0, 0),
        (2, 4, 0),
        (2, 0, 4),
        (0, 1, 0),
        (19, 1 << 19, 0),
        (u8::MAX, u32::MAX, u32::MAX),
    ] {
        let e = app.map_tile(z, x, y).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{z}/{x}/{y}");
    }
    assert_eq!(tiles.request_count(), 0);
    // The last tile of the deepest zoom is on the map.
    app.map_tile(19, (1 << 19) - 1, (1 << 19) - 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn what_is_not_a_small_image_is_not_a_tile() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDouble::start().unwrap();
    let app = app_with_tiles(dir.path(), &tiles).await;
    tiles.set_reply(TileReply::Html);
    assert!(app.map_tile(1, 0, 0).await.is_err());
    tiles.set_reply(TileReply::Oversized);
    let e = app.map_tile(1, 0, 1).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MediaTooLarge);
    assert!(cached_tiles(dir.path()).is_empty(), "nothing kept");
    // Errors name the host, never the whole URL (a provider's key may be in its query).
    tiles.set_reply(TileReply::Unavailable);
    let e = app.map_tile(1, 1, 1).await.unwrap_err();
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
    assert!(!e.to_string().contains("/1/1/1.png"), "{e}");
}

#[tokio::test]
async fn the_tile_url_must_be_https_or_this_computer() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(dir.path(), AppOptions::default()).await;
    assert_eq!(app.settings().map_tile_url, DEFAULT_MAP_TILE_URL);
    for bad in [
        "http://tiles.example.com/{z}/{x}/{y}.png",
        "https://tiles.example.com/{z}/{x}.png",
        "file:///srv/{z}/{x}/{y}.png",
    ] {
        let mut settings = app.settings();
        settings.map_tile_url = bad.into();
        let e = app.save_settings(settings).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSetting, "{bad}");
        assert_eq!(e.field(), Some("mapTileUrl"));
    }
    assert_eq!(app.settings().map_tile_url, DEFAULT_MAP_TILE_URL);
}

#[tokio::test]
async fn the_demo_tile_server_stands_in_for_the_default_url_only() {
    let dir = tempfile::tempdir().unwrap();
    let demo = TileDouble::start().unwrap();
    let app = app_on(
        dir.path(),
        AppOptions {
            demo_map_tiles: Some(demo.url_template()),
            ..AppOptions::default()
        },
    )
    .await;
    assert_eq!(app.map_tile_template(), demo.url_template());
    app.map_tile(0, 0, 0).await.unwrap();
    assert_eq!(demo.request_count(), 1);

    // A tile server the agent chose wins over the demo.
    let chosen = TileDouble::start().unwrap();
    let mut settings = app.settings();
    settings.map_tile_url = chosen.url_template();
    app.save_settings(settings).await.unwrap();
    app.map_tile(0, 0, 0).await.unwrap();
    assert_eq!(chosen.request_count(), 1);
    assert_eq!(demo.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_map_asks_the_server_for_a_few_tiles_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDouble::start().unwrap();
    let app = app_with_tiles(dir.path(), &tiles).await;
    tiles.set_delay(Duration::from_millis(50));
    let asks: Vec<_> = (0..8u32)
        .map(|x| {
            let app = app.clone();
            tokio::spawn(async move { app.map_tile(3, x, 0).await })
        })
        .collect();
    for ask in asks {
        ask.await.unwrap().unwrap();
    }
    assert_eq!(tiles.request_count(), 8);
    assert!(
        tiles.most_in_flight() <= enlace_app::map_tiles::FETCHES_AT_ONCE,
        "{} requests at once",
        tiles.most_in_flight()
    );
}
