//! Account layouts: fixed-size `#[repr(C)]` structs made only of bytes (alignment 1, no padding),
//! integers little-endian, each opening with a kind byte and a version byte. The program views
//! account data in place through them; the client decodes the same structs.
//!
//! Byte offsets are documented on each struct and pinned by tests.

use crate::error::RegistryError;

/// Layout version written into every account and instruction.
pub const VERSION: u8 = 1;

/// Kind byte of each account type (offset 0).
pub const KIND_RUN: u8 = 1;
pub const KIND_ROUND: u8 = 2;
pub const KIND_CONTRIBUTION: u8 = 3;

/// Capacity of the coordinator's peer id (libp2p peer id, base58 text) in a Run.
pub const PEER_ID_CAP: usize = 64;
/// Capacity of the coordinator's multiaddrs (UTF-8, newline-separated) in a Run.
pub const MULTIADDRS_CAP: usize = 256;
/// Fixed-point scale of scores: a stored score `s` means `s / 10^9`.
pub const SCORE_SCALE: i64 = 1_000_000_000;

/// An account layout: its size and kind byte.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, made only of `u8` arrays (alignment 1, every bit pattern
/// valid), of size `LEN`.
pub unsafe trait Layout: Sized {
    const LEN: usize;
    const KIND: u8;

    /// Views initialised account data as `Self` (length, kind and version checked).
    fn load(data: &[u8]) -> Result<&Self, RegistryError> {
        check_header::<Self>(data)?;
        // SAFETY: length checked; alignment 1 and all bit patterns valid by the trait contract.
        Ok(unsafe { &*(data.as_ptr() as *const Self) })
    }

    /// Mutable view of initialised account data.
    fn load_mut(data: &mut [u8]) -> Result<&mut Self, RegistryError> {
        check_header::<Self>(data)?;
        // SAFETY: as in `load`.
        Ok(unsafe { &mut *(data.as_mut_ptr() as *mut Self) })
    }

    /// Initialises freshly allocated (all-zero) account data: writes kind and version.
    fn init(data: &mut [u8]) -> Result<&mut Self, RegistryError> {
        if data.len() != Self::LEN {
            return Err(RegistryError::InvalidAccount);
        }
        if data[0] != 0 {
            return Err(RegistryError::AlreadyInitialized);
        }
        data[0] = Self::KIND;
        data[1] = VERSION;
        // SAFETY: as in `load`.
        Ok(unsafe { &mut *(data.as_mut_ptr() as *mut Self) })
    }

    /// The raw bytes, exactly as stored on chain.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Self` is `LEN` plain bytes.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, Self::LEN) }
    }
}

fn check_header<T: Layout>(data: &[u8]) -> Result<(), RegistryError> {
    if data.len() != T::LEN || data[0] != T::KIND {
        return Err(RegistryError::InvalidAccount);
    }
    if data[1] != VERSION {
        return Err(RegistryError::UnsupportedVersion);
    }
    Ok(())
}

#[inline]
fn u64_le(b: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*b)
}

/// A training run. PDA `["run", authority, run_id LE]`. 536 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | kind = 1 |
/// | 1 | 1 | version = 1 |
/// | 2 | 1 | bump |
/// | 3 | 1 | open_round (1 while a recorded round is not yet closed) |
/// | 4 | 1 | peer_id_len |
/// | 5 | 1 | reserved |
/// | 6 | 2 | multiaddrs_len (u16) |
/// | 8 | 8 | run_id (u64) |
/// | 16 | 32 | authority |
/// | 48 | 32 | reward_mint |
/// | 80 | 32 | vault (SPL token account of reward_mint owned by this Run) |
/// | 112 | 32 | config_hash |
/// | 144 | 32 | dataset_hash |
/// | 176 | 8 | reward_per_round (u64, token base units) |
/// | 184 | 8 | rounds_recorded (u64; next round index) |
/// | 192 | 8 | rounds_closed (u64) |
/// | 200 | 8 | total_credited (u64; sum of closed rounds' payouts) |
/// | 208 | 8 | total_claimed (u64) |
/// | 216 | 64 | peer_id (UTF-8, peer_id_len used) |
/// | 280 | 256 | multiaddrs (UTF-8, newline-separated, multiaddrs_len used) |
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub kind: u8,
    pub version: u8,
    pub bump: u8,
    pub open_round: u8,
    pub peer_id_len: u8,
    pub reserved: u8,
    pub multiaddrs_len: [u8; 2],
    pub run_id: [u8; 8],
    pub authority: [u8; 32],
    pub reward_mint: [u8; 32],
    pub vault: [u8; 32],
    pub config_hash: [u8; 32],
    pub dataset_hash: [u8; 32],
    pub reward_per_round: [u8; 8],
    pub rounds_recorded: [u8; 8],
    pub rounds_closed: [u8; 8],
    pub total_credited: [u8; 8],
    pub total_claimed: [u8; 8],
    pub peer_id: [u8; PEER_ID_CAP],
    pub multiaddrs: [u8; MULTIADDRS_CAP],
}

