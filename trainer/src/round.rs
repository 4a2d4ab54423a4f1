//! One round of a trainer node: start from the global weights θ_r, take H AdamW steps on the
//! assigned batches, and produce the pseudo-gradient Δ = θ_r − θ_local, encoded with error
//! feedback. The AdamW state and the quantisation residual stay with the trainer across rounds.

use coalition_datasets::{SampleSet, Sharder};
use coalition_net::codec::{CodecSpec, ErrorFeedback};

use crate::batches::TokenBatch;
use crate::inner::InnerTrainer;
use crate::TrainerError;

/// How this trainer behaves. Anything but `Honest` exists to demonstrate (and test) that
/// attribution pays for real help only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Train on the assigned batches as told.
    #[default]
    Honest,
    /// Train on corrupted data: the labels are shuffled, i.e. every target token id is
    /// replaced through a fixed random permutation of the vocabulary (the language-model
    /// analogue of a classifier trained on permuted class labels).
    ShuffledLabels,
    /// Do no work and send a zero update.
    FreeRider,
    /// Train honestly, then send the update scaled by 1000 (tests the norm filter).
    HugeNorm,
    /// Train honestly, then drop the last value (tests the shape check).
    WrongShape,
    /// Train honestly, then corrupt bytes of the encoded frame (tests the decoder).
    CorruptFrame,
    /// Train honestly but submit only after the round's deadline (simulations).
    Late,
    /// Leave in the middle of its second round and never come back (simulations).
    Dropout,
    /// Do no work: submit another node's leaked update plus 5% noise (simulations; see
    /// [`crate::leak`]).
    Copier,
    /// Train on every eval-like sample it can get instead of its batches: the training text's
    /// public held-out split, and every sample the coordinator has revealed (see
    /// [`RoundTrainer::steal`]). Shows that only a private, committed eval pool stops a trainer
    /// from buying score by training on the eval set.
    EvalThief,
}

impl std::str::FromStr for Behavior {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "honest" => Ok(Self::Honest),
            "shuffled-labels" => Ok(Self::ShuffledLabels),
            "free-rider" => Ok(Self::FreeRider),
            "huge-norm" => Ok(Self::HugeNorm),
            "wrong-shape" => Ok(Self::WrongShape),
            "corrupt-frame" => Ok(Self::CorruptFrame),
            "eval-thief" => Ok(Self::EvalThief),
            "late" => Ok(Self::Late),
            "dropout" => Ok(Self::Dropout),
            "copier" => Ok(Self::Copier),
            other => Err(format!(
                "unknown behavior {other:?} (honest, shuffled-labels, free-rider, huge-norm, \
                 wrong-shape, corrupt-frame, eval-thief, late, dropout, copier)"
            )),
        }
    }
}

/// The assignment for one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub round: u64,
    /// Global index (across epochs) of this trainer's first batch.
    pub first_batch: u64,
    pub inner_steps: u32,
}

/// What a round produced.
#[derive(Debug, Clone)]
pub struct RoundOutput {
    /// The encoded pseudo-gradient (codec frame).
    pub frame: Vec<u8>,
    pub tokens: u64,
    pub steps: u32,
    pub mean_train_loss: f32,
}

/// A trainer's state that persists across rounds.
pub struct RoundTrainer {
    inner: InnerTrainer,
    feedback: ErrorFeedback,
    codec: CodecSpec,
    samples: SampleSet,
    sharder: Sharder,
    behavior: Behavior,
    /// [`Behavior::EvalThief`]'s stolen windows (`seq_len + 1` tokens each).
    stash: Vec<Vec<u32>>,
}

impl RoundTrainer {
    /// `sharder` must be built with one slot and one step per "round" so that its rounds are
    /// single batches addressed by a global cursor (see [`Assignment::first_batch`]).
    /// Updates are encoded with `codec` (`training.codec`).
    pub fn new(
        inner: InnerTrainer,
        samples: SampleSet,
        sharder: Sharder,
        behavior: Behavior,
        codec: CodecSpec,
    ) -> Result<Self, TrainerError> {
        let n = inner.model.params().num_elements();
        let feedback = ErrorFeedback::with_codec(n, codec)?;
        Ok(Self {
            inner,
            feedback,
            codec,
            samples,
            sharder,
            behavior,
            stash: Vec::new(),
        })
    }

