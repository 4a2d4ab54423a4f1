//! A JSON-RPC connection to a cluster: reading accounts, and sending transactions built from
//! the registry client's instructions with errors that say what was refused and why.

use coalition_registry::{client, error::RegistryError};
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_instruction::{error::InstructionError, Instruction};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::rpc_client::RpcClient;
use solana_rpc_client_api::{
    client_error::Error as ClientError,
    config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
    filter::{Memcmp, RpcFilterType},
};
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::{Transaction, TransactionError};
use std::time::Duration;
use tracing::info;

use crate::cluster::Cluster;
use crate::error::{LedgerError, Result};

/// Accounts per `getMultipleAccounts` call (the RPC limit).
const MULTIPLE_ACCOUNTS_LIMIT: usize = 100;

/// A cluster over JSON-RPC at `confirmed` commitment.
pub struct Chain {
    rpc: RpcClient,
    url: String,
    cluster: Cluster,
    /// The registry program (to name its refusals).
    program_id: Pubkey,
}

/// A sent and confirmed transaction.
#[derive(Debug, Clone)]
pub struct Sent {
    pub signature: Signature,
    /// Explorer link on public clusters.
    pub link: Option<String>,
}

impl Chain {
    pub fn new(url: &str, cluster: Cluster, program_id: Pubkey) -> Chain {
        Chain {
            rpc: RpcClient::new_with_timeout_and_commitment(
                url.to_string(),
                Duration::from_secs(60),
                CommitmentConfig::confirmed(),
            ),
            url: url.to_string(),
            cluster,
            program_id,
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn program_id(&self) -> Pubkey {
        self.program_id
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn rpc_err(&self, what: &str, e: ClientError) -> LedgerError {
        LedgerError::Rpc {
            what: what.to_string(),
            url: self.url.clone(),
            message: e.to_string(),
        }
    }

    /// The data and owner of an account, or `None` if it does not exist.
    pub fn account(&self, address: &Pubkey) -> Result<Option<(Vec<u8>, Pubkey)>> {
        let r = self
            .rpc
            .get_account_with_commitment(address, CommitmentConfig::confirmed())
            .map_err(|e| self.rpc_err(&format!("read account {address}"), e))?;
        Ok(r.value.map(|a| (a.data, a.owner)))
    }

    /// The data of several accounts, in order (`None` where one does not exist).
    pub fn accounts(&self, addresses: &[Pubkey]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(MULTIPLE_ACCOUNTS_LIMIT) {
            let got = self
                .rpc
                .get_multiple_accounts(chunk)
                .map_err(|e| self.rpc_err(&format!("read {} accounts", chunk.len()), e))?;
            out.extend(got.into_iter().map(|a| a.map(|a| a.data)));
        }
        Ok(out)
    }

    /// Accounts of `owner` with `size` bytes whose bytes at `offset` equal `bytes`.
    pub fn program_accounts(
        &self,
        owner: &Pubkey,
        size: usize,
        offset: usize,
        bytes: &[u8],
    ) -> Result<Vec<(Pubkey, Vec<u8>)>> {
        let config = RpcProgramAccountsConfig {
            filters: Some(vec![
                RpcFilterType::DataSize(size as u64),
                RpcFilterType::Memcmp(Memcmp::new_raw_bytes(offset, bytes.to_vec())),
            ]),
            account_config: RpcAccountInfoConfig {
                encoding: Some(UiAccountEncoding::Base64),
                commitment: Some(CommitmentConfig::confirmed()),
                ..RpcAccountInfoConfig::default()
            },
            ..RpcProgramAccountsConfig::default()
        };
        let what = format!("list accounts of program {owner}");
        let found = self
            .rpc
            .get_program_ui_accounts_with_config(owner, config)
            .map_err(|e| self.rpc_err(&what, e))?;
        let mut out = Vec::with_capacity(found.len());
        for (address, ui) in found {
            let account = ui.to_account().ok_or_else(|| LedgerError::Account {
                address: address.to_string(),
                message: "the node returned account data that does not decode".into(),
            })?;
            out.push((address, account.data));
        }
        Ok(out)
    }

    /// Lamports held by `address` (0 if it does not exist).
    pub fn lamports(&self, address: &Pubkey) -> Result<u64> {
        self.rpc
            .get_balance(address)
            .map_err(|e| self.rpc_err(&format!("read the balance of {address}"), e))
    }

    /// Lamports that make `len` bytes rent-exempt.
    pub fn rent_exempt(&self, len: usize) -> Result<u64> {
        self.rpc
            .get_minimum_balance_for_rent_exemption(len)
            .map_err(|e| self.rpc_err("read the rent", e))
    }

    /// The token amount of an SPL token account (`None` if it does not exist).
    pub fn token_amount(&self, address: &Pubkey) -> Result<Option<u64>> {
        match self.account(address)? {
            None => Ok(None),
            Some((data, _)) => client::spl::token_account_amount(&data)
                .map(Some)
                .ok_or_else(|| LedgerError::Account {
                    address: address.to_string(),
                    message: "not an SPL token account".into(),
                }),
        }
    }

    /// The cluster's latest blockhash: a value nobody could predict before it was produced
    /// (reviewers derive their challenges from it).
    pub fn latest_blockhash(&self) -> Result<[u8; 32]> {
        let hash = self
            .rpc
            .get_latest_blockhash()
            .map_err(|e| self.rpc_err("fetch the latest blockhash", e))?;
        Ok(hash.to_bytes())
    }

    /// Signs `ixs` with `payer` (fee payer) and `signers`, sends and waits for confirmation.
    /// `what` names the step in errors and logs; on devnet and mainnet-beta the step and its
    /// explorer link are printed on stdout.
    pub fn send(
        &self,
        what: &str,
        ixs: Vec<client::Instruction>,
        payer: &Keypair,
        signers: &[&Keypair],
    ) -> Result<Sent> {
        let ixs: Vec<Instruction> = ixs.into_iter().map(Instruction::from).collect();
        let mut all: Vec<&Keypair> = vec![payer];
        for s in signers {
            if !all.iter().any(|k| k.pubkey() == s.pubkey()) {
                all.push(s);
            }
        }
        let blockhash = self
            .rpc
            .get_latest_blockhash()
            .map_err(|e| self.rpc_err(&format!("{what}: fetch a blockhash"), e))?;
        let tx = Transaction::new_signed_with_payer(&ixs, Some(&payer.pubkey()), &all, blockhash);
        match self.rpc.send_and_confirm_transaction(&tx) {
            Ok(signature) => {
                let link = self.cluster.explorer_tx(&signature.to_string());
                match &link {
                    // Public clusters: every signature is shown with its explorer link.
                    Some(l) => println!("{what}: {l}"),
                    None => info!(%signature, "{what}"),
                }
                Ok(Sent { signature, link })
            }
            Err(e) => match e.get_transaction_error() {
                Some(te) => {
                    let (message, code) = self.describe(&te, &ixs);
                    Err(LedgerError::Refused {
                        what: what.to_string(),
                        message,
                        code,
                    })
                }
                None => Err(self.rpc_err(what, e)),
            },
        }
    }

    /// A refusal in words, and the registry's error code when the registry refused.
    fn describe(&self, e: &TransactionError, ixs: &[Instruction]) -> (String, Option<u32>) {
        if let TransactionError::InstructionError(i, InstructionError::Custom(code)) = e {
            let program = ixs.get(*i as usize).map(|ix| ix.program_id);
            if program == Some(self.program_id) {
                let name = RegistryError::from_code(*code)
                    .map(|r| format!("{r:?}: {}", r.message()))
                    .unwrap_or_else(|| "unknown registry error".into());
                return (format!("registry error {code} ({name})"), Some(*code));
            }
            let p = program.map(|p| p.to_string()).unwrap_or_default();
            return (format!("program {p} returned custom error {code}"), None);
        }
        (e.to_string(), None)
    }
}
