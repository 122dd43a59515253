//! q8/q4/q4a matmuls on 16-bit integer dot products, for the browser: SIMD128's `i32x4.dot_i16x8_s` does eight
//! multiply-adds per instruction where an f32 multiply and add do four, and the weights are read as stored
//! (bytes or nibbles) instead of decoded into f32 panels on every matmul.
//!
//! Each row of `x` is quantized per group of the weights' `group_size` columns to i16 with its own scale
//! (`max |x| → 32767`: an error of at most 1/65534 of the group's largest |x| per term, far below the weights'
//! own rounding), so a group's dot product with the weights' levels is exact in i32. Every weight is
//! `s · level + m` (q8: signed levels, m = 0; q4: the stored nibble 0..15, m = −8s; q4a: its minimum), so
//!
//! `Σ w·x = s · s_x · Σ level · q_x + m · Σ x`,
//!
//! with `Σ x` each group's exact f32 sum. The weights are repacked once at load into the order the tile reads
//! (same size: one byte or one nibble a weight); scales and minimums are widened to f32, as SIMD128 has no f16.
//!
//! The kernel is written once over [`lanes`]: SIMD128 intrinsics in wasm, plain arrays elsewhere, where it
//! exists only for its unit tests (native CPUs have `crate::int8` and the f32 panels).

use std::cell::Cell;
use std::ops::Range;

use half::f16;
use unmask_model::{QuantScheme, QuantTensor};

use crate::pool::Pool;
use crate::tile::{self, Epilogue, MR, NR};

/// 16 bytes widen into four i16 vectors of `4 rows × 2 columns` (nibbles) or two (bytes): 8 rows either way, so
/// a panel of `NR` rows is read in chunks of 8 rows.
const CHUNK_ROWS: usize = 8;
/// i16 vectors per column pair of a panel: 4 rows each.
const VECTORS: usize = NR / 4;

/// How a matrix stores its levels, and so how the tile widens 16 bytes into i16 vectors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Levels {
    /// Signed bytes (q8).
    Bytes,
    /// Unsigned nibbles 0..15 (q4, q4a), two columns of one row to a byte (columns `c` and `c + 2` of a quad).
    Nibbles,
}

impl Levels {
    /// Bytes of one panel's quad of columns (`NR` rows × 4 columns).
    fn quad_bytes(self) -> usize {
        match self {
            Levels::Bytes => NR * 4,
            Levels::Nibbles => NR * 2,
        }
    }

    /// Where row `j` of a panel keeps column pair `pair` (0 or 1) of a quad: the byte of the pair's first column
    /// (the second column is the next byte) and the shift of its level in that byte. The row is in chunk
    /// `j / 8`; rows 0..4 of a chunk are lane pairs of its low 8 bytes and rows 4..8 of its high 8, so that
    /// widening either half gives an i16 vector of 4 rows × 2 columns.
    fn place(self, j: usize, pair: usize) -> (usize, u32) {
        let (chunk, within) = (j / CHUNK_ROWS, j % CHUNK_ROWS);
        let lane = (within / 4) * 8 + (within % 4) * 2;
        match self {
            // Each column pair of the quad is its own 16 bytes per chunk.
            Levels::Bytes => ((pair * NR / CHUNK_ROWS + chunk) * 16 + lane, 0),
            // Both pairs share the chunk's 16 bytes: the first pair in the low nibbles, the second in the high.
            Levels::Nibbles => (chunk * 16 + lane, 4 * pair as u32),
        }
    }
}

/// A quantized weight matrix (`rows × cols`) repacked for the tile. Panel `p` (rows `p·NR ..`) is `cols / 4`
/// quads of [`Levels::quad_bytes`]; within a quad, chunk `c` (16 bytes of nibbles, or two of bytes) holds rows
/// `8c .. 8c + 8` so that widening its low and high halves gives i16 vectors of 4 rows × 2 columns
/// ([`Int16Matrix::new`] places them). Scales and minimums are `groups × NR` f32 per panel; padding rows of the
/// last panel are zero, scales included.
pub struct Int16Matrix {
    rows: usize,
    cols: usize,
    group_size: usize,
    levels: Levels,
    data: Vec<u8>,
    scales: Vec<f32>,
    /// `None` for q8 (no minimums: the term is skipped).
    mins: Option<Vec<f32>>,
}

