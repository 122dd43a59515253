// y[m, y_offset + n] (+)= x[m, :] · w[n, :] (+ bias[y_offset + n])
//
// The linear layer of every projection and of the head. `w` is `[n, k]` (PyTorch's Linear layout) in one of
// three formats chosen by the SCHEME override: f32 bit patterns, or 8-/4-bit symmetric group quantization
// (`crates/model/src/quant.rs` is the normative definition): levels packed into u32 words, one f16 scale
// per group of `group_size` columns, two scales per u32 word. Weights are dequantized in registers while a
// tile is staged in workgroup memory; no f16 arithmetic is needed (`unpack2x16float` only).
//
// One workgroup computes a (4·WG_M) × (4·WG_N) block of y; each invocation a 4 × 4 sub-block. Two entry
// points: `main` stages tiles of x and w in workgroup memory (GPUs); `main_direct` reads them straight from
// the storage buffers, for software adapters (SwiftShader, lavapipe), where workgroup memory is ordinary
// memory and every barrier switches between all the invocations of the workgroup. Heavy weights are split
// by rows into several buffers by the host; `y_offset` places a chunk's columns.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    group_size: u32,
    x_stride: u32,
    y_stride: u32,
    y_offset: u32,
    // 1: add bias; 2: accumulate into y (the residual connection).
    flags: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// k and x_stride are multiples of 4 (the host checks), so rows of x are read a quad at a time.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// 0: f32, 1: q8, 2: q4, 3: f32 stored k-major (wᵀ, `[k, n]`; only with `main_kmajor`).
override SCHEME: u32 = 0u;
// Invocations along n and m; each computes 4 × 4 outputs, so a tile is (4·WG_N) × (4·WG_M).
override WG_N: u32 = 16u;
override WG_M: u32 = 16u;
// Depth of the k slice staged per iteration; a multiple of 4.
override TILE_K: u32 = 16u;

const FLAG_BIAS: u32 = 1u;
const FLAG_ACCUMULATE: u32 = 2u;

// Staged slices, k-major, four consecutive rows (or columns) per vec4.
var<workgroup> x_tile: array<vec4<f32>, WG_M * TILE_K>;
var<workgroup> w_tile: array<vec4<f32>, WG_N * TILE_K>;

fn scale_of(row: u32, col: u32) -> f32 {
    let index = row * (p.k / p.group_size) + col / p.group_size;
    let pair = unpack2x16float(scales[index / 2u]);
    return select(pair.x, pair.y, (index & 1u) == 1u);
}

// Four consecutive weights w[row, col .. col + 4]; `col` is a multiple of 4.
fn weight_quad(row: u32, col: u32) -> vec4<f32> {
    if (row >= p.n || col >= p.k) {
        return vec4<f32>(0.0);
    }
    if (SCHEME == 1u) {
        let word = w[(row * p.k + col) / 4u];
        let levels = vec4<i32>(
            extractBits(i32(word), 0u, 8u),
            extractBits(i32(word), 8u, 8u),
            extractBits(i32(word), 16u, 8u),
            extractBits(i32(word), 24u, 8u),
        );
        return vec4<f32>(levels) * scale_of(row, col);
    }
    if (SCHEME == 2u) {
        let word = w[(row * p.k + col) / 8u] >> ((col & 4u) * 4u);
        let levels = vec4<i32>(
            i32(extractBits(word, 0u, 4u)),
            i32(extractBits(word, 4u, 4u)),
            i32(extractBits(word, 8u, 4u)),
            i32(extractBits(word, 12u, 4u)),
        ) - vec4<i32>(8);
        return vec4<f32>(levels) * scale_of(row, col);
    }
    let at = row * p.k + col;
    return bitcast<vec4<f32>>(vec4<u32>(w[at], w[at + 1u], w[at + 2u], w[at + 3u]));
}

