// Grouped-query attention with an online softmax (flash-style): the seq × seq score matrix never exists in
// memory. Query head h reads key/value head h / (heads / kv_heads). The rows may hold several canvases stacked
// one after another (a batch); a query sees keys of its own canvas only (`rows`), and within it the mask is
// `block`: 0 lets every query see every key (bidirectional), b > 0 lets the query at position i see positions
// 0 .. (i / b + 1) · b (causal when b = 1, block-causal otherwise). Rows holding the mask token (flagged in
// `rows`) use `mask_block` instead: the same as `block` but under masks_see_block, where tokens attend
// causally and masks see their whole block. A workgroup reads keys only from the first
// one its first query sees to the last one its last query sees. Only query rows `first ..` are computed (the
// engine keeps earlier rows of causal models from the previous pass).
//
// q, k and v are read from one fused projection buffer `qkv` whose rows are [q heads | k heads | v heads]
// (after RoPE). Two entry points:
// - `main` (GPUs): one invocation owns one query of one head; a workgroup stages KEY_TILE keys and values of
//   its kv head in workgroup memory and all its queries consume them.
// - `main_blocked` (CPU-emulated adapters, where every load with a computed address is a per-lane gather and
//   private arrays indexed in a loop live in memory): a workgroup of HEAD_DIM invocations owns a block of
//   QUERY_BLOCK queries of one head and walks the keys HEAD_DIM at a time in three phases, each invocation
//   holding a 4 × 4 block in named registers, like the matmul: scores of 4 queries × 4 keys, then the
//   online-softmax update of the block's rows, then outputs of 4 queries × 4 dimensions.

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
    // The first query row computed; rows before it are left as they are.
    first: u32,
    // The attention mask of token rows and of mask rows (see the top of the file); mask_block ≥ block.
    block: u32,
    mask_block: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
// Per row: (position in its canvas, its canvas's first row, that canvas's length, 1 if it holds the mask token).
@group(0) @binding(2) var<storage, read> rows: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

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

// The first key row `query` sees: its canvas's first row.
fn key_start(query: u32) -> u32 {
    return rows[query].y;
}

// One past the last key row `query` would see under the mask of block `b`.
fn key_end_of(query: u32, b: u32) -> u32 {
    let row = rows[query];
    if (b == 0u) {
        return row.y + row.z;
    }
    return row.y + min((row.x / b + 1u) * b, row.z);
}

// One past the last key row `query` sees.
fn key_end(query: u32) -> u32 {
    return key_end_of(query, select(p.block, p.mask_block, rows[query].w != 0u));
}

// One past the last key row any query up to `query` sees: the end of a workgroup's key range (its last query's
// end, were it a mask).
fn keys_stop(query: u32) -> u32 {
    return key_end_of(query, p.mask_block);
}

// Four consecutive floats of `qkv` from `at`.
fn qkv_quad(at: u32) -> vec4<f32> {
    return vec4<f32>(qkv[at], qkv[at + 1u], qkv[at + 2u], qkv[at + 3u]);
}

