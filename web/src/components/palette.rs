//! The colour scales of the token grid, the legend and the decode-order plot (one place, so they agree).

/// Colour for a value in 0..=1 (early/low → violet, late/high → yellow), perceptually ordered.
pub fn scale(t: f64) -> String {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    // A viridis-like path through HSL: hue 270° → 55°, lightness rising.
    let hue = 270.0 - 215.0 * t;
    let lightness = 38.0 + 22.0 * t;
    format!("hsl({hue:.0}, 70%, {lightness:.0}%)")
}

/// Where step `step` of `steps` falls on the scale.
pub fn step_position(step: u32, steps: usize) -> f64 {
    if steps <= 1 { 1.0 } else { step as f64 / (steps - 1) as f64 }
}

/// A CSS gradient of the whole scale, for legends.
pub fn gradient() -> String {
    let stops: Vec<String> = (0..=10).map(|i| scale(i as f64 / 10.0)).collect();
    format!("linear-gradient(to right, {})", stops.join(", "))
}