// SAFETY: repr(C), only u8 arrays, size asserted below.
unsafe impl Layout for Run {
    const LEN: usize = 536;
    const KIND: u8 = KIND_RUN;
}

impl Run {
    pub fn run_id(&self) -> u64 {
        u64_le(&self.run_id)
    }
    pub fn reward_per_round(&self) -> u64 {
        u64_le(&self.reward_per_round)
    }
    pub fn rounds_recorded(&self) -> u64 {
        u64_le(&self.rounds_recorded)
    }
    pub fn rounds_closed(&self) -> u64 {
        u64_le(&self.rounds_closed)
    }
    pub fn total_credited(&self) -> u64 {
        u64_le(&self.total_credited)
    }
    pub fn total_claimed(&self) -> u64 {
        u64_le(&self.total_claimed)
    }
    pub fn is_round_open(&self) -> bool {
        self.open_round != 0
    }
    /// The coordinator's peer id (the used part of the buffer).
    pub fn peer_id_bytes(&self) -> &[u8] {
        &self.peer_id[..(self.peer_id_len as usize).min(PEER_ID_CAP)]
    }
    /// The coordinator's multiaddrs (the used part of the buffer).
    pub fn multiaddrs_bytes(&self) -> &[u8] {
        let n = u16::from_le_bytes(self.multiaddrs_len) as usize;
        &self.multiaddrs[..n.min(MULTIADDRS_CAP)]
    }
    /// Replaces the coordinator's peer id and multiaddrs.
    pub fn set_coordinator(
        &mut self,
        peer_id: &[u8],
        multiaddrs: &[u8],
    ) -> Result<(), RegistryError> {
        if peer_id.len() > PEER_ID_CAP || multiaddrs.len() > MULTIADDRS_CAP {
            return Err(RegistryError::CoordinatorInfoTooLong);
        }
        self.peer_id = [0; PEER_ID_CAP];
        self.peer_id[..peer_id.len()].copy_from_slice(peer_id);
        self.peer_id_len = peer_id.len() as u8;
        self.multiaddrs = [0; MULTIADDRS_CAP];
        self.multiaddrs[..multiaddrs.len()].copy_from_slice(multiaddrs);
        self.multiaddrs_len = (multiaddrs.len() as u16).to_le_bytes();
        Ok(())
    }

    /// Opens round `index`, which must be the next one, with no round still open.
    pub fn open_next_round(&mut self, index: u64) -> Result<(), RegistryError> {
        if self.is_round_open() {
            return Err(RegistryError::RoundStillOpen);
        }
        if index != self.rounds_recorded() {
            return Err(RegistryError::RoundOutOfOrder);
        }
        let next = index.checked_add(1).ok_or(RegistryError::Overflow)?;
        self.rounds_recorded = next.to_le_bytes();
        self.open_round = 1;
        Ok(())
    }

