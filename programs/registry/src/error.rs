//! Numbered program errors, returned as `ProgramError::Custom(code)`.

use pinocchio::error::ProgramError;

/// Every refusal the registry can return. The numbers are part of the interface: never reuse one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum RegistryError {
    /// Instruction data is malformed (unknown tag, wrong length).
    InvalidInstruction = 0,
    /// Instruction or account layout version not supported by this program.
    UnsupportedVersion = 1,
    /// The signer is not the run authority.
    NotAuthority = 2,
    /// An account is not at the program-derived address its seeds require.
    WrongPda = 3,
    /// The account to create already holds data.
    AlreadyInitialized = 4,
    /// The account is not owned by this program or is not of the expected kind.
    InvalidAccount = 5,
    /// The Round or Contribution account belongs to another run (or another trainer).
    WrongRun = 6,
    /// record_round for an index other than the next one.
    RoundOutOfOrder = 7,
    /// A round is still open (record_round or claim while contributions are being recorded).
    RoundStillOpen = 8,
    /// The round is already closed.
    RoundClosed = 9,
    /// This trainer was already credited for this round.
    AlreadyCredited = 10,
    /// The payouts exceed the round's declared total or the run's reward per round.
    PayoutExceedsReward = 11,
    /// At close, the recorded payouts do not add up to the declared total.
    PayoutSumMismatch = 12,
    /// More contributions than the declared trainer count, or fewer at close.
    TrainerCountMismatch = 13,
    /// The claimant is not the trainer of this Contribution account.
    NotTrainer = 14,
    /// Nothing left to claim.
    NothingToClaim = 15,
    /// Arithmetic overflow.
    Overflow = 16,
    /// The vault is not the run's vault, or not a token account of the reward mint owned by the run.
    WrongVault = 17,
    /// The reward mint is not an SPL token mint.
    WrongMint = 18,
    /// The token or system program account is not the expected program.
    WrongProgram = 19,
    /// Coordinator peer id or multiaddrs too long.
    CoordinatorInfoTooLong = 20,
    /// The number of accounts does not match the entries in the instruction.
    AccountCountMismatch = 21,
}

impl From<RegistryError> for ProgramError {
    fn from(e: RegistryError) -> Self {
        ProgramError::Custom(e as u32)
    }
}

impl RegistryError {
    /// Every error, in code order.
    pub const ALL: [RegistryError; 22] = [
        Self::InvalidInstruction,
        Self::UnsupportedVersion,
        Self::NotAuthority,
        Self::WrongPda,
        Self::AlreadyInitialized,
        Self::InvalidAccount,
        Self::WrongRun,
        Self::RoundOutOfOrder,
        Self::RoundStillOpen,
        Self::RoundClosed,
        Self::AlreadyCredited,
        Self::PayoutExceedsReward,
        Self::PayoutSumMismatch,
        Self::TrainerCountMismatch,
        Self::NotTrainer,
        Self::NothingToClaim,
        Self::Overflow,
        Self::WrongVault,
        Self::WrongMint,
        Self::WrongProgram,
        Self::CoordinatorInfoTooLong,
        Self::AccountCountMismatch,
    ];

    /// The error with this custom code, if any (for clients decoding transaction errors).
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    /// A short human-readable description.
    pub fn message(self) -> &'static str {
        match self {
            Self::InvalidInstruction => "malformed instruction data",
            Self::UnsupportedVersion => "unsupported layout version",
            Self::NotAuthority => "signer is not the run authority",
            Self::WrongPda => "account is not at the expected program-derived address",
            Self::AlreadyInitialized => "account already initialized",
            Self::InvalidAccount => "account not owned by the registry or of the wrong kind",
            Self::WrongRun => "account belongs to another run or trainer",
            Self::RoundOutOfOrder => "round index is not the next one",
            Self::RoundStillOpen => "a round is still open",
            Self::RoundClosed => "round already closed",
            Self::AlreadyCredited => "trainer already credited for this round",
            Self::PayoutExceedsReward => "payouts exceed the round reward",
            Self::PayoutSumMismatch => "payouts do not sum to the declared total",
            Self::TrainerCountMismatch => "contribution count does not match the trainer count",
            Self::NotTrainer => "claimant is not this contribution's trainer",
            Self::NothingToClaim => "nothing to claim",
            Self::Overflow => "arithmetic overflow",
            Self::WrongVault => "wrong vault token account",
            Self::WrongMint => "wrong reward mint",
            Self::WrongProgram => "wrong program account",
            Self::CoordinatorInfoTooLong => "coordinator peer id or addresses too long",
            Self::AccountCountMismatch => "account count does not match the entries",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_round_trip() {
        for (i, e) in RegistryError::ALL.iter().enumerate() {
            assert_eq!(*e as u32, i as u32);
            assert_eq!(RegistryError::from_code(i as u32), Some(*e));
            assert_eq!(ProgramError::from(*e), ProgramError::Custom(i as u32));
            assert!(!e.message().is_empty());
        }
        assert_eq!(
            RegistryError::from_code(RegistryError::ALL.len() as u32),
            None
        );
    }
}
