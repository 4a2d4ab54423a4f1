use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

/// Every (round, slot) assignment of an epoch, flattened.
fn epoch_assignments(s: &Sharder, epoch: u64) -> Vec<usize> {
    let mut all = Vec::new();
    for round in 0..s.rounds_per_epoch() {
        for slot in 0..s.slots() {
            for batch in s.batches(epoch, round, slot).unwrap() {
                assert_eq!(batch.len(), s.batch_size());
                all.extend(batch);
            }
        }
    }
    all
}

#[test]
fn no_sample_twice_in_an_epoch() {
    let s = Sharder::new(7, 1000, 4, 3, 5).unwrap();
    assert_eq!(s.samples_per_round(), 60);
    assert_eq!(s.rounds_per_epoch(), 16);
    for epoch in 0..3 {
        let all = epoch_assignments(&s, epoch);
        assert_eq!(all.len(), 16 * 60);
        let distinct: HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "epoch {epoch} repeats a sample");
        assert!(all.iter().all(|&i| i < 1000));
    }
}

#[test]
fn reproducible_and_epochs_differ() {
    let a = Sharder::new(7, 500, 8, 2, 2).unwrap();
    let b = Sharder::new(7, 500, 8, 2, 2).unwrap();
    assert_eq!(a.batches(1, 3, 1).unwrap(), b.batches(1, 3, 1).unwrap());
    assert_eq!(a.epoch_order(4), b.epoch_order(4));
    assert_ne!(a.epoch_order(0), a.epoch_order(1));
    let other_seed = Sharder::new(8, 500, 8, 2, 2).unwrap();
    assert_ne!(a.epoch_order(0), other_seed.epoch_order(0));
}

/// Pins the exact assignment: changing it silently would break recomputation of old runs.
#[test]
fn golden_assignment() {
    let s = Sharder::new(42, 20, 2, 2, 1).unwrap();
    assert_eq!(s.batches(0, 0, 1).unwrap(), vec![vec![11, 16]]);
}

#[test]
fn rounds_slots_and_global_batches_agree() {
    let s = Sharder::new(3, 200, 5, 3, 2).unwrap();
    let round = s.round(2, 4).unwrap();
    for slot in 0..3u32 {
        let batches = s.batches(2, 4, slot).unwrap();
        assert_eq!(round[slot as usize], batches);
        for (t, batch) in batches.iter().enumerate() {
            let index = (4 * 3 + u64::from(slot)) * 2 + t as u64;
            assert_eq!(&s.global_batch(2, index).unwrap(), batch);
        }
    }
    assert_eq!(s.batches_per_epoch(), 40);
}

#[test]
fn absolute_rounds_wrap_into_epochs() {
    let s = Sharder::new(1, 100, 10, 1, 3).unwrap(); // 3 rounds per epoch
    assert_eq!(s.rounds_per_epoch(), 3);
    assert_eq!(s.locate_round(0), (0, 0));
    assert_eq!(s.locate_round(5), (1, 2));
    assert_eq!(s.locate_round(6), (2, 0));
    assert_eq!(s.batches_at(5, 0).unwrap(), s.batches(1, 2, 0).unwrap());
    assert_eq!(round_position(0, 9), (9, 0));
}

#[test]
fn errors_instead_of_panics() {
    for (bs, slots, steps, name) in [
        (0, 1, 1, "batch_size"),
        (1, 0, 1, "slots"),
        (1, 1, 0, "steps_per_round"),
    ] {
        let e = Sharder::new(0, 10, bs, slots, steps).unwrap_err();
        assert!(
            matches!(e, DatasetError::Zero { name: n } if n == name),
            "{e}"
        );
    }
    let e = Sharder::new(0, 11, 4, 3, 1).unwrap_err().to_string();
    assert_eq!(
        e,
        "dataset has 11 samples but one round needs 12 (3 slots x 1 steps x batch size 4)"
    );
    let e = Sharder::new(0, 10, usize::MAX, 2, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("overflows"), "{e}");
    let s = Sharder::new(0, 10, 2, 2, 1).unwrap();
    assert!(s
        .batches(0, 2, 0)
        .unwrap_err()
        .to_string()
        .contains("round in epoch 2"));
    assert!(s
        .batches(0, 0, 2)
        .unwrap_err()
        .to_string()
        .contains("slot 2"));
    assert!(s
        .global_batch(0, 5)
        .unwrap_err()
        .to_string()
        .contains("batch 5"));
}

#[test]
fn choose_indices_is_the_shuffle_tail() {
    let seed = [9u8; 32];
    let picked = choose_indices(seed, 50, 7).unwrap();
    let mut full: Vec<usize> = (0..50).collect();
    shuffle(&mut stream_from_seed(seed), &mut full);
    assert_eq!(picked, full[43..]);
    assert_eq!(choose_indices(seed, 50, 50).unwrap(), full);
    assert_eq!(choose_indices(seed, 3, 0).unwrap(), Vec::<usize>::new());
    assert!(choose_indices(seed, 3, 4).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_sizes_partition_each_epoch(
        seed in any::<u64>(),
        num_samples in 0usize..600,
        batch_size in 1usize..9,
        slots in 1u32..5,
        steps in 1u32..4,
        epoch in 0u64..1000,
    ) {
        let needed = batch_size * slots as usize * steps as usize;
        match Sharder::new(seed, num_samples, batch_size, slots, steps) {
            Err(DatasetError::TooFewSamples { samples, needed: n, .. }) => {
                prop_assert!(num_samples < needed);
                prop_assert_eq!((samples, n), (num_samples, needed));
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
            Ok(s) => {
                prop_assert_eq!(s.rounds_per_epoch(), (num_samples / needed) as u64);
                let all = epoch_assignments(&s, epoch);
                let distinct: HashSet<_> = all.iter().copied().collect();
                prop_assert_eq!(distinct.len(), all.len());
                prop_assert_eq!(all.len(), s.rounds_per_epoch() as usize * needed);
                prop_assert!(all.iter().all(|&i| i < num_samples));
                let again = Sharder::new(seed, num_samples, batch_size, slots, steps).unwrap();
                prop_assert_eq!(epoch_assignments(&again, epoch), all);
            }
        }
    }
}
