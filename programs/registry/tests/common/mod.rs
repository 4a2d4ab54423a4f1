//! Harness for running the registry's SBF ELF (`dist/coalition_registry.so`) in the real SVM of
//! `solana-program-test`, with the bundled SPL token (p-token) and associated-token-account
//! programs. The crate's client builders produce a plain `client::Instruction`, which
//! converts into `solana_instruction::Instruction` with `From`.
#![allow(dead_code)]

use std::{collections::HashSet, path::PathBuf, sync::Once};

use coalition_registry::{
    client::{self, spl, Entry, RoundHeader},
    state::{Contribution, Round, Run},
    Address,
};
use solana_instruction::{error::InstructionError, Instruction};
use solana_keypair::Keypair;
use solana_program_test::{ProgramTest, ProgramTestContext};
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;

/// The registry's program id in these tests (any address works for a test deployment).
pub const PROGRAM_ID: Pubkey = Pubkey::new_from_array([0xC0; 32]);
pub const DECIMALS: u8 = 6;

/// The custom error code of a failed transaction's first instruction error, as the runtime
/// reports it.
pub fn custom(err: &TransactionError) -> Option<u32> {
    match err {
        TransactionError::InstructionError(_, InstructionError::Custom(n)) => Some(*n),
        _ => None,
    }
}

/// The outcome of one transaction: its result, compute units and wire size.
#[derive(Debug)]
pub struct Sent {
    pub result: Result<(), TransactionError>,
    pub cu: u64,
    pub bytes: usize,
}

impl Sent {
    #[track_caller]
    pub fn ok(&self) -> u64 {
        if let Err(e) = &self.result {
            panic!("transaction failed: {e:?}");
        }
        self.cu
    }

    /// Asserts the transaction failed with the registry's error `code` (`Custom(code)`).
    #[track_caller]
    pub fn fails_with(&self, code: coalition_registry::error::RegistryError) {
        match &self.result {
            Err(e) => assert_eq!(
                custom(e),
                Some(code as u32),
                "expected Custom({}) ({:?}), got {e:?}",
                code as u32,
                code
            ),
            Ok(()) => panic!(
                "expected Custom({}) ({code:?}), transaction succeeded",
                code as u32
            ),
        }
    }

