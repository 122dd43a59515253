//! Elementwise math written so that LLVM vectorizes it: `f32::exp` is a library call per element, which
//! costs more than the matmuls around it (attention and SwiGLU take about a million exponentials per
//! forward pass of a 4 M-parameter model at 256 tokens).

/// Whether this CPU has AVX2 and FMA, for which the hot loops are compiled a second time (natively; wasm has
/// SIMD128 throughout).
#[cfg(target_arch = "x86_64")]
pub fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX-512F and runs it at full width, for which the matmul kernels use 512-bit vectors.
/// AMD's Zen 4 (family 0x19) executes each 512-bit operation as two 256-bit halves; there the 256-bit kernel
/// measured faster, so it keeps that one.
#[cfg(target_arch = "x86_64")]
pub fn avx512_full_width() -> bool {
    static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WIDE.get_or_init(|| {
        use std::arch::x86_64::__cpuid;
        let features = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma");
        // cpuid leaf 0 names the vendor (EBX, EDX, ECX); leaf 1's EAX holds the family.
        let vendor = __cpuid(0);
        let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
        let signature = __cpuid(1).eax;
        let family = ((signature >> 8) & 0xf) + ((signature >> 20) & 0xff);
        features && !(amd && family == 0x19)
    })
}

/// Calls `$portable(args)` or, where the CPU has AVX2 and FMA, `$avx2(args)`: the same code compiled with
/// those features (`$avx2` must be `#[target_feature(enable = "avx2,fma")]`, calling `$portable`).
macro_rules! dispatch_avx2 {
    ($avx2:ident, $portable:ident ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if $crate::math::avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), all that `$avx2` requires.
            #[allow(unsafe_code)]
            return unsafe { $avx2($($arg),*) };
        }
        $portable($($arg),*)
    }};
}
pub(crate) use dispatch_avx2;

/// Like [`dispatch_avx2`], with a third build where AVX-512 runs at full width (`$avx512` must be
/// `#[target_feature(enable = "avx512f,avx2,fma")]`): the elementwise loops then take 16 lanes at a time.
macro_rules! dispatch_simd {
    ($avx512:ident, $avx2:ident, $portable:ident ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if $crate::math::avx512_full_width() {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above), all that `$avx512` requires.
            #[allow(unsafe_code)]
            return unsafe { $avx512($($arg),*) };
        }
        $crate::math::dispatch_avx2!($avx2, $portable($($arg),*))
    }};
}

