// y[m, y_offset + n] (+)= x[m, :] · w[n, :] (+ bias[y_offset + n])
//
// The linear layer of every projection and of the head. `w` is `[n, k]` (PyTorch's Linear layout) in one of
// four formats chosen by the SCHEME override: f32 bit patterns, or 8-/4-bit group quantization
// (`crates/model/src/quant.rs` is the normative definition): levels packed into u32 words, one f16 scale
// per group of `group_size` columns, two scales per u32 word; for q4a one word per group holds the scale (low
// half) and the minimum (high half). Weights are dequantized in registers while a tile is staged in workgroup
// memory; no f16 arithmetic is needed (`unpack2x16float` only).
//
// Two entry points. `main` (GPUs): a workgroup computes a (4·WG_M) × (4·WG_N) block of y, each invocation a
// 4 × 4 sub-block, staging tiles of x and w in workgroup memory. `main_direct` (software adapters: SwiftShader,
// lavapipe, where workgroup memory is ordinary memory and every barrier switches between all the invocations
// of a workgroup): each invocation computes 8 × 8 outputs straight from the storage buffers. Heavy weights are split
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
    // Floats before x's first row (a multiple of 4): where a cached step's rows start.
    x_offset: u32,
    // The bias of output column `col` is bias[bias_offset + col]: the chunk's first row of w (y_offset also
    // moves down to a cached step's first row).
    bias_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// k and x_stride are multiples of 4 (the host checks), so rows of x are read a quad at a time.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// 0: f32, 1: q8, 2: q4, 3: q4a.
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

// The (scale, minimum) of the group holding w[row, col]; the minimum is 0 but for q4a.
fn group_of(row: u32, col: u32) -> vec2<f32> {
    let index = row * (p.k / p.group_size) + col / p.group_size;
    if (SCHEME == 3u) {
        return unpack2x16float(scales[index]);
    }
    let pair = unpack2x16float(scales[index / 2u]);
    return vec2<f32>(select(pair.x, pair.y, (index & 1u) == 1u), 0.0);
}

// Four consecutive weights w[row, col .. col + 4], zero outside w; `col` is a multiple of 4.
fn weight_quad(row: u32, col: u32) -> vec4<f32> {
    if (row >= p.n || col >= p.k) {
        return vec4<f32>(0.0);
    }
    var group = vec2<f32>(1.0, 0.0);
    if (SCHEME != 0u) {
        group = group_of(row, col);
    }
    return dequantize_quad(row, col, group);
}

// w[row, col .. col + 4] with the group's (scale, minimum) given (ignored for f32), no bounds test.
fn dequantize_quad(row: u32, col: u32, group: vec2<f32>) -> vec4<f32> {
    if (SCHEME == 1u) {
        // Each byte shifted to the top, then arithmetic-shifted down: sign-extended with constant shifts,
        // which an emulator does in two vector instructions (a general extractBits costs more).
        let word = i32(w[(row * p.k + col) / 4u]);
        let levels = vec4<i32>(word << 24u, word << 16u, word << 8u, word) >> vec4<u32>(24u);
        return vec4<f32>(levels) * group.x;
    }
    if (SCHEME >= 2u) {
        let word = w[(row * p.k + col) / 8u] >> ((col & 4u) * 4u);
        let nibbles = (vec4<u32>(word) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u);
        if (SCHEME == 3u) {
            // The product is exact, so a fused multiply-add rounds the same as the CPU's product then sum.
            return vec4<f32>(nibbles) * group.x + group.y;
        }
        let levels = vec4<i32>(nibbles) - vec4<i32>(8);
        return vec4<f32>(levels) * group.x;
    }
    let at = row * p.k + col;
    return bitcast<vec4<f32>>(vec4<u32>(w[at], w[at + 1u], w[at + 2u], w[at + 3u]));
}

