//! Creating (or finding) a run's accounts: the reward mint, the vault (the Run PDA's associated
//! token account), the Run itself, enough tokens in the vault for the rounds still to record,
//! and the coordinator's peer id and addresses. Every step checks the chain first, so running
//! it again — after a crash, or at every coordinator start — changes nothing that is in place.

use coalition_registry::{
    client::{self, spl},
    state::{Run, MULTIADDRS_CAP, PEER_ID_CAP},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use std::path::Path;
use tracing::info;

use crate::chain::Chain;
use crate::error::{LedgerError, Result};

/// Decimals of a reward mint the coordinator creates.
pub const REWARD_DECIMALS: u8 = 6;

/// What the Run account is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// The first 8 bytes (LE) of the config hash: a new config is a new on-chain run.
    pub run_id: u64,
    pub reward_per_round: u64,
    /// Rounds the config asks for (the vault is funded for them).
    pub rounds: u64,
    /// sha256 of the config file as launched.
    pub config_hash: [u8; 32],
    /// sha256 of the config's `[data]` table (keys sorted).
    pub dataset_hash: [u8; 32],
    /// An existing reward mint; `None` = create one.
    pub mint: Option<Pubkey>,
}

impl RunSpec {
    /// The spec of a run launched with `config_bytes` (the file as read).
    pub fn from_config(
        config_bytes: &[u8],
        reward_per_round: u64,
        rounds: u64,
        mint: Option<Pubkey>,
    ) -> Result<RunSpec> {
        let config_hash: [u8; 32] = Sha256::digest(config_bytes).into();
        let text = std::str::from_utf8(config_bytes)
            .map_err(|e| LedgerError::Invalid(format!("the config is not UTF-8: {e}")))?;
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| LedgerError::Invalid(format!("the config does not parse: {e}")))?;
        let data = table
            .get("data")
            .cloned()
            .unwrap_or(toml::Value::Integer(0));
        let canonical = serde_json::to_vec(&data)
            .map_err(|e| LedgerError::Invalid(format!("the [data] table: {e}")))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&config_hash[..8]);
        Ok(RunSpec {
            run_id: u64::from_le_bytes(id),
            reward_per_round,
            rounds,
            config_hash,
            dataset_hash: Sha256::digest(&canonical).into(),
            mint,
        })
    }
}

/// A run's addresses (also written to `<run_dir>/onchain.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAccounts {
    pub cluster: String,
    pub program_id: String,
    pub run: String,
    pub authority: String,
    pub mint: String,
    pub vault: String,
    pub run_id: u64,
}

impl RunAccounts {
    pub fn read(path: &Path) -> Result<RunAccounts> {
        let bad = |message: String| LedgerError::File {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(format!("not a run accounts file: {e}")))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let bad = |message: String| LedgerError::File {
            path: path.to_path_buf(),
            message,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| bad(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json + "\n")
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| bad(e.to_string()))
    }

    pub fn run(&self) -> Result<Pubkey> {
        parse_key("run", &self.run)
    }
    pub fn vault(&self) -> Result<Pubkey> {
        parse_key("vault", &self.vault)
    }
    pub fn mint(&self) -> Result<Pubkey> {
        parse_key("mint", &self.mint)
    }
}

fn parse_key(what: &str, s: &str) -> Result<Pubkey> {
    crate::pubkey_from_base58(s)
        .ok_or_else(|| LedgerError::Invalid(format!("{what} {s:?} is not a base58 address")))
}

/// Reads and decodes the Run account at `run`.
pub fn read_run(chain: &Chain, run: &Pubkey) -> Result<Option<Run>> {
    let Some((data, owner)) = chain.account(run)? else {
        return Ok(None);
    };
    let bad = |message: String| LedgerError::Account {
        address: run.to_string(),
        message,
    };
    if owner != chain.program_id() {
        return Err(bad(format!(
            "owned by {owner}, not the registry {}",
            chain.program_id()
        )));
    }
    client::decode_run(&data)
        .map(Some)
        .map_err(|e| bad(format!("not a Run account ({})", e.message())))
}

