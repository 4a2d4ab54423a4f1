//! Error feedback: the encoder-side state that makes lossy update encoding unbiased over time.
//!
//! Quantizing an update loses up to half a quantization step per value, and the loss is not random
//! noise: a small component that sits in a block with a large one rounds to zero *every* round, so
//! without correction it is never sent at all. Error feedback (as in EF-SGD and 1-bit Adam) keeps
//! what was lost and sends it later:
//!
//! ```text
//! corrected_t = update_t + residual_{t-1}
//! sent_t      = dequantize(quantize(corrected_t))      // exactly what the receiver decodes
//! residual_t  = corrected_t − sent_t                   // |residual_t| <= scale_t / 2 per value
//! ```
//!
//! Summing over rounds, `Σ sent = Σ update − residual_T`: the receiver's running total of decoded
//! updates tracks the running total of true updates to within one final quantization error,
//! however many rounds pass. The trainer owns one [`ErrorFeedback`] for its parameter vector and
//! calls [`ErrorFeedback::encode_with_feedback`] once per round; a coordinator that broadcasts
//! its outer update compressed keeps one too.
//!
//! The same holds for the sparse codec, where "quantize" also drops all but the top k entries of
//! each block: a dropped entry is carried whole in the residual until it is large enough to be
//! sent. For either codec the residual is `corrected − decoded`, where `decoded` comes from the
//! same code the receiver runs.

use rayon::prelude::*;

use super::dispatch::CodecSpec;
use super::error::CodecError;
use super::frame::{check_block_size, seal};
use super::quant;
use super::sparse::{self, Apply, SparseFrame};

/// The carried residual for one parameter vector, and the codec it is carried for.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFeedback {
    residual: Vec<f32>,
    codec: CodecSpec,
}

impl ErrorFeedback {
    /// Starts with a zero residual for updates of `len` values encoded as int8 with
    /// `block_size`.
    pub fn new(len: usize, block_size: u32) -> Result<Self, CodecError> {
        Self::with_codec(len, CodecSpec::Int8 { block_size })
    }

    /// Starts with a zero residual for updates of `len` values encoded with `codec`.
    pub fn with_codec(len: usize, codec: CodecSpec) -> Result<Self, CodecError> {
        Self::from_residual_with_codec(vec![0.0; len], codec)
    }

    /// Resumes int8 encoding from a residual saved earlier with [`ErrorFeedback::residual`].
    pub fn from_residual(residual: Vec<f32>, block_size: u32) -> Result<Self, CodecError> {
        check_block_size(block_size)?;
        Self::from_residual_with_codec(residual, CodecSpec::Int8 { block_size })
    }

    /// Resumes encoding with `codec` from a residual saved earlier.
    pub fn from_residual_with_codec(
        residual: Vec<f32>,
        codec: CodecSpec,
    ) -> Result<Self, CodecError> {
        codec.check()?;
        if let Some(index) = residual.iter().position(|v| !v.is_finite()) {
            return Err(CodecError::NonFinite {
                index,
                value: residual[index],
            });
        }
        Ok(Self { residual, codec })
    }

    /// Number of values per update.
    pub fn len(&self) -> usize {
        self.residual.len()
    }

    /// Whether updates are empty.
    pub fn is_empty(&self) -> bool {
        self.residual.is_empty()
    }

    /// The block size frames are encoded with.
    pub fn block_size(&self) -> u32 {
        self.codec.block_size()
    }

    /// The codec frames are encoded with.
    pub fn codec(&self) -> CodecSpec {
        self.codec
    }

    /// What has been lost to encoding so far and will be added to the next update.
    pub fn residual(&self) -> &[f32] {
        &self.residual
    }

    /// The residual, giving up the encoder (a coordinator keeps it between broadcasts without
    /// a copy).
    pub fn into_residual(self) -> Vec<f32> {
        self.residual
    }

    /// Forgets the residual, e.g. when the trainer starts over from a fresh checkpoint.
    pub fn reset(&mut self) {
        self.residual.fill(0.0);
    }

    /// Encodes `update + residual` as a frame and keeps the new residual: everything the frame
    /// does not carry (quantization error, and for the sparse codec the dropped entries).
    ///
    /// On error (a length other than [`ErrorFeedback::len`], or a non-finite value in
    /// `update + residual`) nothing is sent and the residual is left as it was.
    pub fn encode_with_feedback(&mut self, update: &[f32]) -> Result<Vec<u8>, CodecError> {
        self.encode_owned(update.to_vec())
    }

    /// [`Self::encode_with_feedback`] on an update the caller gives up: `update + residual` is
    /// formed in its buffer, so a model-sized update costs no second model-sized vector.
    pub fn encode_owned(&mut self, update: Vec<f32>) -> Result<Vec<u8>, CodecError> {
        if update.len() != self.residual.len() {
            return Err(CodecError::LengthMismatch {
                expected: self.residual.len(),
                got: update.len(),
            });
        }
        let mut corrected = update;
        corrected
            .par_iter_mut()
            .zip(self.residual.par_iter())
            .for_each(|(u, r)| *u += r);
        match self.codec {
            CodecSpec::Int8 { block_size } => {
                let block = block_size as usize;
                let raw = quant::quantize(&corrected, block)?;
                let frame = seal(corrected.len(), block_size, &raw)?;
                // The residual buffer first receives what the receiver will decode, then
                // becomes the error.
                quant::dequantize(&raw, block, &mut self.residual);
                self.residual
                    .par_iter_mut()
                    .zip(corrected.par_iter())
                    .for_each(|(r, c)| *r = c - *r);
                Ok(frame)
            }
            CodecSpec::Sparse(spec) => {
                let frame = sparse::encode(&corrected, &spec)?;
                // Corrected minus what the receiver decodes, computed by the decoder itself.
                let mut residual = corrected;
                SparseFrame::parse(&frame, residual.len() as u64)?
                    .apply(&mut residual, Apply::Subtract)?;
                self.residual = residual;
                Ok(frame)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode;

    /// Deterministic pseudo-random f32 in [-1, 1) (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    /// Largest |x| / 127 over each block: the quantization step of that block.
    fn steps(x: &[f32], block: usize) -> Vec<f64> {
        x.chunks(block)
            .map(|b| b.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs()))) / 127.0)
            .collect()
    }