fn x_quad(row: u32, col: u32) -> vec4<f32> {
    if (row >= p.m || col >= p.k) {
        return vec4<f32>(0.0);
    }
    return x[(p.x_offset + row * p.x_stride + col) / 4u];
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

// Eight rows by eight columns per invocation: more arithmetic per load, which is what an emulator pays for
// (every load with a computed address is a per-lane gather there). Rows past the edge of x or w are read as
// the last row, never stored, so the k loop has no bounds tests; quantized weights take their scales once per
// group, not once per quad.
@compute @workgroup_size(WG_N, WG_M)
fn main_direct(@builtin(global_invocation_id) id: vec3<u32>) {
    let m0 = id.y * 8u;
    let n0 = id.x * 8u;
    // Invocations wholly outside y skip the k loop (no barrier here, so they may leave early).
    if (m0 >= p.m || n0 >= p.n) {
        return;
    }
    let rows = Rows(
        n0,
        min(n0 + 1u, p.n - 1u),
        min(n0 + 2u, p.n - 1u),
        min(n0 + 3u, p.n - 1u),
        min(n0 + 4u, p.n - 1u),
        min(n0 + 5u, p.n - 1u),
        min(n0 + 6u, p.n - 1u),
        min(n0 + 7u, p.n - 1u),
    );
    let xs = Rows(
        (p.x_offset + m0 * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 1u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 2u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 3u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 4u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 5u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 6u, p.m - 1u) * p.x_stride) / 4u,
        (p.x_offset + min(m0 + 7u, p.m - 1u) * p.x_stride) / 4u,
    );
    // Named accumulators, not an indexed array: a CPU-emulated GPU keeps indexed private arrays in memory.
    var lo0 = vec4<f32>(0.0);
    var hi0 = vec4<f32>(0.0);
    var lo1 = vec4<f32>(0.0);
    var hi1 = vec4<f32>(0.0);
    var lo2 = vec4<f32>(0.0);
    var hi2 = vec4<f32>(0.0);
    var lo3 = vec4<f32>(0.0);
    var hi3 = vec4<f32>(0.0);
    var lo4 = vec4<f32>(0.0);
    var hi4 = vec4<f32>(0.0);
    var lo5 = vec4<f32>(0.0);
    var hi5 = vec4<f32>(0.0);
    var lo6 = vec4<f32>(0.0);
    var hi6 = vec4<f32>(0.0);
    var lo7 = vec4<f32>(0.0);
    var hi7 = vec4<f32>(0.0);
    // f32 weights have no groups: one span of all of k.
    let span = select(p.k, p.group_size, SCHEME != 0u);
    for (var g0 = 0u; g0 < p.k; g0 += span) {
        let one = vec2<f32>(1.0, 0.0);
        var s = Groups(one, one, one, one, one, one, one, one);
        if (SCHEME != 0u) {
            s = Groups(
                group_of(rows.r0, g0),
                group_of(rows.r1, g0),
                group_of(rows.r2, g0),
                group_of(rows.r3, g0),
                group_of(rows.r4, g0),
                group_of(rows.r5, g0),
                group_of(rows.r6, g0),
                group_of(rows.r7, g0),
            );
        }
        for (var k0 = g0; k0 < g0 + span; k0 += 4u) {
            let q = Quads(
                dequantize_quad(rows.r0, k0, s.s0),
                dequantize_quad(rows.r1, k0, s.s1),
                dequantize_quad(rows.r2, k0, s.s2),
                dequantize_quad(rows.r3, k0, s.s3),
                dequantize_quad(rows.r4, k0, s.s4),
                dequantize_quad(rows.r5, k0, s.s5),
                dequantize_quad(rows.r6, k0, s.s6),
                dequantize_quad(rows.r7, k0, s.s7),
            );
            let kq = k0 / 4u;
            var a = x[xs.r0 + kq];
            lo0 += dots_lo(a, q);
            hi0 += dots_hi(a, q);
            a = x[xs.r1 + kq];
            lo1 += dots_lo(a, q);
            hi1 += dots_hi(a, q);
            a = x[xs.r2 + kq];
            lo2 += dots_lo(a, q);
            hi2 += dots_hi(a, q);
            a = x[xs.r3 + kq];
            lo3 += dots_lo(a, q);
            hi3 += dots_hi(a, q);
            a = x[xs.r4 + kq];
            lo4 += dots_lo(a, q);
            hi4 += dots_hi(a, q);
            a = x[xs.r5 + kq];
            lo5 += dots_lo(a, q);
            hi5 += dots_hi(a, q);
            a = x[xs.r6 + kq];
            lo6 += dots_lo(a, q);
            hi6 += dots_hi(a, q);
            a = x[xs.r7 + kq];
            lo7 += dots_lo(a, q);
            hi7 += dots_hi(a, q);
        }
    }
    store(m0, n0, array<vec4<f32>, 4>(lo0, lo1, lo2, lo3));
    store(m0 + 4u, n0, array<vec4<f32>, 4>(lo4, lo5, lo6, lo7));
    store(m0, n0 + 4u, array<vec4<f32>, 4>(hi0, hi1, hi2, hi3));
    store(m0 + 4u, n0 + 4u, array<vec4<f32>, 4>(hi4, hi5, hi6, hi7));
}

// Eight indices (weight rows, or offsets of x rows in quads) of one `main_direct` tile.
struct Rows {
    r0: u32,
    r1: u32,
    r2: u32,
    r3: u32,
    r4: u32,
    r5: u32,
    r6: u32,
    r7: u32,
}

// The group (scale, minimum) of eight weight rows.
struct Groups {
    s0: vec2<f32>,
    s1: vec2<f32>,
    s2: vec2<f32>,
    s3: vec2<f32>,
    s4: vec2<f32>,
    s5: vec2<f32>,
    s6: vec2<f32>,
    s7: vec2<f32>,
}

// One quad of k of eight weight rows.
struct Quads {
    q0: vec4<f32>,
    q1: vec4<f32>,
    q2: vec4<f32>,
    q3: vec4<f32>,
    q4: vec4<f32>,
    q5: vec4<f32>,
    q6: vec4<f32>,
    q7: vec4<f32>,
}

// x's quad against weight rows 0–3 and 4–7.
fn dots_lo(a: vec4<f32>, q: Quads) -> vec4<f32> {
    return vec4<f32>(dot(a, q.q0), dot(a, q.q1), dot(a, q.q2), dot(a, q.q3));
}

fn dots_hi(a: vec4<f32>, q: Quads) -> vec4<f32> {
    return vec4<f32>(dot(a, q.q4), dot(a, q.q5), dot(a, q.q6), dot(a, q.q7));
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
            value += bias[p.bias_offset + col];
        }
        let at = row * p.y_stride + p.y_offset + col;
        if ((p.flags & FLAG_ACCUMULATE) != 0u) {
            value += y[at];
        }
        y[at] = value;
    }
}
