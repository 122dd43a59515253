// The fused proposal: one logits row per masked position → temperature, nucleus (top-p) and top-k filtering →
// a token drawn with the shared counter-based RNG → a confidence score, plus the five most likely candidates.
// A step reads back twelve words per masked position instead of a vocabulary-sized row.
//
// Implements crates/sampler/SAMPLING.md §2–§3 and §6 (the CPU reference is `propose_from_logits`), in f32
// where the reference uses f64: sums differ in the last bits, which can change a draw only when a random
// number or a nucleus boundary falls within that rounding (documented float ties).
//
// One workgroup per row. No value is ever set to −∞: a token outside the kept set is tested, not stored.
// Sorting is replaced by bisection over an order-preserving integer key of the f32 logits.

struct Params {
    vocab: u32,
    rows: u32,
    // Index of this dispatch's first row in `row_keys` and `out` (the host chunks rows).
    first_row: u32,
    // 0: Dream's sampling (temperature, top-p, top-k); 1: LLaDA's Gumbel-max.
    draw: u32,
    temperature: f32,
    top_p: f32,
    top_k: u32,
    // 0: probability of the token; 1: top-1 − top-2 margin; 2: Σ p ln(p + 1e-10); 3: uniform random.
    score: u32,
    mask_token: u32,
}

// What keys a row's randomness: its canvas position and its canvas's seed and step (the canvases of a batch
// each have their own).
struct RowKey {
    position: u32,
    seed_lo: u32,
    seed_hi: u32,
    step: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// [rows, vocab], the rows of this dispatch only.
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> row_keys: array<RowKey>;
// Per row: token, score bits, then five (id, probability bits) pairs; id 0xffffffff when fewer than five
// tokens have mass.
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

override WORKGROUP: u32 = 256u;

const OUT_WORDS: u32 = 12u;
const CANDIDATES: u32 = 5u;
const NONE: u32 = 0xffffffffu;
const PURPOSE_TOKEN: u32 = 1u;
const PURPOSE_GUMBEL: u32 = 2u;
const PURPOSE_SCORE: u32 = 5u;

var<workgroup> sums: array<f32, WORKGROUP>;
var<workgroup> keys: array<u32, WORKGROUP>;
var<workgroup> ids: array<u32, WORKGROUP>;
var<workgroup> found: atomic<u32>;

var<private> row_base: u32;
var<private> row_key: RowKey;
var<private> thread: u32;

// ---- counter-based randomness (SAMPLING.md §2) ----

fn mix(value: u32) -> u32 {
    var h = value;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

fn random_bits(purpose: u32, lane: u32) -> u32 {
    var h = mix(row_key.seed_lo ^ 0x9e3779b9u);
    h = mix(h ^ row_key.seed_hi);
    h = mix(h ^ row_key.step);
    h = mix(h ^ row_key.position);
    h = mix(h ^ purpose);
    return mix(h ^ lane);
}

fn unit(bits: u32) -> f32 {
    return (f32(bits >> 8u) + 0.5) / 16777216.0;
}

// ---- the row ----

fn allowed(v: u32) -> bool {
    return v != p.mask_token;
}

// The logit the draw sees: divided by the temperature for a sampled Dream draw.
fn logit(v: u32) -> f32 {
    let raw = logits[row_base + v];
    if (p.draw == 0u && p.temperature > 0.0) {
        return raw / p.temperature;
    }
    return raw;
}

// Monotone map from f32 to u32: a < b ⇔ order_key(a) < order_key(b).
fn order_key(f: f32) -> u32 {
    let b = bitcast<u32>(f);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_order_key(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// ---- workgroup reductions: every invocation passes its partial and gets the total ----

fn total_sum(value: f32) -> f32 {
    workgroupBarrier();
    sums[thread] = value;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (thread < stride) {
            sums[thread] += sums[thread + stride];
        }
    }
    return workgroupUniformLoad(&sums[0]);
}

fn total_max(value: f32) -> f32 {
    workgroupBarrier();
    sums[thread] = value;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (thread < stride) {
            sums[thread] = max(sums[thread], sums[thread + stride]);
        }
    }
    return workgroupUniformLoad(&sums[0]);
}

fn total_count(value: u32) -> u32 {
    workgroupBarrier();
    keys[thread] = value;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (thread < stride) {
            keys[thread] += keys[thread + stride];
        }
    }
    return workgroupUniformLoad(&keys[0]);
}

// Thread 0's value, for values every invocation computed alike from per-invocation (private) state, so that
// the compiler can see they are uniform before a barrier depends on them.
fn broadcast(value: u32) -> u32 {
    workgroupBarrier();
    if (thread == 0u) {
        keys[0] = value;
    }
    return workgroupUniformLoad(&keys[0]);
}

// The id of the largest key (lowest id among equal keys), or NONE if no invocation offers one.
fn best_id(key: u32, id: u32) -> u32 {
    workgroupBarrier();
    keys[thread] = key;
    ids[thread] = id;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (thread < stride) {
            let k = keys[thread + stride];
            let i = ids[thread + stride];
            if (i != NONE && (ids[thread] == NONE || k > keys[thread] || (k == keys[thread] && i < ids[thread]))) {
                keys[thread] = k;
                ids[thread] = i;
            }
        }
    }
    return workgroupUniformLoad(&ids[0]);
}

