#!/usr/bin/env python3
"""Independent reimplementation of coalition-attribution's permutation estimator, from the
written spec (docs/ATTRIBUTION.md), to show that the Rust output is reproducible bit for bit by
someone who never read the Rust code.

Needs Python 3.8+ and the `cryptography` package (for ChaCha20). Prints the two golden vectors
that attribution/src/shuffle.rs and attribution/src/permutation.rs pin:

    permutation(10), seed 0^32:  [9, 2, 7, 5, 4, 6, 3, 0, 8, 1]
    scores (bits), 6 players, 3 pairs, seed 00 01 .. 1f:  0x3f9b124d46be36c0 ...
"""
import hashlib
import math
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def subseed(seed: bytes, label: str) -> bytes:
    return hashlib.sha256(b"coalition-attribution/v1/" + label.encode() + b"\0" + seed).digest()


def words(key: bytes):
    """ChaCha20 keystream (counter 0, nonce 0) as little-endian u64 words."""
    enc = Cipher(algorithms.ChaCha20(key, b"\0" * 16), mode=None).encryptor()
    while True:
        yield struct.unpack("<Q", enc.update(b"\0" * 8))[0]


def below(stream, k: int) -> int:
    if k <= 1:
        return 0
    r = (1 << 64) % k
    while True:
        x = next(stream)
        if x < (1 << 64) - r:
            return x % k


def permutation(stream, n: int):
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = below(stream, i + 1)
        p[i], p[j] = p[j], p[i]
    return p


class Neumaier:
    def __init__(self):
        self.sum = 0.0
        self.c = 0.0

    def add(self, x):
        t = self.sum + x
        if abs(self.sum) >= abs(x):
            self.c += (self.sum - t) + x
        else:
            self.c += (x - t) + self.sum
        self.sum = t

    def value(self):
        return self.sum + self.c


def ordered_sum(xs):
    acc = 0.0
    for x in xs:
        acc += x
    return acc


def permutation_estimator(v, n: int, seed: bytes, pairs: int):
    """Budget-stopped run (tolerance 0) of exactly `pairs` antithetic pairs, n >= 2."""
    stream = words(subseed(seed, "permutations"))
    v0, vn = v(0), v((1 << n) - 1)
    sums = [Neumaier() for _ in range(n)]

    def marginals(order):
        m, mask, prev = [0.0] * n, 0, v0
        for i in order:
            mask |= 1 << i
            cur = v(mask)
            m[i] = cur - prev
            prev = cur
        return m

    for _ in range(pairs):
        p = permutation(stream, n)
        f, r = marginals(p), marginals(list(reversed(p)))
        for i in range(n):
            sums[i].add(0.5 * (f[i] + r[i]))
    scores = [s.value() / pairs for s in sums]
    residual = (vn - v0) - ordered_sum(scores)
    total_abs = ordered_sum([abs(s) for s in scores])
    if residual != 0.0 and total_abs > 0.0:
        scores = [s + residual * (abs(s) / total_abs) for s in scores]
    return scores


def bits(x: float) -> str:
    return hex(struct.unpack("<Q", struct.pack("<d", x))[0])


if __name__ == "__main__":
    print(permutation(words(subseed(b"\0" * 32, "permutations")), 10))

    def game(mask):
        return math.sqrt(mask) * 0.37 - bin(mask).count("1") ** 2 * 0.011

    scores = permutation_estimator(game, 6, bytes(range(32)), 3)
    print([bits(s) for s in scores])