impl Int16Matrix {
    /// The repacked form of `q`. Groups are whole quads: a quantized tensor's group size is a multiple of the
    /// values in a word (4 or 8), and its columns a multiple of the group size.
    pub fn new(q: &QuantTensor) -> Int16Matrix {
        let (rows, cols, group_size) = (q.rows, q.cols, q.group_size);
        let groups = cols / group_size;
        let panels = rows.div_ceil(NR);
        let levels = match q.scheme {
            QuantScheme::Q8 => Levels::Bytes,
            QuantScheme::Q4 | QuantScheme::Q4A => Levels::Nibbles,
        };
        let quad_bytes = levels.quad_bytes();
        let mut data = vec![0u8; panels * cols / 4 * quad_bytes];
        let mut scales = vec![0.0f32; panels * groups * NR];
        let mut mins = (levels == Levels::Nibbles).then(|| vec![0.0f32; panels * groups * NR]);
        for r in 0..rows {
            let (p, j) = (r / NR, r % NR);
            let places = [levels.place(j, 0), levels.place(j, 1)];
            // Straight from the stored words (one quad of q8, two of nibbles each): q4's stored nibble is its level
            // + 8 and q4a's its level, both what the tile reads.
            let row_words = &q.words[r * cols / q.scheme.values_per_word()..][..cols / q.scheme.values_per_word()];
            let row_quad = |quad: usize| p * cols / 4 + quad;
            for (w, &word) in row_words.iter().enumerate() {
                match levels {
                    Levels::Bytes => {
                        let bytes = word.to_le_bytes();
                        let quad = &mut data[row_quad(w) * quad_bytes..][..quad_bytes];
                        for (pair, &(at, _)) in places.iter().enumerate() {
                            quad[at..at + 2].copy_from_slice(&bytes[2 * pair..2 * pair + 2]);
                        }
                    }
                    Levels::Nibbles => {
                        for half in 0..2 {
                            let nibble = |i: usize| ((word >> (4 * (4 * half + i))) & 0xf) as u8;
                            let quad = &mut data[row_quad(2 * w + half) * quad_bytes..][..quad_bytes];
                            for (pair, &(at, shift)) in places.iter().enumerate() {
                                quad[at] |= nibble(2 * pair) << shift;
                                quad[at + 1] |= nibble(2 * pair + 1) << shift;
                            }
                        }
                    }
                }
            }
            for g in 0..groups {
                let at = (p * groups + g) * NR + j;
                let scale = f16::from_bits(q.scales[r * groups + g]).to_f32();
                scales[at] = scale;
                if let Some(mins) = &mut mins {
                    mins[at] = match q.scheme {
                        QuantScheme::Q4A => f16::from_bits(q.mins[r * groups + g]).to_f32(),
                        _ => -8.0 * scale,
                    };
                }
            }
        }
        Int16Matrix { rows, cols, group_size, levels, data, scales, mins }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn bytes(&self) -> usize {
        self.data.len() + (self.scales.len() + self.mins.as_ref().map_or(0, Vec::len)) * 4
    }

    /// Row `r` as f32, the values of the quantized tensor it was made from.
    pub fn row(&self, r: usize, out: &mut [f32]) {
        let (p, j) = (r / NR, r % NR);
        let places = [self.levels.place(j, 0), self.levels.place(j, 1)];
        let (groups, quad_bytes) = (self.cols / self.group_size, self.levels.quad_bytes());
        for (c, out) in out[..self.cols].iter_mut().enumerate() {
            let quad = &self.data[(p * self.cols / 4 + c / 4) * quad_bytes..][..quad_bytes];
            let (at, shift) = places[(c % 4) / 2];
            let byte = quad[at + c % 2];
            let level = match self.levels {
                Levels::Bytes => f32::from(byte as i8),
                Levels::Nibbles => f32::from((byte >> shift) & 0xf),
            };
            let at = (p * groups + c / self.group_size) * NR + j;
            *out = level * self.scales[at] + self.mins.as_ref().map_or(0.0, |m| m[at]);
        }
    }
}

/// `x` quantized per row and group, packed in blocks of `MR` rows: `pairs` holds, per block, `k / 2` column
/// pairs of `MR` words (row `r`'s two i16 levels, the first in the low half); `scales` and `sums` (the group's
/// exact Σ x) are `groups × MR` per block.
#[derive(Default)]
struct QuantizedX {
    pairs: Vec<u32>,
    scales: Vec<f32>,
    sums: Vec<f32>,
}

thread_local! {
    /// The last quantized `x` on this thread, reused by the next matmul.
    static QUANTIZED: Cell<QuantizedX> = Cell::new(QuantizedX::default());
}

/// `crate::gemm`'s `with_product` for [`Int16Matrix`]: `x` quantized to i16, then `run` gets the product of any
/// share, finished by `epilogue` as the f32 kernels' are.
pub fn with_product(
    x: &[f32],
    w: &Int16Matrix,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    pool: &Pool,
    run: impl FnOnce(&tile::Product<'_>),
) {
    let (k, groups) = (w.cols, w.cols / w.group_size);
    let mut quantized = QUANTIZED.take();
    quantize_x(x, k, w.group_size, pool, &mut quantized);
    let q = &quantized;
    run(&|blocks: Range<usize>, panels: Range<usize>, rows: &mut [&mut [f32]]| {
        tile::finish(epilogue, &panels, rows, |rows| {
            for (p, panel) in panels.clone().enumerate() {
                let weights = Panel {
                    data: &w.data[panel * k / 4 * w.levels.quad_bytes()..][..k / 4 * w.levels.quad_bytes()],
                    scales: &w.scales[panel * groups * NR..][..groups * NR],
                    mins: w.mins.as_ref().map(|m| &m[panel * groups * NR..][..groups * NR]),
                };
                let columns = tile::columns(w.rows, bias, &panels, p, 0);
                for (i, b) in blocks.clone().enumerate() {
                    let block = Block {
                        pairs: &q.pairs[b * k / 2 * MR..][..k / 2 * MR],
                        scales: &q.scales[b * groups * MR..][..groups * MR],
                        sums: &q.sums[b * groups * MR..][..groups * MR],
                    };
                    // A last block of fewer rows (a one-row step's only block) computes only those.
                    let real = (rows.len() - i * MR).min(MR);
                    let product = match w.levels {
                        Levels::Bytes => tile_for::<{ Levels::Bytes as u8 }>(real),
                        Levels::Nibbles => tile_for::<{ Levels::Nibbles as u8 }>(real),
                    }(&block, &weights, w.group_size);
                    tile::store(&product, &mut rows[i * MR..], columns);
                }
            }
        })
    });
    QUANTIZED.set(quantized);
}

/// Quantizes every row of `x` (`n × k`) per group into `out`, in blocks of `MR` rows (in parallel over blocks).
/// Padding rows of the last block are zeros with zero scales.
fn quantize_x(x: &[f32], k: usize, group_size: usize, pool: &Pool, out: &mut QuantizedX) {
    let n = x.len() / k;
    let (blocks, groups) = (n.div_ceil(MR), k / group_size);
    out.pairs.resize(blocks * k / 2 * MR, 0);
    out.scales.resize(blocks * groups * MR, 0.0);
    out.sums.resize(blocks * groups * MR, 0.0);
    let per_task = pool.rows_per_task(blocks);
    let items: Vec<_> = out
        .pairs
        .chunks_mut(per_task * k / 2 * MR)
        .zip(out.scales.chunks_mut(per_task * groups * MR))
        .zip(out.sums.chunks_mut(per_task * groups * MR))
        .zip(x.chunks(per_task * MR * k))
        .collect();
    pool.each(items, |_, (((pairs, scales), sums), x)| {
        let mut levels = vec![0i16; group_size];
        for i in 0..pairs.len() / (k / 2 * MR) * MR {
            let (b, r) = (i / MR, i % MR);
            let block = &mut pairs[b * k / 2 * MR..][..k / 2 * MR];
            for g in 0..groups {
                let (scale, sum) = match x.get(i * k..(i + 1) * k) {
                    Some(row) => quantize_group(&row[g * group_size..][..group_size], &mut levels),
                    None => {
                        levels.fill(0);
                        (0.0, 0.0)
                    }
                };
                for (c, pair) in levels.chunks_exact(2).enumerate() {
                    block[(g * group_size / 2 + c) * MR + r] =
                        u32::from(pair[0] as u16) | u32::from(pair[1] as u16) << 16;
                }
                scales[(b * groups + g) * MR + r] = scale;
                sums[(b * groups + g) * MR + r] = sum;
            }
        }
    });
}

/// Levels round(v · 32767 / max |v|) of one group (ties to even), its scale and its exact sum.
fn quantize_group(group: &[f32], levels: &mut [i16]) -> (f32, f32) {
    // Four lanes, so that the reductions vectorize (group sizes are multiples of 4).
    let (mut largest, mut sum) = ([0.0f32; 4], [0.0f32; 4]);
    for chunk in group.chunks_exact(4) {
        for j in 0..4 {
            largest[j] = largest[j].max(chunk[j].abs());
            sum[j] += chunk[j];
        }
    }
    let largest = largest.iter().fold(0.0f32, |m, &v| m.max(v));
    let inverse = if largest > 0.0 { 32767.0 / largest } else { 0.0 };
    for (level, &v) in levels.iter_mut().zip(group) {
        // |v · inverse| ≤ 32767 up to rounding, and `as` saturates.
        *level = (v * inverse).round_ties_even() as i16;
    }
    (largest / 32767.0, sum.iter().sum())
}

/// One block of quantized `x` (see [`QuantizedX`]).
struct Block<'a> {
    pairs: &'a [u32],
    scales: &'a [f32],
    sums: &'a [f32],
}

/// One panel of an [`Int16Matrix`].
struct Panel<'a> {
    data: &'a [u8],
    scales: &'a [f32],
    mins: Option<&'a [f32]>,
}

