//! `cluster = "embedded"`: an in-process `solana-test-validator` (Agave 4.2.2) with the registry
//! ELF at genesis and its ledger in the run directory (`<run_dir>/ledger`), so a restarted
//! coordinator — or `coalition inspect` / `coalition claim` afterwards — finds the records again.
//!
//! The validator's genesis mint is the run authority: on a fresh ledger it holds the SOL that
//! pays every fee. Starting it must happen outside any tokio runtime (the crate blocks on its
//! own); the ledger is a RocksDB directory that one process at a time may open.

use coalition_registry::client;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_net_utils::SocketAddrSpace;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_test_validator::{TestValidator, TestValidatorGenesis, UpgradeableProgramInfo};
use solana_transaction::Transaction;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::{info, warn};

use crate::error::{LedgerError, Result};
use crate::pubkey_from_base58;

/// The registry ELF built by `programs/registry/build-sbf.sh` (CI rebuilds it before testing).
pub static REGISTRY_ELF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../programs/registry/dist/coalition_registry.so"
));

const UPGRADEABLE_LOADER: &str = "BPFLoaderUpgradeab1e11111111111111111111111";
/// Ports each validator binds (gossip, TVU, TPU, repair, RPC, ...) fit in this many.
const PORT_SPAN: u16 = 60;

/// A running embedded validator. Dropping it shuts the validator down and keeps the ledger.
pub struct EmbeddedValidator {
    validator: TestValidator,
    ledger: PathBuf,
}

impl EmbeddedValidator {
    /// Starts the validator on `ledger` (created with `mint` as the genesis mint and the registry
    /// at `program_id` if it does not exist yet), and waits until the registry can execute.
    pub fn start(ledger: &Path, mint: &Keypair, program_id: Pubkey) -> Result<EmbeddedValidator> {
        let fail = |message: String| LedgerError::Validator {
            ledger: ledger.to_path_buf(),
            message,
        };
        let fresh = !TestValidatorGenesis::ledger_exists(ledger);
        if let Some(parent) = ledger.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        }
        let mut elf = tempfile::Builder::new()
            .suffix(".so")
            .tempfile()
            .map_err(|e| fail(format!("cannot write the registry ELF: {e}")))?;
        elf.write_all(REGISTRY_ELF)
            .and_then(|_| elf.flush())
            .map_err(|e| fail(format!("cannot write the registry ELF: {e}")))?;
        let loader =
            pubkey_from_base58(UPGRADEABLE_LOADER).ok_or_else(|| fail("bad loader id".into()))?;
        let started = Instant::now();
        let mut last = String::new();
        for attempt in 0..6u16 {
            let base = 20_000 + (rand::random::<u16>() % 600) * 64;
            let mut genesis = TestValidatorGenesis::default();
            genesis
                .ledger_path(ledger)
                .port_range((base, base + PORT_SPAN))
                .gossip_port(base)
                .add_upgradeable_programs_with_path(&[UpgradeableProgramInfo {
                    program_id,
                    loader,
                    upgrade_authority: Pubkey::default(),
                    program_path: elf.path().to_path_buf(),
                }]);
            let mint_address = mint.pubkey();
            // The crate panics (rather than erring) when its ports are taken: catch that and try
            // another range.
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let _quiet = crate::stdout_guard::StdoutToStderr::new();
                genesis.start_with_mint_address(mint_address, SocketAddrSpace::new(true))
            }));
            match outcome {
                Ok(Ok(validator)) => {
                    let v = EmbeddedValidator {
                        validator,
                        ledger: ledger.to_path_buf(),
                    };
                    v.wait_until_usable(mint, program_id)?;
                    info!(
                        ledger = %ledger.display(),
                        fresh,
                        seconds = started.elapsed().as_secs_f64(),
                        rpc = %v.rpc_url(),
                        "embedded validator up"
                    );
                    return Ok(v);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(panic) => {
                    last = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "the validator panicked".into())
                }
            }
            if last.contains("LOCK") || last.contains("lock") {
                return Err(fail(format!(
                    "{last} (is another coordinator, inspect or claim using this run's ledger?)"
                )));
            }
            warn!(
                attempt,
                "embedded validator did not start: {last}; retrying"
            );
        }
        Err(fail(last))
    }

    pub fn rpc_url(&self) -> String {
        self.validator.rpc_url()
    }

    pub fn ledger(&self) -> &Path {
        &self.ledger
    }

    /// Programs placed at genesis execute only after the first slots: simulate a call to the
    /// registry until the runtime stops saying it is not deployed, and (after a restart) until
    /// the confirmed bank has caught up with the replayed ledger.
    fn wait_until_usable(&self, payer: &Keypair, program_id: Pubkey) -> Result<()> {
        let rpc = self.validator.get_rpc_client();
        let ix = solana_instruction::Instruction::from(client::Instruction {
            program_id,
            accounts: vec![],
            data: vec![],
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let replayed_tip = rpc
            .get_slot_with_commitment(CommitmentConfig::processed())
            .unwrap_or(0);
        loop {
            let ready = rpc
                .get_latest_blockhash_with_commitment(CommitmentConfig::processed())
                .ok()
                .and_then(|(hash, _)| {
                    let tx = Transaction::new_signed_with_payer(
                        std::slice::from_ref(&ix),
                        Some(&payer.pubkey()),
                        &[payer],
                        hash,
                    );
                    rpc.simulate_transaction(&tx).ok()
                })
                .map(|r| match r.value.err {
                    None => true,
                    Some(e) => !format!("{e:?}").contains("not deployed"),
                })
                .unwrap_or(false);
            // After a restart the confirmed bank is genesis until the node votes again: wait
            // until it has caught up with the tip the ledger was replayed to.
            let caught_up = || {
                let confirmed = rpc.get_slot_with_commitment(CommitmentConfig::confirmed());
                matches!(confirmed, Ok(c) if c >= replayed_tip)
            };
            if ready && caught_up() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LedgerError::Validator {
                    ledger: self.ledger.clone(),
                    message: "the registry program did not become usable within 60 s".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
