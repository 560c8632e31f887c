#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The map tile server double over real HTTP.

use std::time::Duration;

use enlace_sandbox::{TileDouble, TileReply};

fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

#[test]
fn serves_png_tiles_in_range_and_counts_requests() {
    let tiles = TileDouble::start().unwrap();
    let http = client();
    let url = tiles
        .url_template()
        .replace("{z}", "3")
        .replace("{x}", "5")
        .replace("{y}", "2");
    let reply = http
        .get(&url)
        .header("User-Agent", "Enlace/test")
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "image/png");
    assert!(reply.bytes().unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    for out_of_range in ["/3/8/0.png", "/20/0/0.png", "/3/5/2.jpg", "/favicon.ico"] {
        let reply = http
            .get(format!("{}{out_of_range}", tiles.base_url()))
            .send()
            .unwrap();
        assert_eq!(reply.status(), 404, "{out_of_range}");
    }
    let requests = tiles.requests();
    assert_eq!(tiles.request_count(), 5);
    assert_eq!(requests[0].path, "/3/5/2.png");
    assert_eq!(requests[0].header("user-agent"), Some("Enlace/test"));

    tiles.set_reply(TileReply::Html);
    let reply = http.get(&url).send().unwrap();
    assert!(reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    tiles.set_reply(TileReply::Unavailable);
    assert_eq!(http.get(&url).send().unwrap().status(), 503);
}
