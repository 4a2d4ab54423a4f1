//! Off-chain instruction builders and account decoders (feature `client`, host only).
//!
//! The builders return a plain [`Instruction`] (program id, account metas, data), which converts
//! into `solana_instruction::Instruction` with `From`. Encodings come from [`crate::instruction`]
//! and PDAs from [`crate::pda`], the same code the program runs.

pub mod spl;

use crate::{
    error::RegistryError,
    instruction::{
        CloseRoundArgs, ContributionEntry, CreateRunArgs, FundArgs, Payload,
        RecordContributionsArgs, RecordRoundArgs, SetCoordinatorArgs, Tag,
    },
    pda,
    state::{Contribution, Layout, Round, Run, MULTIADDRS_CAP, PEER_ID_CAP, VERSION},
    Address,
};

/// The SPL Token program.
pub const TOKEN_PROGRAM_ID: Address = pinocchio_token::ID;
/// The system program.
pub const SYSTEM_PROGRAM_ID: Address = pinocchio_system::ID;
/// Entries per record_contributions instruction that keep a legacy transaction (one signer, no
/// lookup table) under the 1232-byte packet limit: ~279 + 81 bytes per entry.
pub const MAX_ENTRIES_PER_INSTRUCTION: usize = 10;

/// One account of an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountMeta {
    pub pubkey: Address,
    pub is_signer: bool,
    pub is_writable: bool,
}

impl AccountMeta {
    pub fn new(pubkey: Address, is_signer: bool, is_writable: bool) -> Self {
        Self {
            pubkey,
            is_signer,
            is_writable,
        }
    }
}

/// An instruction ready to be converted into the Solana SDK's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub program_id: Address,
    pub accounts: Vec<AccountMeta>,
    pub data: Vec<u8>,
}

impl From<Instruction> for solana_instruction::Instruction {
    fn from(ix: Instruction) -> Self {
        solana_instruction::Instruction {
            program_id: ix.program_id,
            accounts: ix
                .accounts
                .into_iter()
                .map(|m| solana_instruction::AccountMeta {
                    pubkey: m.pubkey,
                    is_signer: m.is_signer,
                    is_writable: m.is_writable,
                })
                .collect(),
            data: ix.data,
        }
    }
}

fn encode(tag: Tag, parts: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![tag as u8, VERSION];
    for p in parts {
        data.extend_from_slice(p);
    }
    data
}

fn find(found: Option<(Address, u8)>) -> Result<Address, RegistryError> {
    found.map(|(a, _)| a).ok_or(RegistryError::WrongPda)
}

/// The Run address of `(authority, run_id)`.
pub fn run_address(
    program_id: &Address,
    authority: &Address,
    run_id: u64,
) -> Result<Address, RegistryError> {
    find(pda::find_run(program_id, authority, run_id))
}

/// The Round address of `(run, index)`.
pub fn round_address(
    program_id: &Address,
    run: &Address,
    index: u64,
) -> Result<Address, RegistryError> {
    find(pda::find_round(program_id, run, index))
}

/// The Contribution address of `(run, trainer)`.
pub fn contribution_address(
    program_id: &Address,
    run: &Address,
    trainer: &Address,
) -> Result<Address, RegistryError> {
    find(pda::find_contribution(program_id, run, trainer))
}

/// Parameters of create_run.
#[derive(Clone, Debug)]
pub struct CreateRun {
    pub authority: Address,
    pub run_id: u64,
    pub reward_mint: Address,
    /// SPL token account of `reward_mint` owned by the run PDA (e.g. its associated token
    /// account), created before this instruction.
    pub vault: Address,
    pub reward_per_round: u64,
    pub config_hash: [u8; 32],
    pub dataset_hash: [u8; 32],
}

/// create_run. Returns the instruction and the run's address.
pub fn create_run(
    program_id: &Address,
    p: &CreateRun,
) -> Result<(Instruction, Address), RegistryError> {
    let run = run_address(program_id, &p.authority, p.run_id)?;
    let args = CreateRunArgs {
        run_id: p.run_id.to_le_bytes(),
        reward_per_round: p.reward_per_round.to_le_bytes(),
        config_hash: p.config_hash,
        dataset_hash: p.dataset_hash,
    };
    let ix = Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(p.authority, true, true),
            AccountMeta::new(run, false, true),
            AccountMeta::new(p.reward_mint, false, false),
            AccountMeta::new(p.vault, false, false),
            AccountMeta::new(SYSTEM_PROGRAM_ID, false, false),
        ],
        data: encode(Tag::CreateRun, &[args.as_bytes()]),
    };
    Ok((ix, run))
}

