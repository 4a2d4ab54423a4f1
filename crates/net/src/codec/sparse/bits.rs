//! Bit-level I/O for the sparse payload: fixed-width fields and Rice codes, least significant
//! bit first.
//!
//! A Rice code with parameter `r` writes `v` as `v >> r` zero bits, a one bit, then the low `r`
//! bits of `v`. The reader never trusts the data: every read is bounded by the bytes present and
//! by a caller-given limit on the unary part.

/// Appends bits to a byte vector.
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    /// Bits held in `acc` (always < 32 between calls).
    n: u32,
}

impl BitWriter {
    /// A writer that appends to `out`.
    pub(crate) fn new(out: Vec<u8>) -> Self {
        Self { out, acc: 0, n: 0 }
    }

    /// Writes the low `bits` bits of `value` (`bits <= 32`).
    #[inline]
    pub(crate) fn put(&mut self, value: u32, bits: u32) {
        debug_assert!(bits <= 32);
        let mask = if bits == 32 {
            u64::from(u32::MAX)
        } else {
            (1u64 << bits) - 1
        };
        self.acc |= (u64::from(value) & mask) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Writes `value` as a Rice code with parameter `r` (`r <= 16`).
    #[inline]
    pub(crate) fn rice(&mut self, value: u32, r: u32) {
        let mut q = value >> r;
        while q >= 32 {
            self.put(0, 32);
            q -= 32;
        }
        // q zeros, then the terminating one.
        self.put(1 << q, q + 1);
        self.put(value, r);
    }

    /// Pads with zero bits to a whole byte and returns the buffer.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.out
    }
}

/// Reads bits from an untrusted byte slice.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next byte of `bytes` to load.
    next: usize,
    acc: u64,
    /// Bits held in `acc`; the bits of `acc` above them are zero.
    n: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            next: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Loads whole bytes while at least one fits in `acc`.
    #[inline]
    fn refill(&mut self) {
        if self.n <= 32 {
            if let Some(word) = self.bytes.get(self.next..self.next + 4) {
                let mut le = [0u8; 4];
                le.copy_from_slice(word);
                self.acc |= u64::from(u32::from_le_bytes(le)) << self.n;
                self.next += 4;
                self.n += 32;
                return;
            }
        }
        while self.n <= 56 && self.next < self.bytes.len() {
            self.acc |= u64::from(self.bytes[self.next]) << self.n;
            self.next += 1;
            self.n += 8;
        }
    }

    /// Reads `bits` bits (`bits <= 32`), or `None` if the data ends first.
    #[inline]
    pub(crate) fn get(&mut self, bits: u32) -> Option<u32> {
        debug_assert!(bits <= 32);
        if self.n < bits {
            self.refill();
            if self.n < bits {
                return None;
            }
        }
        let value = (self.acc & ((1u64 << bits) - 1)) as u32;
        self.acc >>= bits;
        self.n -= bits;
        Some(value)
    }

    /// Reads a Rice code with parameter `r` whose value is at most `max`; `None` if the data
    /// ends first or the code's value would exceed `max`.
    #[inline]
    pub(crate) fn rice(&mut self, r: u32, max: u32) -> Option<u32> {
        let max_q = max >> r;
        let mut q = 0u32;
        loop {
            if self.n == 0 {
                self.refill();
                if self.n == 0 {
                    return None;
                }
            }
            // Bits of `acc` above `n` are zero, so a run of zeros longer than `n` ends at `n`.
            let zeros = self.acc.trailing_zeros().min(self.n);
            q = q.saturating_add(zeros);
            if q > max_q {
                return None;
            }
            if zeros < self.n {
                // Consume the zeros and the terminating one.
                self.acc >>= zeros + 1;
                self.n -= zeros + 1;
                break;
            }
            self.acc = 0;
            self.n = 0;
        }
        let low = self.get(r)?;
        let value = (q << r) | low;
        (value <= max).then_some(value)
    }

    /// Whether everything left is the zero padding of the last byte: fewer than 8 bits, all 0.
    pub(crate) fn only_padding_left(&self) -> bool {
        self.next == self.bytes.len() && self.n < 8 && self.acc == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_rice_codes_round_trip() {
        let mut w = BitWriter::new(vec![0xAB]);
        let items: Vec<(u32, u32, bool)> = (0..2000u32)
            .map(|i| {
                let v = i.wrapping_mul(2_654_435_761) >> (i % 29);
                (v, i % 17, i % 3 == 0)
            })
            .collect();
        for &(v, r, is_rice) in &items {
            if is_rice {
                w.rice(v & 0xFFFF, r);
            } else {
                w.put(v, r + 3);
            }
        }
        w.put(u32::MAX, 32);
        let bytes = w.finish();
        assert_eq!(bytes[0], 0xAB);
        let mut rd = BitReader::new(&bytes[1..]);
        for &(v, r, is_rice) in &items {
            if is_rice {
                assert_eq!(rd.rice(r, 0xFFFF), Some(v & 0xFFFF));
            } else {
                assert_eq!(rd.get(r + 3), Some(v & ((1u32 << (r + 3)) - 1)));
            }
        }
        assert_eq!(rd.get(32), Some(u32::MAX));
        assert!(rd.only_padding_left());
    }

    #[test]
    fn reader_refuses_what_is_not_there() {
        let mut rd = BitReader::new(&[0b1000_0000]);
        assert_eq!(rd.rice(0, 100), Some(7));
        assert_eq!(rd.get(1), None);
        // All zeros: the unary part never ends.
        let mut rd = BitReader::new(&[0; 16]);
        assert_eq!(rd.rice(0, u32::MAX), None);
        // A value above the limit is refused even when it is all there.
        let mut w = BitWriter::new(Vec::new());
        w.rice(1000, 4);
        let bytes = w.finish();
        assert_eq!(BitReader::new(&bytes).rice(4, 999), None);
        assert_eq!(BitReader::new(&bytes).rice(4, 1000), Some(1000));
        // A whole unused byte is not padding.
        let mut rd = BitReader::new(&[1, 0]);
        assert_eq!(rd.get(1), Some(1));
        assert!(!rd.only_padding_left());
    }
}
