// Embedding lookup: x[t, :] = E[tokens[t], :], dequantizing the row (SCHEME as in matmul.wgsl).
// The host may split a large table by rows into chunks; a dispatch writes only the tokens inside its chunk
// (rows first_row .. first_row + n).

struct Params {
    seq: u32,
    width: u32,
    first_row: u32,
    n: u32,
    group_size: u32,
    // Tokens before this one are left as they are (a cached step).
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

// As in matmul.wgsl: 0 f32, 1 q8, 2 q4, 3 q4a (one word per group: scale low, minimum high).
override SCHEME: u32 = 0u;
override WORKGROUP: u32 = 64u;

fn scale_of(row: u32, col: u32) -> f32 {
    let index = row * (p.width / p.group_size) + col / p.group_size;
    let pair = unpack2x16float(scales[index / 2u]);
    return select(pair.x, pair.y, (index & 1u) == 1u);
}

fn scale_and_min_of(row: u32, col: u32) -> vec2<f32> {
    return unpack2x16float(scales[row * (p.width / p.group_size) + col / p.group_size]);
}

fn weight(row: u32, col: u32) -> f32 {
    if (SCHEME == 1u) {
        let word = w[(row * p.width + col) / 4u];
        return f32(extractBits(i32(word), (col % 4u) * 8u, 8u)) * scale_of(row, col);
    }
    if (SCHEME == 2u) {
        let word = w[(row * p.width + col) / 8u];
        return f32(i32(extractBits(word, (col % 8u) * 4u, 4u)) - 8) * scale_of(row, col);
    }
    if (SCHEME == 3u) {
        let word = w[(row * p.width + col) / 8u];
        let group = scale_and_min_of(row, col);
        return f32(extractBits(word, (col % 8u) * 4u, 4u)) * group.x + group.y;
    }
    return bitcast<f32>(w[row * p.width + col]);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * WORKGROUP;
    if (index >= (p.seq - p.first) * p.width) {
        return;
    }
    let t = p.first + index / p.width;
    let col = index % p.width;
    let token = tokens[t];
    if (token < p.first_row || token >= p.first_row + p.n) {
        return;
    }
    x[t * p.width + col] = weight(token - p.first_row, col);
}
