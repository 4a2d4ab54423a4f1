//! Integration tests of the registry's SBF ELF (`dist/coalition_registry.so`) in the real SVM
//! (`solana-program-test` with `prefer_bpf`), with the bundled SPL token and ATA programs.
//!
//! Run: `cargo test -p coalition-registry --features client --test program -- --nocapture`
//! (`measure_compute_and_round_sizes` prints its figures as JSON lines).

mod common;

use coalition_registry::{
    client::{self, MAX_ENTRIES_PER_INSTRUCTION},
    error::RegistryError as E,
};
use common::*;
use solana_instruction::{error::InstructionError, Instruction};
use solana_keypair::Keypair;
use solana_signer::Signer;

#[tokio::test]
async fn every_instruction_succeeds_and_claim_moves_exactly_the_earned_tokens_once() {
    let mut env = Env::start().await;
    let r = prepare_run(&mut env, 1, 1_000).await;

    // create_run: the vault is the Run PDA's associated token account.
    env.send_client(vec![r.create_run_ix()], &[&r.authority])
        .await
        .ok();
    let run = env.run(r.run).await;
    assert_eq!(run.authority, r.authority.pubkey().to_bytes());
    assert_eq!(run.reward_mint, r.mint.to_bytes());
    assert_eq!(run.vault, r.vault.to_bytes());
    assert_eq!((run.run_id(), run.reward_per_round()), (1, 1_000));
    assert_eq!((run.rounds_recorded(), run.is_round_open()), (0, false));

    // fund: anyone moves tokens into the vault.
    let payer = env.payer();
    let source = env.create_ata(payer, r.mint).await;
    env.mint_to(r.mint, source, 5_000).await;
    let ix = client::fund(&PROGRAM_ID, &payer, &source, &r.run, &r.vault, 3_000);
    env.send_client(vec![ix], &[]).await.ok();
    assert_eq!(env.balance(r.vault).await, 3_000);
    assert_eq!(env.balance(source).await, 2_000);

    // set_coordinator.
    let ix = client::set_coordinator(
        &PROGRAM_ID,
        &r.authority.pubkey(),
        &r.run,
        "12D3KooWcoalition",
        &["/ip4/127.0.0.1/tcp/4001".to_string()],
    )
    .unwrap();
    env.send_client(vec![ix], &[&r.authority]).await.ok();
    let (peer, addrs) = client::coordinator_of(&env.run(r.run).await);
    assert_eq!(peer, "12D3KooWcoalition");
    assert_eq!(addrs, vec!["/ip4/127.0.0.1/tcp/4001".to_string()]);

    // Round 0: 12 trainers in batches of 10 + 2, payouts 10, 20, ..., 120 (sum 780).
    let trainers = keypairs(12);
    let round0 = entries(&trainers, |i| 10 * (i as u64 + 1));
    record_full_round(&mut env, &r, 0, &round0, MAX_ENTRIES_PER_INSTRUCTION).await;
    let round = env.round(r.round_address(0)).await;
    assert!(round.is_closed());
    assert_eq!(round.index(), 0);
    assert_eq!(round.model_hash, [3; 32]);
    assert_eq!((round.total_payout(), round.credited_payout()), (780, 780));
    assert_eq!(
        (round.trainer_count(), round.contributions_recorded()),
        (12, 12)
    );
    assert_eq!(round.eval_loss_after(), 2.25);

    // Round 1: the first three trainers again, 100 each.
    let round1 = entries(&trainers[..3], |_| 100);
    record_full_round(&mut env, &r, 1, &round1, MAX_ENTRIES_PER_INSTRUCTION).await;
    let run = env.run(r.run).await;
    assert_eq!((run.rounds_recorded(), run.rounds_closed()), (2, 2));
    assert_eq!(run.total_credited(), 1_080);

    // Trainer 2 earned 30 + 100; its claim moves exactly that.
    let t = &trainers[2];
    let c = env.contribution(r.contribution_address(&t.pubkey())).await;
    assert_eq!(
        (c.earned(), c.claimed(), c.rounds_credited(), c.last_round()),
        (130, 0, 2, 1)
    );
    assert_eq!(c.cumulative_score(), 2 * 3_000_000);
    let dest = env.create_ata(t.pubkey(), r.mint).await;
    let vault_before = env.balance(r.vault).await;
    env.send_client(vec![r.claim_ix(&t.pubkey(), &dest)], &[t])
        .await
        .ok();
    assert_eq!(env.balance(dest).await, 130);
    assert_eq!(env.balance(r.vault).await, vault_before - 130);
    let c = env.contribution(r.contribution_address(&t.pubkey())).await;
    assert_eq!((c.earned(), c.claimed()), (130, 130));
    assert_eq!(env.run(r.run).await.total_claimed(), 130);

    // A second claim moves nothing.
    env.send_client(vec![r.claim_ix(&t.pubkey(), &dest)], &[t])
        .await
        .fails_with(E::NothingToClaim);
    assert_eq!(env.balance(dest).await, 130);
    assert_eq!(env.balance(r.vault).await, vault_before - 130);

    // Trainer 11 (one round, 120) claims its own share.
    let t = &trainers[11];
    let dest = env.create_ata(t.pubkey(), r.mint).await;
    env.send_client(vec![r.claim_ix(&t.pubkey(), &dest)], &[t])
        .await
        .ok();
    assert_eq!(env.balance(dest).await, 120);
    assert_eq!(env.balance(r.vault).await, vault_before - 250);
}

