//! The `synthetic-arith` generator: lines like `417+38=455\n`, reproducible from a seed.
//!
//! The stream is [`crate::rng::stream`]`(b"coalition-datasets/synthetic-arith/v1", [seed])`.
//! For each line, in this order: `a = uniform_below(max_operand + 1)`,
//! `b = uniform_below(max_operand + 1)`, `op = ops[uniform_below(ops.len())]` (drawn even when
//! there is one operator); the line is `{a}{op}{b}={result}\n` in decimal, where `-` may give
//! a negative result (`3-7=-4`).

use std::fmt::Write;

use crate::rng::{stream, uniform_below};

/// Domain tag of the generator's random stream.
pub const ARITH_DOMAIN: &[u8] = b"coalition-datasets/synthetic-arith/v1";

/// Generate the text. `ops` must be non-empty and within [`crate::source::ARITH_OPS`]
/// (checked by manifest validation); an unknown operator is treated as `+`.
pub fn generate_arith(seed: u64, lines: usize, max_operand: u32, ops: &[String]) -> String {
    let mut rng = stream(ARITH_DOMAIN, &[seed]);
    let mut out = String::with_capacity(lines * 12);
    let n_ops = ops.len().max(1) as u64;
    for _ in 0..lines {
        let a = uniform_below(&mut rng, u64::from(max_operand) + 1) as i64;
        let b = uniform_below(&mut rng, u64::from(max_operand) + 1) as i64;
        let op = ops
            .get(uniform_below(&mut rng, n_ops) as usize)
            .map(String::as_str)
            .unwrap_or("+");
        let (symbol, result) = match op {
            "-" => ('-', a - b),
            "*" => ('*', a * b),
            _ => ('+', a + b),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{a}{symbol}{b}={result}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lines_are_correct_arithmetic() {
        let text = generate_arith(7, 500, 999, &ops(&["+", "-", "*"]));
        assert_eq!(text.lines().count(), 500);
        let mut seen_ops = std::collections::BTreeSet::new();
        for line in text.lines() {
            let (lhs, rhs) = line.split_once('=').unwrap();
            let op_pos = lhs[1..].find(['+', '-', '*']).unwrap() + 1;
            let (a, b) = (&lhs[..op_pos], &lhs[op_pos + 1..]);
            let (a, b): (i64, i64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!((0..=999).contains(&a) && (0..=999).contains(&b));
            let op = &lhs[op_pos..op_pos + 1];
            seen_ops.insert(op.to_string());
            let want = match op {
                "+" => a + b,
                "-" => a - b,
                _ => a * b,
            };
            assert_eq!(rhs.parse::<i64>().unwrap(), want, "{line}");
        }
        assert_eq!(seen_ops.len(), 3);
    }

    #[test]
    fn same_seed_same_text_other_seed_other_text() {
        let a = generate_arith(1, 100, 99, &ops(&["+"]));
        assert_eq!(a, generate_arith(1, 100, 99, &ops(&["+"])));
        assert_ne!(a, generate_arith(2, 100, 99, &ops(&["+"])));
        assert!(a.ends_with('\n'));
    }

    /// Pins the exact output: the generator is part of the dataset's identity.
    #[test]
    fn golden_output() {
        assert_eq!(
            generate_arith(1234, 3, 999, &ops(&["+"])),
            "530+122=652\n630+829=1459\n838+78=916\n"
        );
    }
}
