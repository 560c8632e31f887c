//! Omnicanalidad 3/3 on the real window: the agent sends a voice note, a file with a caption
//! and a location with a quick address, and the WhatsApp double receives each with the fields
//! of api-facts C3 (ids from a real upload, the voice flag, filename, caption,
//! latitude/longitude/name/address).
//!
//! Real parts only: the microphone is a PulseAudio server (`enlace_peers::PulseServer`) whose
//! default source plays a known tone, handed to the app as `PULSE_SERVER`; the file comes from
//! the OS file dialog (GTK's chooser, driven with `xdotool` on the Xvfb display) opening in a
//! Documents folder named by a per-test `user-dirs.dirs`; the map's tiles come from the local
//! tile server (`enlace_sandbox::TileDouble`) set as the app's `mapTileUrl` in Configuración;
//! the quick address is the organization's, stored in the hub.

use std::time::{Duration, Instant};

use enlace_peers::PulseServer;
use enlace_sandbox::{Inbound, InboundMedia, MediaKind, SentMessage, TileDouble};
use enlace_tests::inbox_ui;
use enlace_tests::omnichannel::{HubOptions, OrgServer, AGENT_LOGIN};
use enlace_tests::outside::{self, AgentFolders};
use enlace_tests::{AppEnv, Session};
use serde_json::Value;

use super::{open_panel, requested, start, OrFail, CALL, UI};

/// Hub → desktop and desktop → hub → double.
const HUB: Duration = Duration::from_secs(90);
/// How long the agent speaks into the microphone.
const SPEAK: Duration = Duration::from_secs(2);
/// The microphone's tone.
const TONE_HZ: u32 = 440;
const CUSTOMER: (&str, &str) = ("50688885555", "Marta Jiménez");
const QUICK_NAME: &str = "Oficina central";
const QUICK_ADDRESS: &str = "Avenida 2, calle 5, San José";
const PDF_NAME: &str = "cotizacion-tour.pdf";
const CAPTION: &str = "Cotización";

