// Bidirectional grouped-query attention with an online softmax (flash-style): every query attends to every
// key, and the seq × seq score matrix never exists in memory. Query head h reads key/value head
// h / (heads / kv_heads).
//
// q, k and v are read from one fused projection buffer `qkv` whose rows are [q heads | k heads | v heads]
// (after RoPE). One invocation owns one query of one head; a workgroup stages KEY_TILE keys and values of
// its kv head in workgroup memory and all its queries consume them.

struct Params {
    seq: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    // Row stride of `qkv` and of `out`, in floats.
    qkv_stride: u32,
    out_stride: u32,
    // 1 / sqrt(head_dim).
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// Queries per workgroup.
override QUERIES: u32 = 64u;
// Keys staged per iteration; the host keeps KEY_TILE · HEAD_DIM · 8 bytes within the workgroup storage limit.
override KEY_TILE: u32 = 32u;
// Must equal p.head_dim; sizes the staged tiles.
override HEAD_DIM: u32 = 64u;
// The largest head dimension an invocation's registers hold (in vec4s: 128 / 4).
const MAX_QUADS: u32 = 32u;
const MAX_KEY_TILE: u32 = 64u;

var<workgroup> k_tile: array<vec4<f32>, KEY_TILE * HEAD_DIM / 4u>;
var<workgroup> v_tile: array<vec4<f32>, KEY_TILE * HEAD_DIM / 4u>;

@compute @workgroup_size(QUERIES)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
    let quads = HEAD_DIM / 4u;
    let head = group.y;
    let kv_head = head / (p.heads / p.kv_heads);
    let query = group.x * QUERIES + local.x;
    let in_range = query < p.seq;
    let k_column = (p.heads + kv_head) * HEAD_DIM;
    let v_column = (p.heads + p.kv_heads + kv_head) * HEAD_DIM;

    var q: array<vec4<f32>, MAX_QUADS>;
    var acc: array<vec4<f32>, MAX_QUADS>;
    if (in_range) {
        let base = query * p.qkv_stride + head * HEAD_DIM;
        for (var d = 0u; d < quads; d++) {
            let at = base + d * 4u;
            q[d] = vec4<f32>(qkv[at], qkv[at + 1u], qkv[at + 2u], qkv[at + 3u]) * p.scale;
        }
    }
    var running_max = -3.0e38;
    var running_sum = 0.0;
    var scores: array<f32, MAX_KEY_TILE>;

    for (var k0 = 0u; k0 < p.seq; k0 += KEY_TILE) {
        let keys = min(KEY_TILE, p.seq - k0);
        for (var i = local.x; i < KEY_TILE * quads; i += QUERIES) {
            let key = i / quads;
            let d = (i % quads) * 4u;
            if (key < keys) {
                let row = (k0 + key) * p.qkv_stride;
                let ka = row + k_column + d;
                let va = row + v_column + d;
                k_tile[i] = vec4<f32>(qkv[ka], qkv[ka + 1u], qkv[ka + 2u], qkv[ka + 3u]);
                v_tile[i] = vec4<f32>(qkv[va], qkv[va + 1u], qkv[va + 2u], qkv[va + 3u]);
            }
        }
        workgroupBarrier();
        if (in_range) {
            var tile_max = running_max;
            for (var j = 0u; j < keys; j++) {
                var s = vec4<f32>(0.0);
                for (var d = 0u; d < quads; d++) {
                    s += q[d] * k_tile[j * quads + d];
                }
                scores[j] = s.x + s.y + s.z + s.w;
                tile_max = max(tile_max, scores[j]);
            }
            // Rescale what was accumulated under the old maximum once per tile, not once per key.
            let correction = exp(running_max - tile_max);
            running_sum *= correction;
            for (var d = 0u; d < quads; d++) {
                acc[d] *= correction;
            }
            for (var j = 0u; j < keys; j++) {
                let weight = exp(scores[j] - tile_max);
                running_sum += weight;
                for (var d = 0u; d < quads; d++) {
                    acc[d] += weight * v_tile[j * quads + d];
                }
            }
            running_max = tile_max;
        }
        workgroupBarrier();
    }

    if (in_range) {
        let base = query * p.out_stride + head * HEAD_DIM;
        let inverse = 1.0 / running_sum;
        for (var d = 0u; d < quads; d++) {
            let value = acc[d] * inverse;
            out[base + d * 4u] = value.x;
            out[base + d * 4u + 1u] = value.y;
            out[base + d * 4u + 2u] = value.z;
            out[base + d * 4u + 3u] = value.w;
        }
    }
}