#[tokio::test]
async fn missing_signatures_are_refused() {
    let mut env = Env::start().await;
    let r = prepare_run(&mut env, 2, 1_000).await;

    // create_run with the authority not signing.
    let mut ix = Instruction::from(r.create_run_ix());
    ix.accounts[0].is_signer = false;
    env.send(&[ix], &[])
        .await
        .fails_with_instruction_error(InstructionError::MissingRequiredSignature);
    env.send_client(vec![r.create_run_ix()], &[&r.authority])
        .await
        .ok();

    // record_round and close_round with the authority not signing.
    let mut ix = Instruction::from(r.record_round_ix(&r.header(0, 10, 1)));
    ix.accounts[0].is_signer = false;
    env.send(&[ix], &[])
        .await
        .fails_with_instruction_error(InstructionError::MissingRequiredSignature);
    let trainers = keypairs(1);
    let e = entries(&trainers, |_| 10);
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 10, 1))],
        &[&r.authority],
    )
    .await
    .ok();
    env.send_client(vec![r.record_contributions_ix(0, &e)], &[&r.authority])
        .await
        .ok();
    let mut ix = Instruction::from(r.close_round_ix(0));
    ix.accounts[0].is_signer = false;
    env.send(&[ix], &[])
        .await
        .fails_with_instruction_error(InstructionError::MissingRequiredSignature);
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .ok();

    // claim with the trainer not signing (the payer sends it on the trainer's behalf).
    let t = &trainers[0];
    let dest = env.create_ata(t.pubkey(), r.mint).await;
    let mut ix = Instruction::from(r.claim_ix(&t.pubkey(), &dest));
    ix.accounts[0].is_signer = false;
    env.send(&[ix], &[])
        .await
        .fails_with_instruction_error(InstructionError::MissingRequiredSignature);
}

#[tokio::test]
async fn only_the_authority_records() {
    let mut env = Env::start().await;
    let r = funded_run(&mut env, 3, 1_000, 0).await;
    let mallory = Keypair::new();
    env.airdrop(mallory.pubkey(), 1_000_000_000).await;
    let m = mallory.pubkey();

    // record_round signed by someone else.
    let (ix, _) = client::record_round(&PROGRAM_ID, &m, &r.run, &r.header(0, 10, 1)).unwrap();
    env.send_client(vec![ix], &[&mallory])
        .await
        .fails_with(E::NotAuthority);

    // The authority opens the round; mallory can neither record nor close it.
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 10, 1))],
        &[&r.authority],
    )
    .await
    .ok();
    let e = entries(&keypairs(1), |_| 10);
    let ix = client::record_contributions(&PROGRAM_ID, &m, &r.run, 0, &e).unwrap();
    env.send_client(vec![ix], &[&mallory])
        .await
        .fails_with(E::NotAuthority);
    env.send_client(vec![r.record_contributions_ix(0, &e)], &[&r.authority])
        .await
        .ok();
    let ix = client::close_round(&PROGRAM_ID, &m, &r.run, 0).unwrap();
    env.send_client(vec![ix], &[&mallory])
        .await
        .fails_with(E::NotAuthority);
    let ix = client::set_coordinator(&PROGRAM_ID, &m, &r.run, "x", &[]).unwrap();
    env.send_client(vec![ix], &[&mallory])
        .await
        .fails_with(E::NotAuthority);
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .ok();
}