@compute @workgroup_size(QUERIES)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
    let quads = HEAD_DIM / 4u;
    let head = group.y;
    let kv_head = head / (p.heads / p.kv_heads);
    let first_query = p.first + group.x * QUERIES;
    let query = first_query + local.x;
    let in_range = query < p.seq;
    let visible_start = key_start(min(query, p.seq - 1u));
    let visible = key_end(min(query, p.seq - 1u));
    let key_begin = key_start(first_query);
    let key_stop = keys_stop(min(first_query + QUERIES - 1u, p.seq - 1u));
    let k_column = (p.heads + kv_head) * HEAD_DIM;
    let v_column = (p.heads + p.kv_heads + kv_head) * HEAD_DIM;

    var q: array<vec4<f32>, MAX_QUADS>;
    var acc: array<vec4<f32>, MAX_QUADS>;
    if (in_range) {
        let base = query * p.qkv_stride + head * HEAD_DIM;
        for (var d = 0u; d < quads; d++) {
            let at = base + d * 4u;
            q[d] = qkv_quad(at) * p.scale;
        }
    }
    var running_max = -3.0e38;
    var running_sum = 0.0;
    var scores: array<f32, MAX_KEY_TILE>;

    for (var k0 = key_begin; k0 < key_stop; k0 += KEY_TILE) {
        let keys = min(KEY_TILE, key_stop - k0);
        for (var i = local.x; i < KEY_TILE * quads; i += QUERIES) {
            let key = i / quads;
            let d = (i % quads) * 4u;
            if (key < keys) {
                let row = (k0 + key) * p.qkv_stride;
                let ka = row + k_column + d;
                let va = row + v_column + d;
                k_tile[i] = qkv_quad(ka);
                v_tile[i] = qkv_quad(va);
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
                scores[j] = select(s.x + s.y + s.z + s.w, -3.0e38, k0 + j < visible_start || k0 + j >= visible);
                tile_max = max(tile_max, scores[j]);
            }
            // Rescale what was accumulated under the old maximum once per tile, not once per key.
            let correction = exp(running_max - tile_max);
            running_sum *= correction;
            for (var d = 0u; d < quads; d++) {
                acc[d] *= correction;
            }
            for (var j = 0u; j < keys; j++) {
                let weight = select(exp(scores[j] - tile_max), 0.0, k0 + j < visible_start || k0 + j >= visible);
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

// Queries per `main_blocked` workgroup: four groups of four.
const QUERY_BLOCK: u32 = 16u;

// Scores, then probabilities, of the block's queries against the current HEAD_DIM keys, row-major.
var<workgroup> block_scores: array<f32, QUERY_BLOCK * HEAD_DIM>;
// Per query row: the factor this tile rescales earlier sums by, then at the end 1 / the softmax sum.
var<workgroup> row_factor: array<f32, QUERY_BLOCK>;

@compute @workgroup_size(HEAD_DIM)
fn main_blocked(@builtin(local_invocation_index) thread: u32, @builtin(workgroup_id) group: vec3<u32>) {
    let head = group.y;
    let kv_head = head / (p.heads / p.kv_heads);
    let first_query = p.first + group.x * QUERY_BLOCK;
    let k_column = (p.heads + kv_head) * HEAD_DIM;
    let v_column = (p.heads + p.kv_heads + kv_head) * HEAD_DIM;
    // This invocation's four queries (rows past the canvas read the last row and are never written), and
    // its four keys of a tile in the scoring phase, its four dimensions in the output phase.
    let query_group = thread % 4u;
    let quad = thread / 4u;
    let q0 = first_query + query_group * 4u;
    let last = p.seq - 1u;
    let key_begin = key_start(min(first_query, last));
    let key_stop = keys_stop(min(first_query + QUERY_BLOCK - 1u, last));
    // The keys row `thread` sees (for the first QUERY_BLOCK invocations, which own one row each).
    let visible_start = key_start(min(first_query + thread, last));
    let visible = key_end(min(first_query + thread, last));
    let q_at = vec4<u32>(min(q0, last), min(q0 + 1u, last), min(q0 + 2u, last), min(q0 + 3u, last)) * p.qkv_stride
        + head * HEAD_DIM;
    // The softmax statistics of row `thread` (the first QUERY_BLOCK invocations own one row each).
    var running_max = -3.0e38;
    var running_sum = 0.0;
    var out0 = vec4<f32>(0.0);
    var out1 = vec4<f32>(0.0);
    var out2 = vec4<f32>(0.0);
    var out3 = vec4<f32>(0.0);

    for (var k0 = key_begin; k0 < key_stop; k0 += HEAD_DIM) {
        let keys = min(HEAD_DIM, key_stop - k0);
        // Scores of queries q0 .. q0 + 4 against keys k0 + 4·quad .. + 4.
        let key = k0 + quad * 4u;
        let k_at = vec4<u32>(min(key, last), min(key + 1u, last), min(key + 2u, last), min(key + 3u, last))
            * p.qkv_stride + k_column;
        var s0 = vec4<f32>(0.0);
        var s1 = vec4<f32>(0.0);
        var s2 = vec4<f32>(0.0);
        var s3 = vec4<f32>(0.0);
        for (var d = 0u; d < HEAD_DIM; d += 4u) {
            let k = mat4x4<f32>(qkv_quad(k_at.x + d), qkv_quad(k_at.y + d), qkv_quad(k_at.z + d), qkv_quad(k_at.w + d));
            s0 += qkv_quad(q_at.x + d) * k;
            s1 += qkv_quad(q_at.y + d) * k;
            s2 += qkv_quad(q_at.z + d) * k;
            s3 += qkv_quad(q_at.w + d) * k;
        }
        let at = query_group * 4u * HEAD_DIM + quad * 4u;
        let scale = p.scale;
        block_scores[at] = s0.x * scale;
        block_scores[at + 1u] = s0.y * scale;
        block_scores[at + 2u] = s0.z * scale;
        block_scores[at + 3u] = s0.w * scale;
        block_scores[at + HEAD_DIM] = s1.x * scale;
        block_scores[at + HEAD_DIM + 1u] = s1.y * scale;
        block_scores[at + HEAD_DIM + 2u] = s1.z * scale;
        block_scores[at + HEAD_DIM + 3u] = s1.w * scale;
        block_scores[at + 2u * HEAD_DIM] = s2.x * scale;
        block_scores[at + 2u * HEAD_DIM + 1u] = s2.y * scale;
        block_scores[at + 2u * HEAD_DIM + 2u] = s2.z * scale;
        block_scores[at + 2u * HEAD_DIM + 3u] = s2.w * scale;
        block_scores[at + 3u * HEAD_DIM] = s3.x * scale;
        block_scores[at + 3u * HEAD_DIM + 1u] = s3.y * scale;
        block_scores[at + 3u * HEAD_DIM + 2u] = s3.z * scale;
        block_scores[at + 3u * HEAD_DIM + 3u] = s3.w * scale;
        workgroupBarrier();

        // Row `thread`: the new maximum, scores turned into weights under it, and the factor for what was
        // summed under the old one.
        if (thread < QUERY_BLOCK) {
            let row = thread * HEAD_DIM;
            var tile_max = running_max;
            for (var j = 0u; j < keys; j++) {
                let hidden = k0 + j < visible_start || k0 + j >= visible;
                tile_max = max(tile_max, select(block_scores[row + j], -3.0e38, hidden));
            }
            let factor = exp(running_max - tile_max);
            var sum = running_sum * factor;
            for (var j = 0u; j < keys; j++) {
                let hidden = k0 + j < visible_start || k0 + j >= visible;
                let weight = select(exp(block_scores[row + j] - tile_max), 0.0, hidden);
                block_scores[row + j] = weight;
                sum += weight;
            }
            running_max = tile_max;
            running_sum = sum;
            row_factor[thread] = factor;
        }
        workgroupBarrier();

        // Outputs of queries q0 .. q0 + 4, dimensions 4·quad .. + 4.
        let rows = query_group * 4u * HEAD_DIM;
        out0 *= row_factor[query_group * 4u];
        out1 *= row_factor[query_group * 4u + 1u];
        out2 *= row_factor[query_group * 4u + 2u];
        out3 *= row_factor[query_group * 4u + 3u];
        for (var j = 0u; j < keys; j++) {
            let v = qkv_quad((k0 + j) * p.qkv_stride + v_column + quad * 4u);
            out0 += block_scores[rows + j] * v;
            out1 += block_scores[rows + HEAD_DIM + j] * v;
            out2 += block_scores[rows + 2u * HEAD_DIM + j] * v;
            out3 += block_scores[rows + 3u * HEAD_DIM + j] * v;
        }
        workgroupBarrier();
    }

    if (thread < QUERY_BLOCK) {
        row_factor[thread] = 1.0 / running_sum;
    }
    workgroupBarrier();
    let column = head * HEAD_DIM + quad * 4u;
    store_quad(q0, column, out0 * row_factor[query_group * 4u]);
    store_quad(q0 + 1u, column, out1 * row_factor[query_group * 4u + 1u]);
    store_quad(q0 + 2u, column, out2 * row_factor[query_group * 4u + 2u]);
    store_quad(q0 + 3u, column, out3 * row_factor[query_group * 4u + 3u]);
}

// out[query, column .. column + 4] = value, for queries on the canvas.
fn store_quad(query: u32, column: u32, value: vec4<f32>) {
    if (query < p.seq) {
        let at = query * p.out_stride + column;
        out[at] = value.x;
        out[at + 1u] = value.y;
        out[at + 2u] = value.z;
        out[at + 3u] = value.w;
    }
}