// ---- filtering state (uniform across the workgroup) ----

var<private> max_logit: f32;
// Nucleus: kept iff key > nucleus_key, or key == nucleus_key and id ≤ nucleus_last_tie.
var<private> nucleus_key: u32;
var<private> nucleus_last_tie: u32;
// Top-k: kept iff key ≥ top_k_key.
var<private> top_k_key: u32;
var<private> kept_mass: f32;

fn in_nucleus(v: u32, key: u32) -> bool {
    return key > nucleus_key || (key == nucleus_key && v <= nucleus_last_tie);
}

fn kept(v: u32) -> bool {
    if (!allowed(v)) {
        return false;
    }
    let key = order_key(logit(v));
    return in_nucleus(v, key) && key >= top_k_key;
}

// Unnormalised weight exp(l − max) of a token, 0 outside the kept set.
fn weight(v: u32) -> f32 {
    return select(0.0, exp(logit(v) - max_logit), kept(v));
}

// Mass (before the nucleus cut, normalised by `total`) of allowed tokens whose key is ≥ `threshold`.
fn mass_at_or_above(threshold: u32, total: f32) -> f32 {
    var mass = 0.0;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        let l = logit(v);
        if (allowed(v) && order_key(l) >= threshold) {
            mass += exp(l - max_logit);
        }
    }
    return total_sum(mass) / total;
}

fn apply_nucleus(total: f32) {
    // The nucleus boundary is the largest key whose at-or-above mass still exceeds top_p: every token above
    // it has an exclusive prefix ≤ top_p, every token below it more.
    var cut = 0u;
    for (var bit = 31; bit >= 0; bit--) {
        let candidate = cut | (1u << u32(bit));
        if (mass_at_or_above(candidate, total) > p.top_p) {
            cut = candidate;
        }
    }
    var above = 0.0;
    var ties = 0u;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        let l = logit(v);
        if (allowed(v)) {
            let key = order_key(l);
            if (key > cut) {
                above += exp(l - max_logit);
            }
            if (key == cut) {
                ties += 1u;
            }
        }
    }
    let mass_above = total_sum(above) / total;
    let tie_count = total_count(ties);
    nucleus_key = cut;
    nucleus_last_tie = NONE;
    if (tie_count > 1u) {
        // Equal logits are ordered by id: keep ties while the exclusive prefix stays ≤ top_p.
        let tie_p = exp(from_order_key(cut) - max_logit) / total;
        let keep = broadcast(min(tie_count, u32(max(0.0, floor((p.top_p - mass_above) / tie_p))) + 1u));
        if (keep < tie_count) {
            // The id of the keep-th tie: the largest x with fewer than `keep` ties below it.
            var x = 0u;
            for (var bit = 31; bit >= 0; bit--) {
                let candidate = x | (1u << u32(bit));
                var below = 0u;
                for (var v = thread; v < min(candidate, p.vocab); v += WORKGROUP) {
                    if (allowed(v) && order_key(logit(v)) == cut) {
                        below += 1u;
                    }
                }
                if (total_count(below) < keep) {
                    x = candidate;
                }
            }
            nucleus_last_tie = x;
        }
    }
}

fn apply_top_k() {
    var count = 0u;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        if (allowed(v) && in_nucleus(v, order_key(logit(v)))) {
            count += 1u;
        }
    }
    if (total_count(count) <= p.top_k) {
        return;
    }
    // The k-th largest kept key: the largest key with at least k kept tokens at or above it (ties stay).
    var cut = 0u;
    for (var bit = 31; bit >= 0; bit--) {
        let candidate = cut | (1u << u32(bit));
        var at_or_above = 0u;
        for (var v = thread; v < p.vocab; v += WORKGROUP) {
            let key = order_key(logit(v));
            if (allowed(v) && in_nucleus(v, key) && key >= candidate) {
                at_or_above += 1u;
            }
        }
        if (total_count(at_or_above) >= p.top_k) {
            cut = candidate;
        }
    }
    top_k_key = cut;
}

