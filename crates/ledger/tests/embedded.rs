//! The ledger path against a real in-process validator (solana-test-validator 4.2.2 with the
//! registry ELF): run set-up, recording a round in batches, idempotent retries after a partial
//! recording, a restart on the same ledger, claims, and refusals surfacing as named errors.

use coalition_ledger::{
    claim::claim,
    connect::{embedded_program_id, Connection, Genesis},
    inspect::read_view,
    keys::load_or_create_keypair,
    record::{record_round, RoundRecord},
    setup::{ensure_run, set_coordinator, RunSpec},
    Cluster, LedgerError,
};
use coalition_registry::client::{self, Entry, RoundHeader};
use solana_keypair::Keypair;
use solana_signer::Signer;

fn record(index: u64, trainers: &[Keypair], payout: impl Fn(usize) -> u64) -> RoundRecord {
    let entries: Vec<Entry> = trainers
        .iter()
        .enumerate()
        .map(|(i, k)| Entry {
            trainer: k.pubkey(),
            score: (i as i64 - 3) * 1_000_000,
            payout: payout(i),
        })
        .collect();
    RoundRecord {
        header: RoundHeader {
            index,
            model_hash: [index as u8 + 1; 32],
            updates_root: [2; 32],
            scores_root: [3; 32],
            transcript_root: [4; 32],
            eval_loss_before: 2.5,
            eval_loss_after: 2.25,
            total_payout: entries.iter().map(|e| e.payout).sum(),
            trainer_count: entries.len() as u32,
        },
        entries,
    }
}

#[test]
fn rounds_are_recorded_once_survive_a_restart_and_pay_out_by_claim() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let authority = load_or_create_keypair(&run_dir.join("authority.json")).unwrap();
    let cluster = Cluster::Embedded {
        run_dir: run_dir.clone(),
    };
    let program = embedded_program_id();
    let spec =
        RunSpec::from_config(b"[run]\nname = \"t\"\n[data]\nx = 1\n", 1_000, 3, None).unwrap();
    let trainers: Vec<Keypair> = (0..12).map(|_| Keypair::new()).collect();
    let round0 = record(0, &trainers, |i| 10 * (i as u64 + 1)); // 780 in 2 batches
    let round1 = record(1, &trainers[..4], |i| 100 * i as u64);

    let t = std::time::Instant::now();
    let conn = Connection::open(&cluster, program, Genesis::CreateWith(&authority)).unwrap();
    println!(
        "validator start (fresh ledger): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let chain = &conn.chain;
    let accounts = ensure_run(chain, &authority, &spec, &run_dir.join("mint.json")).unwrap();
    let run = accounts.run().unwrap();
    // Set-up is idempotent.
    assert_eq!(
        ensure_run(chain, &authority, &spec, &run_dir.join("mint.json")).unwrap(),
        accounts
    );
    assert_eq!(
        chain.token_amount(&accounts.vault().unwrap()).unwrap(),
        Some(3_000)
    );
    set_coordinator(
        chain,
        &authority,
        &run,
        &["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWtest".to_string()],
    )
    .unwrap();

    // A crash after the header and the first batch: the retry sends only the rest.
    let (ix, _) =
        client::record_round(&program, &authority.pubkey(), &run, &round0.header).unwrap();
    chain.send("header", vec![ix], &authority, &[]).unwrap();
    let ix = client::record_contributions(
        &program,
        &authority.pubkey(),
        &run,
        0,
        &round0.entries[..10],
    )
    .unwrap();
    chain
        .send("first batch", vec![ix], &authority, &[])
        .unwrap();
    let t = std::time::Instant::now();
    let done = record_round(chain, &authority, &run, &round0).unwrap();
    println!(
        "finish round 0: {} transactions in {:.1} s",
        done.sent.len(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!((done.already_credited, done.sent.len()), (10, 2));
    // Recording it again sends nothing.
    let again = record_round(chain, &authority, &run, &round0).unwrap();
    assert!(again.sent.is_empty());
    // A different header for a recorded round is a named mismatch, not a silent overwrite.
    let mut forged = round0.clone();
    forged.header.scores_root = [9; 32];
    match record_round(chain, &authority, &run, &forged) {
        Err(LedgerError::Mismatch {
            round: 0, field, ..
        }) => assert_eq!(field, "scores root"),
        other => panic!("expected a mismatch, got {other:?}"),
    }
    // Payouts above the reward per round are refused by the program, by name.
    let mut greedy = record(1, &trainers[..2], |_| 600);
    greedy.header.total_payout = 1_200;
    match record_round(chain, &authority, &run, &greedy) {
        Err(LedgerError::Refused { code, message, .. }) => {
            assert_eq!(code, Some(11), "{message}");
            assert!(message.contains("PayoutExceedsReward"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    drop(conn);

    // Restart on the same ledger: the records are there; round 1 follows.
    let t = std::time::Instant::now();
    let conn = Connection::open(&cluster, program, Genesis::MustExist).unwrap();
    println!("validator restart: {:.1} s", t.elapsed().as_secs_f64());
    let chain = &conn.chain;
    assert!(record_round(chain, &authority, &run, &round0)
        .unwrap()
        .sent
        .is_empty());
    record_round(chain, &authority, &run, &round1).unwrap();
    let view = read_view(chain, &run).unwrap();
    assert_eq!(view.rounds.len(), 2);
    assert!(view.rounds.iter().all(|(_, r)| r.is_closed()));
    assert_eq!(view.trainers.len(), 12);
    let t3 = &view.trainers[&trainers[3].pubkey()];
    assert_eq!((t3.earned(), t3.rounds_credited()), (40 + 300, 2));
    assert_eq!(view.run.total_credited(), 780 + 600);
    assert_eq!(client::coordinator_of(&view.run).0, "12D3KooWtest");

    // Claims: exactly the earned tokens, once; the fee is paid by the authority here.
    let first = claim(chain, &trainers[3], Some(&authority), &run).unwrap();
    assert_eq!((first.amount, first.balance_after), (340, 340));
    let second = claim(chain, &trainers[3], Some(&authority), &run).unwrap();
    assert_eq!((second.amount, second.balance_after), (0, 340));
    assert!(second.sent.is_none());
    // A wallet with no SOL cannot pay its own fee: a clear error, nothing moves.
    match claim(chain, &trainers[4], None, &run) {
        Err(e) => assert!(e.to_string().contains("no SOL"), "{e}"),
        Ok(o) => panic!("claim without SOL succeeded: {o:?}"),
    }
    let stranger = Keypair::new();
    let e = claim(chain, &stranger, Some(&authority), &run).unwrap_err();
    assert!(e.to_string().contains("no contributions"), "{e}");
    let view = read_view(chain, &run).unwrap();
    assert_eq!(view.run.total_claimed(), 340);
    assert_eq!(view.vault_balance, 3_000 - 340);
}

#[test]
fn a_missing_ledger_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::Embedded {
        run_dir: dir.path().to_path_buf(),
    };
    let e = match Connection::open(&cluster, embedded_program_id(), Genesis::MustExist) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a ledger that does not exist"),
    };
    assert!(e.contains("no embedded ledger"), "{e}");
}