/// fund: `amount` from `source` (a token account of the reward mint owned by `funder`).
pub fn fund(
    program_id: &Address,
    funder: &Address,
    source: &Address,
    run: &Address,
    vault: &Address,
    amount: u64,
) -> Instruction {
    let args = FundArgs {
        amount: amount.to_le_bytes(),
    };
    Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(*funder, true, false),
            AccountMeta::new(*source, false, true),
            AccountMeta::new(*run, false, false),
            AccountMeta::new(*vault, false, true),
            AccountMeta::new(TOKEN_PROGRAM_ID, false, false),
        ],
        data: encode(Tag::Fund, &[args.as_bytes()]),
    }
}

/// A round header, as recorded by record_round.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundHeader {
    pub index: u64,
    pub model_hash: [u8; 32],
    pub updates_root: [u8; 32],
    pub scores_root: [u8; 32],
    pub transcript_root: [u8; 32],
    pub eval_loss_before: f64,
    pub eval_loss_after: f64,
    /// Sum of the round's payouts (≤ the run's reward per round).
    pub total_payout: u64,
    /// Number of contribution entries that will be recorded.
    pub trainer_count: u32,
}

/// record_round. Returns the instruction and the round's address.
pub fn record_round(
    program_id: &Address,
    authority: &Address,
    run: &Address,
    h: &RoundHeader,
) -> Result<(Instruction, Address), RegistryError> {
    let round = round_address(program_id, run, h.index)?;
    let args = RecordRoundArgs {
        index: h.index.to_le_bytes(),
        model_hash: h.model_hash,
        updates_root: h.updates_root,
        scores_root: h.scores_root,
        transcript_root: h.transcript_root,
        eval_loss_before: h.eval_loss_before.to_bits().to_le_bytes(),
        eval_loss_after: h.eval_loss_after.to_bits().to_le_bytes(),
        total_payout: h.total_payout.to_le_bytes(),
        trainer_count: h.trainer_count.to_le_bytes(),
        reserved: [0; 4],
    };
    let ix = Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(*authority, true, true),
            AccountMeta::new(*run, false, true),
            AccountMeta::new(round, false, true),
            AccountMeta::new(SYSTEM_PROGRAM_ID, false, false),
        ],
        data: encode(Tag::RecordRound, &[args.as_bytes()]),
    };
    Ok((ix, round))
}

/// One trainer's credit for a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub trainer: Address,
    /// Score in fixed point, [`crate::state::SCORE_SCALE`] per unit.
    pub score: i64,
    pub payout: u64,
}

/// record_contributions for one batch (at most [`MAX_ENTRIES_PER_INSTRUCTION`] entries keeps the
/// transaction within the packet limit; split longer lists with `chunks`).
pub fn record_contributions(
    program_id: &Address,
    authority: &Address,
    run: &Address,
    round_index: u64,
    entries: &[Entry],
) -> Result<Instruction, RegistryError> {
    if entries.is_empty() {
        return Err(RegistryError::InvalidInstruction);
    }
    let round = round_address(program_id, run, round_index)?;
    let mut accounts = vec![
        AccountMeta::new(*authority, true, true),
        AccountMeta::new(*run, false, false),
        AccountMeta::new(round, false, true),
        AccountMeta::new(SYSTEM_PROGRAM_ID, false, false),
    ];
    let head = RecordContributionsArgs {
        round_index: round_index.to_le_bytes(),
    };
    let mut data = encode(Tag::RecordContributions, &[head.as_bytes()]);
    for e in entries {
        let contribution = contribution_address(program_id, run, &e.trainer)?;
        accounts.push(AccountMeta::new(contribution, false, true));
        let entry = ContributionEntry {
            trainer: e.trainer.to_bytes(),
            score: e.score.to_le_bytes(),
            payout: e.payout.to_le_bytes(),
        };
        data.extend_from_slice(entry.as_bytes());
    }
    Ok(Instruction {
        program_id: *program_id,
        accounts,
        data,
    })
}

/// close_round.
pub fn close_round(
    program_id: &Address,
    authority: &Address,
    run: &Address,
    round_index: u64,
) -> Result<Instruction, RegistryError> {
    let round = round_address(program_id, run, round_index)?;
    let args = CloseRoundArgs {
        round_index: round_index.to_le_bytes(),
    };
    Ok(Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(*authority, true, false),
            AccountMeta::new(*run, false, true),
            AccountMeta::new(round, false, true),
        ],
        data: encode(Tag::CloseRound, &[args.as_bytes()]),
    })
}

