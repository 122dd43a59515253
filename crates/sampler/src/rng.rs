//! Counter-based randomness (SAMPLING.md §2): every random number is a pure function of
//! (seed, step, position, purpose, lane), using only wrapping 32-bit arithmetic so that WGSL reproduces the
//! same bits. No state, so any backend can draw any number in any order, in parallel.

/// What a random number is for; part of the counter so that different uses never share a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Categorical token draw (§3).
    Token = 1,
    /// LLaDA Gumbel-max token draw; the lane is the token id (§6).
    Gumbel = 2,
    /// `origin`: whether a position commits at this step (§4).
    Transfer = 3,
    /// `alg_temp > 0`: Gumbel-top-k choice of positions (§4).
    Position = 4,
    /// LLaDA `random` remasking score (§6).
    Score = 5,
}

/// The seed and global step a backend needs to draw the numbers of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepKey {
    pub seed: u64,
    pub step: u32,
}

impl StepKey {
    pub fn bits(self, position: u32, purpose: Purpose, lane: u32) -> u32 {
        bits(self.seed, self.step, position, purpose as u32, lane)
    }

    /// Uniform in the open interval (0, 1).
    pub fn uniform(self, position: u32, purpose: Purpose, lane: u32) -> f64 {
        to_open_unit(self.bits(position, purpose, lane))
    }

    /// A standard Gumbel sample, `−ln(−ln u)`.
    pub fn gumbel(self, position: u32, purpose: Purpose, lane: u32) -> f64 {
        -(-self.uniform(position, purpose, lane).ln()).ln()
    }
}

/// The 32-bit finaliser: an invertible mix in which every input bit affects every output bit.
pub fn mix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// The raw 32 random bits for one counter.
pub fn bits(seed: u64, step: u32, position: u32, purpose: u32, lane: u32) -> u32 {
    let mut h = mix(seed as u32 ^ 0x9e37_79b9);
    h = mix(h ^ (seed >> 32) as u32);
    h = mix(h ^ step);
    h = mix(h ^ position);
    h = mix(h ^ purpose);
    mix(h ^ lane)
}

/// The top 24 bits as a float strictly between 0 and 1 (exact in f32 as well as f64).
pub fn to_open_unit(bits: u32) -> f64 {
    ((bits >> 8) as f64 + 0.5) / (1u32 << 24) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_a_bijection_fixing_zero() {
        // Exact values are checked against the independent reference vectors in tests/golden_sampler.rs.
        assert_eq!(mix(0), 0);
        // Invertibility implies no collisions on a small range.
        let mut seen: Vec<u32> = (0..4096).map(mix).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 4096);
    }

    #[test]
    fn uniform_is_strictly_inside_the_unit_interval() {
        assert_eq!(to_open_unit(0), 0.5 / 16_777_216.0);
        assert_eq!(to_open_unit(u32::MAX), (16_777_215.0 + 0.5) / 16_777_216.0);
        assert!(to_open_unit(u32::MAX) < 1.0);
    }
}