    /// Closes the open round, adding its payout to the run's total.
    pub fn close_round(&mut self, payout: u64) -> Result<(), RegistryError> {
        let credited = self
            .total_credited()
            .checked_add(payout)
            .ok_or(RegistryError::Overflow)?;
        let closed = self
            .rounds_closed()
            .checked_add(1)
            .ok_or(RegistryError::Overflow)?;
        // Invariant: never more than reward_per_round per closed round.
        let cap = crate::math::mul_u64(self.reward_per_round(), closed).unwrap_or(u64::MAX);
        if credited > cap {
            return Err(RegistryError::PayoutExceedsReward);
        }
        self.total_credited = credited.to_le_bytes();
        self.rounds_closed = closed.to_le_bytes();
        self.open_round = 0;
        Ok(())
    }

    /// Records `amount` claimed.
    pub fn add_claimed(&mut self, amount: u64) -> Result<(), RegistryError> {
        let t = self
            .total_claimed()
            .checked_add(amount)
            .ok_or(RegistryError::Overflow)?;
        self.total_claimed = t.to_le_bytes();
        Ok(())
    }
}

/// One round's record. PDA `["round", run, index LE]`. 216 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | kind = 2 |
/// | 1 | 1 | version = 1 |
/// | 2 | 1 | bump |
/// | 3 | 1 | closed (0/1) |
/// | 4 | 4 | trainer_count (u32; entries expected) |
/// | 8 | 32 | run |
/// | 40 | 8 | index (u64) |
/// | 48 | 32 | model_hash |
/// | 80 | 32 | updates_root |
/// | 112 | 32 | scores_root |
/// | 144 | 32 | transcript_root |
/// | 176 | 8 | eval_loss_before (f64 bits) |
/// | 184 | 8 | eval_loss_after (f64 bits) |
/// | 192 | 8 | total_payout (u64; declared, ≤ reward_per_round) |
/// | 200 | 8 | credited_payout (u64; sum of entries so far) |
/// | 208 | 4 | contributions_recorded (u32) |
/// | 212 | 4 | reserved |
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub kind: u8,
    pub version: u8,
    pub bump: u8,
    pub closed: u8,
    pub trainer_count: [u8; 4],
    pub run: [u8; 32],
    pub index: [u8; 8],
    pub model_hash: [u8; 32],
    pub updates_root: [u8; 32],
    pub scores_root: [u8; 32],
    pub transcript_root: [u8; 32],
    pub eval_loss_before: [u8; 8],
    pub eval_loss_after: [u8; 8],
    pub total_payout: [u8; 8],
    pub credited_payout: [u8; 8],
    pub contributions_recorded: [u8; 4],
    pub reserved: [u8; 4],
}

// SAFETY: repr(C), only u8 arrays, size asserted below.
unsafe impl Layout for Round {
    const LEN: usize = 216;
    const KIND: u8 = KIND_ROUND;
}

impl Round {
    pub fn is_closed(&self) -> bool {
        self.closed != 0
    }
    pub fn trainer_count(&self) -> u32 {
        u32::from_le_bytes(self.trainer_count)
    }
    pub fn index(&self) -> u64 {
        u64_le(&self.index)
    }
    pub fn eval_loss_before(&self) -> f64 {
        f64::from_bits(u64_le(&self.eval_loss_before))
    }
    pub fn eval_loss_after(&self) -> f64 {
        f64::from_bits(u64_le(&self.eval_loss_after))
    }
    pub fn total_payout(&self) -> u64 {
        u64_le(&self.total_payout)
    }
    pub fn credited_payout(&self) -> u64 {
        u64_le(&self.credited_payout)
    }
    pub fn contributions_recorded(&self) -> u32 {
        u32::from_le_bytes(self.contributions_recorded)
    }

    /// Counts one entry paying `payout`: the round must be open, the entry count within the
    /// declared trainer count and the running sum within the declared total.
    pub fn record_entry(&mut self, payout: u64) -> Result<(), RegistryError> {
        if self.is_closed() {
            return Err(RegistryError::RoundClosed);
        }
        let n = self.contributions_recorded();
        if n >= self.trainer_count() {
            return Err(RegistryError::TrainerCountMismatch);
        }
        let credited = crate::math::add_payout(self.credited_payout(), payout, self.total_payout())
            .ok_or(RegistryError::PayoutExceedsReward)?;
        self.credited_payout = credited.to_le_bytes();
        self.contributions_recorded = (n + 1).to_le_bytes();
        Ok(())
    }