#[tokio::test]
async fn accounts_at_the_wrong_address_are_refused() {
    let mut env = Env::start().await;
    let r = prepare_run(&mut env, 4, 1_000).await;

    // create_run naming another address as the run.
    let mut ix = Instruction::from(r.create_run_ix());
    ix.accounts[1].pubkey = client::run_address(&PROGRAM_ID, &r.authority.pubkey(), 5).unwrap();
    env.send(&[ix], &[&r.authority])
        .await
        .fails_with(E::WrongPda);
    env.send_client(vec![r.create_run_ix()], &[&r.authority])
        .await
        .ok();

    // record_round with the Round PDA of another index.
    let mut ix = Instruction::from(r.record_round_ix(&r.header(0, 10, 2)));
    ix.accounts[2].pubkey = r.round_address(1);
    env.send(&[ix], &[&r.authority])
        .await
        .fails_with(E::WrongPda);
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 10, 2))],
        &[&r.authority],
    )
    .await
    .ok();

    // record_contributions with another trainer's Contribution PDA.
    let trainers = keypairs(2);
    let e = entries(&trainers, |_| 5);
    let mut ix = Instruction::from(r.record_contributions_ix(0, &e[..1]));
    ix.accounts[4].pubkey = r.contribution_address(&trainers[1].pubkey());
    env.send(&[ix], &[&r.authority])
        .await
        .fails_with(E::WrongPda);

    // A vault that is not the run's.
    let payer = env.payer();
    let other = env.create_ata(payer, r.mint).await;
    let mut ix = Instruction::from(client::fund(&PROGRAM_ID, &payer, &other, &r.run, &other, 1));
    ix.accounts[3].pubkey = other;
    env.send(&[ix], &[]).await.fails_with(E::WrongVault);
}

#[tokio::test]
async fn a_trainer_is_credited_once_per_round_and_not_after_close() {
    let mut env = Env::start().await;
    let r = funded_run(&mut env, 6, 1_000, 0).await;
    let trainers = keypairs(3);
    let e = entries(&trainers, |_| 100);
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 300, 3))],
        &[&r.authority],
    )
    .await
    .ok();
    env.send_client(vec![r.record_contributions_ix(0, &e[..1])], &[&r.authority])
        .await
        .ok();

    // The same batch again (a retry): refused, nobody paid twice.
    env.send_client(vec![r.record_contributions_ix(0, &e[..1])], &[&r.authority])
        .await
        .fails_with(E::AlreadyCredited);
    // The same trainer twice in one batch.
    env.send_client(
        vec![r.record_contributions_ix(0, &[e[1], e[1]])],
        &[&r.authority],
    )
    .await
    .fails_with(E::AlreadyCredited);
    // A batch mixing a credited and a new trainer fails as a whole.
    env.send_client(vec![r.record_contributions_ix(0, &e[..2])], &[&r.authority])
        .await
        .fails_with(E::AlreadyCredited);
    let c = env
        .contribution(r.contribution_address(&trainers[0].pubkey()))
        .await;
    assert_eq!((c.earned(), c.rounds_credited()), (100, 1));
    assert!(env
        .data(r.contribution_address(&trainers[1].pubkey()))
        .await
        .is_none());

    // Closing early is refused (count), then the rest and close.
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .fails_with(E::TrainerCountMismatch);
    env.send_client(vec![r.record_contributions_ix(0, &e[1..])], &[&r.authority])
        .await
        .ok();
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .ok();

    // Contributions after close.
    let late = entries(&keypairs(1), |_| 0);
    env.send_client(vec![r.record_contributions_ix(0, &late)], &[&r.authority])
        .await
        .fails_with(E::RoundClosed);
    env.send_client(vec![r.record_contributions_ix(0, &e[..1])], &[&r.authority])
        .await
        .fails_with(E::RoundClosed);
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .fails_with(E::RoundClosed);
    // Rounds go in order.
    env.send_client(vec![r.record_round_ix(&r.header(2, 0, 0))], &[&r.authority])
        .await
        .fails_with(E::RoundOutOfOrder);
}

