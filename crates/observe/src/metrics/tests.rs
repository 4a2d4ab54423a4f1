use super::*;
use crate::prom_text::{parse, value};
use crate::reader::tests::sample_run;
use crate::RunReader;

#[test]
fn the_journal_metrics_equal_the_view_and_render_as_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 2);
    let view = RunReader::open(dir.path()).unwrap().view().clone();
    let recorder = local_recorder().unwrap();
    let handle = recorder.handle();
    let mut recorded = Recorded::default();
    metrics::with_local_recorder(&recorder, || {
        describe();
        record_view(&view, &mut recorded);
        // Idempotent: a second pass over the same view changes nothing.
        record_view(&view, &mut recorded);
        record_trainers_connected(3);
        record_network_bytes(Direction::In, 10);
        record_network_bytes(Direction::In, 5);
        record_error("decode");
    });
    let text = handle.render();
    let s = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(value(&s, ROUNDS_COMMITTED, &[]), Some(2.0), "{text}");
    assert_eq!(value(&s, ROUND, &[]), Some(2.0));
    assert_eq!(value(&s, TRAINERS_JOINED, &[]), Some(3.0));
    assert_eq!(value(&s, UPDATES, &[("outcome", "merged")]), Some(2.0));
    assert_eq!(value(&s, UPDATES, &[("outcome", "refused")]), Some(2.0));
    assert_eq!(value(&s, UPDATES, &[("outcome", "missed")]), Some(2.0));
    assert_eq!(value(&s, UPDATE_BYTES, &[]), Some(5000.0));
    assert_eq!(
        value(&s, TRAINER_EARNED, &[("trainer", "WalletA")]),
        Some(2000.0)
    );
    assert_eq!(
        value(&s, TRAINER_SCORE_SUM, &[("trainer", "WalletA")]),
        Some(0.5)
    );
    assert_eq!(
        value(&s, TRAINER_SCORE, &[("trainer", "WalletA")]),
        Some(0.25)
    );
    assert_eq!(value(&s, EVAL_LOSS, &[("when", "after")]), Some(2.0));
    let phase = "gather + train + transfer";
    let count = format!("{PHASE_SECONDS}_count");
    assert_eq!(value(&s, &count, &[("phase", phase)]), Some(2.0), "{text}");
    let sum = format!("{PHASE_SECONDS}_sum");
    assert_eq!(value(&s, &sum, &[("phase", phase)]), Some(6.0));
    assert_eq!(value(&s, TRAINERS_CONNECTED, &[]), Some(3.0));
    assert_eq!(value(&s, NETWORK_BYTES, &[("direction", "in")]), Some(15.0));
    assert_eq!(value(&s, ERRORS, &[("kind", "decode")]), Some(1.0));
    assert!(text.contains(&format!("# TYPE {ROUNDS_COMMITTED} counter")));
    assert!(
        value(&s, ROUND_BYTES, &[]).is_none(),
        "no wire bytes journaled"
    );
}

#[test]
fn node_metrics() {
    let recorder = local_recorder().unwrap();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        record_node_step(4, 17, 2.5);
        record_node_bytes(Direction::Out, 1000);
        record_node_bytes(Direction::In, 4000);
        record_node_submitted(true);
        record_node_earned(123);
    });
    let s = parse(&handle.render()).unwrap();
    assert_eq!(value(&s, NODE_ROUND, &[]), Some(4.0));
    assert_eq!(value(&s, NODE_INNER_STEP, &[]), Some(17.0));
    assert_eq!(value(&s, NODE_LOSS, &[]), Some(2.5));
    assert_eq!(
        value(&s, NODE_BYTES, &[("direction", "sent")]),
        Some(1000.0)
    );
    assert_eq!(
        value(&s, NODE_UPDATES, &[("verdict", "accepted")]),
        Some(1.0)
    );
    assert_eq!(value(&s, NODE_EARNED, &[]), Some(123.0));
}