fn x_quad(row: u32, col: u32) -> vec4<f32> {
    if (row >= p.m || col >= p.k) {
        return vec4<f32>(0.0);
    }
    return x[(row * p.x_stride + col) / 4u];
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
    let tile_n = 4u * WG_N;
    let tile_m = 4u * WG_M;
    let n0 = group.x * tile_n;
    let m0 = group.y * tile_m;
    let thread = local.y * WG_N + local.x;
    let threads = WG_N * WG_M;

    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        // Stage x[m0 .. m0 + tile_m, k0 .. k0 + TILE_K] and the matching w slice, one quad of k per load.
        for (var i = thread; i < tile_m * (TILE_K / 4u); i += threads) {
            let row = i / (TILE_K / 4u);
            let kq = (i % (TILE_K / 4u)) * 4u;
            let quad = x_quad(m0 + row, k0 + kq);
            for (var j = 0u; j < 4u; j++) {
                x_tile[(kq + j) * WG_M + row / 4u][row % 4u] = quad[j];
            }
        }
        for (var i = thread; i < tile_n * (TILE_K / 4u); i += threads) {
            let row = i / (TILE_K / 4u);
            let kq = (i % (TILE_K / 4u)) * 4u;
            let quad = weight_quad(n0 + row, k0 + kq);
            for (var j = 0u; j < 4u; j++) {
                w_tile[(kq + j) * WG_N + row / 4u][row % 4u] = quad[j];
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let xs = x_tile[kk * WG_M + local.y];
            let ws = w_tile[kk * WG_N + local.x];
            acc[0] += xs.x * ws;
            acc[1] += xs.y * ws;
            acc[2] += xs.z * ws;
            acc[3] += xs.w * ws;
        }
        workgroupBarrier();
    }

    store(m0 + local.y * 4u, n0 + local.x * 4u, acc);
}

@compute @workgroup_size(WG_N, WG_M)
fn main_direct(@builtin(global_invocation_id) id: vec3<u32>) {
    let m0 = id.y * 4u;
    let n0 = id.x * 4u;
    // Named accumulators, not an indexed array: a CPU-emulated GPU keeps indexed private arrays in memory.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        let w0 = weight_quad(n0, k0);
        let w1 = weight_quad(n0 + 1u, k0);
        let w2 = weight_quad(n0 + 2u, k0);
        let w3 = weight_quad(n0 + 3u, k0);
        let x0 = x_quad(m0, k0);
        let x1 = x_quad(m0 + 1u, k0);
        let x2 = x_quad(m0 + 2u, k0);
        let x3 = x_quad(m0 + 3u, k0);
        acc0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
        acc1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
        acc2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
        acc3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
    }
    store(m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// Software adapters with f32 weights stored k-major: invocation (x, y) computes rows 4y .. 4y + 3 and the
// columns x + j·S (S = all invocations along x), so neighbouring invocations read neighbouring weights and
// the emulator can load them as one vector instead of gathering them lane by lane.
@compute @workgroup_size(WG_N, WG_M)
fn main_kmajor(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let m0 = id.y * 4u;
    let stride = groups.x * WG_N;
    let cols = vec4<u32>(id.x, id.x + stride, id.x + 2u * stride, id.x + 3u * stride);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        let x0 = x_quad(m0, k0);
        let x1 = x_quad(m0 + 1u, k0);
        let x2 = x_quad(m0 + 2u, k0);
        let x3 = x_quad(m0 + 3u, k0);
        let wa = column_weights(k0, cols);
        let wb = column_weights(k0 + 1u, cols);
        let wc = column_weights(k0 + 2u, cols);
        let wd = column_weights(k0 + 3u, cols);
        acc0 += x0.x * wa + x0.y * wb + x0.z * wc + x0.w * wd;
        acc1 += x1.x * wa + x1.y * wb + x1.z * wc + x1.w * wd;
        acc2 += x2.x * wa + x2.y * wb + x2.z * wc + x2.w * wd;
        acc3 += x3.x * wa + x3.y * wb + x3.z * wc + x3.w * wd;
    }
    let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            store_one(m0 + i, cols[j], acc[i][j]);
        }
    }
}

// wᵀ[k, cols[j]] for the four columns (0 past the last column).
fn column_weights(k: u32, cols: vec4<u32>) -> vec4<f32> {
    var out = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        if (cols[j] < p.n) {
            out[j] = bitcast<f32>(w[k * p.n + cols[j]]);
        }
    }
    return out;
}

// Writes the 4 × 4 block at (m0, n0) with the bias and residual epilogue.
fn store(m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            store_one(m0 + i, n0 + j, acc[i][j]);
        }
    }
}

// y[row, y_offset + col] = value (+ bias) (+ what y held), inside the bounds.
fn store_one(row: u32, col: u32, sum: f32) {
    if (row < p.m && col < p.n) {
        var value = sum;
        if ((p.flags & FLAG_BIAS) != 0u) {
            value += bias[p.y_offset + col];
        }
        let at = row * p.y_stride + p.y_offset + col;
        if ((p.flags & FLAG_ACCUMULATE) != 0u) {
            value += y[at];
        }
        y[at] = value;
    }
}