#[tokio::test]
async fn payouts_above_the_round_reward_are_refused() {
    let mut env = Env::start().await;
    let r = funded_run(&mut env, 7, 1_000, 0).await;

    // A header declaring more than the reward per round.
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 1_001, 2))],
        &[&r.authority],
    )
    .await
    .fails_with(E::PayoutExceedsReward);

    // Entries summing above the declared total.
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 1_000, 2))],
        &[&r.authority],
    )
    .await
    .ok();
    let trainers = keypairs(2);
    let e = entries(&trainers, |i| if i == 0 { 600 } else { 500 });
    env.send_client(vec![r.record_contributions_ix(0, &e)], &[&r.authority])
        .await
        .fails_with(E::PayoutExceedsReward);
    env.send_client(vec![r.record_contributions_ix(0, &e[..1])], &[&r.authority])
        .await
        .ok();
    env.send_client(vec![r.record_contributions_ix(0, &e[1..])], &[&r.authority])
        .await
        .fails_with(E::PayoutExceedsReward);
    // Entries summing below the declared total cannot close.
    let under = entries(&trainers[1..], |_| 300);
    env.send_client(vec![r.record_contributions_ix(0, &under)], &[&r.authority])
        .await
        .ok();
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .fails_with(E::PayoutSumMismatch);
}

#[tokio::test]
async fn claims_are_the_trainers_own_and_once() {
    let mut env = Env::start().await;
    let r = funded_run(&mut env, 8, 1_000, 1_000).await;
    let trainers = keypairs(2);
    let (alice, bob) = (&trainers[0], &trainers[1]);
    let e = entries(&trainers, |i| 100 * (i as u64 + 1));
    env.send_client(
        vec![r.record_round_ix(&r.header(0, 300, 2))],
        &[&r.authority],
    )
    .await
    .ok();
    env.send_client(vec![r.record_contributions_ix(0, &e)], &[&r.authority])
        .await
        .ok();
    let alice_dest = env.create_ata(alice.pubkey(), r.mint).await;
    let bob_dest = env.create_ata(bob.pubkey(), r.mint).await;

    // Nothing is claimable while the round is open.
    env.send_client(vec![r.claim_ix(&alice.pubkey(), &alice_dest)], &[alice])
        .await
        .fails_with(E::RoundStillOpen);
    env.send_client(vec![r.close_round_ix(0)], &[&r.authority])
        .await
        .ok();

    // Bob signs a claim on Alice's contribution, to his own token account.
    let mut ix = Instruction::from(r.claim_ix(&alice.pubkey(), &bob_dest));
    ix.accounts[0].pubkey = bob.pubkey();
    env.send(&[ix], &[bob]).await.fails_with(E::NotTrainer);
    assert_eq!(env.balance(bob_dest).await, 0);

    // Someone who was never credited has no contribution account.
    let mallory = Keypair::new();
    let mallory_dest = env.create_ata(mallory.pubkey(), r.mint).await;
    env.send_client(
        vec![r.claim_ix(&mallory.pubkey(), &mallory_dest)],
        &[&mallory],
    )
    .await
    .fails_with(E::InvalidAccount);

    // Each claims its own, once.
    env.send_client(vec![r.claim_ix(&alice.pubkey(), &alice_dest)], &[alice])
        .await
        .ok();
    env.send_client(vec![r.claim_ix(&alice.pubkey(), &alice_dest)], &[alice])
        .await
        .fails_with(E::NothingToClaim);
    env.send_client(vec![r.claim_ix(&bob.pubkey(), &bob_dest)], &[bob])
        .await
        .ok();
    assert_eq!(env.balance(alice_dest).await, 100);
    assert_eq!(env.balance(bob_dest).await, 200);
    assert_eq!(env.balance(r.vault).await, 700);
}

#[tokio::test]
async fn overflow_is_refused() {
    let mut env = Env::start().await;
    let r = funded_run(&mut env, 9, u64::MAX, 0).await;
    let trainers = keypairs(1);
    record_full_round(&mut env, &r, 0, &entries(&trainers, |_| u64::MAX), 10).await;
    let e = entries(&trainers, |_| 1);
    env.send_client(vec![r.record_round_ix(&r.header(1, 1, 1))], &[&r.authority])
        .await
        .ok();
    env.send_client(vec![r.record_contributions_ix(1, &e)], &[&r.authority])
        .await
        .fails_with(E::Overflow);
    // A cumulative score past i64::MAX overflows too.
    let mut e = entries(&trainers, |_| 0);
    e[0].score = i64::MAX;
    env.send_client(vec![r.record_contributions_ix(1, &e)], &[&r.authority])
        .await
        .fails_with(E::Overflow);
}

