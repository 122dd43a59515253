//! The registry of WGSL sources: the only place that reads `shaders/`.

/// One WGSL file of `shaders/`, each a complete module with one `main` entry point.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

macro_rules! shader {
    ($name:literal) => {
        Shader { name: $name, source: include_str!(concat!("../../../shaders/", $name, ".wgsl")) }
    };
}

pub const MATMUL: Shader = shader!("matmul");
pub const EMBED: Shader = shader!("embed");
pub const RMS_NORM: Shader = shader!("rms_norm");
pub const ROPE: Shader = shader!("rope");
pub const ATTENTION: Shader = shader!("attention");
pub const SWIGLU: Shader = shader!("swiglu");
pub const PROPOSE: Shader = shader!("propose");
pub const MASK_ROWS: Shader = shader!("mask_rows");

/// Every shader, for validation.
pub const ALL: [Shader; 8] = [MATMUL, EMBED, RMS_NORM, ROPE, ATTENTION, SWIGLU, PROPOSE, MASK_ROWS];
