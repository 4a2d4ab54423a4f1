//! Instruction encodings: `[tag u8][version u8][payload]`, payloads fixed-size `#[repr(C)]` byte
//! structs, integers little-endian. The account list of each instruction is documented on its
//! [`Tag`]; the client builders (feature `client`) produce exactly these.

use crate::{error::RegistryError, state::VERSION};

/// Instruction tags (byte 0 of instruction data). Byte 1 is the layout version ([`VERSION`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// Creates a Run. Payload [`CreateRunArgs`].
    ///
    /// Accounts: 0 `[writable, signer]` authority (pays rent); 1 `[writable]` run PDA;
    /// 2 `[]` reward mint (SPL Token); 3 `[]` vault: SPL token account of the mint whose owner is
    /// the run PDA (e.g. the run's associated token account, created beforehand);
    /// 4 `[]` system program.
    CreateRun = 0,
    /// Moves reward tokens into the vault (anyone may fund). Payload [`FundArgs`].
    ///
    /// Accounts: 0 `[signer]` funder; 1 `[writable]` funder's token account; 2 `[]` run;
    /// 3 `[writable]` vault; 4 `[]` SPL Token program.
    Fund = 1,
    /// Records a round header and opens the round. Payload [`RecordRoundArgs`].
    ///
    /// Accounts: 0 `[writable, signer]` authority (pays rent); 1 `[writable]` run;
    /// 2 `[writable]` round PDA; 3 `[]` system program.
    RecordRound = 2,
    /// Credits a batch of trainers for the open round. Payload [`RecordContributionsArgs`]
    /// followed by one or more [`ContributionEntry`].
    ///
    /// Accounts: 0 `[writable, signer]` authority (pays rent); 1 `[]` run; 2 `[writable]` round;
    /// 3 `[]` system program; 4.. `[writable]` one contribution PDA per entry, in entry order.
    RecordContributions = 3,
    /// Closes the open round after the count and sum checks. Payload [`CloseRoundArgs`].
    ///
    /// Accounts: 0 `[signer]` authority; 1 `[writable]` run; 2 `[writable]` round.
    CloseRound = 4,
    /// Transfers everything the trainer earned and has not claimed from the vault. No payload.
    ///
    /// Accounts: 0 `[signer]` trainer; 1 `[writable]` run; 2 `[writable]` trainer's contribution;
    /// 3 `[writable]` vault; 4 `[writable]` trainer's token account (reward mint);
    /// 5 `[]` SPL Token program.
    Claim = 5,
    /// Sets the coordinator's peer id and multiaddrs in the Run. Payload [`SetCoordinatorArgs`].
    ///
    /// Accounts: 0 `[signer]` authority; 1 `[writable]` run.
    SetCoordinator = 6,
}

impl Tag {
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::CreateRun,
            1 => Self::Fund,
            2 => Self::RecordRound,
            3 => Self::RecordContributions,
            4 => Self::CloseRound,
            5 => Self::Claim,
            6 => Self::SetCoordinator,
            _ => return None,
        })
    }
}

/// Splits instruction data into its tag and payload, checking the version byte.
pub fn split(data: &[u8]) -> Result<(Tag, &[u8]), RegistryError> {
    let [tag, version, payload @ ..] = data else {
        return Err(RegistryError::InvalidInstruction);
    };
    if *version != VERSION {
        return Err(RegistryError::UnsupportedVersion);
    }
    let tag = Tag::from_u8(*tag).ok_or(RegistryError::InvalidInstruction)?;
    Ok((tag, payload))
}

/// A fixed-size payload made of bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, made only of `u8` arrays, of size `LEN`.
pub unsafe trait Payload: Sized {
    const LEN: usize;

