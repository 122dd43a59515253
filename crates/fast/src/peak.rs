//! The CPU's multiply-add peak, measured, so that benchmarks can say how close to it the engine runs.

/// GFLOP/s of `threads` cores each running nothing but independent fused multiply-adds on the vectors the
/// fast engine's matmuls use here (512-bit where AVX-512 runs at full width, otherwise 256-bit AVX2 + FMA),
/// all at once, as the engine's threads do; a few hundredths of a second. `None` where the engine's kernel
/// has no fused multiply-add (wasm, x86 without FMA).
pub fn fma_peak_gflops(threads: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let (flops_per_round, run): (f64, fn(usize) -> f32) = if crate::math::avx512_full_width() {
            // SAFETY: the CPU has AVX-512F (checked just above), all that `rounds_512` requires.
            #[allow(unsafe_code)]
            (ACCUMULATORS as f64 * 16.0 * 2.0, |rounds| unsafe { x86::rounds_512(rounds) })
        } else if crate::math::avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above), all that `rounds_256` requires.
            #[allow(unsafe_code)]
            (ACCUMULATORS as f64 * 8.0 * 2.0, |rounds| unsafe { x86::rounds_256(rounds) })
        } else {
            return None;
        };
        let rounds = 1 << 20;
        let per_thread = |_| {
            // The best of a few runs: the first ones may meet a core still raising its clock.
            (0..8)
                .map(|_| {
                    let started = std::time::Instant::now();
                    std::hint::black_box(run(rounds));
                    rounds as f64 * flops_per_round / started.elapsed().as_secs_f64() / 1e9
                })
                .fold(0.0, f64::max)
        };
        Some(std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.max(1)).map(|t| s.spawn(move || per_thread(t))).collect();
            handles.into_iter().map(|h| h.join().expect("peak thread")).sum()
        }))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        None
    }
}

/// Independent chains: more than the multiply-add latency (4 cycles) times the units (2) needs.
#[cfg(target_arch = "x86_64")]
const ACCUMULATORS: usize = 12;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::ACCUMULATORS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub fn rounds_512(rounds: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm512_fmadd_ps(*acc, a, b);
            }
        }
        // A result that depends on every accumulator, so that none is optimized away.
        acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn rounds_256(rounds: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm256_fmadd_ps(*acc, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let sum = acc.iter().fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
        // SAFETY: eight floats into an array of eight.
        #[allow(unsafe_code)]
        unsafe {
            _mm256_storeu_ps(lanes.as_mut_ptr(), sum)
        };
        lanes.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_measured_where_the_kernel_has_fma() {
        let peak = super::fma_peak_gflops(1);
        #[cfg(target_arch = "x86_64")]
        if crate::math::avx2_fma() {
            // One core: at least a multiply-add a nanosecond, at most 128 flops a cycle (four 512-bit units) at 10 GHz.
            let peak = peak.expect("measured");
            assert!((2.0..1280.0).contains(&peak), "{peak} GFLOP/s");
            return;
        }
        assert!(peak.is_none());
    }
}