/// Mensaje de audio, Agregar archivo and Enviar ubicación in one chat; each reaches the double
/// with exactly what the agent chose, and each shows at least `sent` in the window.
#[test]
fn whatsapp_voice_note_file_with_caption_and_location_with_quick_address_reach_the_double() {
    if !requested() {
        return;
    }
    let started = Instant::now();
    let step = |what: &str| println!("{:>7.1} s  {what}", started.elapsed().as_secs_f64());
    let org = OrgServer::start(&HubOptions::default()).or_fail("the hub with a WhatsApp number");
    let quick_id = org
        .add_quick_address(QUICK_NAME, QUICK_ADDRESS)
        .or_fail("the organization's quick address");
    let pulse = PulseServer::start(TONE_HZ).or_fail("PulseAudio with a tone as its default source");
    let tiles = TileDouble::start().or_fail("the tile server");
    let folders = AgentFolders::new().or_fail("the agent's Documents folder");
    let pdf = outside::pdf_with_text("Cotizacion tour sabado");
    folders
        .put_document(PDF_NAME, &pdf)
        .or_fail("the PDF in Documents");
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with("ENLACE_LOG", "warn,enlace=debug,enlace_app=debug")
        .with("PULSE_SERVER", pulse.server())
        .with("XDG_CONFIG_HOME", folders.config_home());
    let s = start(&env);
    step("window");
    set_map_tile_url(&s, &tiles.url_template());
    let (user, password) = AGENT_LOGIN;
    inbox_ui::log_in(&s, &org.url(), user, password, CALL).or_fail("log in to the hub");
    step("logged in");

    org.customer_writes(CUSTOMER.0, CUSTOMER.1, "Hola, ¿me envían la cotización?");
    inbox_ui::wait_badge(&s, 1, HUB).or_fail("the conversation is waiting");
    open_panel(&s, "omnichannel");
    inbox_ui::open_chat(&s, CUSTOMER.0, UI).or_fail("Ver opens the chat");
    step("chat open");

    // (a) Mensaje de audio: Iniciar, speak, Detener, listen back, Enviar.
    s.click_testid("composer-audio", UI)
        .or_fail("Mensaje de audio");
    s.wait_for("voice-panel", UI).or_fail("the voice panel");
    s.click_testid("voice-start", UI).or_fail("Iniciar");
    let timer = s.wait_for("voice-timer", UI).or_fail("the timer");
    let first = s.text(&timer).or_fail("the timer's text");
    std::thread::sleep(SPEAK);
    s.wait_until(UI, "the timer runs while recording", |s| {
        Ok((s.text(&timer)? != first).then_some(()))
    })
    .unwrap_or_else(|e| explain(&s, "voice-timer", &format!("the timer: {e}")));
    s.click_testid("voice-stop", UI)
        .unwrap_or_else(|e| explain(&s, "voice-stop", &format!("Detener: {e}")));
    s.wait_for("voice-send", UI)
        .unwrap_or_else(|e| explain(&s, "voice-stopped", &format!("the recording is ready: {e}")));
    listen_back(&s);
    s.click_testid("voice-send", UI)
        .or_fail("Enviar the voice note");
    let sent = org
        .wait_sent_to(CUSTOMER.0, 1, HUB)
        .unwrap_or_else(|e| explain(&s, "voice-sent", &format!("the voice note is sent: {e}")));
    step("voice note sent");
    let voice = &sent[0];
    assert_eq!(voice.kind, "audio", "{}", voice.body);
    assert_eq!(voice.body["audio"]["voice"], true, "{}", voice.body);
    let ogg = uploaded(&org, voice, "audio");
    let info = outside::read_ogg_opus(&ogg).unwrap_or_else(|e| panic!("the voice note: {e}"));
    assert_eq!(info.channels, 1, "a voice note is mono: {info:?}");
    assert!(info.has_tags, "OpusTags follows OpusHead: {info:?}");
    assert!(
        info.duration_ms() > 500,
        "the voice note holds the recording: {info:?}"
    );
    check_tone(&ogg, pulse.tone_hz());

    // (b) Agregar archivo: the OS dialog (opening in Documents), the preview, Detalle, Enviar.
    s.click_testid("composer-file", UI)
        .or_fail("Agregar archivo");
    s.wait_for("file-dialog", UI).or_fail("the file dialog");
    let before = outside::visible_windows().or_fail("the windows before the OS dialog");
    s.click_testid("file-pick", UI)
        .or_fail("Seleccionar archivo");
    let (dialog, title) = outside::wait_new_window(&before, UI)
        .unwrap_or_else(|e| explain(&s, "file-pick", &format!("the OS file dialog opens: {e}")));
    step(&format!("OS dialog {title:?}"));
    // The bare name: found only if the dialog opened in Documents.
    outside::choose_file_in_dialog(&dialog, PDF_NAME, UI)
        .unwrap_or_else(|e| explain(&s, "os-dialog", &format!("the PDF in Documents: {e}")));
    s.wait_until(UI, "the chosen file's name", |s| {
        Ok(s.text(&s.find("file-name")?)?
            .contains(PDF_NAME)
            .then_some(()))
    })
    .unwrap_or_else(|e| explain(&s, "file-name", &format!("the file is staged: {e}")));
    s.wait_for("file-preview", UI)
        .or_fail("the file is previewed before sending");
    s.wait_until(UI, "the PDF's first page is drawn", |s| {
        let pdf = s.find("file-pdf")?;
        Ok((s.attr(&pdf, "data-state")?.as_deref() == Some("shown")).then_some(()))
    })
    .unwrap_or_else(|e| explain(&s, "file-pdf", &format!("the PDF preview: {e}")));
    let caption = s.wait_for("file-caption", UI).or_fail("Detalle");
    s.send_keys(&caption, CAPTION).or_fail("type Detalle");
    s.click_testid("file-send", UI).or_fail("Enviar the file");
    let sent = org
        .wait_sent_to(CUSTOMER.0, 2, HUB)
        .unwrap_or_else(|e| explain(&s, "file-sent", &format!("the file is sent: {e}")));
    step("file sent");
    let document = &sent[1];
    assert_eq!(document.kind, "document", "{}", document.body);
    assert_eq!(document.body["document"]["caption"], CAPTION);
    assert_eq!(document.body["document"]["filename"], PDF_NAME);
    assert!(
        uploaded(&org, document, "document") == pdf,
        "the uploaded bytes are the file's"
    );

    // (c) Enviar ubicación: tiles from the local server, a quick address, Enviar.
    let tiles_before = tiles.request_count();
    s.click_testid("composer-location", UI)
        .or_fail("Enviar ubicación");
    s.wait_for("location-dialog", UI)
        .or_fail("the location dialog");
    s.wait_for("location-map", UI).or_fail("the map");
    s.wait_until(UI, "the map asks the tile server for tiles", |_| {
        Ok((tiles.request_count() > tiles_before).then_some(()))
    })
    .unwrap_or_else(|e| explain(&s, "location-tiles", &format!("tiles: {e}")));
    step(&format!("{} tile request(s)", tiles.request_count()));
    s.wait_until(UI, "the map is shown", |s| {
        let map = s.find("location-map")?;
        Ok((s.attr(&map, "data-state")?.as_deref() == Some("shown")).then_some(()))
    })
    .unwrap_or_else(|e| explain(&s, "location-map", &format!("the map: {e}")));
    let (latitude, longitude) = move_pin(&s);
    let quick = s
        .wait_until(UI, "the organization's quick address", |s| {
            Ok(s.find_css(&format!(
                "[data-testid=\"location-quick\"][data-id=\"org:{quick_id}\"]"
            ))
            .ok())
        })
        .unwrap_or_else(|e| explain(&s, "location-quick", &format!("the yellow button: {e}")));
    assert!(
        s.text(&quick).or_fail("its text").contains(QUICK_NAME),
        "the yellow button names the quick address"
    );
    s.click(&quick).or_fail("the quick address");
    let label = s.find("location-label").or_fail("Dirección");
    let address = s.find("location-address").or_fail("the address line");
    s.wait_until(
        UI,
        "Dirección and the address take the quick address",
        |s| {
            let label = s.property(&label, "value")?;
            let address = s.property(&address, "value")?;
            Ok((label == QUICK_NAME && address == QUICK_ADDRESS).then_some(()))
        },
    )
    .or_fail("the quick address fills the fields");
    // The pin stays where the agent put it (this quick address has no coordinates).
    assert_eq!(coords(&s), Some((latitude, longitude)), "the pin stays");
    s.click_testid("location-send", UI)
        .or_fail("Enviar the location");
    let sent = org
        .wait_sent_to(CUSTOMER.0, 3, HUB)
        .unwrap_or_else(|e| explain(&s, "location-sent", &format!("the location is sent: {e}")));
    step("location sent");
    let location = &sent[2];
    assert_eq!(location.kind, "location", "{}", location.body);
    let l = &location.body["location"];
    assert_eq!(l["name"], QUICK_NAME, "{l}");
    assert_eq!(l["address"], QUICK_ADDRESS, "{l}");
    let (sent_lat, sent_lon) = (number(&l["latitude"]), number(&l["longitude"]));
    // The window shows the pin rounded; the double has the full value.
    assert!(
        (sent_lat - latitude).abs() < 1e-5 && (sent_lon - longitude).abs() < 1e-5,
        "the double got {sent_lat}, {sent_lon}; the window showed {latitude}, {longitude}"
    );

    // Each message's ticks reach at least `sent`.
    for kind in ["audio", "document", "location"] {
        s.wait_until(HUB, &format!("the {kind} message shows as sent"), |s| {
            Ok(inbox_ui::shown_messages(s)?.into_iter().find(|m| {
                m.kind == kind && matches!(m.status.as_str(), "sent" | "delivered" | "read")
            }))
        })
        .unwrap_or_else(|e| explain(&s, "sending-ticks", &format!("{kind}: {e}")));
    }
    // (d) The customer answers with a voice note (the tone the agent sent): it plays in the
    // window, with its waveform and the speed control.
    let mut reply = InboundMedia::with_bytes(MediaKind::Audio, "audio/ogg; codecs=opus", ogg);
    reply.voice = true;
    org.wa.customer_sends(CUSTOMER.0, Inbound::Media(reply));
    play_received_voice_note(&s);
    step("received voice note played");

    s.screenshot_png(&enlace_tests::app::artifacts_dir().join("inbox-sending.png"))
        .or_fail("screenshot of the chat with the three messages");
    assert_eq!(org.sent_to(CUSTOMER.0).len(), 3, "each sent once");
    step("done");
}

