//! A strict reader of the Prometheus text exposition format (what `/metrics` serves), for
//! tests and scripts that check the numbers: every sample line must be
//! `name{label="value",...} number`, every name a valid metric name, every `# TYPE` known.

use std::collections::BTreeMap;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(s: &str, line: usize) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let eq = rest
            .find("=\"")
            .ok_or_else(|| format!("line {line}: label without =\""))?;
        let key = rest[..eq].trim_start_matches(',').trim();
        if !valid_name(key) {
            return Err(format!("line {line}: bad label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("line {line}: unterminated escape")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("line {line}: unterminated label value")),
            }
        };
        out.insert(key.to_string(), value);
        rest = &rest[eq + 2 + end + 1..];
    }
    Ok(out)
}

/// Parses a whole exposition; the first malformed line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(comment) = l.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            if words.first() == Some(&"TYPE") {
                let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                if words.len() != 3 || !valid_name(words[1]) || !known.contains(&words[2]) {
                    return Err(format!("line {line}: bad TYPE line {l:?}"));
                }
            }
            continue;
        }
        let (head, value) = l
            .rsplit_once(' ')
            .ok_or_else(|| format!("line {line}: no value in {l:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .map_err(|e| format!("line {line}: value {v:?}: {e}"))?,
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or_else(|| format!("line {line}: unclosed labels in {l:?}"))?;
                (n, parse_labels(inner, line)?)
            }
            None => (head, BTreeMap::new()),
        };
        if !valid_name(name) {
            return Err(format!("line {line}: bad metric name {name:?}"));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(samples)
}

/// The value of the sample `name` whose labels include all of `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_labels_and_comments() {
        let text = "# HELP x_total Things\n# TYPE x_total counter\nx_total 3\n\
                    y{a=\"1\",b=\"q\\\"uote\"} 2.5\nh_bucket{le=\"+Inf\"} 4\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(value(&s, "x_total", &[]), Some(3.0));
        assert_eq!(value(&s, "y", &[("b", "q\"uote")]), Some(2.5));
        assert_eq!(value(&s, "h_bucket", &[("le", "+Inf")]), Some(4.0));
    }

    #[test]
    fn malformed_lines_are_named() {
        assert!(parse("x 1\n9bad 2\n").unwrap_err().contains("line 2"));
        assert!(parse("x{a=\"1\" 2\n").is_err());
        assert!(parse("x one\n").unwrap_err().contains("one"));
        assert!(parse("# TYPE x countr\n").is_err());
    }
}
