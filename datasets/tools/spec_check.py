#!/usr/bin/env python3
"""Independent re-implementation of coalition-datasets' documented randomness.

Anyone can recompute who trained on what without our Rust code: this file follows only the
specs in datasets/src/rng.rs, shard.rs and synthetic.rs (pure Python, no dependencies) and
prints the values pinned by the crate's golden tests.

    python3 datasets/tools/spec_check.py
    python3 datasets/tools/spec_check.py assign SEED NUM_SAMPLES BATCH SLOTS STEPS EPOCH ROUND SLOT
"""
import hashlib
import struct
import sys

MASK = 0xFFFFFFFF


def _rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 7)


def _chacha20_block(key, counter):
    """ChaCha20 block (64-bit counter, 64-bit stream id 0), as rand_chacha's ChaCha20Rng."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key)) + [counter & MASK, counter >> 32, 0, 0]
    w = state[:]
    for _ in range(10):
        _quarter(w, 0, 4, 8, 12); _quarter(w, 1, 5, 9, 13)
        _quarter(w, 2, 6, 10, 14); _quarter(w, 3, 7, 11, 15)
        _quarter(w, 0, 5, 10, 15); _quarter(w, 1, 6, 11, 12)
        _quarter(w, 2, 7, 8, 13); _quarter(w, 3, 4, 9, 14)
    return [(a + b) & MASK for a, b in zip(w, state)]


class Stream:
    """ChaCha20 keyed by sha256(domain || parts as u64 LE); next_u64 = low word, then high."""

    def __init__(self, domain, parts):
        self.key = hashlib.sha256(domain + b"".join(struct.pack("<Q", p) for p in parts)).digest()
        self.words, self.counter = [], 0

    def next_u32(self):
        if not self.words:
            self.words = _chacha20_block(self.key, self.counter)
            self.counter += 1
        return self.words.pop(0)

    def next_u64(self):
        lo = self.next_u32()
        return lo | (self.next_u32() << 32)


def uniform_below(rng, n):
    reject_below = (1 << 64) % n
    while True:
        x = rng.next_u64()
        if x >= reject_below:
            return x % n


def shuffle(rng, v):
    for i in range(len(v) - 1, 0, -1):
        j = uniform_below(rng, i + 1)
        v[i], v[j] = v[j], v[i]


def epoch_order(seed, num_samples, epoch):
    order = list(range(num_samples))
    shuffle(Stream(b"coalition-datasets/shard/v1", [seed, epoch]), order)
    return order


def batches(seed, num_samples, batch, slots, steps, epoch, rnd, slot):
    per_slot = batch * steps
    start = (rnd * slots + slot) * per_slot
    block = epoch_order(seed, num_samples, epoch)[start:start + per_slot]
    return [block[i:i + batch] for i in range(0, per_slot, batch)]


def arith(seed, lines, max_operand, ops):
    rng, out = Stream(b"coalition-datasets/synthetic-arith/v1", [seed]), []
    for _ in range(lines):
        a = uniform_below(rng, max_operand + 1)
        b = uniform_below(rng, max_operand + 1)
        op = ops[uniform_below(rng, len(ops))]
        out.append(f"{a}{op}{b}={ {'+': a + b, '-': a - b, '*': a * b}[op] }\n")
    return "".join(out)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "assign":
        print(batches(*map(int, sys.argv[2:10])))
        return
    rng = Stream(b"coalition-datasets/golden", [42])
    draws = [uniform_below(rng, 1000) for _ in range(4)]
    v = list(range(10))
    shuffle(rng, v)
    assert (draws, v) == ([359, 739, 818, 113], [9, 7, 2, 4, 8, 1, 5, 0, 6, 3]), (draws, v)
    assert arith(1234, 3, 999, ["+"]) == "530+122=652\n630+829=1459\n838+78=916\n"
    assert batches(42, 20, 2, 2, 1, 0, 0, 1) == [[11, 16]]
    print("spec_check: all golden values reproduced")


if __name__ == "__main__":
    main()