/// A tile over a block of `x` and a panel, given the group size: `MR × NR` (rows past the block's real ones zero).
type Tile = fn(&Block, &Panel, usize) -> [[f32; NR]; MR];

/// The tile for a block of `rows` real rows (1 to `MR`) of a matrix stored as `LEVELS`.
fn tile_for<const LEVELS: u8>(rows: usize) -> Tile {
    match rows {
        1 => tile::<LEVELS, 1>,
        2 => tile::<LEVELS, 2>,
        3 => tile::<LEVELS, 3>,
        _ => tile::<LEVELS, MR>,
    }
}

/// One tile of the block's first `ROWS` rows by `NR` over the whole depth: per group, i32 sums of i16
/// products, then scaled (and the minimums' term added) in f32. `LEVELS` is a [`Levels`] as `u8`, so that each
/// form gets its own loop.
#[inline(always)]
fn tile<const LEVELS: u8, const ROWS: usize>(x: &Block, w: &Panel, group_size: usize) -> [[f32; NR]; MR] {
    use lanes::{F32x4, I16x8, I32x4};
    let nibbles = LEVELS == Levels::Nibbles as u8;
    let quad_bytes = if nibbles { Levels::Nibbles.quad_bytes() } else { Levels::Bytes.quad_bytes() };
    let quads_per_group = group_size / 4;
    let groups = w.scales.len() / NR;
    assert!(w.data.len() == groups * quads_per_group * quad_bytes && x.pairs.len() == groups * group_size / 2 * MR);
    let mut acc = [[F32x4::ZERO; VECTORS]; ROWS];
    // Walked in chunks of fixed size, the inner loop has no bounds checks (12 % faster in Chromium).
    let weight_groups = w.data.chunks_exact(quads_per_group * quad_bytes);
    let x_groups = x.pairs.chunks_exact(quads_per_group * 2 * MR);
    for (g, (weights, xs)) in weight_groups.zip(x_groups).enumerate() {
        let mut dots = [[I32x4::ZERO; VECTORS]; ROWS];
        for (quad, xq) in weights.chunks_exact(quad_bytes).zip(xs.chunks_exact(2 * MR)) {
            let mut pairs = [[I16x8::ZERO; VECTORS]; 2];
            for chunk in 0..NR / CHUNK_ROWS {
                let v = 2 * chunk;
                if nibbles {
                    let (low, high) = I16x8::nibbles(&quad[chunk * 16..][..16]);
                    [pairs[0][v], pairs[0][v + 1]] = low;
                    [pairs[1][v], pairs[1][v + 1]] = high;
                } else {
                    for (pair, vectors) in pairs.iter_mut().enumerate() {
                        [vectors[v], vectors[v + 1]] =
                            I16x8::bytes(&quad[(pair * NR / CHUNK_ROWS + chunk) * 16..][..16]);
                    }
                }
            }
            let (x0, x1) = xq.split_at(MR);
            for (vectors, columns) in pairs.iter().zip([x0, x1]) {
                for (dots, &word) in dots.iter_mut().zip(columns) {
                    let x = I16x8::splat_pair(word);
                    for (dot, w) in dots.iter_mut().zip(vectors) {
                        *dot = dot.add_dot(*w, x);
                    }
                }
            }
        }
        let scales: [F32x4; VECTORS] = std::array::from_fn(|v| F32x4::load(&w.scales[g * NR + 4 * v..][..4]));
        let mins: Option<[F32x4; VECTORS]> =
            w.mins.map(|m| std::array::from_fn(|v| F32x4::load(&m[g * NR + 4 * v..][..4])));
        for (r, (acc, dots)) in acc.iter_mut().zip(&dots).enumerate() {
            let x_scale = F32x4::splat(x.scales[g * MR + r]);
            let x_sum = F32x4::splat(x.sums[g * MR + r]);
            for v in 0..VECTORS {
                acc[v] = acc[v].add(dots[v].to_f32().mul(scales[v].mul(x_scale)));
                if let Some(mins) = &mins {
                    acc[v] = acc[v].add(mins[v].mul(x_sum));
                }
            }
        }
    }
    let mut out = [[0.0f32; NR]; MR];
    for (row, acc) in out.iter_mut().zip(&acc) {
        for (lanes, v) in row.chunks_exact_mut(4).zip(acc) {
            lanes.copy_from_slice(&v.to_array());
        }
    }
    out
}