/// claim: everything `trainer` earned and has not claimed, into `destination` (a token account
/// of the reward mint).
pub fn claim(
    program_id: &Address,
    trainer: &Address,
    run: &Address,
    vault: &Address,
    destination: &Address,
) -> Result<Instruction, RegistryError> {
    let contribution = contribution_address(program_id, run, trainer)?;
    Ok(Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(*trainer, true, false),
            AccountMeta::new(*run, false, true),
            AccountMeta::new(contribution, false, true),
            AccountMeta::new(*vault, false, true),
            AccountMeta::new(*destination, false, true),
            AccountMeta::new(TOKEN_PROGRAM_ID, false, false),
        ],
        data: encode(Tag::Claim, &[]),
    })
}

/// set_coordinator: the coordinator's peer id and multiaddrs (newline-separated).
pub fn set_coordinator(
    program_id: &Address,
    authority: &Address,
    run: &Address,
    peer_id: &str,
    multiaddrs: &[String],
) -> Result<Instruction, RegistryError> {
    let addrs = multiaddrs.join("\n");
    if peer_id.len() > PEER_ID_CAP || addrs.len() > MULTIADDRS_CAP {
        return Err(RegistryError::CoordinatorInfoTooLong);
    }
    let mut args = SetCoordinatorArgs {
        peer_id_len: peer_id.len() as u8,
        reserved: 0,
        multiaddrs_len: (addrs.len() as u16).to_le_bytes(),
        peer_id: [0; PEER_ID_CAP],
        multiaddrs: [0; MULTIADDRS_CAP],
    };
    args.peer_id[..peer_id.len()].copy_from_slice(peer_id.as_bytes());
    args.multiaddrs[..addrs.len()].copy_from_slice(addrs.as_bytes());
    Ok(Instruction {
        program_id: *program_id,
        accounts: vec![
            AccountMeta::new(*authority, true, false),
            AccountMeta::new(*run, false, true),
        ],
        data: encode(Tag::SetCoordinator, &[args.as_bytes()]),
    })
}

/// Decodes Run account data.
pub fn decode_run(data: &[u8]) -> Result<Run, RegistryError> {
    Run::load(data).copied()
}

/// Decodes Round account data.
pub fn decode_round(data: &[u8]) -> Result<Round, RegistryError> {
    Round::load(data).copied()
}

/// Decodes Contribution account data.
pub fn decode_contribution(data: &[u8]) -> Result<Contribution, RegistryError> {
    Contribution::load(data).copied()
}