/// Configuración → the map's tile URL, saved.
fn set_map_tile_url(s: &Session, template: &str) {
    open_panel(s, "settings");
    let input = s
        .wait_for("settings-map-tile-url", UI)
        .or_fail("the map tile URL setting");
    s.clear(&input).or_fail("clear the tile URL");
    s.send_keys(&input, template).or_fail("type the tile URL");
    s.click_testid("settings-save", UI).or_fail("save settings");
    s.wait_for("settings-saved", UI)
        .or_fail("the settings are saved");
}

/// Escuchar: the recording's `<audio>` shows the staged note (`data-source`), which the app
/// serves to the page as the OGG it will send, and it plays (WebKitGTK's GStreamer player, from
/// a `blob:` of those bytes, into the private PulseAudio's sink).
fn listen_back(s: &Session) {
    let preview = s
        .wait_for("voice-preview", UI)
        .or_fail("the recording's <audio>");
    let served = s
        .execute_async(
            "const [a, done] = arguments;\
             fetch(a.dataset.source || a.currentSrc)\
               .then(r => r.arrayBuffer().then(b => done({status: r.status,\
                 type: r.headers.get('content-type'),\
                 head: String.fromCharCode(...new Uint8Array(b.slice(0, 4)))})))\
               .catch(e => done({error: String(e)}));",
            vec![preview.to_json()],
        )
        .or_fail("read the recording's source");
    assert_eq!(served["status"], 200, "the staged note is served: {served}");
    assert!(
        served["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("audio/ogg")),
        "as audio/ogg: {served}"
    );
    assert_eq!(served["head"], "OggS", "an OGG file: {served}");
    s.click_testid("voice-play", UI).or_fail("Escuchar");
    wait_playing(s, &preview, "voice-play", "Escuchar plays the recording");
    // Pause again, so that Enviar is pressed on a quiet panel.
    s.click_testid("voice-play", UI).or_fail("pause Escuchar");
}

/// The received voice note (the customer's, not the agent's own): its waveform has bars, ▶
/// plays it, and the speed button takes it to 1.5×.
fn play_received_voice_note(s: &Session) {
    const NOTE: &str = ".bubble:not(.out) [data-testid=\"voice-note\"]";
    let note = s
        .wait_until(HUB, "the customer's voice note in the chat", |s| {
            Ok(s.find_css(NOTE).ok())
        })
        .unwrap_or_else(|e| explain(s, "voice-received", &format!("the voice note: {e}")));
    s.wait_until(UI, "the waveform is drawn from the file", |s| {
        let drawn = s.execute(
            "const [n] = arguments;\
             const w = n.querySelector('[data-testid=\"voice-waveform\"]');\
             return w ? Array.from(w.querySelectorAll('.bar'))\
               .filter(b => b.style.height !== '0%').length : 0;",
            vec![note.to_json()],
        )?;
        Ok((drawn.as_u64().unwrap_or(0) > 0).then_some(()))
    })
    .unwrap_or_else(|e| explain(s, "voice-waveform", &format!("the waveform: {e}")));
    let audio = s
        .find_css(&format!("{NOTE} audio"))
        .or_fail("the voice note's <audio>");
    s.find_css(&format!("{NOTE} [data-testid=\"voice-note-play\"]"))
        .and_then(|play| s.click(&play))
        .or_fail("▶ the voice note");
    // In one script, so that WebDriver makes no call while the note plays: wait until it has
    // played past its start, pause it, press the speed button, report. The speed is pressed
    // while paused because a rate change during playback crashes this WebKitGTK's web process
    // now and then (GStreamer heap corruption: README, Omnicanalidad).
    let played = s
        .execute_async(
            "const [a, speed, done] = arguments;\
             const report = (why, rate) => done({why, at: a.currentTime, rate,\
               paused: a.paused, ready: a.readyState, net: a.networkState,\
               error: a.error ? a.error.code : 0, source: a.dataset.playable || 'read',\
               shown: speed.dataset.speed});\
             const started = Date.now();\
             const poll = () => {\
               if (a.error) return report('error', a.playbackRate);\
               if (a.currentTime > 0.2) {\
                 a.pause();\
                 return requestAnimationFrame(() => {\
                   speed.click();\
                   requestAnimationFrame(() => report('pressed', a.playbackRate));\
                 });\
               }\
               if (Date.now() - started > 15000) return report('not playing', a.playbackRate);\
               setTimeout(poll, 20);\
             };\
             poll();",
            vec![
                audio.to_json(),
                s.find_css(&format!("{NOTE} [data-testid=\"voice-speed\"]"))
                    .or_fail("the speed button")
                    .to_json(),
            ],
        )
        .unwrap_or_else(|e| explain(s, "voice-note-play", &format!("the voice note: {e}")));
    assert_eq!(
        played["why"], "pressed",
        "the received voice note plays: {played}"
    );
    assert_eq!(played["rate"], 1.5, "the speed button sets 1.5×: {played}");
    assert_eq!(played["shown"], "1.5", "and shows it: {played}");
}

/// Waits until `audio` has played past its start with no media error.
fn wait_playing(s: &Session, audio: &enlace_tests::Element, shot: &str, what: &str) {
    s.wait_until(UI, what, |s| {
        let state = s.execute(
            "const [a] = arguments;\
             return {at: a.currentTime, error: a.error ? a.error.code : 0};",
            vec![audio.to_json()],
        )?;
        if let Some(code) = state["error"].as_u64().filter(|c| *c != 0) {
            return Err(enlace_tests::WebDriverError::Reply {
                what: what.to_owned(),
                body: format!("MediaError code {code}"),
            });
        }
        Ok((state["at"].as_f64().unwrap_or(0.0) > 0.2).then_some(()))
    })
    .unwrap_or_else(|e| explain(s, shot, &format!("{what}: {e}")));
}

/// The bytes the double keeps behind the message's media id.
fn uploaded(org: &OrgServer, sent: &SentMessage, kind: &str) -> Vec<u8> {
    let id = sent.body[kind]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the {kind} has a media id (a real upload): {}", sent.body));
    org.wa
        .media_bytes(id)
        .unwrap_or_else(|| panic!("the double keeps media {id}"))
}

/// The voice note decodes to the tone the microphone heard.
fn check_tone(ogg: &[u8], tone_hz: u32) {
    let tone_hz = f64::from(tone_hz);
    let decoded =
        enlace_voice::decode_ogg_opus(ogg).unwrap_or_else(|e| panic!("decode the voice note: {e}"));
    assert_eq!(decoded.channels, 1);
    let hz = outside::dominant_frequency(&decoded.samples, decoded.rate);
    assert!(
        (hz - tone_hz).abs() < tone_hz * 0.05,
        "the voice note holds the {tone_hz} Hz tone: {hz:.1} Hz"
    );
}

/// The pin's coordinates as the window shows them (`location-coords`: "lat, lon").
fn coords(s: &Session) -> Option<(f64, f64)> {
    let text = s.text(&s.find("location-coords").ok()?).ok()?;
    let mut parts = text.split(',').map(|p| p.trim().parse::<f64>());
    match (parts.next(), parts.next()) {
        (Some(Ok(lat)), Some(Ok(lon))) => Some((lat, lon)),
        _ => None,
    }
}

/// The agent moves the pin: a click on the map away from it; returns where it is now.
fn move_pin(s: &Session) -> (f64, f64) {
    let first = s
        .wait_until(UI, "the pin's first position", |s| Ok(coords(s)))
        .unwrap_or_else(|e| explain(s, "location-coords", &format!("the pin: {e}")));
    let map = s.find("location-map").or_fail("the map");
    s.click_at(&map, 60, -40).or_fail("click the map");
    s.wait_until(UI, "the pin moves where the map was clicked", |s| {
        Ok(coords(s).filter(|now| *now != first))
    })
    .unwrap_or_else(|e| explain(s, "location-pin", &format!("the pin moves: {e}")))
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Fails with a screenshot (`target/e2e/<name>-failed.png`) and the alerts on screen.
fn explain(s: &Session, name: &str, why: &str) -> ! {
    let shot = enlace_tests::app::artifacts_dir().join(format!("{name}-failed.png"));
    let _ = s.screenshot_png(&shot);
    let notes = s
        .execute(
            "return Array.from(document.querySelectorAll('[role=alert],[role=status],.notice'))\
               .map(e => (e.dataset.testid || '') + ': ' + e.textContent.trim()).join(' | ');",
            Vec::new(),
        )
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    // A web process that crashed ends the WebDriver session: say so rather than leave a
    // puzzling "could not parse script result".
    let page = match s.execute("return 1;", Vec::new()) {
        Ok(_) => String::new(),
        Err(e) => format!("\nthe page does not answer: {e}"),
    };
    panic!(
        "{why}\non screen: {notes}\nscreenshot: {}{page}",
        shot.display()
    );
}