    /// Views `bytes` (exactly `LEN` long) as `Self`.
    fn from_bytes(bytes: &[u8]) -> Result<&Self, RegistryError> {
        if bytes.len() != Self::LEN {
            return Err(RegistryError::InvalidInstruction);
        }
        // SAFETY: length checked; alignment 1 and every bit pattern valid by the trait contract.
        Ok(unsafe { &*(bytes.as_ptr() as *const Self) })
    }

    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Self` is `LEN` plain bytes.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, Self::LEN) }
    }
}

/// create_run payload, 80 bytes: run_id u64 @0, reward_per_round u64 @8, config_hash @16,
/// dataset_hash @48.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRunArgs {
    pub run_id: [u8; 8],
    pub reward_per_round: [u8; 8],
    pub config_hash: [u8; 32],
    pub dataset_hash: [u8; 32],
}
unsafe impl Payload for CreateRunArgs {
    const LEN: usize = 80;
}

/// fund payload, 8 bytes: amount u64 @0.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundArgs {
    pub amount: [u8; 8],
}
unsafe impl Payload for FundArgs {
    const LEN: usize = 8;
}

/// record_round payload, 168 bytes: index u64 @0, model_hash @8, updates_root @40,
/// scores_root @72, transcript_root @104, eval_loss_before f64 bits @136, eval_loss_after @144,
/// total_payout u64 @152, trainer_count u32 @160, reserved @164.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRoundArgs {
    pub index: [u8; 8],
    pub model_hash: [u8; 32],
    pub updates_root: [u8; 32],
    pub scores_root: [u8; 32],
    pub transcript_root: [u8; 32],
    pub eval_loss_before: [u8; 8],
    pub eval_loss_after: [u8; 8],
    pub total_payout: [u8; 8],
    pub trainer_count: [u8; 4],
    pub reserved: [u8; 4],
}
unsafe impl Payload for RecordRoundArgs {
    const LEN: usize = 168;
}

/// record_contributions payload header, 8 bytes: round_index u64 @0 (must be the round passed).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordContributionsArgs {
    pub round_index: [u8; 8],
}
unsafe impl Payload for RecordContributionsArgs {
    const LEN: usize = 8;
}

/// One contribution entry, 48 bytes: trainer @0, score i64 (fixed point 1e-9) @32, payout u64 @40.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContributionEntry {
    pub trainer: [u8; 32],
    pub score: [u8; 8],
    pub payout: [u8; 8],
}
unsafe impl Payload for ContributionEntry {
    const LEN: usize = 48;
}

impl ContributionEntry {
    pub fn score(&self) -> i64 {
        i64::from_le_bytes(self.score)
    }
    pub fn payout(&self) -> u64 {
        u64::from_le_bytes(self.payout)
    }
}

/// Splits a record_contributions payload into its header and (at least one) entries.
pub fn contribution_entries(
    payload: &[u8],
) -> Result<(&RecordContributionsArgs, &[ContributionEntry]), RegistryError> {
    let Some((head, rest)) = payload.split_at_checked(RecordContributionsArgs::LEN) else {
        return Err(RegistryError::InvalidInstruction);
    };
    if rest.is_empty() || rest.len() % ContributionEntry::LEN != 0 {
        return Err(RegistryError::InvalidInstruction);
    }
    let n = rest.len() / ContributionEntry::LEN;
    // SAFETY: `rest` holds exactly `n` entries; alignment 1, all bit patterns valid.
    let entries =
        unsafe { core::slice::from_raw_parts(rest.as_ptr() as *const ContributionEntry, n) };
    Ok((RecordContributionsArgs::from_bytes(head)?, entries))
}

/// close_round payload, 8 bytes: round_index u64 @0 (must be the round passed).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseRoundArgs {
    pub round_index: [u8; 8],
}
unsafe impl Payload for CloseRoundArgs {
    const LEN: usize = 8;
}

/// set_coordinator payload, 324 bytes: peer_id_len u8 @0, reserved @1, multiaddrs_len u16 @2,
/// peer_id [64] @4, multiaddrs [256] @68.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetCoordinatorArgs {
    pub peer_id_len: u8,
    pub reserved: u8,
    pub multiaddrs_len: [u8; 2],
    pub peer_id: [u8; crate::state::PEER_ID_CAP],
    pub multiaddrs: [u8; crate::state::MULTIADDRS_CAP],
}
unsafe impl Payload for SetCoordinatorArgs {
    const LEN: usize = 324;
}

impl SetCoordinatorArgs {
    /// The used parts of the buffers, or an error if a length exceeds its buffer.
    pub fn parts(&self) -> Result<(&[u8], &[u8]), RegistryError> {
        let p = self.peer_id_len as usize;
        let m = u16::from_le_bytes(self.multiaddrs_len) as usize;
        match (self.peer_id.get(..p), self.multiaddrs.get(..m)) {
            (Some(p), Some(m)) => Ok((p, m)),
            _ => Err(RegistryError::CoordinatorInfoTooLong),
        }
    }
}

const _: () = {
    assert!(core::mem::size_of::<CreateRunArgs>() == CreateRunArgs::LEN);
    assert!(core::mem::size_of::<FundArgs>() == FundArgs::LEN);
    assert!(core::mem::size_of::<RecordRoundArgs>() == RecordRoundArgs::LEN);
    assert!(core::mem::size_of::<RecordContributionsArgs>() == RecordContributionsArgs::LEN);
    assert!(core::mem::size_of::<ContributionEntry>() == ContributionEntry::LEN);
    assert!(core::mem::size_of::<CloseRoundArgs>() == CloseRoundArgs::LEN);
    assert!(core::mem::size_of::<SetCoordinatorArgs>() == SetCoordinatorArgs::LEN);
    assert!(core::mem::align_of::<ContributionEntry>() == 1);
    assert!(core::mem::align_of::<RecordRoundArgs>() == 1);
    assert!(core::mem::align_of::<SetCoordinatorArgs>() == 1);
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn payload_offsets_are_pinned() {
        assert_eq!(offset_of!(CreateRunArgs, reward_per_round), 8);
        assert_eq!(offset_of!(CreateRunArgs, config_hash), 16);
        assert_eq!(offset_of!(CreateRunArgs, dataset_hash), 48);
        assert_eq!(offset_of!(RecordRoundArgs, model_hash), 8);
        assert_eq!(offset_of!(RecordRoundArgs, updates_root), 40);
        assert_eq!(offset_of!(RecordRoundArgs, scores_root), 72);
        assert_eq!(offset_of!(RecordRoundArgs, transcript_root), 104);
        assert_eq!(offset_of!(RecordRoundArgs, eval_loss_before), 136);
        assert_eq!(offset_of!(RecordRoundArgs, eval_loss_after), 144);
        assert_eq!(offset_of!(RecordRoundArgs, total_payout), 152);
        assert_eq!(offset_of!(RecordRoundArgs, trainer_count), 160);
        assert_eq!(offset_of!(ContributionEntry, score), 32);
        assert_eq!(offset_of!(ContributionEntry, payout), 40);
        assert_eq!(offset_of!(SetCoordinatorArgs, multiaddrs_len), 2);
        assert_eq!(offset_of!(SetCoordinatorArgs, peer_id), 4);
        assert_eq!(offset_of!(SetCoordinatorArgs, multiaddrs), 68);
    }

    #[test]
    fn split_checks_tag_and_version() {
        assert_eq!(split(&[5, VERSION]), Ok((Tag::Claim, &[][..])));
        assert_eq!(split(&[1, VERSION, 9]), Ok((Tag::Fund, &[9][..])));
        assert_eq!(split(&[7, VERSION]), Err(RegistryError::InvalidInstruction));
        assert_eq!(split(&[0, 2]), Err(RegistryError::UnsupportedVersion));
        assert_eq!(split(&[0]), Err(RegistryError::InvalidInstruction));
        assert_eq!(split(&[]), Err(RegistryError::InvalidInstruction));
        for t in 0..=6 {
            assert_eq!(Tag::from_u8(t).unwrap() as u8, t);
        }
    }

    #[test]
    fn entries_parse_exactly() {
        let mut p = 7u64.to_le_bytes().to_vec();
        assert_eq!(
            contribution_entries(&p),
            Err(RegistryError::InvalidInstruction)
        );
        for i in 0..3u8 {
            p.extend_from_slice(&[i; 32]);
            p.extend_from_slice(&(-(i as i64)).to_le_bytes());
            p.extend_from_slice(&(100 * i as u64).to_le_bytes());
        }
        let (h, e) = contribution_entries(&p).unwrap();
        assert_eq!(u64::from_le_bytes(h.round_index), 7);
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[2].trainer, e[2].score(), e[2].payout()),
            ([2; 32], -2, 200)
        );
        p.push(0);
        assert_eq!(
            contribution_entries(&p),
            Err(RegistryError::InvalidInstruction)
        );
        assert_eq!(
            contribution_entries(&p[..5]),
            Err(RegistryError::InvalidInstruction)
        );
        assert_eq!(
            FundArgs::from_bytes(&[0; 9]),
            Err(RegistryError::InvalidInstruction)
        );
    }

    #[test]
    fn coordinator_lengths_are_bounded() {
        let mut a = SetCoordinatorArgs {
            peer_id_len: 3,
            reserved: 0,
            multiaddrs_len: 2u16.to_le_bytes(),
            peer_id: [b'p'; 64],
            multiaddrs: [b'm'; 256],
        };
        assert_eq!(a.parts(), Ok((&b"ppp"[..], &b"mm"[..])));
        a.peer_id_len = 65;
        assert_eq!(a.parts(), Err(RegistryError::CoordinatorInfoTooLong));
        a.peer_id_len = 0;
        a.multiaddrs_len = 257u16.to_le_bytes();
        assert_eq!(a.parts(), Err(RegistryError::CoordinatorInfoTooLong));
    }
}