/// Softmax of every row (`width` floats) of `scores` but its last pass: each row becomes e^(s − its max), and
/// `inverse_sums` one over each row's sum, for the caller to scale what it computes from the row (attention
/// scales P·V's `head_dim` outputs instead of the `seq` probabilities).
pub fn exp_rows(scores: &mut [f32], width: usize, inverse_sums: &mut [f32]) {
    dispatch_simd!(exp_rows_avx512, exp_rows_avx2, exp_rows_portable(scores, width, inverse_sums))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn exp_rows_avx512(scores: &mut [f32], width: usize, inverse_sums: &mut [f32]) {
    exp_rows_with::<true>(scores, width, inverse_sums)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_rows_avx2(scores: &mut [f32], width: usize, inverse_sums: &mut [f32]) {
    exp_rows_with::<true>(scores, width, inverse_sums)
}

fn exp_rows_portable(scores: &mut [f32], width: usize, inverse_sums: &mut [f32]) {
    exp_rows_with::<false>(scores, width, inverse_sums)
}

/// Lanes of the elementwise reductions: they vectorize when summed lane by lane (a float sum in order cannot
/// be), one 512-bit vector or two 256-bit ones.
const LANES: usize = 16;

/// The body of every build of [`exp_rows`]; `FMA` as in [`exp`].
#[inline(always)]
fn exp_rows_with<const FMA: bool>(scores: &mut [f32], width: usize, inverse_sums: &mut [f32]) {
    for (row, inverse_sum) in scores.chunks_exact_mut(width).zip(inverse_sums) {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for chunk in &mut chunks {
            // Plain loops, not `for_each` closures: at 16 lanes LLVM stopped inlining those.
            for i in 0..LANES {
                lanes[i] = if chunk[i] > lanes[i] { chunk[i] } else { lanes[i] };
            }
        }
        let max = chunks.remainder().iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let mut sums = [0.0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            for i in 0..LANES {
                chunk[i] = exp::<FMA>(chunk[i] - max);
                sums[i] += chunk[i];
            }
        }
        let mut sum = sums.iter().sum::<f32>();
        for s in chunks.into_remainder() {
            *s = exp::<FMA>(*s - max);
            sum += *s;
        }
        *inverse_sum = 1.0 / sum;
    }
}

/// e^x by range reduction x = n·ln 2 + r with |r| ≤ ln 2 / 2, a degree-6 Taylor polynomial for e^r
/// (truncation error below 2.5e-8 on that interval), and 2^n built in the exponent bits. Branch-free. `FMA`
/// fuses the multiply-adds, for the builds whose CPU has them (elsewhere `mul_add` is a slow library call):
/// a third fewer instructions.
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds to the nearest integer in the default rounding mode, and leaves that integer in
    // the low mantissa bits: no rounding or conversion instruction, which would be a library call here.
    const MAGIC: f32 = 12_582_912.0;
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let clamped = x.clamp(-87.0, 88.0);
    let shifted = madd(clamped, std::f32::consts::LOG2_E, MAGIC);
    let n = shifted - MAGIC;
    let exponent = shifted.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    // r = x − n·ln2 in two parts, so the rounding of ln2 does not show.
    let r = madd(-n, LN2_LO, madd(-n, LN2_HI, clamped));
    let mut p = 1.0 / 720.0;
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = madd(p, r, c);
    }
    let scale = f32::from_bits(((exponent + 127) as u32) << 23);
    let result = p * scale;
    if x < -87.0 { 0.0 } else { result }
}

/// `out = silu(gate) · up` for rows of `gate | up` (`2 · width` floats) into rows of `width`.
pub fn swiglu_rows(gate_up: &[f32], out: &mut [f32], width: usize) {
    dispatch_simd!(swiglu_rows_avx512, swiglu_rows_avx2, swiglu_rows_portable(gate_up, out, width))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn swiglu_rows_avx512(gate_up: &[f32], out: &mut [f32], width: usize) {
    swiglu_rows_with::<true>(gate_up, out, width)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn swiglu_rows_avx2(gate_up: &[f32], out: &mut [f32], width: usize) {
    swiglu_rows_with::<true>(gate_up, out, width)
}

fn swiglu_rows_portable(gate_up: &[f32], out: &mut [f32], width: usize) {
    swiglu_rows_with::<false>(gate_up, out, width)
}

#[inline(always)]
fn swiglu_rows_with<const FMA: bool>(gate_up: &[f32], out: &mut [f32], width: usize) {
    for (row, out) in gate_up.chunks_exact(2 * width).zip(out.chunks_exact_mut(width)) {
        let (gate, up) = row.split_at(width);
        swiglu_lanes::<FMA>(gate, up, out);
    }
}

/// `out = silu(gate) · up`, lane by lane: inlined into the callers' SIMD builds (and the 512-bit matmul's
/// epilogue), where it vectorizes; `FMA` as in [`exp`].
#[inline(always)]
pub(crate) fn swiglu_lanes<const FMA: bool>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = g / (1.0 + exp::<FMA>(-g)) * u;
    }
}