    /// Closes the round after the sum and count checks.
    pub fn close(&mut self, reward_per_round: u64) -> Result<(), RegistryError> {
        if self.is_closed() {
            return Err(RegistryError::RoundClosed);
        }
        crate::math::check_close(
            self.contributions_recorded(),
            self.trainer_count(),
            self.credited_payout(),
            self.total_payout(),
            reward_per_round,
        )?;
        self.closed = 1;
        Ok(())
    }
}

/// A trainer's standing in a run. PDA `["contrib", run, trainer]`. 112 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | kind = 3 |
/// | 1 | 1 | version = 1 |
/// | 2 | 1 | bump |
/// | 3 | 5 | reserved |
/// | 8 | 32 | run |
/// | 40 | 32 | trainer |
/// | 72 | 8 | cumulative_score (i64, fixed point 1e-9) |
/// | 80 | 8 | earned (u64) |
/// | 88 | 8 | claimed (u64) |
/// | 96 | 8 | last_round (u64; valid when rounds_credited > 0) |
/// | 104 | 8 | rounds_credited (u64) |
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub kind: u8,
    pub version: u8,
    pub bump: u8,
    pub reserved: [u8; 5],
    pub run: [u8; 32],
    pub trainer: [u8; 32],
    pub cumulative_score: [u8; 8],
    pub earned: [u8; 8],
    pub claimed: [u8; 8],
    pub last_round: [u8; 8],
    pub rounds_credited: [u8; 8],
}

// SAFETY: repr(C), only u8 arrays, size asserted below.
unsafe impl Layout for Contribution {
    const LEN: usize = 112;
    const KIND: u8 = KIND_CONTRIBUTION;
}

impl Contribution {
    pub fn cumulative_score(&self) -> i64 {
        i64::from_le_bytes(self.cumulative_score)
    }
    pub fn earned(&self) -> u64 {
        u64_le(&self.earned)
    }
    pub fn claimed(&self) -> u64 {
        u64_le(&self.claimed)
    }
    pub fn last_round(&self) -> u64 {
        u64_le(&self.last_round)
    }
    pub fn rounds_credited(&self) -> u64 {
        u64_le(&self.rounds_credited)
    }
    /// Earned but not yet claimed.
    pub fn claimable(&self) -> u64 {
        self.earned().saturating_sub(self.claimed())
    }

    /// Credits round `round_index` once: a second credit for the same (or an earlier) round is
    /// refused, so a retried batch can never pay twice.
    pub fn credit(
        &mut self,
        round_index: u64,
        score: i64,
        payout: u64,
    ) -> Result<(), RegistryError> {
        if self.rounds_credited() > 0 && round_index <= self.last_round() {
            return Err(RegistryError::AlreadyCredited);
        }
        let score = self
            .cumulative_score()
            .checked_add(score)
            .ok_or(RegistryError::Overflow)?;
        let earned = self
            .earned()
            .checked_add(payout)
            .ok_or(RegistryError::Overflow)?;
        let credited = self
            .rounds_credited()
            .checked_add(1)
            .ok_or(RegistryError::Overflow)?;
        self.cumulative_score = score.to_le_bytes();
        self.earned = earned.to_le_bytes();
        self.last_round = round_index.to_le_bytes();
        self.rounds_credited = credited.to_le_bytes();
        Ok(())
    }

    /// Marks everything earned as claimed and returns the amount to transfer.
    pub fn take_claimable(&mut self) -> Result<u64, RegistryError> {
        let amount = self.claimable();
        if amount == 0 {
            return Err(RegistryError::NothingToClaim);
        }
        self.claimed = self.earned;
        Ok(amount)
    }
}

