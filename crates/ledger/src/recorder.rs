//! The coordinator's recorder: a thread that owns the chain connection (and, for `embedded`,
//! the validator), creates or finds the run's accounts once the coordinator is listening,
//! publishes the coordinator's addresses, and records every committed round right after it is
//! scored — reading the rounds from the journal, so a restarted coordinator catches up on
//! whatever the previous one committed but did not record.
//!
//! Recording never blocks training. A failure is logged at once and returned by
//! [`Recorder::finish`], and is repaired by starting the coordinator again (it re-reads the
//! chain and sends only what is missing).

use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;
use tracing::{error, info, warn};

use crate::cluster::Cluster;
use crate::connect::{embedded_authority_path, embedded_program_id, Connection, Genesis};
use crate::error::{LedgerError, Result};
use crate::keys::{load_keypair, load_or_create_keypair};
use crate::record::{committed_rounds, record_round};
use crate::setup::{ensure_run, read_run, set_coordinator, RunAccounts, RunSpec};

/// Where and how to record a run.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    pub cluster: Cluster,
    pub run_dir: PathBuf,
    /// The registry program; `None` = the embedded id (embedded only).
    pub program_id: Option<Pubkey>,
    /// The run authority's keypair; `None` = `<run_dir>/authority.json` (embedded only).
    pub authority_keypair: Option<PathBuf>,
    pub spec: RunSpec,
}

/// What the recorder did.
#[derive(Debug, Clone)]
pub struct RecorderReport {
    pub accounts: RunAccounts,
    /// Rounds closed on chain when the recorder stopped.
    pub rounds_on_chain: u64,
    /// Rounds this recorder recorded, and the transactions it sent for them.
    pub rounds_recorded: u64,
    pub transactions: usize,
    /// Seconds spent starting the ledger connection (the embedded validator's start-up).
    pub connect_seconds: f64,
    /// Seconds spent sending and confirming round records.
    pub record_seconds: f64,
}

enum Msg {
    Listening(Vec<String>),
    Sync,
}

/// Handle to the recorder thread.
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    thread: JoinHandle<Result<RecorderReport>>,
}

impl Recorder {
    /// Starts the thread. Nothing touches the run directory until [`Recorder::listening`].
    pub fn start(opts: RecorderOptions) -> Recorder {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-recorder".into())
            .spawn(move || {
                let r = run(opts, rx);
                if let Err(e) = &r {
                    error!("on-chain recording stopped: {e}");
                }
                r
            });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                let msg = e.to_string();
                std::thread::spawn(move || {
                    Err(LedgerError::Invalid(format!(
                        "cannot start the recorder thread: {msg}"
                    )))
                })
            }
        };
        Recorder { tx, thread }
    }

    /// The coordinator is listening on `addrs` (ending in `/p2p/<peer id>`): set up the run.
    pub fn listening(&self, addrs: Vec<String>) {
        self.tx.send(Msg::Listening(addrs)).ok();
    }

    /// A round was committed: record whatever is not on chain yet.
    pub fn round_committed(&self) {
        self.tx.send(Msg::Sync).ok();
    }

    /// Records what remains, shuts the connection down and reports.
    pub fn finish(self) -> Result<RecorderReport> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| LedgerError::Invalid("the recorder thread panicked".into()))?
    }
}

struct State {
    conn: Connection,
    authority: Keypair,
    run: Pubkey,
    accounts: RunAccounts,
    next: u64,
    recorded: u64,
    transactions: usize,
    record_seconds: f64,
}

fn run(opts: RecorderOptions, rx: mpsc::Receiver<Msg>) -> Result<RecorderReport> {
    // Wait for the coordinator's start-up (which may move an old run directory aside).
    let first = match rx.recv() {
        Ok(m) => m,
        Err(_) => {
            return Err(LedgerError::Invalid(
                "the coordinator stopped before it was listening; nothing recorded".into(),
            ))
        }
    };
    let started = Instant::now();
    let mut st = connect(&opts)?;
    let connect_seconds = started.elapsed().as_secs_f64();
    let mut pending = Some(first);
    loop {
        let msg = match pending.take() {
            Some(m) => Some(m),
            None => rx.recv().ok(),
        };
        match msg {
            Some(Msg::Listening(addrs)) => {
                if let Err(e) = set_coordinator(&st.conn.chain, &st.authority, &st.run, &addrs) {
                    warn!("could not publish the coordinator's addresses: {e}");
                }
                sync(&opts, &mut st)?;
            }
            Some(Msg::Sync) => sync(&opts, &mut st)?,
            None => break,
        }
    }
    sync(&opts, &mut st)?;
    Ok(RecorderReport {
        accounts: st.accounts,
        rounds_on_chain: st.next,
        rounds_recorded: st.recorded,
        transactions: st.transactions,
        connect_seconds,
        record_seconds: st.record_seconds,
    })
}

fn connect(opts: &RecorderOptions) -> Result<State> {
    let embedded = matches!(opts.cluster, Cluster::Embedded { .. });
    let authority = match (&opts.authority_keypair, embedded) {
        (Some(path), _) => load_keypair(path)?,
        (None, true) => load_or_create_keypair(&embedded_authority_path(&opts.run_dir))?,
        (None, false) => {
            return Err(LedgerError::Invalid(format!(
                "cluster {} needs rewards.authority_keypair",
                opts.cluster
            )))
        }
    };
    let program_id = match (opts.program_id, embedded) {
        (Some(p), _) => p,
        (None, true) => embedded_program_id(),
        (None, false) => {
            return Err(LedgerError::Invalid(format!(
                "cluster {} needs rewards.program_id",
                opts.cluster
            )))
        }
    };
    let conn = Connection::open(&opts.cluster, program_id, Genesis::CreateWith(&authority))?;
    let accounts = ensure_run(
        &conn.chain,
        &authority,
        &opts.spec,
        &opts.run_dir.join("reward-mint.json"),
    )?;
    accounts.write(&opts.run_dir.join("onchain.json"))?;
    let run = accounts.run()?;
    let next = read_run(&conn.chain, &run)?
        .map(|r| r.rounds_closed())
        .unwrap_or(0);
    info!(
        cluster = %opts.cluster,
        run = %run,
        authority = %authority.pubkey(),
        rounds_on_chain = next,
        "recording rounds on chain"
    );
    if let Some(link) = opts.cluster.explorer_address(&accounts.run) {
        info!("run account: {link}");
    }
    Ok(State {
        conn,
        authority,
        run,
        accounts,
        next,
        recorded: 0,
        transactions: 0,
        record_seconds: 0.0,
    })
}

/// Records every committed round from `st.next` on.
fn sync(opts: &RecorderOptions, st: &mut State) -> Result<()> {
    let rounds = committed_rounds(&opts.run_dir)?;
    let from = st.next;
    for rec in rounds.iter().filter(|r| r.header.index >= from) {
        if rec.header.index != st.next {
            return Err(LedgerError::Invalid(format!(
                "the journal skips from round {} to {}",
                st.next, rec.header.index
            )));
        }
        let t = Instant::now();
        let done = record_round(&st.conn.chain, &st.authority, &st.run, rec)?;
        st.record_seconds += t.elapsed().as_secs_f64();
        st.transactions += done.sent.len();
        st.recorded += 1;
        st.next += 1;
    }
    Ok(())
}
