//! The update codecs: how a trainer's pseudo-gradient travels to the coordinator, and how the
//! coordinator's outer update travels back.
//!
//! Two codecs share one frame family (magic `b"CLUP"`, then a format version that names the
//! codec), one decoder and one error type:
//!
//! * **int8** (version 1, the default): [`encode`] quantizes an `&[f32]` blockwise to int8 with
//!   one f32 scale per block (`scale = max|x| / 127`, round to nearest; [`DEFAULT_BLOCK_SIZE`]
//!   values per block), then compresses `scales ‖ values` with zstd level 1. Each decoded value
//!   is within half a quantization step (`scale / 2`) of what was encoded. About 1 byte per
//!   value before zstd.
//! * **sparse** (version 2, [`SparseSpec`]): SparseLoCo-style top-k. Each block keeps its `k`
//!   largest-magnitude entries (`topk_ppm` parts per million, 1–3% in practice); each kept value
//!   is a sign and a `bits − 1`-bit bin of the block's kept range `[lo, hi]`, decoded at the
//!   bin's midpoint, so within `(hi − lo) / 2^bits` of what was encoded; dropped entries decode
//!   as 0 (their magnitude is at most `lo`). Positions are Rice-coded gaps with a per-block
//!   parameter (see below for why). About 0.02 bytes per value at 64 of 4096 kept, 2 bits.
//!
//! [`CodecSpec`] picks the codec and its parameters; [`CodecSpec::encode`] encodes without
//! feedback. [`decode`] reads either version and checks everything about a frame from an
//! untrusted peer (magic, version, reserved fields, sizes against a caller-given element cap
//! before allocating, payload checksums, every scale, range, position and code, truncation,
//! trailing bytes), returning a typed [`CodecError`] for each way it can be wrong; it never
//! panics and its values are always finite. [`frame_info`] checks just the header.
//! [`ErrorFeedback`] is the encoder's state across rounds: it adds what earlier frames did not
//! carry (rounding, and for the sparse codec the dropped entries) to the next update, so the sum
//! of what the receiver decodes tracks the sum of true updates.
//!
//! # Broadcast: applying a decoded update, bit for bit
//!
//! The coordinator can publish its outer update `θ_{r+1} − θ_r` as a frame (encoded with its
//! own [`ErrorFeedback`], so what the frame does not carry is sent in later rounds) and define
//! `θ_{r+1}` as `θ_r` plus the *decoded* frame. [`decode_into_add`]`(frame, &mut theta)` is that
//! definition: `theta[i] += v[i]` in f32, one addition per value the frame sends, and nothing
//! else (entries a sparse frame drops are not touched; note `-0.0 + 0.0` is `+0.0`, so adding a
//! dense [`decode`] of a sparse frame is *not* the same bits for weights equal to `-0.0`).
//! Everyone who applies the same frame to the same `θ_r` gets the same bits: each decoded value
//! is a pure function of its own bytes and its block's parameters, computed with IEEE f32
//! operations only (no fused multiply-add, no transcendental functions, no reductions whose
//! order could depend on the thread count; rayon splits work by whole blocks). The coordinator
//! applies the frame to its own copy with the same function, and the encoder's residual is
//! computed by the same decoding code. The whole frame is checked before `theta` is touched.
//!
//! # Frame layouts
//!
//! All integers little-endian. **Version 1 (int8):**
//!
//! ```text
//! offset  size  field
//!      0     4  magic             b"CLUP"
//!      4     2  format version    u16, = 1
//!      6     2  flags             u16, reserved, = 0
//!      8     8  element count n   u64
//!     16     4  block size        u32, 1..=MAX_BLOCK_SIZE
//!     20     8  payload length    u64, bytes of zstd that follow; the frame ends there
//!     28     …  payload           zstd level 1 (content size + XXH64 checksum set) of
//!                                 ceil(n / block) × f32 LE scales ‖ n × i8 values
//! ```
//!
//! The header's payload length catches truncation and trailing bytes; zstd's XXH64 content
//! checksum catches corruption inside the payload.
//!
//! **Version 2 (sparse):**
//!
//! ```text
//! offset  size  field
//!      0     4  magic             b"CLUP"
//!      4     2  format version    u16, = 2
//!      6     1  value bits b      2..=4 (sign + b−1 bin bits)
//!      7     1  reserved          = 0
//!      8     8  element count n   u64
//!     16     4  block size B      u32, 1..=MAX_SPARSE_BLOCK (65536)
//!     20     4  kept per block k  u32, 1..=B (a shorter last block keeps min(k, its length))
//!     24     8  payload length    u64; the frame ends after the payload
//!     32     8  checksum          first 8 bytes of sha256(payload)
//!     40     …  payload           G × u32 group lengths ‖ G group bitstreams
//! ```
//!
//! Blocks are grouped, `max(1, GROUP_ELEMS / B)` blocks per group (`GROUP_ELEMS` = 65536
//! values), `G = ceil(blocks / blocks per group)`. A group is one bitstream, least significant
//! bit first, zero-padded to a whole byte; per block: `lo` (32 bits, f32), `hi` (32 bits, f32),
//! the Rice parameter `r` (5 bits, ≤ 16), then for each kept entry in ascending position its gap
//! (`position − previous − 1`, the first entry's position itself) as a Rice code (`gap >> r`
//! zeros, a one, the low `r` bits) followed by its `b`-bit value code (sign in the lowest bit,
//! bin above). A value code `(j, s)` decodes as `±min(lo + (j + 0.5) · (hi − lo) / 2^(b−1), hi)`.
//!
//! Why Rice-coded gaps: at 64 of 4096 kept, a fixed 12-bit position costs 12 bits per entry, a
//! bitmap 64, u16 gaps through zstd about 8, and `log2 C(4096, 64) / 64` ≈ 7.36 bits is the least
//! any code can spend on uniformly placed positions; Rice gaps with a per-block parameter measure
//! 7.2–7.35 bits (at the bound, and below it when large entries cluster; `cargo bench -p
//! coalition-net --bench codec`, docs/PERFORMANCE.md). Positions of 1–3% of entries cannot cost
//! fewer bits than the 2–4-bit values they locate: the bound itself is 6.4–8.0 bits per entry.
//!
//! Content addressing (sha256) and authenticity belong to the blob transport, which carries
//! frames as opaque bytes.

mod dispatch;
mod error;
mod feedback;
mod frame;
mod payload;
mod quant;
mod sparse;

pub use dispatch::{decode, decode_into_add, frame_info, CodecKind, CodecSpec, FrameInfo};
pub use error::CodecError;
pub use feedback::ErrorFeedback;
pub use frame::{
    encode, FrameHeader, DEFAULT_BLOCK_SIZE, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BLOCK_SIZE,
};
pub use payload::ZSTD_LEVEL;
pub use sparse::{
    SparseSpec, GROUP_ELEMS, MAX_BITS, MAX_SPARSE_BLOCK, MIN_BITS, SPARSE_HEADER_LEN,
    SPARSE_VERSION,
};

#[cfg(test)]
mod tests;
