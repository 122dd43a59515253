// Rotary position embedding, in place, Qwen2's "rotate half" layout: in each head, dimension i < d/2 pairs
// with i + d/2 and rotates by position · theta^(−2i/d). Applied to the first `heads` heads of every row of
// the fused qkv buffer (the q heads and then the k heads). A row's position is its place in its own canvas
// (`rows`), so a batch of canvases stacked one after another rotates as each canvas alone. The angles' cosines and sines come from a table
// the host computes once in f64, so the GPU and the CPU reference rotate by the same numbers.

struct Params {
    seq: u32,
    heads: u32,
    head_dim: u32,
    row_stride: u32,
    // Rows before this one are left as they are (a cached step).
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// [position][i] as (cos, sin), i < head_dim / 2.
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
// Per row of the stacked canvases: (position in its canvas, its canvas's first row, that canvas's length, 0).
@group(0) @binding(2) var<storage, read> rows: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;

override WORKGROUP: u32 = 64u;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let half = p.head_dim / 2u;
    let index = id.x + id.y * groups.x * WORKGROUP;
    if (index >= (p.seq - p.first) * p.heads * half) {
        return;
    }
    let i = index % half;
    let head = (index / half) % p.heads;
    let row = p.first + index / (half * p.heads);
    let angle = table[rows[row].x * half + i];
    let at = row * p.row_stride + head * p.head_dim + i;
    let a = qkv[at];
    let b = qkv[at + half];
    qkv[at] = a * angle.x - b * angle.y;
    qkv[at + half] = b * angle.x + a * angle.y;
}
