//! Deterministic data assignment: (run seed, epoch, round, trainer slot) → batches of sample
//! indices, recomputable by anyone.
//!
//! # Specification
//! * **Epoch order.** Epoch `e`'s order is the Fisher–Yates shuffle ([`crate::rng::shuffle`]) of
//!   `[0, 1, ..., num_samples-1]` driven by the ChaCha20 stream keyed
//!   `sha256("coalition-datasets/shard/v1" ‖ seed as u64 LE ‖ e as u64 LE)`.
//! * **Global batches.** Global batch `i` of epoch `e` is `order[i*B .. (i+1)*B]` (`B` = batch
//!   size); there are `num_samples / B` of them (the remainder is left out of that epoch; a
//!   different remainder each epoch).
//! * **Rounds.** A round hands each of `slots` trainers `steps_per_round` batches, so it uses
//!   `R = slots × steps_per_round × B` samples and an epoch has `num_samples / R` rounds.
//!   Slot `s` of round `r` takes the contiguous block of global batches starting at
//!   `(r × slots + s) × steps_per_round`: step `t` is global batch
//!   `(r × slots + s) × steps_per_round + t`.
//! * **Absolute rounds.** A run's round `n` (counting from 0) is round `n mod rounds_per_epoch`
//!   of epoch `n / rounds_per_epoch` ([`round_position`]).
//!
//! So within an epoch no sample is assigned twice, across all rounds and slots. Callers with
//! changing membership can instead keep a cursor and take [`Sharder::global_batch`]es in order.

use crate::error::{DatasetError, Result};
use crate::rng::{shuffle, stream, stream_from_seed, uniform_below};

/// Domain tag of the epoch-order stream.
pub const SHARD_DOMAIN: &[u8] = b"coalition-datasets/shard/v1";

/// The assignment of samples to (epoch, round, slot, step). See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharder {
    seed: u64,
    num_samples: usize,
    batch_size: usize,
    slots: u32,
    steps_per_round: u32,
    per_slot: usize,
    rounds_per_epoch: u64,
}

impl Sharder {
    /// Errors if any size is zero or the data cannot fill one round.
    pub fn new(
        seed: u64,
        num_samples: usize,
        batch_size: usize,
        slots: u32,
        steps_per_round: u32,
    ) -> Result<Self> {
        for (name, value) in [
            ("batch_size", batch_size),
            ("slots", slots as usize),
            ("steps_per_round", steps_per_round as usize),
        ] {
            if value == 0 {
                return Err(DatasetError::Zero { name });
            }
        }
        let overflow = || {
            DatasetError::Overflow {
            what: format!(
                "samples per round ({slots} slots x {steps_per_round} steps x batch size {batch_size})"
            ),
        }
        };
        let per_slot = batch_size
            .checked_mul(steps_per_round as usize)
            .ok_or_else(overflow)?;
        let per_round = per_slot.checked_mul(slots as usize).ok_or_else(overflow)?;
        let rounds_per_epoch = (num_samples / per_round) as u64;
        if rounds_per_epoch == 0 {
            return Err(DatasetError::TooFewSamples {
                samples: num_samples,
                needed: per_round,
                slots,
                steps_per_round,
                batch_size,
            });
        }
        Ok(Sharder {
            seed,
            num_samples,
            batch_size,
            slots,
            steps_per_round,
            per_slot,
            rounds_per_epoch,
        })
    }