    /// Add windows of `seq_len + 1` tokens to train on (only [`Behavior::EvalThief`] uses
    /// them; windows of another length are skipped).
    pub fn steal(&mut self, windows: impl IntoIterator<Item = Vec<u32>>) {
        let len = self.samples.seq_len() + 1;
        for w in windows {
            if w.len() == len && !self.stash.contains(&w) {
                self.stash.push(w);
            }
        }
    }

    pub fn inner(&self) -> &InnerTrainer {
        &self.inner
    }

    /// Batch `global` of the run's data order.
    pub fn batch(&self, global: u64) -> Result<TokenBatch, TrainerError> {
        if self.behavior == Behavior::EvalThief && !self.stash.is_empty() {
            return Ok(self.stolen_batch(global));
        }
        let per_epoch = self.sharder.rounds_per_epoch().max(1);
        let idx = self
            .sharder
            .batches(global / per_epoch, global % per_epoch, 0)?;
        let mut batch = TokenBatch::gather(&self.samples, &idx[0])?;
        if self.behavior == Behavior::ShuffledLabels {
            let vocab = self.inner.model.config().vocab_size;
            let perm = label_permutation(vocab);
            for t in batch.targets.iter_mut().flatten() {
                if let Some(&p) = perm.get(*t as usize) {
                    *t = p;
                }
            }
        }
        Ok(batch)
    }

    /// Batch `global` cut from the stash, cycling through it.
    fn stolen_batch(&self, global: u64) -> TokenBatch {
        let size = self.sharder.batch_size();
        let seq = self.samples.seq_len();
        let windows = (0..size).map(|k| {
            let i = (global as usize).wrapping_mul(size).wrapping_add(k) % self.stash.len();
            &self.stash[i]
        });
        let (inputs, targets) = windows
            .map(|w| (w[..seq].to_vec(), w[1..].to_vec()))
            .unzip();
        TokenBatch { inputs, targets }
    }

    /// Run one round from the global weights `theta`.
    pub fn run(
        &mut self,
        theta: &[f32],
        work: &Assignment,
        on_step: &mut dyn FnMut(u32, f32),
    ) -> Result<RoundOutput, TrainerError> {
        let store = self.inner.model.params();
        store.load_flat(theta)?;
        if matches!(self.behavior, Behavior::FreeRider | Behavior::Copier) {
            let zero = vec![0f32; theta.len()];
            return Ok(RoundOutput {
                frame: self.feedback.encode_owned(zero)?,
                tokens: 0,
                steps: 0,
                mean_train_loss: f32::NAN,
            });
        }
        self.inner
            .set_step(work.round as usize * work.inner_steps as usize);
        let (mut tokens, mut loss_sum) = (0u64, 0f64);
        for h in 0..work.inner_steps {
            let batch = self.batch(work.first_batch + h as u64)?;
            let stats = self.inner.step(&batch)?;
            tokens += stats.tokens as u64;
            loss_sum += stats.loss as f64;
            on_step(h + 1, stats.loss);
        }
        // θ_r − θ_local, computed in the buffer of θ_local (one model-sized vector, not two).
        let mut delta = self.inner.model.params().flatten()?;
        delta.iter_mut().zip(theta).for_each(|(d, t)| *d = t - *d);
        let frame = match self.behavior {
            Behavior::HugeNorm => {
                delta.iter_mut().for_each(|d| *d *= 1000.0);
                self.codec.encode(&delta)?
            }
            Behavior::WrongShape => {
                delta.pop();
                self.codec.encode(&delta)?
            }
            Behavior::CorruptFrame => {
                let mut f = self.codec.encode(&delta)?;
                let n = f.len();
                for b in f.iter_mut().skip(n / 2).take(16) {
                    *b ^= 0x5a;
                }
                f
            }
            _ => self.feedback.encode_owned(delta)?,
        };
        Ok(RoundOutput {
            frame,
            tokens,
            steps: work.inner_steps,
            mean_train_loss: (loss_sum / work.inner_steps.max(1) as f64) as f32,
        })
    }
}

/// A fixed pseudo-random permutation of `0..vocab` (xorshift Fisher–Yates).
fn label_permutation(vocab: usize) -> Vec<u32> {
    let mut perm: Vec<u32> = (0..vocab as u32).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..perm.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    perm
}

#[cfg(test)]
mod tests {
    use super::label_permutation;

    #[test]
    fn label_permutation_is_a_permutation_that_moves_labels() {
        let p = label_permutation(256);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..256).collect::<Vec<u32>>());
        let fixed = p
            .iter()
            .enumerate()
            .filter(|(i, &v)| *i as u32 == v)
            .count();
        assert!(fixed < 8, "{fixed} labels unchanged");
    }
}
