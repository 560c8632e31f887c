//! Netstring framing (`<len>:<bytes>,`) as used by baresip's ctrl_tcp, with a streaming
//! decoder: several frames per read, frames split across reads. The length counts bytes, has
//! no leading zeros and at most 9 digits; a missing `:` or `,` is a protocol error (the caller
//! drops the connection). Frames above a size cap are rejected instead of buffered.

/// Largest frame we accept (baresip's biggest replies, e.g. `callstat`, are a few KiB).
pub const MAX_FRAME: usize = 1024 * 1024;

/// The byte stream is not valid netstring framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("netstring length is not a decimal number")]
    BadLength,
    #[error("netstring length has a leading zero")]
    LeadingZero,
    #[error("netstring length has more than 9 digits")]
    LengthTooLong,
    #[error("netstring length {0} is above the cap")]
    TooLarge(usize),
    #[error("netstring length is not followed by ':'")]
    MissingColon,
    #[error("netstring payload is not followed by ','")]
    MissingComma,
}

/// Frames `payload` as `<len>:<payload>,`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 12);
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
    out
}

/// Streaming decoder. After an error the decoder is unusable (drop the connection).
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    max_frame: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(MAX_FRAME)
    }
}

impl Decoder {
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            max_frame,
        }
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let digits = self
            .buf
            .iter()
            .take(10)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == self.buf.len() {
            // Only digits so far (or nothing): wait for the ':' unless already too long.
            return if digits > 9 {
                Err(FrameError::LengthTooLong)
            } else {
                Ok(None)
            };
        }
        if digits == 0 {
            return Err(FrameError::BadLength);
        }
        if digits > 9 {
            return Err(FrameError::LengthTooLong);
        }
        if digits > 1 && self.buf[0] == b'0' {
            return Err(FrameError::LeadingZero);
        }
        if self.buf[digits] != b':' {
            return Err(FrameError::MissingColon);
        }
        let len = self.buf[..digits]
            .iter()
            .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
        if len > self.max_frame {
            return Err(FrameError::TooLarge(len));
        }
        let start = digits + 1;
        let end = start + len;
        if self.buf.len() <= end {
            return Ok(None);
        }
        if self.buf[end] != b',' {
            return Err(FrameError::MissingComma);
        }
        let payload = self.buf[start..end].to_vec();
        self.buf.drain(..=end);
        Ok(Some(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut d = Decoder::default();
        d.push(input);
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn table() {
        let ok: &[(&[u8], &[&[u8]])] = &[
            (b"", &[]),
            (b"0:,", &[b""]),
            (b"3:abc,", &[b"abc"]),
            (b"3:abc,2:de,", &[b"abc", b"de"]),
            (b"3:abc,2:d", &[b"abc"]),
            (b"12", &[]),
            (b"5:a,b:c,", &[b"a,b:c"]),
            ("2:é,".as_bytes(), &["é".as_bytes()]),
        ];
        for (input, frames) in ok {
            let got = decode_all(input).unwrap();
            let want: Vec<Vec<u8>> = frames.iter().map(|f| f.to_vec()).collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
        let bad: &[(&[u8], FrameError)] = &[
            (b"x", FrameError::BadLength),
            (b":abc,", FrameError::BadLength),
            (b"{\"command\":\"x\"}", FrameError::BadLength),
            (b"03:abc,", FrameError::LeadingZero),
            (b"1234567890:", FrameError::LengthTooLong),
            (b"1234567890", FrameError::LengthTooLong),
            (b"3;abc,", FrameError::MissingColon),
            (b"3:abcd", FrameError::MissingComma),
            (b"3:abc;", FrameError::MissingComma),
            (b"2000000:", FrameError::TooLarge(2_000_000)),
        ];
        for (input, err) in bad {
            assert_eq!(
                decode_all(input),
                Err(err.clone()),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn frames_split_at_every_byte() {
        let stream = [
            encode(b"{\"a\":1}"),
            encode(b""),
            encode("ñandú".as_bytes()),
        ]
        .concat();
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for byte in &stream {
            d.push(std::slice::from_ref(byte));
            while let Some(f) = d.next_frame().unwrap() {
                out.push(f);
            }
        }
        assert_eq!(
            out,
            vec![
                b"{\"a\":1}".to_vec(),
                Vec::new(),
                "ñandú".as_bytes().to_vec()
            ]
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn encode_round_trips() {
        let payload = br#"{"command":"listcalls","token":"t1"}"#;
        assert_eq!(
            encode(payload),
            br#"36:{"command":"listcalls","token":"t1"},"#.to_vec()
        );
        assert_eq!(
            decode_all(&encode(payload)).unwrap(),
            vec![payload.to_vec()]
        );
    }

    /// Random bytes in random chunks never panic, never return more bytes than were pushed,
    /// and every frame returned is a real frame of the input.
    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"0123456789:,{}\"abc";
        for _ in 0..3000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let mut d = Decoder::new(32);
            let mut total = 0;
            for chunk in bytes.chunks(1 + (next() % 5) as usize) {
                d.push(chunk);
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => {
                            total += f.len();
                            assert!(f.len() <= 32);
                        }
                        Ok(None) => break,
                        Err(_) => break,
                    }
                }
            }
            assert!(total <= bytes.len());
        }
    }
}