/// The few vector operations the tile needs: SIMD128 in wasm.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod lanes {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct I16x8(v128);
    #[derive(Clone, Copy)]
    pub struct I32x4(v128);
    #[derive(Clone, Copy)]
    pub struct F32x4(v128);

    /// 16 bytes as a vector.
    #[inline(always)]
    fn load16(bytes: &[u8]) -> v128 {
        assert!(bytes.len() >= 16);
        // SAFETY: 16 readable bytes (asserted); `v128_load` has no alignment requirement.
        unsafe { v128_load(bytes.as_ptr().cast()) }
    }

    impl I16x8 {
        pub const ZERO: I16x8 = I16x8(u64x2(0, 0));

        /// 16 bytes of nibbles widened: the low nibbles' first and second 8, then the high nibbles'.
        #[inline(always)]
        pub fn nibbles(bytes: &[u8]) -> ([I16x8; 2], [I16x8; 2]) {
            let v = load16(bytes);
            let (low, high) = (v128_and(v, u8x16_splat(0xf)), u8x16_shr(v, 4));
            (
                [I16x8(u16x8_extend_low_u8x16(low)), I16x8(u16x8_extend_high_u8x16(low))],
                [I16x8(u16x8_extend_low_u8x16(high)), I16x8(u16x8_extend_high_u8x16(high))],
            )
        }

        /// 16 signed bytes widened: the first 8, then the last 8.
        #[inline(always)]
        pub fn bytes(bytes: &[u8]) -> [I16x8; 2] {
            let v = load16(bytes);
            [I16x8(i16x8_extend_low_i8x16(v)), I16x8(i16x8_extend_high_i8x16(v))]
        }

        /// A word of two i16 in every 32-bit lane.
        #[inline(always)]
        pub fn splat_pair(word: u32) -> I16x8 {
            I16x8(u32x4_splat(word))
        }
    }

    impl I32x4 {
        pub const ZERO: I32x4 = I32x4(u64x2(0, 0));

        /// `self + (a[2i]·b[2i] + a[2i+1]·b[2i+1])` in lane i.
        #[inline(always)]
        pub fn add_dot(self, a: I16x8, b: I16x8) -> I32x4 {
            I32x4(i32x4_add(self.0, i32x4_dot_i16x8(a.0, b.0)))
        }

        #[inline(always)]
        pub fn to_f32(self) -> F32x4 {
            F32x4(f32x4_convert_i32x4(self.0))
        }
    }

    impl F32x4 {
        pub const ZERO: F32x4 = F32x4(u64x2(0, 0));

        #[inline(always)]
        pub fn load(values: &[f32]) -> F32x4 {
            assert!(values.len() >= 4);
            // SAFETY: 16 readable bytes (asserted); `v128_load` has no alignment requirement.
            F32x4(unsafe { v128_load(values.as_ptr().cast()) })
        }

        #[inline(always)]
        pub fn splat(value: f32) -> F32x4 {
            F32x4(f32x4_splat(value))
        }

        #[inline(always)]
        pub fn add(self, other: F32x4) -> F32x4 {
            F32x4(f32x4_add(self.0, other.0))
        }

        #[inline(always)]
        pub fn mul(self, other: F32x4) -> F32x4 {
            F32x4(f32x4_mul(self.0, other.0))
        }

        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
    }
}

