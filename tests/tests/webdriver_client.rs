//! The e2e WebDriver client against a real WebKitWebDriver driving WebKitGTK's own
//! `MiniBrowser` (shipped in Debian's libwebkit2gtk-4.1-0) on a local page, so the client is
//! known to work independently of the app. Needs a display: runs when `ENLACE_E2E` is set
//! (inside `cargo xtask test` / `cargo xtask e2e`), and then never skips.

use std::path::PathBuf;
use std::time::Duration;

use enlace_tests::{e2e_enabled, Session};
use serde_json::json;

const T: Duration = Duration::from_secs(20);

const PAGE: &str = r#"<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>client test</title></head>
<body>
  <p data-testid="greeting" data-state="idle">hola</p>
  <button data-testid="button" onclick="document.querySelector('[data-testid=greeting]').textContent='clicked'">go</button>
  <input data-testid="input" value="prefilled">
  <select data-testid="lang" onchange="document.querySelector('[data-testid=chosen]').textContent=this.value">
    <option value="auto">auto</option><option value="es">es</option><option value="en">en</option>
  </select>
  <span data-testid="chosen"></span>
  <ul data-testid="list"><li data-testid="item">a</li><li data-testid="item">b</li><li data-testid="item">c</li></ul>
  <div data-testid="vanishing">bye</div>
  <script>
    setTimeout(() => {
      const late = document.createElement('div');
      late.dataset.testid = 'late';
      late.textContent = 'late';
      document.body.appendChild(late);
      document.querySelector('[data-testid=vanishing]').remove();
    }, 500);
  </script>
</body></html>"#;

/// `MiniBrowser` from WebKitGTK (multiarch path), or `$ENLACE_MINIBROWSER`.
fn minibrowser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ENLACE_MINIBROWSER") {
        return Some(PathBuf::from(path));
    }
    let lib = std::fs::read_dir("/usr/lib").ok()?;
    lib.flatten()
        .map(|dir| dir.path().join("webkit2gtk-4.1").join("MiniBrowser"))
        .chain(std::iter::once(PathBuf::from(
            "/usr/lib/webkit2gtk-4.1/MiniBrowser",
        )))
        .find(|p| p.is_file())
}

#[test]
fn client_drives_a_real_webkit_page() {
    if !e2e_enabled() {
        println!(
            "ENLACE_E2E is not set: the WebDriver client test needs a display (cargo xtask e2e)"
        );
        return;
    }
    let browser = minibrowser().expect("WebKitGTK MiniBrowser (package libwebkit2gtk-4.1-0)");
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("page.html");
    std::fs::write(&page, PAGE).expect("write page");

    let s = Session::start_browser(&browser, &["--automation"], &[]).expect("session");
    s.navigate(&format!("file://{}", page.display()))
        .expect("navigate");

    // find / text / attr / html lang
    let greeting = s.wait_for("greeting", T).expect("greeting");
    assert_eq!(s.text(&greeting).expect("text"), "hola");
    assert_eq!(
        s.attr(&greeting, "data-state").expect("attr").as_deref(),
        Some("idle")
    );
    assert_eq!(s.attr(&greeting, "data-missing").expect("attr"), None);
    assert_eq!(s.html_lang().expect("lang"), "es");

    // click
    s.click_testid("button", T).expect("click");
    assert_eq!(
        s.text(&s.find("greeting").expect("find")).expect("text"),
        "clicked"
    );

    // clear / send_keys / property
    let input = s.find("input").expect("input");
    s.clear(&input).expect("clear");
    s.send_keys(&input, "+50640004000").expect("type");
    assert_eq!(
        s.property(&input, "value").expect("value"),
        json!("+50640004000")
    );

    // select
    s.select_option("lang", "en", T).expect("select en");
    assert_eq!(
        s.property(&s.find("lang").expect("select"), "value")
            .expect("value"),
        json!("en")
    );
    let chosen = s
        .wait_until(T, "change event", |s| {
            let text = s.text(&s.find("chosen")?)?;
            Ok((text == "en").then_some(text))
        })
        .expect("the change event fired");
    assert_eq!(chosen, "en");

    // find_all / find_in / execute with an element argument
    let items = s.find_all("item").expect("items");
    assert_eq!(items.len(), 3);
    let list = s.find("list").expect("list");
    let first = s.find_in(&list, "item").expect("item in list");
    assert_eq!(s.text(&first).expect("text"), "a");
    let joined = s
        .execute(
            "return Array.from(arguments[0].children).map(e => e.textContent).join(arguments[1]);",
            vec![list.to_json(), json!("+")],
        )
        .expect("execute");
    assert_eq!(joined, json!("a+b+c"));

    // waiting for things to appear and disappear
    s.wait_for("late", T).expect("late element appears");
    s.wait_gone("vanishing", T).expect("vanishing element goes");

    // errors carry the W3C error name
    let missing = s.find("no-such-thing").expect_err("no such element");
    assert_eq!(missing.w3c_error(), Some("no such element"));

    // screenshot
    let shot = dir.path().join("shot.png");
    s.screenshot_png(&shot).expect("screenshot");
    let png = std::fs::read(&shot).expect("read png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
}