    #[test]
    fn decoded_plus_residual_is_the_corrected_update() {
        let mut rng = Rng(1);
        let mut fb = ErrorFeedback::new(1000, 64).unwrap();
        for _ in 0..3 {
            let update: Vec<f32> = (0..1000).map(|_| rng.next()).collect();
            let corrected: Vec<f32> = update
                .iter()
                .zip(fb.residual())
                .map(|(u, r)| u + r)
                .collect();
            let frame = fb.encode_with_feedback(&update).unwrap();
            let sent = decode(&frame, 1000).unwrap();
            let step = steps(&corrected, 64);
            for (i, ((s, r), c)) in sent.iter().zip(fb.residual()).zip(&corrected).enumerate() {
                assert!((s + r - c).abs() <= 1e-6, "element {i}");
                assert!(f64::from(r.abs()) <= step[i / 64] * 0.5001, "element {i}");
            }
        }
    }

    /// The point of error feedback: over many rounds the receiver's sum of decoded updates stays
    /// within one quantization step of the sum of true updates, while plain quantization drifts.
    #[test]
    fn sum_of_sent_tracks_sum_of_updates() {
        const N: usize = 512;
        const BLOCK: u32 = 128;
        const ROUNDS: usize = 400;
        let mut rng = Rng(7);
        let mut fb = ErrorFeedback::new(N, BLOCK).unwrap();
        let mut true_sum = vec![0.0f64; N];
        let mut sent_sum = vec![0.0f64; N];
        let mut plain_sum = vec![0.0f64; N];
        let mut last_steps = Vec::new();
        for round in 0..ROUNDS {
            // Each block has one large value; the rest are small and biased (always positive,
            // below half a step), the case that plain quantization rounds to zero forever.
            let update: Vec<f32> = (0..N)
                .map(|i| {
                    if i % BLOCK as usize == 0 {
                        1.0 + 0.1 * rng.next()
                    } else {
                        0.002 + 0.001 * rng.next()
                    }
                })
                .collect();
            if round == ROUNDS - 1 {
                let corrected: Vec<f32> = update
                    .iter()
                    .zip(fb.residual())
                    .map(|(u, r)| u + r)
                    .collect();
                last_steps = steps(&corrected, BLOCK as usize);
            }
            let sent = decode(&fb.encode_with_feedback(&update).unwrap(), N as u64).unwrap();
            let plain = decode(&crate::codec::encode(&update, BLOCK).unwrap(), N as u64).unwrap();
            for i in 0..N {
                true_sum[i] += f64::from(update[i]);
                sent_sum[i] += f64::from(sent[i]);
                plain_sum[i] += f64::from(plain[i]);
            }
        }
        let mut worst_plain = 0.0f64;
        for i in 0..N {
            let step = last_steps[i / BLOCK as usize];
            let gap = (true_sum[i] - sent_sum[i]).abs();
            // Half a step from the final residual, plus f32 rounding accumulated over the rounds.
            assert!(
                gap <= step * 0.5 + 1e-4,
                "element {i}: sums differ by {gap}, one step is {step}"
            );
            worst_plain = worst_plain.max((true_sum[i] - plain_sum[i]).abs());
        }
        let step = last_steps.iter().cloned().fold(0.0, f64::max);
        assert!(
            worst_plain > 50.0 * step,
            "plain quantization should drift: {worst_plain} vs step {step}"
        );
    }

    #[test]
    fn errors_leave_the_residual_alone() {
        let mut fb = ErrorFeedback::new(4, 2).unwrap();
        fb.encode_with_feedback(&[1.0, 0.3, 0.0, 0.001]).unwrap();
        let before = fb.clone();
        assert_eq!(
            fb.encode_with_feedback(&[1.0, 2.0]),
            Err(CodecError::LengthMismatch {
                expected: 4,
                got: 2
            })
        );
        match fb.encode_with_feedback(&[1.0, 0.0, f32::MAX, f32::NAN]) {
            Err(CodecError::NonFinite { index: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        // Finite update whose sum with the residual overflows.
        let mut big = ErrorFeedback::from_residual(vec![f32::MAX], 1).unwrap();
        assert!(matches!(
            big.encode_with_feedback(&[f32::MAX]),
            Err(CodecError::NonFinite { index: 0, .. })
        ));
        assert_eq!(fb, before);
        fb.reset();
        assert!(fb.residual().iter().all(|&r| r == 0.0));
    }

    #[test]
    fn bad_construction_is_refused() {
        assert_eq!(
            ErrorFeedback::new(3, 0),
            Err(CodecError::BadBlockSize { found: 0 })
        );
        assert!(matches!(
            ErrorFeedback::from_residual(vec![0.0, f32::INFINITY], 8),
            Err(CodecError::NonFinite { index: 1, .. })
        ));
        let empty = ErrorFeedback::new(0, 8).unwrap();
        assert!(empty.is_empty());
    }
}