/// The same operations on plain arrays, lane for lane as SIMD128 defines them: the kernel's unit tests run
/// natively on these.
#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    #[derive(Clone, Copy)]
    pub struct I16x8([i16; 8]);
    #[derive(Clone, Copy)]
    pub struct I32x4([i32; 4]);
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl I16x8 {
        pub const ZERO: I16x8 = I16x8([0; 8]);

        pub fn nibbles(bytes: &[u8]) -> ([I16x8; 2], [I16x8; 2]) {
            let half =
                |shift: u32, from: usize| I16x8(std::array::from_fn(|i| i16::from((bytes[from + i] >> shift) & 0xf)));
            ([half(0, 0), half(0, 8)], [half(4, 0), half(4, 8)])
        }

        pub fn bytes(bytes: &[u8]) -> [I16x8; 2] {
            let half = |from: usize| I16x8(std::array::from_fn(|i| i16::from(bytes[from + i] as i8)));
            [half(0), half(8)]
        }

        pub fn splat_pair(word: u32) -> I16x8 {
            I16x8(std::array::from_fn(|i| (word >> (16 * (i % 2))) as u16 as i16))
        }
    }

    impl I32x4 {
        pub const ZERO: I32x4 = I32x4([0; 4]);

        pub fn add_dot(self, a: I16x8, b: I16x8) -> I32x4 {
            let dot = |i: usize| {
                i32::from(a.0[2 * i]) * i32::from(b.0[2 * i]) + i32::from(a.0[2 * i + 1]) * i32::from(b.0[2 * i + 1])
            };
            I32x4(std::array::from_fn(|i| self.0[i].wrapping_add(dot(i))))
        }

        pub fn to_f32(self) -> F32x4 {
            F32x4(self.0.map(|v| v as f32))
        }
    }

    impl F32x4 {
        pub const ZERO: F32x4 = F32x4([0.0; 4]);

        pub fn load(values: &[f32]) -> F32x4 {
            F32x4(std::array::from_fn(|i| values[i]))
        }

        pub fn splat(value: f32) -> F32x4 {
            F32x4([value; 4])
        }

        pub fn add(self, other: F32x4) -> F32x4 {
            F32x4(std::array::from_fn(|i| self.0[i] + other.0[i]))
        }

        pub fn mul(self, other: F32x4) -> F32x4 {
            F32x4(std::array::from_fn(|i| self.0[i] * other.0[i]))
        }

        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::run_grid;

    /// A matrix of `rows × cols` with values spread over a few orders of magnitude, and an outlier column.
    fn values(rows: usize, cols: usize, seed: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| {
                let v = ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0;
                if i % cols == 3 { v * 40.0 } else { v }
            })
            .collect()
    }

    #[test]
    fn repacked_rows_hold_the_quantized_values() {
        // 21 rows: the last panel is partly padding.
        let (rows, cols) = (21, 64);
        for scheme in QuantScheme::ALL {
            let q = QuantTensor::quantize(&values(rows, cols, 1), rows, cols, scheme, 16).unwrap();
            let w = Int16Matrix::new(&q);
            assert_eq!((w.rows(), w.cols()), (rows, cols));
            // As small as stored (padded to whole panels), with f32 scales and minimums.
            let (padded, groups) = (rows.div_ceil(NR) * NR, cols / 16);
            let (level_bytes, per_group) = if scheme == QuantScheme::Q8 { (cols, 4) } else { (cols / 2, 8) };
            assert_eq!(w.bytes(), padded * (level_bytes + groups * per_group), "{scheme:?}");
            let (mut actual, expected) = (vec![0.0f32; cols], q.dequantize());
            for r in 0..rows {
                w.row(r, &mut actual);
                assert_eq!(actual, expected[r * cols..][..cols], "{scheme:?} row {r}");
            }
        }
    }

    #[test]
    fn products_match_the_dequantized_weights() {
        let pool = Pool::new(2);
        for scheme in QuantScheme::ALL {
            for (rows, cols, group_size) in [(21, 64, 16), (40, 96, 32), (3, 32, 32)] {
                let q = QuantTensor::quantize(&values(rows, cols, 2), rows, cols, scheme, group_size).unwrap();
                let w = Int16Matrix::new(&q);
                let dense = q.dequantize();
                for n in [1, 2, 3, 5, MR + 1, 3 * MR] {
                    let x = values(n, cols, 3 + n);
                    let bias: Vec<f32> = (0..rows).map(|r| r as f32 / 8.0).collect();
                    let mut out = vec![0.0f32; n * rows];
                    with_product(&x, &w, Some(&bias), Epilogue::Store, &pool, |product| {
                        run_grid(&mut out, rows, &pool, product)
                    });
                    for (i, (x, out)) in x.chunks_exact(cols).zip(out.chunks_exact(rows)).enumerate() {
                        // Each x is off by at most 1/65534 of its group's largest |x|, and multiplies the level
                        // as the tile reads it (q4's stored nibble, not the level − 8) times the scale.
                        let x_error: Vec<f32> = x
                            .chunks_exact(group_size)
                            .flat_map(|g| {
                                std::iter::repeat_n(g.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 65534.0, group_size)
                            })
                            .collect();
                        for (r, (&actual, w)) in out.iter().zip(dense.chunks_exact(cols)).enumerate() {
                            let expected: f32 = x.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + bias[r];
                            let groups = cols / group_size;
                            let read = q.levels(r).enumerate().map(|(c, level)| {
                                let level = if scheme == QuantScheme::Q4 { level + 8 } else { level };
                                level.abs() as f32 * f16::from_bits(q.scales[r * groups + c / group_size]).to_f32()
                            });
                            let rounding: f32 = x.iter().zip(w).map(|(a, b)| (a * b).abs()).sum::<f32>() * 1e-6;
                            let bound = read.zip(&x_error).map(|(w, e)| w * e).sum::<f32>() + rounding + 1e-5;
                            assert!(
                                (actual - expected).abs() <= bound,
                                "{scheme:?} {rows}×{cols}/{group_size}, n {n}, row {i} col {r}: {actual} vs {expected}"
                            );
                        }
                    }
                }
            }
        }
    }
}