// The first id whose cumulative probability (in id order) reaches u, like the reference's inverse CDF.
fn categorical(u: f32) -> u32 {
    let chunk = (p.vocab + WORKGROUP - 1u) / WORKGROUP;
    let start = min(thread * chunk, p.vocab);
    let end = min(start + chunk, p.vocab);
    var own = 0.0;
    for (var v = start; v < end; v++) {
        own += weight(v) / kept_mass;
    }
    workgroupBarrier();
    sums[thread] = own;
    atomicStore(&found, NONE);
    workgroupBarrier();
    var before = 0.0;
    for (var t = 0u; t < thread; t++) {
        before += sums[t];
    }
    if (before < u && before + own >= u) {
        var cumulative = before;
        for (var v = start; v < end; v++) {
            cumulative += weight(v) / kept_mass;
            if (cumulative >= u) {
                atomicMin(&found, v);
                break;
            }
        }
    }
    let chosen = workgroupUniformLoad(&found);
    if (chosen != NONE) {
        return chosen;
    }
    // Rounding left the total short of u: the last token with mass.
    var last = 0u;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        if (weight(v) > 0.0) {
            last = max(last, v + 1u);
        }
    }
    workgroupBarrier();
    keys[thread] = last;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (thread < stride) {
            keys[thread] = max(keys[thread], keys[thread + stride]);
        }
    }
    return max(workgroupUniformLoad(&keys[0]), 1u) - 1u;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
    let row = group.x;
    thread = local.x;
    row_base = row * p.vocab;
    row_key = row_keys[p.first_row + row];
    nucleus_key = 0u;
    nucleus_last_tie = NONE;
    top_k_key = 0u;

    var local_max = -3.0e38;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        if (allowed(v)) {
            local_max = max(local_max, logit(v));
        }
    }
    max_logit = total_max(local_max);
    var local_total = 0.0;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        if (allowed(v)) {
            local_total += exp(logit(v) - max_logit);
        }
    }
    let total = total_sum(local_total);
    if (p.draw == 0u && p.top_p < 1.0) {
        apply_nucleus(total);
    }
    if (p.draw == 0u && p.top_k > 0u) {
        apply_top_k();
    }
    var local_kept = 0.0;
    for (var v = thread; v < p.vocab; v += WORKGROUP) {
        local_kept += weight(v);
    }
    kept_mass = total_sum(local_kept);

    // The token.
    var token = 0u;
    if (p.draw == 0u && p.temperature > 0.0) {
        token = categorical(unit(random_bits(PURPOSE_TOKEN, 0u)));
    } else if (p.draw == 1u && p.temperature > 0.0) {
        var best_key = 0u;
        var best = NONE;
        for (var v = thread; v < p.vocab; v += WORKGROUP) {
            if (allowed(v)) {
                let gumbel = -log(-log(unit(random_bits(PURPOSE_GUMBEL, v))));
                let key = order_key(logit(v) + p.temperature * gumbel);
                if (best == NONE || key > best_key) {
                    best_key = key;
                    best = v;
                }
            }
        }
        token = best_id(best_key, best);
    } else {
        var best_key = 0u;
        var best = NONE;
        for (var v = thread; v < p.vocab; v += WORKGROUP) {
            if (kept(v)) {
                let key = order_key(logit(v));
                if (best == NONE || key > best_key) {
                    best_key = key;
                    best = v;
                }
            }
        }
        token = best_id(best_key, best);
    }

    // The five most likely kept tokens, most likely first: each round takes the best token ordered after
    // the previous round's (higher key first, lower id first among equal keys).
    var chosen: array<u32, CANDIDATES>;
    var after_key = 0xffffffffu;
    var after_id = NONE;
    for (var c = 0u; c < CANDIDATES; c++) {
        var best_key = 0u;
        var best = NONE;
        for (var v = thread; v < p.vocab; v += WORKGROUP) {
            let key = order_key(logit(v));
            let later = key < after_key || (key == after_key && (after_id == NONE || v > after_id));
            if (later && kept(v) && (best == NONE || key > best_key)) {
                best_key = key;
                best = v;
            }
        }
        let id = best_id(best_key, best);
        chosen[c] = id;
        if (id != NONE) {
            after_key = order_key(logit(id));
            after_id = id;
        } else {
            after_key = 0u;
            after_id = 0xfffffffeu;
        }
    }

    var score = 0.0;
    switch (p.score) {
        case 0u: {
            score = weight(token) / kept_mass;
        }
        case 1u: {
            if (chosen[1] != NONE) {
                score = (weight(chosen[0]) - weight(chosen[1])) / kept_mass;
            }
        }
        case 2u: {
            var local_entropy = 0.0;
            for (var v = thread; v < p.vocab; v += WORKGROUP) {
                let q = weight(v) / kept_mass;
                local_entropy += q * log(q + 1e-10);
            }
            score = total_sum(local_entropy);
        }
        default: {
            score = unit(random_bits(PURPOSE_SCORE, 0u));
        }
    }

    if (thread == 0u) {
        let at = (p.first_row + row) * OUT_WORDS;
        out[at] = token;
        out[at + 1u] = bitcast<u32>(score);
        for (var c = 0u; c < CANDIDATES; c++) {
            out[at + 2u + 2u * c] = chosen[c];
            out[at + 3u + 2u * c] = bitcast<u32>(select(weight(chosen[c]) / kept_mass, 0.0, chosen[c] == NONE));
        }
    }
}