    pub fn num_samples(&self) -> usize {
        self.num_samples
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn slots(&self) -> u32 {
        self.slots
    }

    pub fn steps_per_round(&self) -> u32 {
        self.steps_per_round
    }

    /// Samples one round uses (`slots × steps_per_round × batch_size`).
    pub fn samples_per_round(&self) -> usize {
        self.per_slot * self.slots as usize
    }

    /// Whole rounds in one epoch.
    pub fn rounds_per_epoch(&self) -> u64 {
        self.rounds_per_epoch
    }

    /// Whole batches in one epoch (for cursor-based callers).
    pub fn batches_per_epoch(&self) -> u64 {
        (self.num_samples / self.batch_size) as u64
    }

    /// `(epoch, round_in_epoch)` of a run's absolute round.
    pub fn locate_round(&self, absolute_round: u64) -> (u64, u64) {
        round_position(self.rounds_per_epoch, absolute_round)
    }

    /// The permuted sample order of an epoch.
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.num_samples).collect();
        shuffle(&mut stream(SHARD_DOMAIN, &[self.seed, epoch]), &mut order);
        order
    }

    /// The `steps_per_round` batches (each `batch_size` sample indices) of `slot` in a round.
    pub fn batches(&self, epoch: u64, round_in_epoch: u64, slot: u32) -> Result<Vec<Vec<usize>>> {
        self.check_round(round_in_epoch)?;
        if slot >= self.slots {
            return Err(DatasetError::OutOfRange {
                what: "slot",
                index: u64::from(slot),
                len: u64::from(self.slots),
            });
        }
        let order = self.epoch_order(epoch);
        Ok(self.slot_batches(&order, round_in_epoch, slot))
    }

    /// Every slot's batches for a round (one shuffle instead of one per slot).
    pub fn round(&self, epoch: u64, round_in_epoch: u64) -> Result<Vec<Vec<Vec<usize>>>> {
        self.check_round(round_in_epoch)?;
        let order = self.epoch_order(epoch);
        Ok((0..self.slots)
            .map(|slot| self.slot_batches(&order, round_in_epoch, slot))
            .collect())
    }

    /// Slot `slot`'s batches for a run's absolute round.
    pub fn batches_at(&self, absolute_round: u64, slot: u32) -> Result<Vec<Vec<usize>>> {
        let (epoch, round) = self.locate_round(absolute_round);
        self.batches(epoch, round, slot)
    }

    /// Global batch `index` of an epoch (see the module docs).
    pub fn global_batch(&self, epoch: u64, index: u64) -> Result<Vec<usize>> {
        let n = self.batches_per_epoch();
        if index >= n {
            return Err(DatasetError::OutOfRange {
                what: "batch",
                index,
                len: n,
            });
        }
        let start = index as usize * self.batch_size;
        Ok(self.epoch_order(epoch)[start..start + self.batch_size].to_vec())
    }

    fn check_round(&self, round_in_epoch: u64) -> Result<()> {
        if round_in_epoch >= self.rounds_per_epoch {
            return Err(DatasetError::OutOfRange {
                what: "round in epoch",
                index: round_in_epoch,
                len: self.rounds_per_epoch,
            });
        }
        Ok(())
    }

    fn slot_batches(&self, order: &[usize], round: u64, slot: u32) -> Vec<Vec<usize>> {
        let block = round as usize * self.slots as usize + slot as usize;
        let start = block * self.per_slot;
        order[start..start + self.per_slot]
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// `(epoch, round_in_epoch)` = `(absolute_round / rounds_per_epoch, absolute_round % rounds_per_epoch)`.
/// `rounds_per_epoch == 0` is treated as 1.
pub fn round_position(rounds_per_epoch: u64, absolute_round: u64) -> (u64, u64) {
    let r = rounds_per_epoch.max(1);
    (absolute_round / r, absolute_round % r)
}

/// `count` distinct indices below `population`, chosen by a 32-byte seed (e.g. a round's eval
/// batch): the last `count` entries of the Fisher–Yates shuffle of `0..population` driven by
/// ChaCha20 keyed with `seed` (only the first `count` swaps are performed).
pub fn choose_indices(seed: [u8; 32], population: usize, count: usize) -> Result<Vec<usize>> {
    if count > population {
        return Err(DatasetError::OutOfRange {
            what: "sample count",
            index: count as u64,
            len: population as u64,
        });
    }
    let mut rng = stream_from_seed(seed);
    let mut v: Vec<usize> = (0..population).collect();
    let first_final = population - count;
    for i in (first_final.max(1)..population).rev() {
        let j = uniform_below(&mut rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
    Ok(v.split_off(first_final))
}

#[cfg(test)]
mod tests;