/// cos and sin of every (position, frequency) of rotary embeddings, computed in f64 as the reference does;
/// in two arrays, so that a rotation reads them as vectors.
pub struct RopeTable {
    half: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl RopeTable {
    pub fn new(positions: usize, head_dim: usize, theta: f64) -> RopeTable {
        let half = head_dim / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(positions * half), Vec::with_capacity(positions * half));
        for position in 0..positions {
            for i in 0..half {
                let freq = 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64);
                let (s, c) = (position as f64 * freq).sin_cos();
                cos.push(c);
                sin.push(s);
            }
        }
        RopeTable { half, cos, sin }
    }
}

/// Rotary embedding of `heads` (whole heads of `head_dim` floats) at `position`: "rotate half", each pair
/// rotated in f64 as the reference does.
pub fn rope(heads: &mut [f32], head_dim: usize, table: &RopeTable, position: usize) {
    dispatch_simd!(rope_avx512, rope_avx2, rope_portable(heads, head_dim, table, position))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn rope_avx512(heads: &mut [f32], head_dim: usize, table: &RopeTable, position: usize) {
    rope_portable(heads, head_dim, table, position)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn rope_avx2(heads: &mut [f32], head_dim: usize, table: &RopeTable, position: usize) {
    rope_portable(heads, head_dim, table, position)
}

#[inline(always)]
fn rope_portable(heads: &mut [f32], head_dim: usize, table: &RopeTable, position: usize) {
    let half = head_dim / 2;
    debug_assert_eq!(half, table.half);
    let (cos, sin) = (&table.cos[position * half..][..half], &table.sin[position * half..][..half]);
    for head in heads.chunks_exact_mut(head_dim) {
        let (first, second) = head.split_at_mut(half);
        for (((a, b), &cos), &sin) in first.iter_mut().zip(second.iter_mut()).zip(cos).zip(sin) {
            let (x, y) = (*a as f64, *b as f64);
            *a = (x * cos - y * sin) as f32;
            *b = (y * cos + x * sin) as f32;
        }
    }
}

/// RMSNorm of every row (`weight.len()` floats) in place, the mean of squares in f64 as the reference takes
/// it (summed lane by lane, so that it vectorizes; the order differs from the reference's only below f32's
/// precision).
pub fn rms_norm_rows(x: &mut [f32], weight: &[f32], eps: f64) {
    dispatch_simd!(rms_norm_rows_avx512, rms_norm_rows_avx2, rms_norm_rows_portable(x, weight, eps))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn rms_norm_rows_avx512(x: &mut [f32], weight: &[f32], eps: f64) {
    rms_norm_rows_portable(x, weight, eps)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn rms_norm_rows_avx2(x: &mut [f32], weight: &[f32], eps: f64) {
    rms_norm_rows_portable(x, weight, eps)
}

#[inline(always)]
fn rms_norm_rows_portable(x: &mut [f32], weight: &[f32], eps: f64) {
    let width = weight.len();
    for row in x.chunks_exact_mut(width) {
        let mut sums = [0.0f64; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for chunk in &mut chunks {
            for i in 0..LANES {
                sums[i] += chunk[i] as f64 * chunk[i] as f64;
            }
        }
        let tail = chunks.remainder().iter().map(|&v| v as f64 * v as f64).sum::<f64>();
        let mean_square = (sums.iter().sum::<f64>() + tail) / width as f64;
        let scale = (1.0 / (mean_square + eps).sqrt()) as f32;
        row.iter_mut().zip(weight).for_each(|(v, w)| *v = *v * scale * w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_library() {
        fn check<const FMA: bool>() {
            let mut worst = 0.0f64;
            let mut x = -87.0f32;
            while x < 88.0 {
                let (got, want) = (exp::<FMA>(x) as f64, (x as f64).exp());
                worst = worst.max((got - want).abs() / want);
                x += 0.0137;
            }
            assert!(worst < 3e-7, "FMA {FMA}: worst relative error {worst}");
            assert_eq!(exp::<FMA>(-100.0), 0.0);
            assert_eq!(exp::<FMA>(0.0), 1.0);
        }
        check::<false>();
        check::<true>();
    }
}
