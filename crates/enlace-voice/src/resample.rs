//! Down-mixing interleaved frames to mono and a streaming linear resampler to 48 kHz.
//!
//! Linear interpolation is enough for speech going *up* (44.1 → 48 kHz, the usual case) and for
//! equal rates (a pass-through). Going down from a higher rate first averages runs of input
//! samples (a box filter) so that the worst aliasing is kept out.

/// Averages the channels of interleaved `data` into `out` (appended).
pub(crate) fn downmix_into(data: &[f32], channels: usize, out: &mut Vec<f32>) {
    let channels = channels.max(1);
    if channels == 1 {
        out.extend_from_slice(data);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        data.chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// A streaming resampler: feed chunks of any length, get the output samples so far.
#[derive(Debug)]
pub(crate) struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, in input samples relative to the current chunk;
    /// `-1.0 ..= 0.0` points between the previous chunk's last sample and this chunk's first.
    pos: f64,
    /// The previous chunk's last (pre-filtered) sample.
    prev: f32,
    /// Box-filter length when going down (1 = none), and its running state.
    boxlen: usize,
    box_sum: f32,
    box_hist: Vec<f32>,
    box_at: usize,
    scratch: Vec<f32>,
}

impl Resampler {
    pub(crate) fn new(in_rate: u32, out_rate: u32) -> Resampler {
        let in_rate = in_rate.max(1);
        let out_rate = out_rate.max(1);
        let step = f64::from(in_rate) / f64::from(out_rate);
        let boxlen = step.floor().max(1.0) as usize;
        Resampler {
            step,
            pos: 0.0,
            prev: 0.0,
            boxlen,
            box_sum: 0.0,
            box_hist: vec![0.0; boxlen],
            box_at: 0,
            scratch: Vec::new(),
        }
    }

    /// Resamples `input` and appends the result to `out`.
    pub(crate) fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if input.is_empty() {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let src: &[f32] = if self.boxlen > 1 {
            let inv = 1.0 / self.boxlen as f32;
            for &x in input {
                self.box_sum += x - self.box_hist[self.box_at];
                self.box_hist[self.box_at] = x;
                self.box_at = (self.box_at + 1) % self.boxlen;
                scratch.push(self.box_sum * inv);
            }
            &scratch
        } else {
            input
        };
        let n = src.len();
        let last = (n - 1) as f64;
        while self.pos < last {
            let i = self.pos.floor();
            let frac = (self.pos - i) as f32;
            let i = i as isize;
            let a = if i < 0 { self.prev } else { src[i as usize] };
            let b = src[(i + 1) as usize];
            out.push(a + (b - a) * frac);
            self.pos += self.step;
        }
        self.pos -= n as f64;
        self.prev = src[n - 1];
        self.scratch = scratch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn equal_rates_pass_samples_through_unchanged() {
        let input = sine(48_000, 440.0, 1000);
        let mut r = Resampler::new(48_000, 48_000);
        let mut out = Vec::new();
        for chunk in input.chunks(77) {
            r.process(chunk, &mut out);
        }
        // The last sample waits for the next chunk.
        assert_eq!(out.len(), input.len() - 1);
        assert_eq!(&out[..], &input[..input.len() - 1]);
    }

    #[test]
    fn resampling_44100_to_48000_keeps_the_length_and_the_frequency() {
        let input = sine(44_100, 1000.0, 44_100);
        let mut r = Resampler::new(44_100, 48_000);
        let mut out = Vec::new();
        for chunk in input.chunks(441) {
            r.process(chunk, &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        let expected = sine(48_000, 1000.0, out.len());
        let max_err = out
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_err < 0.02, "max error {max_err}");
    }

    #[test]
    fn resampling_96000_down_to_48000_halves_the_length() {
        let input = sine(96_000, 500.0, 96_000);
        let mut r = Resampler::new(96_000, 48_000);
        let mut out = Vec::new();
        for chunk in input.chunks(1000) {
            r.process(chunk, &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.9 && peak <= 1.0, "{peak}");
    }

    #[test]
    fn downmix_averages_the_channels() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5, -1.0, -1.0], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5, -1.0]);
    }
}
