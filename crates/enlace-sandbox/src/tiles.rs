//! [`TileDouble`]: a slippy-map tile server on loopback (`/{z}/{x}/{y}.png`, the layout of
//! OpenStreetMap's tile servers), so the map of Enviar ubicación works without the internet in
//! tests and in `cargo xtask run`.
//!
//! Each tile is a generated 256×256 PNG: a light background whose tint depends on the tile, a
//! grid every 32 pixels, a border, and the tile's `z/x/y` written in a small pixel font, so a
//! person looking at the map sees which tiles the app asked for. Out-of-range tiles (zoom above
//! 19, `x` or `y` not below `2^z`) and any other path get 404. Every request is recorded
//! ([`TileDouble::requests`]); [`TileDouble::set_reply`] makes the server misbehave.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::RecordedRequest;
use crate::http::{Reply, Request, Response, Server};

/// Tiles are this many pixels square.
pub const TILE_SIZE: u32 = 256;
/// Highest zoom served (OpenStreetMap's standard layer stops at 19).
pub const TILE_MAX_ZOOM: u32 = 19;

/// What the server answers to tile requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileReply {
    /// Generated PNG tiles (the default).
    Tiles,
    /// 200 with a `text/html` page (a captive portal or a proxy's page).
    Html,
    /// 200 with an `image/png` body of 2 MiB (no tile is that big).
    Oversized,
    /// 503 for every request.
    Unavailable,
}

#[derive(Debug)]
struct State {
    reply: TileReply,
    requests: Vec<RecordedRequest>,
    /// Each reply waits this long (to see how many requests a client has open at once).
    delay: Duration,
    in_flight: usize,
    most_in_flight: usize,
}

/// The tile server; dropping it stops the listener.
#[derive(Debug)]
pub struct TileDouble {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl TileDouble {
    /// Starts on a free loopback port.
    pub fn start() -> std::io::Result<TileDouble> {
        TileDouble::start_on(0)
    }

    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(port: u16) -> std::io::Result<TileDouble> {
        let state = Arc::new(Mutex::new(State {
            reply: TileReply::Tiles,
            requests: Vec::new(),
            delay: Duration::ZERO,
            in_flight: 0,
            most_in_flight: 0,
        }));
        let shared = Arc::clone(&state);
        let server = Server::start(port, Arc::new(move |req| route(&shared, &req)))?;
        Ok(TileDouble { server, state })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The URL template a map client uses: `http://127.0.0.1:<port>/{z}/{x}/{y}.png`.
    pub fn url_template(&self) -> String {
        format!("{}/{{z}}/{{x}}/{{y}}.png", self.server.base_url())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// What to answer from now on.
    pub fn set_reply(&self, reply: TileReply) {
        self.lock().reply = reply;
    }

    /// Holds every reply this long from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// The most requests that were being answered at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.lock().most_in_flight
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn route(state: &Mutex<State>, req: &Request) -> Reply {
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    let (reply, delay) = {
        let mut s = lock();
        s.requests.push(RecordedRequest::from(req));
        s.in_flight += 1;
        s.most_in_flight = s.most_in_flight.max(s.in_flight);
        (s.reply, s.delay)
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let answer = answer(req, reply);
    lock().in_flight -= 1;
    answer
}

fn answer(req: &Request, reply: TileReply) -> Reply {
    if req.method != "GET" && req.method != "HEAD" {
        return Reply::Respond(Response::new(405).with_header("Allow", "GET, HEAD"));
    }
    let Some((z, x, y)) = parse_tile_path(&req.path) else {
        return Reply::Respond(not_found());
    };
    Reply::Respond(match reply {
        TileReply::Tiles => match tile_png(z, x, y) {
            Some(png) => Response {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "image/png".into()),
                    ("Cache-Control".into(), "max-age=604800".into()),
                ],
                body: png,
            },
            None => Response::new(500),
        },
        TileReply::Html => Response::html(200, "<html><body>Please sign in</body></html>"),
        TileReply::Oversized => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "image/png".into())],
            body: vec![0u8; 2 * 1024 * 1024],
        },
        TileReply::Unavailable => Response::new(503),
    })
}

