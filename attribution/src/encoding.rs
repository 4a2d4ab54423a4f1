//! Fixed-size byte strings (seeds, hashes) and exact encodings of `f64` for JSON.
//!
//! JSON readers may round decimal floats differently, so every `f64` that verification depends
//! on is serialised as the 16 lowercase hex digits of its IEEE-754 bits (`1.0` is
//! `"3ff0000000000000"`). Seeds and hashes are 64 lowercase hex digits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a hex string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} hex digits: {reason}")]
pub struct HexError {
    expected: usize,
    reason: String,
}

fn parse_32(s: &str) -> Result<[u8; 32], HexError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| HexError {
        expected: 64,
        reason: e.to_string(),
    })?;
    Ok(out)
}

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// Lowercase hex, 64 digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parses 64 hex digits (either case).
            pub fn from_hex(s: &str) -> Result<Self, HexError> {
                parse_32(s).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, HexError> {
                Self::from_hex(s)
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(b: [u8; 32]) -> Self {
                $name(b)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

bytes32!(
    /// A 32-byte round seed (see [`round_seed`](crate::round_seed)).
    Seed
);
bytes32!(
    /// A sha256 digest: model hashes, update hashes, Merkle roots.
    Hash32
);

/// Lowercase hex of an `f64`'s IEEE-754 bits, 16 digits.
pub fn f64_to_hex(x: f64) -> String {
    format!("{:016x}", x.to_bits())
}

/// Parses [`f64_to_hex`] output.
pub fn f64_from_hex(s: &str) -> Result<f64, HexError> {
    if s.len() != 16 {
        return Err(HexError {
            expected: 16,
            reason: format!("got {} characters", s.len()),
        });
    }
    u64::from_str_radix(s, 16)
        .map(f64::from_bits)
        .map_err(|e| HexError {
            expected: 16,
            reason: e.to_string(),
        })
}

/// `#[serde(with = "f64_hex")]`: one `f64` as a hex string of its bits.
pub mod f64_hex {
    use super::*;

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&f64_to_hex(*x))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        f64_from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "vec_f64_hex")]`: a list of `f64`s as hex strings of their bits.
pub mod vec_f64_hex {
    use super::*;

    pub fn serialize<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(xs.iter().map(|x| f64_to_hex(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| f64_from_hex(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_hex_round_trips_every_class() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            f64::MIN_POSITIVE,
            5e-324,
            1e308,
            f64::INFINITY,
            0.1,
        ] {
            assert_eq!(f64_from_hex(&f64_to_hex(x)).unwrap().to_bits(), x.to_bits());
        }
        assert_eq!(f64_to_hex(1.0), "3ff0000000000000");
        assert!(f64_from_hex("3ff").is_err());
        assert!(f64_from_hex("zzzzzzzzzzzzzzzz").is_err());
    }

    #[test]
    fn bytes32_hex() {
        let h = Hash32([0xab; 32]);
        assert_eq!(Hash32::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            format!("\"{}\"", "ab".repeat(32))
        );
        assert!(Seed::from_hex("00").is_err());
        assert!(serde_json::from_str::<Seed>("\"xyz\"").is_err());
    }
}