/// Creates what is missing of the run described by `spec` under `authority`, funds the vault
/// for the rounds not yet closed, and returns the run's addresses. `mint_keypair` is where a
/// created reward mint's keypair is kept (used only when `spec.mint` is `None`).
pub fn ensure_run(
    chain: &Chain,
    authority: &Keypair,
    spec: &RunSpec,
    mint_keypair: &Path,
) -> Result<RunAccounts> {
    let program = chain.program_id();
    let run = client::run_address(&program, &authority.pubkey(), spec.run_id)
        .map_err(|e| LedgerError::Invalid(format!("run address: {}", e.message())))?;
    if chain.lamports(&authority.pubkey())? == 0 {
        return Err(LedgerError::Account {
            address: authority.pubkey().to_string(),
            message: format!(
                "the run authority has no SOL on {} to pay fees (fund it, e.g. `solana airdrop 2 {}` on devnet)",
                chain.cluster(),
                authority.pubkey()
            ),
        });
    }
    let state = match read_run(chain, &run)? {
        Some(state) => state,
        None => {
            let mint = match spec.mint {
                Some(m) => m,
                None => create_mint(chain, authority, mint_keypair)?,
            };
            let (vault_ix, vault) = spl::create_ata_idempotent(&authority.pubkey(), &run, &mint)
                .ok_or_else(|| LedgerError::Invalid("no vault address".into()))?;
            let (create, _) = client::create_run(
                &program,
                &client::CreateRun {
                    authority: authority.pubkey(),
                    run_id: spec.run_id,
                    reward_mint: mint,
                    vault,
                    reward_per_round: spec.reward_per_round,
                    config_hash: spec.config_hash,
                    dataset_hash: spec.dataset_hash,
                },
            )
            .map_err(|e| LedgerError::Invalid(format!("create_run: {}", e.message())))?;
            chain.send("create the run", vec![vault_ix, create], authority, &[])?;
            read_run(chain, &run)?.ok_or_else(|| LedgerError::Account {
                address: run.to_string(),
                message: "create_run confirmed but the account is missing".into(),
            })?
        }
    };
    if state.config_hash != spec.config_hash || state.reward_per_round() != spec.reward_per_round {
        return Err(LedgerError::Account {
            address: run.to_string(),
            message: "this run was created from a different config (config hash or reward per round differ)".into(),
        });
    }
    let accounts = RunAccounts {
        cluster: chain.cluster().to_string(),
        program_id: program.to_string(),
        run: run.to_string(),
        authority: authority.pubkey().to_string(),
        mint: Pubkey::new_from_array(state.reward_mint).to_string(),
        vault: Pubkey::new_from_array(state.vault).to_string(),
        run_id: spec.run_id,
    };
    fund(chain, authority, spec, &state, &accounts)?;
    Ok(accounts)
}

fn create_mint(chain: &Chain, authority: &Keypair, keypair_path: &Path) -> Result<Pubkey> {
    let mint = crate::keys::load_or_create_keypair(keypair_path)?;
    if chain.account(&mint.pubkey())?.is_none() {
        let rent = chain.rent_exempt(spl::MINT_LEN as usize)?;
        let ixs = vec![
            spl::create_account(
                &authority.pubkey(),
                &mint.pubkey(),
                rent,
                spl::MINT_LEN,
                &client::TOKEN_PROGRAM_ID,
            ),
            spl::initialize_mint2(&mint.pubkey(), &authority.pubkey(), REWARD_DECIMALS),
        ];
        chain.send("create the reward mint", ixs, authority, &[&mint])?;
    }
    Ok(mint.pubkey())
}

/// Tops the vault up to what the rounds not yet closed can pay plus what is earned and
/// unclaimed. With a created mint the authority mints the difference; with an existing mint it
/// moves it from its own token account.
fn fund(
    chain: &Chain,
    authority: &Keypair,
    spec: &RunSpec,
    state: &Run,
    accounts: &RunAccounts,
) -> Result<()> {
    let vault = accounts.vault()?;
    let mint = accounts.mint()?;
    let run = accounts.run()?;
    let open_rounds = spec.rounds.saturating_sub(state.rounds_closed());
    let owed = state
        .total_credited()
        .saturating_sub(state.total_claimed())
        .saturating_add(spec.reward_per_round.saturating_mul(open_rounds));
    let held = chain.token_amount(&vault)?.unwrap_or(0);
    if held >= owed {
        return Ok(());
    }
    let need = owed - held;
    let (ata_ix, source) =
        spl::create_ata_idempotent(&authority.pubkey(), &authority.pubkey(), &mint)
            .ok_or_else(|| LedgerError::Invalid("no token account address".into()))?;
    let mut ixs = vec![ata_ix];
    if spec.mint.is_none() {
        ixs.push(spl::mint_to(&mint, &source, &authority.pubkey(), need));
    } else {
        let have = chain.token_amount(&source)?.unwrap_or(0);
        if have < need {
            return Err(LedgerError::Account {
                address: source.to_string(),
                message: format!(
                    "the authority's token account holds {have} of mint {mint}; funding the vault needs {need}"
                ),
            });
        }
    }
    let program = chain.program_id();
    ixs.push(client::fund(
        &program,
        &authority.pubkey(),
        &source,
        &run,
        &vault,
        need,
    ));
    chain.send(&format!("fund the vault with {need}"), ixs, authority, &[])?;
    info!(vault = %vault, amount = need, "vault funded");
    Ok(())
}