/// Compute units per instruction and transactions/bytes per round, printed as JSON lines.
#[tokio::test]
async fn measure_compute_and_round_sizes() {
    let mut env = Env::start().await;
    let r = prepare_run(&mut env, 100, 1_000_000).await;
    let cu = |name: &str, s: &Sent, extra: &str| {
        println!(
            "{{\"instruction\":\"{name}\",\"cu\":{},\"tx_bytes\":{}{extra}}}",
            s.ok(),
            s.bytes
        );
    };
    let s = env
        .send_client(vec![r.create_run_ix()], &[&r.authority])
        .await;
    cu("create_run", &s, "");
    let payer = env.payer();
    let source = env.create_ata(payer, r.mint).await;
    env.mint_to(r.mint, source, 10_000_000).await;
    let s = env
        .send_client(
            vec![client::fund(
                &PROGRAM_ID,
                &payer,
                &source,
                &r.run,
                &r.vault,
                10_000_000,
            )],
            &[],
        )
        .await;
    cu("fund", &s, "");
    let addrs = vec![
        "/ip4/203.0.113.7/tcp/4001".to_string(),
        "/ip4/203.0.113.7/udp/4001/quic-v1".to_string(),
    ];
    let ix = client::set_coordinator(
        &PROGRAM_ID,
        &r.authority.pubkey(),
        &r.run,
        "12D3KooWLqSxQHNs8qCmZ7DHG2WXh9vqYcbTu3R8cF1s9rVYtTgd",
        &addrs,
    )
    .unwrap();
    let s = env.send_client(vec![ix], &[&r.authority]).await;
    cu("set_coordinator", &s, "");

    // Per batch size: new Contribution accounts (round 0) and existing ones (round 1).
    let trainers = keypairs(MAX_ENTRIES_PER_INSTRUCTION);
    let e = entries(&trainers, |i| i as u64 + 1);
    let total: u64 = e.iter().map(|x| x.payout).sum();
    for (index, state) in [(0u64, "new"), (1, "existing")] {
        let s = env
            .send_client(
                vec![r.record_round_ix(&r.header(index, total, e.len() as u32))],
                &[&r.authority],
            )
            .await;
        cu("record_round", &s, "");
        let s = env
            .send_client(
                vec![r.record_contributions_ix(index, &e[..1])],
                &[&r.authority],
            )
            .await;
        cu(
            "record_contributions",
            &s,
            &format!(",\"entries\":1,\"contributions\":\"{state}\""),
        );
        let s = env
            .send_client(
                vec![r.record_contributions_ix(index, &e[1..])],
                &[&r.authority],
            )
            .await;
        cu(
            "record_contributions",
            &s,
            &format!(",\"entries\":{},\"contributions\":\"{state}\"", e.len() - 1),
        );
        let s = env
            .send_client(vec![r.close_round_ix(index)], &[&r.authority])
            .await;
        cu("close_round", &s, "");
    }
    let t = &trainers[0];
    let dest = env.create_ata(t.pubkey(), r.mint).await;
    let s = env
        .send_client(vec![r.claim_ix(&t.pubkey(), &dest)], &[t])
        .await;
    cu("claim", &s, "");
    assert_eq!(env.balance(dest).await, 2);

    // Transactions and bytes to record one round (header, batches, close) for n trainers.
    for n in [4usize, 16, 64] {
        let r = funded_run(&mut env, 1_000 + n as u64, 1_000_000, 0).await;
        let trainers = keypairs(n);
        let e = entries(&trainers, |i| i as u64 + 1);
        let out = record_full_round(&mut env, &r, 0, &e, MAX_ENTRIES_PER_INSTRUCTION).await;
        let bytes: usize = out.iter().map(|s| s.bytes).sum();
        let cus: u64 = out.iter().map(|s| s.cu).sum();
        let max_bytes = out.iter().map(|s| s.bytes).max().unwrap();
        let max_cu = out.iter().map(|s| s.cu).max().unwrap();
        assert!(
            max_bytes <= 1232,
            "transaction over the packet limit: {max_bytes}"
        );
        println!(
            "{{\"round_trainers\":{n},\"batch\":{MAX_ENTRIES_PER_INSTRUCTION},\"transactions\":{},\"bytes\":{bytes},\"max_tx_bytes\":{max_bytes},\"cu_total\":{cus},\"max_tx_cu\":{max_cu}}}",
            out.len()
        );
        // The same trainers in a second round (Contribution accounts already exist).
        let out = record_full_round(&mut env, &r, 1, &e, MAX_ENTRIES_PER_INSTRUCTION).await;
        let bytes: usize = out.iter().map(|s| s.bytes).sum();
        let cus: u64 = out.iter().map(|s| s.cu).sum();
        println!(
            "{{\"round_trainers\":{n},\"contributions\":\"existing\",\"transactions\":{},\"bytes\":{bytes},\"cu_total\":{cus}}}",
            out.len()
        );
    }
}
