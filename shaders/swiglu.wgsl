// SwiGLU: out[r, i] = silu(gate[r, i]) · up[r, i], where the fused projection's rows are [gate | up].

struct Params {
    rows: u32,
    width: u32,
    // Rows before this one are left as they are (a cached step); `rows` counts those after it.
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate_up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WORKGROUP: u32 = 64u;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * WORKGROUP;
    if (index >= p.rows * p.width) {
        return;
    }
    let row = p.first + index / p.width;
    let i = index % p.width;
    let g = gate_up[row * 2u * p.width + i];
    let u = gate_up[row * 2u * p.width + p.width + i];
    out[row * p.width + i] = g / (1.0 + exp(-g)) * u;
}
