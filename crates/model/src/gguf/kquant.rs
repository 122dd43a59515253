//! GGML's 5-bit and super-block ("K") quantizations, decoded block by block exactly as GGML's reference
//! dequantization computes them (the same f32 operations in the same order, so the `gguf` package's NumPy
//! decoding gives the same bits; `tests/gguf_types.rs` checks it).
//!
//! Each decoder turns one block into its values, or into the pieces our formats hold: the integer level of
//! every value and the (scale, minimum) of every run of values that share them. `tensor.rs` decides which
//! of our forms a type becomes.

use half::f16;

/// Values per super-block of the K types.
pub const QK_K: usize = 256;

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

/// The 32 levels (0..=31) of a Q5_0 / Q5_1 block from its high bits `qh` and nibbles `qs`: byte `j` holds
/// column `j` low and `j + 16` high, bit `j` of `qh` is column `j`'s fifth bit.
pub fn q5_levels(qh: &[u8], qs: &[u8]) -> [u8; 32] {
    let high = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut levels = [0u8; 32];
    for j in 0..16 {
        levels[j] = (qs[j] & 0xf) | (((high >> j) & 1) as u8) << 4;
        levels[j + 16] = (qs[j] >> 4) | (((high >> (j + 16)) & 1) as u8) << 4;
    }
    levels
}

/// Q5_0 (22 bytes: f16 `d`, 4 bytes of high bits, 16 of nibbles): `(level − 16) · d`. Returns `d`'s f16 bits
/// and the signed levels −16..=15.
pub fn q5_0(block: &[u8]) -> (u16, [i8; 32]) {
    let levels = q5_levels(&block[2..6], &block[6..22]);
    (u16::from_le_bytes([block[0], block[1]]), levels.map(|l| l as i8 - 16))
}

/// Q5_1 (24 bytes: f16 `d`, f16 `m`, high bits, nibbles): `level · d + m`.
pub fn q5_1(block: &[u8], out: &mut [f32]) {
    let (d, m) = (f16_at(block, 0), f16_at(block, 2));
    for (y, level) in out.iter_mut().zip(q5_levels(&block[4..8], &block[8..24])) {
        *y = f32::from(level) * d + m;
    }
}

/// Sub-block `j`'s 6-bit (scale, minimum) codes from a Q4_K / Q5_K block's 12 packed bytes.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// A super-block of 8 sub-blocks of 32 with their own (scale, minimum): each value is
/// `scales[s] · level − mins[s]` (both f32, computed as GGML does: f16 super-scale × 6-bit code).
pub struct SubBlocks<const N: usize> {
    pub scales: [f32; N],
    pub mins: [f32; N],
    pub levels: [u8; QK_K],
}

impl<const N: usize> SubBlocks<N> {
    pub fn values(&self, out: &mut [f32]) {
        let per = QK_K / N;
        for (i, y) in out.iter_mut().enumerate() {
            let s = i / per;
            *y = self.scales[s] * f32::from(self.levels[i]) - self.mins[s];
        }
    }
}

/// The (scale, minimum) pairs of a Q4_K / Q5_K block: `d · scale code`, `dmin · min code`.
fn k4_scales(block: &[u8]) -> ([f32; 8], [f32; 8]) {
    let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
    let codes = &block[4..16];
    let (mut scales, mut mins) = ([0.0; 8], [0.0; 8]);
    for s in 0..8 {
        let (sc, m) = scale_min_k4(s, codes);
        scales[s] = d * f32::from(sc);
        mins[s] = dmin * f32::from(m);
    }
    (scales, mins)
}

/// Q4_K (144 bytes: f16 `d`, f16 `dmin`, 12 bytes of 6-bit codes, 128 of nibbles). Each 64 values take 32
/// bytes: the low nibbles are the first sub-block, the high nibbles the second.
pub fn q4_k(block: &[u8]) -> SubBlocks<8> {
    let (scales, mins) = k4_scales(block);
    let qs = &block[16..144];
    let mut levels = [0u8; QK_K];
    for chunk in 0..4 {
        let q = &qs[32 * chunk..][..32];
        for l in 0..32 {
            levels[64 * chunk + l] = q[l] & 0xf;
            levels[64 * chunk + 32 + l] = q[l] >> 4;
        }
    }
    SubBlocks { scales, mins, levels }
}

/// Q5_K (176 bytes: as Q4_K with 32 bytes of fifth bits before the nibbles; chunk `c`'s two sub-blocks take
/// bits `2c` and `2c + 1` of each of those bytes).
pub fn q5_k(block: &[u8]) -> SubBlocks<8> {
    let (scales, mins) = k4_scales(block);
    let (qh, qs) = (&block[16..48], &block[48..176]);
    let mut levels = [0u8; QK_K];
    for chunk in 0..4 {
        let q = &qs[32 * chunk..][..32];
        for l in 0..32 {
            let high = |bit: usize| ((qh[l] >> bit) & 1) << 4;
            levels[64 * chunk + l] = (q[l] & 0xf) | high(2 * chunk);
            levels[64 * chunk + 32 + l] = (q[l] >> 4) | high(2 * chunk + 1);
        }
    }
    SubBlocks { scales, mins, levels }
}

/// Q6_K (210 bytes: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed 8-bit sub-block scales, f16
/// `d`): sixteen sub-blocks of 16, value `d · scale · (level − 32)` with `d · scale` computed first. Returns
/// each sub-block's `d · scale` and the signed levels −32..=31.
pub fn q6_k(block: &[u8]) -> ([f32; 16], [i8; QK_K]) {
    let (ql, qh, sc) = (&block[..128], &block[128..192], &block[192..208]);
    let d = f16_at(block, 208);
    let scales = std::array::from_fn(|s| d * f32::from(sc[s] as i8));
    let mut levels = [0i8; QK_K];
    for half in 0..2 {
        let (ql, qh, out) = (&ql[64 * half..], &qh[32 * half..], &mut levels[128 * half..]);
        for l in 0..32 {
            let six = |low: u8, shift: usize| (low | ((qh[l] >> shift) & 3) << 4) as i8 - 32;
            out[l] = six(ql[l] & 0xf, 0);
            out[l + 32] = six(ql[l + 32] & 0xf, 2);
            out[l + 64] = six(ql[l] >> 4, 4);
            out[l + 96] = six(ql[l + 32] >> 4, 6);
        }
    }
    (scales, levels)
}

/// Q8_K (292 bytes: f32 `d`, 256 signed bytes, 16 block sums that decoding does not need): `d · level`.
pub fn q8_k(block: &[u8], out: &mut [f32]) {
    let d = f32::from_le_bytes([block[0], block[1], block[2], block[3]]);
    for (y, &q) in out.iter_mut().zip(&block[4..260]) {
        *y = d * f32::from(q as i8);
    }
}