const _: () = {
    assert!(core::mem::size_of::<Run>() == Run::LEN);
    assert!(core::mem::size_of::<Round>() == Round::LEN);
    assert!(core::mem::size_of::<Contribution>() == Contribution::LEN);
    assert!(core::mem::align_of::<Run>() == 1);
    assert!(core::mem::align_of::<Round>() == 1);
    assert!(core::mem::align_of::<Contribution>() == 1);
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn offsets_are_pinned() {
        assert_eq!(offset_of!(Run, bump), 2);
        assert_eq!(offset_of!(Run, open_round), 3);
        assert_eq!(offset_of!(Run, multiaddrs_len), 6);
        assert_eq!(offset_of!(Run, run_id), 8);
        assert_eq!(offset_of!(Run, authority), 16);
        assert_eq!(offset_of!(Run, reward_mint), 48);
        assert_eq!(offset_of!(Run, vault), 80);
        assert_eq!(offset_of!(Run, config_hash), 112);
        assert_eq!(offset_of!(Run, dataset_hash), 144);
        assert_eq!(offset_of!(Run, reward_per_round), 176);
        assert_eq!(offset_of!(Run, rounds_recorded), 184);
        assert_eq!(offset_of!(Run, rounds_closed), 192);
        assert_eq!(offset_of!(Run, total_credited), 200);
        assert_eq!(offset_of!(Run, total_claimed), 208);
        assert_eq!(offset_of!(Run, peer_id), 216);
        assert_eq!(offset_of!(Run, multiaddrs), 280);

        assert_eq!(offset_of!(Round, closed), 3);
        assert_eq!(offset_of!(Round, trainer_count), 4);
        assert_eq!(offset_of!(Round, run), 8);
        assert_eq!(offset_of!(Round, index), 40);
        assert_eq!(offset_of!(Round, model_hash), 48);
        assert_eq!(offset_of!(Round, updates_root), 80);
        assert_eq!(offset_of!(Round, scores_root), 112);
        assert_eq!(offset_of!(Round, transcript_root), 144);
        assert_eq!(offset_of!(Round, eval_loss_before), 176);
        assert_eq!(offset_of!(Round, eval_loss_after), 184);
        assert_eq!(offset_of!(Round, total_payout), 192);
        assert_eq!(offset_of!(Round, credited_payout), 200);
        assert_eq!(offset_of!(Round, contributions_recorded), 208);

        assert_eq!(offset_of!(Contribution, run), 8);
        assert_eq!(offset_of!(Contribution, trainer), 40);
        assert_eq!(offset_of!(Contribution, cumulative_score), 72);
        assert_eq!(offset_of!(Contribution, earned), 80);
        assert_eq!(offset_of!(Contribution, claimed), 88);
        assert_eq!(offset_of!(Contribution, last_round), 96);
        assert_eq!(offset_of!(Contribution, rounds_credited), 104);
    }

    #[test]
    fn init_load_and_refusals() {
        let mut data = vec![0u8; Run::LEN];
        {
            let run = Run::init(&mut data).unwrap();
            run.reward_per_round = 1000u64.to_le_bytes();
        }
        assert_eq!(&data[..2], &[KIND_RUN, VERSION]);
        assert_eq!(&data[176..184], &1000u64.to_le_bytes());
        assert_eq!(Run::load(&data).unwrap().reward_per_round(), 1000);
        assert_eq!(Run::init(&mut data), Err(RegistryError::AlreadyInitialized));
        // Wrong kind, wrong version, wrong length.
        assert_eq!(
            Round::load(&data[..Round::LEN]),
            Err(RegistryError::InvalidAccount)
        );
        data[1] = 2;
        assert_eq!(Run::load(&data), Err(RegistryError::UnsupportedVersion));
        data[1] = VERSION;
        assert_eq!(Run::load(&data[..100]), Err(RegistryError::InvalidAccount));
        assert_eq!(Run::load(&data).unwrap().as_bytes(), &data[..]);
    }

    fn new_run(reward: u64) -> Vec<u8> {
        let mut data = vec![0u8; Run::LEN];
        Run::init(&mut data).unwrap().reward_per_round = reward.to_le_bytes();
        data
    }

    #[test]
    fn rounds_open_in_order_and_close_once() {
        let mut data = new_run(100);
        let run = Run::load_mut(&mut data).unwrap();
        assert_eq!(run.open_next_round(1), Err(RegistryError::RoundOutOfOrder));
        run.open_next_round(0).unwrap();
        assert_eq!(run.open_next_round(1), Err(RegistryError::RoundStillOpen));
        run.close_round(100).unwrap();
        assert_eq!(run.rounds_closed(), 1);
        assert!(!run.is_round_open());
        run.open_next_round(1).unwrap();
        // Two rounds may never have credited more than 2 * reward.
        assert_eq!(
            run.close_round(101),
            Err(RegistryError::PayoutExceedsReward)
        );
        run.close_round(50).unwrap();
        assert_eq!((run.total_credited(), run.rounds_recorded()), (150, 2));
    }

    #[test]
    fn round_entries_are_checked() {
        let mut data = vec![0u8; Round::LEN];
        let round = Round::init(&mut data).unwrap();
        round.trainer_count = 2u32.to_le_bytes();
        round.total_payout = 10u64.to_le_bytes();
        round.record_entry(6).unwrap();
        assert_eq!(
            round.record_entry(5),
            Err(RegistryError::PayoutExceedsReward)
        );
        assert_eq!(round.close(10), Err(RegistryError::TrainerCountMismatch));
        round.record_entry(3).unwrap();
        assert_eq!(
            round.record_entry(0),
            Err(RegistryError::TrainerCountMismatch)
        );
        assert_eq!(round.close(10), Err(RegistryError::PayoutSumMismatch));
        round.credited_payout = 10u64.to_le_bytes();
        assert_eq!(round.close(9), Err(RegistryError::PayoutExceedsReward));
        round.close(10).unwrap();
        assert_eq!(round.close(10), Err(RegistryError::RoundClosed));
        assert_eq!(round.record_entry(0), Err(RegistryError::RoundClosed));
    }

    #[test]
    fn contributions_credit_once_per_round_and_claim_once() {
        let mut data = vec![0u8; Contribution::LEN];
        let c = Contribution::init(&mut data).unwrap();
        c.credit(0, -5, 7).unwrap();
        assert_eq!(c.credit(0, 1, 1), Err(RegistryError::AlreadyCredited));
        c.credit(3, 2 * SCORE_SCALE, 5).unwrap();
        assert_eq!(c.credit(2, 1, 1), Err(RegistryError::AlreadyCredited));
        assert_eq!(
            (
                c.cumulative_score(),
                c.earned(),
                c.last_round(),
                c.rounds_credited()
            ),
            (2 * SCORE_SCALE - 5, 12, 3, 2)
        );
        assert_eq!(c.take_claimable(), Ok(12));
        assert_eq!(c.take_claimable(), Err(RegistryError::NothingToClaim));
        c.credit(4, 0, 1).unwrap();
        assert_eq!(c.take_claimable(), Ok(1));
        c.earned = u64::MAX.to_le_bytes();
        assert_eq!(c.credit(5, 0, 1), Err(RegistryError::Overflow));
        c.cumulative_score = i64::MAX.to_le_bytes();
        assert_eq!(c.credit(5, 1, 0), Err(RegistryError::Overflow));
    }

    #[test]
    fn coordinator_info_fits_or_is_refused() {
        let mut data = new_run(1);
        let run = Run::load_mut(&mut data).unwrap();
        run.set_coordinator(b"12D3KooW", b"/ip4/127.0.0.1/tcp/4001")
            .unwrap();
        assert_eq!(run.peer_id_bytes(), b"12D3KooW");
        assert_eq!(run.multiaddrs_bytes(), b"/ip4/127.0.0.1/tcp/4001");
        assert_eq!(
            run.set_coordinator(&[b'x'; PEER_ID_CAP + 1], b""),
            Err(RegistryError::CoordinatorInfoTooLong)
        );
        assert_eq!(
            run.set_coordinator(b"", &[b'x'; MULTIADDRS_CAP + 1]),
            Err(RegistryError::CoordinatorInfoTooLong)
        );
        run.set_coordinator(b"p", b"").unwrap();
        assert_eq!(
            (run.peer_id_bytes(), run.multiaddrs_bytes()),
            (&b"p"[..], &b""[..])
        );
    }
}