    #[track_caller]
    pub fn fails_with_instruction_error(&self, expected: InstructionError) {
        match &self.result {
            Err(TransactionError::InstructionError(_, e)) => assert_eq!(e, &expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
}

static SBF_OUT_DIR: Once = Once::new();

fn dist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist")
}

/// A started test validator bank with the registry ELF loaded.
pub struct Env {
    pub ctx: ProgramTestContext,
    seen: HashSet<[u8; 64]>,
}

impl Env {
    pub async fn start() -> Env {
        SBF_OUT_DIR.call_once(|| {
            let dir = dist_dir();
            assert!(
                dir.join("coalition_registry.so").is_file(),
                "missing {}/coalition_registry.so: run programs/registry/build-sbf.sh",
                dir.display()
            );
            // SAFETY (edition 2021: safe): set once, before any program-test reads it.
            std::env::set_var("SBF_OUT_DIR", &dir);
        });
        let mut pt = ProgramTest::default();
        pt.prefer_bpf(true);
        pt.add_program("coalition_registry", PROGRAM_ID, None);
        let ctx = pt.start_with_context().await;
        Env {
            ctx,
            seen: HashSet::new(),
        }
    }

    pub fn payer(&self) -> Pubkey {
        self.ctx.payer.pubkey()
    }

    /// Sends one transaction paid by the context payer and signed by it and `signers`.
    /// An identical transaction sent twice gets a fresh blockhash so the runtime executes it
    /// again instead of deduplicating it.
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Sent {
        let payer = self.ctx.payer.insecure_clone();
        let mut all: Vec<&Keypair> = vec![&payer];
        for s in signers {
            if s.pubkey() != payer.pubkey() && !all.iter().any(|a| a.pubkey() == s.pubkey()) {
                all.push(s);
            }
        }
        let mut tx = Transaction::new_signed_with_payer(
            ixs,
            Some(&payer.pubkey()),
            &all,
            self.ctx.last_blockhash,
        );
        if !self.seen.insert(sig_bytes(&tx)) {
            self.ctx.last_blockhash = self
                .ctx
                .get_new_latest_blockhash()
                .await
                .expect("new blockhash");
            tx = Transaction::new_signed_with_payer(
                ixs,
                Some(&payer.pubkey()),
                &all,
                self.ctx.last_blockhash,
            );
            self.seen.insert(sig_bytes(&tx));
        }
        let bytes = wire_size(&tx);
        let out = self
            .ctx
            .banks_client
            .process_transaction_with_metadata(tx)
            .await
            .expect("banks client");
        Sent {
            result: out.result,
            cu: out.metadata.map(|m| m.compute_units_consumed).unwrap_or(0),
            bytes,
        }
    }

    /// Sends registry instructions built by the client.
    pub async fn send_client(
        &mut self,
        ixs: Vec<client::Instruction>,
        signers: &[&Keypair],
    ) -> Sent {
        let ixs: Vec<Instruction> = ixs.into_iter().map(Instruction::from).collect();
        self.send(&ixs, signers).await
    }

    pub async fn data(&mut self, address: Pubkey) -> Option<Vec<u8>> {
        self.ctx
            .banks_client
            .get_account(address)
            .await
            .expect("get_account")
            .map(|a| a.data)
    }

    pub async fn run(&mut self, address: Pubkey) -> Run {
        client::decode_run(&self.data(address).await.expect("run account")).expect("run")
    }

    pub async fn round(&mut self, address: Pubkey) -> Round {
        client::decode_round(&self.data(address).await.expect("round account")).expect("round")
    }

    pub async fn contribution(&mut self, address: Pubkey) -> Contribution {
        client::decode_contribution(&self.data(address).await.expect("contribution account"))
            .expect("contribution")
    }

    /// The token balance of an SPL token account (amount at offset 64).
    pub async fn balance(&mut self, token_account: Pubkey) -> u64 {
        let d = self.data(token_account).await.expect("token account");
        spl::token_account_amount(&d).expect("token account data")
    }

    pub async fn airdrop(&mut self, to: Pubkey, lamports: u64) {
        let ix = spl::transfer_lamports(&self.payer(), &to, lamports);
        self.send_client(vec![ix], &[]).await.ok();
    }

    /// Creates a mint with the payer as mint authority.
    pub async fn create_mint(&mut self) -> Pubkey {
        let mint = Keypair::new();
        let rent = self.ctx.banks_client.get_rent().await.expect("rent");
        let lamports = rent.minimum_balance(spl::MINT_LEN as usize);
        let ixs = vec![
            spl::create_account(
                &self.payer(),
                &mint.pubkey(),
                lamports,
                spl::MINT_LEN,
                &client::TOKEN_PROGRAM_ID,
            ),
            spl::initialize_mint2(&mint.pubkey(), &self.payer(), DECIMALS),
        ];
        self.send_client(ixs, &[&mint]).await.ok();
        mint.pubkey()
    }

    /// Creates (idempotently) `owner`'s associated token account for `mint`, paid by the payer.
    pub async fn create_ata(&mut self, owner: Pubkey, mint: Pubkey) -> Pubkey {
        let (ix, ata) = spl::create_ata_idempotent(&self.payer(), &owner, &mint).expect("ata");
        self.send_client(vec![ix], &[]).await.ok();
        ata
    }

    /// Mints `amount` to `to` (payer is the mint authority).
    pub async fn mint_to(&mut self, mint: Pubkey, to: Pubkey, amount: u64) {
        let ix = spl::mint_to(&mint, &to, &self.payer(), amount);
        self.send_client(vec![ix], &[]).await.ok();
    }
}

fn sig_bytes(tx: &Transaction) -> [u8; 64] {
    let mut b = [0u8; 64];
    b.copy_from_slice(tx.signatures[0].as_ref());
    b
}

/// The serialized size of a legacy transaction: signature count (compact-u16, one byte below
/// 128), the signatures, and the message.
pub fn wire_size(tx: &Transaction) -> usize {
    let n = tx.signatures.len();
    assert!(n < 128);
    1 + 64 * n + tx.message_data().len()
}

/// A run set up for tests: mint, vault (the Run PDA's associated token account), the run itself,
/// and the authority (a keypair distinct from the fee payer).
pub struct TestRun {
    pub authority: Keypair,
    pub run_id: u64,
    pub mint: Pubkey,
    pub vault: Pubkey,
    pub run: Pubkey,
    pub reward_per_round: u64,
}

impl TestRun {
    pub fn create_run_ix(&self) -> client::Instruction {
        let (ix, run) = client::create_run(
            &PROGRAM_ID,
            &client::CreateRun {
                authority: self.authority.pubkey(),
                run_id: self.run_id,
                reward_mint: self.mint,
                vault: self.vault,
                reward_per_round: self.reward_per_round,
                config_hash: [1; 32],
                dataset_hash: [2; 32],
            },
        )
        .expect("create_run");
        assert_eq!(run, self.run);
        ix
    }

    pub fn header(&self, index: u64, total_payout: u64, trainer_count: u32) -> RoundHeader {
        RoundHeader {
            index,
            model_hash: [3; 32],
            updates_root: [4; 32],
            scores_root: [5; 32],
            transcript_root: [6; 32],
            eval_loss_before: 2.5,
            eval_loss_after: 2.25,
            total_payout,
            trainer_count,
        }
    }

    pub fn record_round_ix(&self, h: &RoundHeader) -> client::Instruction {
        client::record_round(&PROGRAM_ID, &self.authority.pubkey(), &self.run, h)
            .expect("record_round")
            .0
    }

    pub fn record_contributions_ix(&self, index: u64, entries: &[Entry]) -> client::Instruction {
        client::record_contributions(
            &PROGRAM_ID,
            &self.authority.pubkey(),
            &self.run,
            index,
            entries,
        )
        .expect("record_contributions")
    }

    pub fn close_round_ix(&self, index: u64) -> client::Instruction {
        client::close_round(&PROGRAM_ID, &self.authority.pubkey(), &self.run, index)
            .expect("close_round")
    }

    pub fn claim_ix(&self, trainer: &Address, destination: &Address) -> client::Instruction {
        client::claim(&PROGRAM_ID, trainer, &self.run, &self.vault, destination).expect("claim")
    }

    pub fn round_address(&self, index: u64) -> Pubkey {
        client::round_address(&PROGRAM_ID, &self.run, index).expect("round pda")
    }

    pub fn contribution_address(&self, trainer: &Pubkey) -> Pubkey {
        client::contribution_address(&PROGRAM_ID, &self.run, trainer).expect("contribution pda")
    }
}

/// Mint, vault and authority for a new run (the run itself not yet created).
pub async fn prepare_run(env: &mut Env, run_id: u64, reward_per_round: u64) -> TestRun {
    let authority = Keypair::new();
    env.airdrop(authority.pubkey(), 1_000_000_000).await;
    let mint = env.create_mint().await;
    let run = client::run_address(&PROGRAM_ID, &authority.pubkey(), run_id).expect("run pda");
    let vault = env.create_ata(run, mint).await;
    TestRun {
        authority,
        run_id,
        mint,
        vault,
        run,
        reward_per_round,
    }
}

/// A created and funded run: `funding` tokens moved into the vault through `fund`.
pub async fn funded_run(
    env: &mut Env,
    run_id: u64,
    reward_per_round: u64,
    funding: u64,
) -> TestRun {
    let r = prepare_run(env, run_id, reward_per_round).await;
    env.send_client(vec![r.create_run_ix()], &[&r.authority])
        .await
        .ok();
    if funding > 0 {
        let payer = env.payer();
        let source = env.create_ata(payer, r.mint).await;
        env.mint_to(r.mint, source, funding).await;
        let ix = client::fund(&PROGRAM_ID, &payer, &source, &r.run, &r.vault, funding);
        env.send_client(vec![ix], &[]).await.ok();
    }
    r
}

/// Records round `index` with `entries` in batches of `batch` and closes it. Returns the
/// outcomes of every transaction (record_round, the batches, close_round).
pub async fn record_full_round(
    env: &mut Env,
    r: &TestRun,
    index: u64,
    entries: &[Entry],
    batch: usize,
) -> Vec<Sent> {
    let total: u64 = entries.iter().map(|e| e.payout).sum();
    let mut out = Vec::new();
    let h = r.header(index, total, entries.len() as u32);
    out.push(
        env.send_client(vec![r.record_round_ix(&h)], &[&r.authority])
            .await,
    );
    for chunk in entries.chunks(batch) {
        out.push(
            env.send_client(
                vec![r.record_contributions_ix(index, chunk)],
                &[&r.authority],
            )
            .await,
        );
    }
    out.push(
        env.send_client(vec![r.close_round_ix(index)], &[&r.authority])
            .await,
    );
    for s in &out {
        s.ok();
    }
    out
}

pub fn keypairs(n: usize) -> Vec<Keypair> {
    (0..n).map(|_| Keypair::new()).collect()
}

pub fn entries(trainers: &[Keypair], payout: impl Fn(usize) -> u64) -> Vec<Entry> {
    trainers
        .iter()
        .enumerate()
        .map(|(i, k)| Entry {
            trainer: k.pubkey(),
            score: (i as i64 + 1) * 1_000_000,
            payout: payout(i),
        })
        .collect()
}