/// Writes the coordinator's peer id and as many of `addrs` as fit into the Run account, unless
/// they are already there. `addrs` may end in `/p2p/<peer id>`; that part is stripped.
pub fn set_coordinator(
    chain: &Chain,
    authority: &Keypair,
    run: &Pubkey,
    addrs: &[String],
) -> Result<()> {
    let (peer, list) = split_peer(addrs);
    let Some(peer) = peer else {
        return Err(LedgerError::Invalid(
            "the coordinator's addresses carry no /p2p/ peer id".into(),
        ));
    };
    if peer.len() > PEER_ID_CAP {
        return Err(LedgerError::Invalid(format!("peer id {peer} is too long")));
    }
    let mut kept: Vec<String> = Vec::new();
    let mut len = 0usize;
    for a in list {
        let extra = a.len() + usize::from(!kept.is_empty());
        if len + extra <= MULTIADDRS_CAP {
            len += extra;
            kept.push(a);
        }
    }
    if let Some(state) = read_run(chain, run)? {
        if client::coordinator_of(&state) == (peer.clone(), kept.clone()) {
            return Ok(());
        }
    }
    let ix = client::set_coordinator(&chain.program_id(), &authority.pubkey(), run, &peer, &kept)
        .map_err(|e| LedgerError::Invalid(format!("set_coordinator: {}", e.message())))?;
    chain.send(
        "publish the coordinator's addresses",
        vec![ix],
        authority,
        &[],
    )?;
    Ok(())
}

/// The peer id (from a trailing `/p2p/<id>`) and the addresses without it.
pub fn split_peer(addrs: &[String]) -> (Option<String>, Vec<String>) {
    let mut peer = None;
    let mut out = Vec::new();
    for a in addrs {
        match a.rsplit_once("/p2p/") {
            Some((base, id)) => {
                peer.get_or_insert_with(|| id.to_string());
                out.push(base.to_string());
            }
            None => out.push(a.clone()),
        }
    }
    (peer, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_hashes_the_config_and_its_data_table() {
        let a = RunSpec::from_config(
            b"[run]\nname = \"x\"\n[data]\ndataset = \"a\"\n",
            5,
            3,
            None,
        )
        .unwrap();
        let b = RunSpec::from_config(
            b"[data]\ndataset = \"a\"\n[run]\nname = \"y\"\n",
            5,
            3,
            None,
        )
        .unwrap();
        assert_ne!(a.config_hash, b.config_hash);
        assert_ne!(a.run_id, b.run_id);
        assert_eq!(a.dataset_hash, b.dataset_hash);
        assert!(RunSpec::from_config(b"[data\n", 1, 1, None).is_err());
    }

    #[test]
    fn peer_ids_are_split_from_addresses() {
        let (peer, addrs) = split_peer(&[
            "/ip4/127.0.0.1/tcp/1/p2p/12D3Koo".to_string(),
            "/ip4/127.0.0.1/udp/1/quic-v1/p2p/12D3Koo".to_string(),
        ]);
        assert_eq!(peer.as_deref(), Some("12D3Koo"));
        assert_eq!(
            addrs,
            ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/quic-v1"]
        );
    }

    #[test]
    fn accounts_file_round_trips_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("onchain.json");
        let a = RunAccounts {
            cluster: "embedded".into(),
            program_id: "11111111111111111111111111111111".into(),
            run: "11111111111111111111111111111111".into(),
            authority: "11111111111111111111111111111111".into(),
            mint: "11111111111111111111111111111111".into(),
            vault: "11111111111111111111111111111111".into(),
            run_id: 7,
        };
        a.write(&p).unwrap();
        assert_eq!(RunAccounts::read(&p).unwrap(), a);
        std::fs::write(&p, "{}").unwrap();
        assert!(RunAccounts::read(&p)
            .unwrap_err()
            .to_string()
            .contains("onchain.json"));
    }
}
