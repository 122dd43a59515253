// Rows by whether they hold the mask token, for mask-gated models (`rows`' fourth word flags them). `mode` 0
// zeroes every row of `out` that does not (a low-rank update's intermediate: the update then adds nothing to
// token rows, which stay exactly the base model's); mode 1 writes `vector` over every row that does (the mask
// embedding, which mask rows read instead of the mask token's embedding row).

struct Params {
    // Rows `first .. seq` of `out`, `width` floats each.
    seq: u32,
    first: u32,
    width: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Per row: (position in its canvas, its canvas's first row, that canvas's length, 1 if it holds the mask token).
@group(0) @binding(1) var<storage, read> rows: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> vector: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WORKGROUP: u32 = 64u;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * WORKGROUP;
    if (index >= (p.seq - p.first) * p.width) {
        return;
    }
    let row = p.first + index / p.width;
    let i = index % p.width;
    let is_mask = rows[row].w != 0u;
    if (p.mode == 0u && !is_mask) {
        out[row * p.width + i] = 0.0;
    } else if (p.mode == 1u && is_mask) {
        out[row * p.width + i] = vector[i];
    }
}
