// RMSNorm of whole rows: y[r] = x[src(r)] / sqrt(mean(x[src(r)]²) + eps) · weight.
//
// src(r) is r, or rows[r] when GATHER is set: the final norm runs only on the rows whose logits a step
// needs and packs them densely for the head. `main`: one workgroup per output row, reduced through workgroup
// memory. `main_rows` (CPU-emulated adapters, where every barrier switches between all the invocations of a
// workgroup): one invocation per row, no barriers.

struct Params {
    rows: u32,
    width: u32,
    eps: f32,
    gather: u32,
    // Without gather: rows before this one are left as they are (a cached step); `rows` counts those after it.
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WORKGROUP: u32 = 64u;

var<workgroup> partial: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
    let row = group.x + group.y * 65535u;
    if (row >= p.rows) {
        return;
    }
    let source = select(p.first + row, rows[row], p.gather != 0u) * p.width;
    let destination = select(p.first + row, row, p.gather != 0u) * p.width;
    var sum = 0.0;
    for (var i = local.x; i < p.width; i += WORKGROUP) {
        let v = x[source + i];
        sum += v * v;
    }
    partial[local.x] = sum;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if (local.x < stride) {
            partial[local.x] += partial[local.x + stride];
        }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(p.width) + p.eps);
    for (var i = local.x; i < p.width; i += WORKGROUP) {
        y[destination + i] = x[source + i] * scale * weight[i];
    }
}

@compute @workgroup_size(WORKGROUP)
fn main_rows(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let row = id.x + id.y * groups.x * WORKGROUP;
    if (row >= p.rows) {
        return;
    }
    let source = select(p.first + row, rows[row], p.gather != 0u) * p.width;
    let destination = select(p.first + row, row, p.gather != 0u) * p.width;
    var sum = 0.0;
    for (var i = 0u; i < p.width; i++) {
        let v = x[source + i];
        sum += v * v;
    }
    let scale = inverseSqrt(sum / f32(p.width) + p.eps);
    for (var i = 0u; i < p.width; i++) {
        y[destination + i] = x[source + i] * scale * weight[i];
    }
}