fn not_found() -> Response {
    Response {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"no such tile".to_vec(),
    }
}

/// `/{z}/{x}/{y}.png` with `z ≤ 19` and `x, y < 2^z`; anything else is `None`.
pub fn parse_tile_path(path: &str) -> Option<(u32, u32, u32)> {
    let rest = path.strip_prefix('/')?.strip_suffix(".png")?;
    let mut parts = rest.split('/');
    let mut number = || -> Option<u32> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 7 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (z, x, y) = (number()?, number()?, number()?);
    if parts.next().is_some() || z > TILE_MAX_ZOOM {
        return None;
    }
    let side = 1u32 << z;
    (x < side && y < side).then_some((z, x, y))
}

/// The PNG of tile `z/x/y` (`None` only if the encoder fails, which it does not for a fixed
/// size).
pub fn tile_png(z: u32, x: u32, y: u32) -> Option<Vec<u8>> {
    let size = TILE_SIZE as usize;
    // A light tint per tile, so neighbours differ.
    let seed = x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ z.wrapping_mul(83_492_791);
    let tint = [
        225 + (seed % 25) as u8,
        225 + ((seed >> 8) % 25) as u8,
        225 + ((seed >> 16) % 25) as u8,
    ];
    let mut pixels = vec![0u8; size * size * 3];
    for py in 0..size {
        for px in 0..size {
            let border = px == 0 || py == 0 || px == size - 1 || py == size - 1;
            let grid = px % 32 == 0 || py % 32 == 0;
            let colour = if border {
                [150, 160, 175]
            } else if grid {
                [205, 210, 218]
            } else {
                tint
            };
            let i = (py * size + px) * 3;
            pixels[i..i + 3].copy_from_slice(&colour);
        }
    }
    let label = format!("{z}/{x}/{y}");
    draw_text(&mut pixels, size, 12, 12, &label, 3, [40, 50, 70]);
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, TILE_SIZE, TILE_SIZE);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
        writer.finish().ok()?;
    }
    Some(out)
}

/// Digits and `/` in a 3×5 pixel font (one row per byte, the low 3 bits, left pixel highest).
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        _ => return None,
    })
}

/// Writes `text` at (`left`, `top`), each font pixel `scale` pixels square, clipped to the tile.
fn draw_text(
    pixels: &mut [u8],
    size: usize,
    left: usize,
    top: usize,
    text: &str,
    scale: usize,
    colour: [u8; 3],
) {
    let mut pen = left;
    for c in text.chars() {
        if let Some(rows) = glyph(c) {
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let (px, py) = (pen + col * scale + dx, top + row * scale + dy);
                            if px < size && py < size {
                                let i = (py * size + px) * 3;
                                pixels[i..i + 3].copy_from_slice(&colour);
                            }
                        }
                    }
                }
            }
        }
        pen += 4 * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_in_range_only() {
        assert_eq!(parse_tile_path("/0/0/0.png"), Some((0, 0, 0)));
        assert_eq!(parse_tile_path("/2/3/1.png"), Some((2, 3, 1)));
        assert_eq!(
            parse_tile_path("/19/524287/524287.png"),
            Some((19, 524_287, 524_287))
        );
        for bad in [
            "/2/4/0.png",
            "/2/0/4.png",
            "/20/0/0.png",
            "/1/0/0",
            "/1/0/0.jpg",
            "/1/0/0/0.png",
            "/a/0/0.png",
            "/1/-1/0.png",
            "/1//0.png",
            "/99999999/0/0.png",
            "",
            "/",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn tiles_are_distinct_256_pixel_pngs() {
        let a = tile_png(3, 1, 2).unwrap();
        let b = tile_png(3, 2, 1).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n"));
        let decoder = png::Decoder::new(std::io::Cursor::new(&a));
        let reader = decoder.read_info().unwrap();
        assert_eq!(
            (reader.info().width, reader.info().height),
            (TILE_SIZE, TILE_SIZE)
        );
        assert!(a.len() < 64 * 1024, "a tile is small: {} bytes", a.len());
    }
}