/// The coordinator's peer id and multiaddrs stored in a Run (lossy UTF-8).
pub fn coordinator_of(run: &Run) -> (String, Vec<String>) {
    let peer = String::from_utf8_lossy(run.peer_id_bytes()).into_owned();
    let addrs = String::from_utf8_lossy(run.multiaddrs_bytes())
        .split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (peer, addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruction::{contribution_entries, split};

    fn addr(b: u8) -> Address {
        Address::new_from_array([b; 32])
    }
    const PROGRAM: Address = Address::new_from_array([200; 32]);

    #[test]
    fn create_run_encodes_the_shared_layout() {
        let p = CreateRun {
            authority: addr(1),
            run_id: 9,
            reward_mint: addr(2),
            vault: addr(3),
            reward_per_round: 1_000,
            config_hash: [4; 32],
            dataset_hash: [5; 32],
        };
        let (ix, run) = create_run(&PROGRAM, &p).unwrap();
        assert_eq!(run, pda::find_run(&PROGRAM, &addr(1), 9).unwrap().0);
        let (tag, payload) = split(&ix.data).unwrap();
        assert_eq!(tag, Tag::CreateRun);
        let args = CreateRunArgs::from_bytes(payload).unwrap();
        assert_eq!(u64::from_le_bytes(args.run_id), 9);
        assert_eq!(u64::from_le_bytes(args.reward_per_round), 1_000);
        assert_eq!((args.config_hash, args.dataset_hash), ([4; 32], [5; 32]));
        assert_eq!(ix.accounts.len(), 5);
        assert!(ix.accounts[0].is_signer && ix.accounts[0].is_writable);
        assert_eq!(ix.accounts[1].pubkey, run);
        assert_eq!(ix.accounts[4].pubkey, SYSTEM_PROGRAM_ID);
    }

    #[test]
    fn round_builders_round_trip() {
        let run = addr(7);
        let h = RoundHeader {
            index: 3,
            model_hash: [1; 32],
            updates_root: [2; 32],
            scores_root: [3; 32],
            transcript_root: [4; 32],
            eval_loss_before: 2.5,
            eval_loss_after: 2.25,
            total_payout: 90,
            trainer_count: 2,
        };
        let (ix, round) = record_round(&PROGRAM, &addr(1), &run, &h).unwrap();
        assert_eq!(round, pda::find_round(&PROGRAM, &run, 3).unwrap().0);
        let (tag, payload) = split(&ix.data).unwrap();
        assert_eq!(tag, Tag::RecordRound);
        let a = RecordRoundArgs::from_bytes(payload).unwrap();
        assert_eq!(f64::from_bits(u64::from_le_bytes(a.eval_loss_after)), 2.25);
        assert_eq!(u32::from_le_bytes(a.trainer_count), 2);

        let entries = [
            Entry {
                trainer: addr(10),
                score: -3,
                payout: 40,
            },
            Entry {
                trainer: addr(11),
                score: 5,
                payout: 50,
            },
        ];
        let ix = record_contributions(&PROGRAM, &addr(1), &run, 3, &entries).unwrap();
        assert_eq!(ix.accounts.len(), 4 + 2);
        assert_eq!(ix.accounts[2].pubkey, round);
        assert_eq!(
            ix.accounts[5].pubkey,
            contribution_address(&PROGRAM, &run, &addr(11)).unwrap()
        );
        let (tag, payload) = split(&ix.data).unwrap();
        assert_eq!(tag, Tag::RecordContributions);
        let (head, parsed) = contribution_entries(payload).unwrap();
        assert_eq!(u64::from_le_bytes(head.round_index), 3);
        assert_eq!((parsed[0].score(), parsed[1].payout()), (-3, 50));
        assert!(record_contributions(&PROGRAM, &addr(1), &run, 3, &[]).is_err());

        let ix = close_round(&PROGRAM, &addr(1), &run, 3).unwrap();
        assert_eq!(split(&ix.data).unwrap().0, Tag::CloseRound);
        assert!(ix.accounts[0].is_signer && !ix.accounts[0].is_writable);
    }

    #[test]
    fn a_full_batch_fits_a_legacy_transaction() {
        // signatures(1+64) + header 3 + keys (1 + 32 * (5 + n)) + blockhash 32
        // + instruction (1 + 1 + (4 + n) + 2 + data)
        let n = MAX_ENTRIES_PER_INSTRUCTION;
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry {
                trainer: addr(i as u8 + 1),
                score: 0,
                payout: 0,
            })
            .collect();
        let ix = record_contributions(&PROGRAM, &addr(100), &addr(101), 0, &entries).unwrap();
        let size = 65
            + 3
            + 1
            + 32 * (ix.accounts.len() + 1)
            + 32
            + 1
            + 1
            + ix.accounts.len()
            + 2
            + ix.data.len();
        assert!(size <= 1232, "{size} bytes");
    }

    #[test]
    fn claim_fund_and_coordinator_builders() {
        let run = addr(7);
        let ix = claim(&PROGRAM, &addr(10), &run, &addr(8), &addr(9)).unwrap();
        assert_eq!(ix.data, vec![Tag::Claim as u8, VERSION]);
        assert_eq!(
            ix.accounts[2].pubkey,
            contribution_address(&PROGRAM, &run, &addr(10)).unwrap()
        );
        assert_eq!(ix.accounts[5].pubkey, TOKEN_PROGRAM_ID);

        let ix = fund(&PROGRAM, &addr(1), &addr(2), &run, &addr(8), 500);
        assert_eq!(&ix.data[2..], &500u64.to_le_bytes());

        let addrs = vec![
            "/ip4/1.2.3.4/tcp/9000".to_string(),
            "/ip4/5.6.7.8/udp/9000/quic-v1".to_string(),
        ];
        let ix = set_coordinator(&PROGRAM, &addr(1), &run, "12D3KooWpeer", &addrs).unwrap();
        let args = SetCoordinatorArgs::from_bytes(&ix.data[2..]).unwrap();
        let (p, m) = args.parts().unwrap();
        let mut data = vec![0u8; Run::LEN];
        let state = Run::init(&mut data).unwrap();
        state.set_coordinator(p, m).unwrap();
        let decoded = decode_run(&data).unwrap();
        assert_eq!(
            coordinator_of(&decoded),
            ("12D3KooWpeer".to_string(), addrs)
        );
        assert!(set_coordinator(&PROGRAM, &addr(1), &run, &"x".repeat(65), &[]).is_err());
    }

    #[test]
    fn decoders_refuse_other_kinds() {
        let mut data = vec![0u8; Round::LEN];
        Round::init(&mut data).unwrap();
        assert!(decode_round(&data).is_ok());
        assert_eq!(decode_run(&data), Err(RegistryError::InvalidAccount));
        assert_eq!(
            decode_contribution(&data[..Contribution::LEN]),
            Err(RegistryError::InvalidAccount)
        );
    }
}
