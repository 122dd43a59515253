//! Every kernel against the CPU reference (`unmask_cpu::ops`, `unmask_sampler::propose_from_logits`) on
//! seeded random inputs, shapes that are not multiples of any tile included.
//!
//! Tolerances: f32 accumulation in another order differs by ~1e-6 relative; we allow 1e-4 absolute +
//! 1e-4 relative (5e-4 for attention and RoPE, whose exp and cos/sin come from the GPU's own functions).

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use common::{Rng, assert_close, gpu};
use unmask_cpu::ops::{self, AttentionShape};
use unmask_gpu::{KernelSet, OpRunner, WeightInput};
use unmask_model::AttentionKind;
use unmask_model::quant::{QuantScheme, QuantTensor};
use unmask_sampler::{ProposalRule, ScoreKind, StepKey, TokenDraw, candidates, propose_from_logits};

/// Both kernel sets on whatever adapter runs the tests, so the hardware-GPU variants are checked on
/// lavapipe and SwiftShader too. Made once per head size and thread, and kept: making the pipelines is most of
/// these tests' time on SwiftShader, where every test runs on the page's one thread.
async fn runners(head_dim: usize) -> Rc<Vec<OpRunner>> {
    thread_local! {
        static MADE: RefCell<HashMap<usize, Rc<Vec<OpRunner>>>> = RefCell::default();
    }
    if let Some(made) = MADE.with(|made| made.borrow().get(&head_dim).cloned()) {
        return made;
    }
    let gpu = gpu().await;
    let sets = [KernelSet::Gpu, KernelSet::Emulated];
    let made: Rc<Vec<OpRunner>> =
        Rc::new(sets.into_iter().map(|set| OpRunner::with_kernels(gpu.clone(), head_dim, set)).collect());
    MADE.with(|cache| cache.borrow_mut().insert(head_dim, made.clone()));
    made
}

both! {
    async fn matmul_f32_matches_linear_on_odd_shapes() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(1);
            // k is a multiple of 4 (the engine requires it), but not of the 16-deep tile.
            for (m, n, k) in [(1, 1, 4), (37, 53, 28), (65, 130, 68), (64, 64, 64), (3, 200, 256), (130, 7, 300)] {
                let x = rng.uniform(m * k, 1.0);
                let w = rng.uniform(n * k, 1.0);
                let bias = rng.uniform(n, 1.0);
                let residual = rng.uniform(m * n, 1.0);
                let plain = ops_gpu.matmul(&x, WeightInput::F32 { rows: n, cols: k, data: &w }, None, None).await
                    .unwrap();
                assert_close(&plain, &ops::linear(&x, &w, None, k, n), 1e-4, 1e-4, &format!("matmul {m}x{n}x{k}"));
                let fused = ops_gpu.matmul(
                    &x,
                    WeightInput::F32 { rows: n, cols: k, data: &w },
                    Some(&bias),
                    Some(&residual),
                ).await
                .unwrap();
                let mut expected = ops::linear(&x, &w, Some(&bias), k, n);
                expected.iter_mut().zip(&residual).for_each(|(e, r)| *e += r);
                assert_close(&fused, &expected, 1e-4, 1e-4, &format!("matmul+bias+residual {m}x{n}x{k}"));
            }
        }
    }
}

both! {
    async fn quantized_matmul_matches_linear_on_dequantized_weights() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(2);
            for scheme in QuantScheme::ALL {
                for (m, n, k, group) in [(37, 53, 64, 32), (5, 130, 96, 32), (70, 66, 128, 64), (1, 3, 8, 8)] {
                    let x = rng.uniform(m * k, 1.0);
                    let w = rng.uniform(n * k, 1.0);
                    let bias = rng.uniform(n, 1.0);
                    let q = QuantTensor::quantize(&w, n, k, scheme, group).unwrap();
                    let actual = ops_gpu.matmul(&x, WeightInput::Quant(&q), Some(&bias), None).await.unwrap();
                    let expected = ops::linear(&x, &q.dequantize(), Some(&bias), k, n);
                    assert_close(&actual, &expected, 1e-4, 1e-4, &format!("{scheme:?} matmul {m}x{n}x{k} g{group}"));
                }
            }
        }
    }
}

both! {
    async fn embedding_gathers_dequantized_rows() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(3);
            let (vocab, width) = (301, 96);
            let table = rng.uniform(vocab * width, 2.0);
            let tokens: Vec<u32> = (0..45).map(|_| rng.below(vocab as u32)).chain([0, vocab as u32 - 1]).collect();
            let rows =
                |t: &[f32]| -> Vec<f32> { tokens.iter().flat_map(|&id| t[id as usize * width..][..width].to_vec()).collect() };
            let f32_rows =
                ops_gpu.embed(&tokens, WeightInput::F32 { rows: vocab, cols: width, data: &table }).await
                    .unwrap();
            assert_eq!(f32_rows, rows(&table), "f32 rows are copied exactly");
            for scheme in QuantScheme::ALL {
                let q = QuantTensor::quantize(&table, vocab, width, scheme, 32).unwrap();
                let actual = ops_gpu.embed(&tokens, WeightInput::Quant(&q)).await.unwrap();
                // Dequantization is one f32 product on both sides: exact.
                assert_eq!(actual, rows(&q.dequantize()), "{scheme:?} rows");
            }
        }
    }
}

both! {
    async fn rms_norm_matches_on_wide_rows_and_gathers() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(4);
            for (rows, width) in [(7, 70), (1, 1), (3, 257)] {
                let x = rng.uniform(rows * width, 3.0);
                let weight = rng.uniform(width, 1.0);
                let actual = ops_gpu.rms_norm(&x, &weight, 1e-6, None).await.unwrap();
                assert_close(&actual, &ops::rms_norm(&x, &weight, 1e-6), 1e-5, 1e-4, &format!("rms_norm {rows}x{width}"));
                let pick: Vec<u32> = vec![rows as u32 - 1, 0];
                let gathered = ops_gpu.rms_norm(&x, &weight, 1e-6, Some(&pick)).await.unwrap();
                let expected: Vec<f32> =
                    pick.iter().flat_map(|&r| ops::rms_norm(&x[r as usize * width..][..width], &weight, 1e-6)).collect();
                assert_close(&gathered, &expected, 1e-5, 1e-4, &format!("gathered rms_norm {rows}x{width}"));
            }
        }
    }
}

both! {
    async fn rope_rotates_the_leading_heads_only() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(5);
            let (seq, rotated, total, head_dim) = (13, 3, 5, 16);
            let stride = total * head_dim;
            let x = rng.uniform(seq * stride, 1.0);
            let actual = ops_gpu.rope(&x, rotated, head_dim, stride, 10_000.0).await.unwrap();
            let mut leading: Vec<f32> = x.chunks(stride).flat_map(|r| r[..rotated * head_dim].to_vec()).collect();
            ops::rope(&mut leading, rotated, head_dim, 10_000.0);
            for (pos, row) in actual.chunks(stride).enumerate() {
                let what = format!("rope position {pos}");
                assert_close(
                    &row[..rotated * head_dim],
                    &leading[pos * rotated * head_dim..][..rotated * head_dim],
                    5e-6,
                    1e-5,
                    &what,
                );
                assert_eq!(&row[rotated * head_dim..], &x[pos * stride + rotated * head_dim..][..stride - rotated * head_dim]);
            }
        }
    }
}

both! {
    async fn attention_matches_on_odd_lengths_and_head_groupings() {
        let mut rng = Rng(6);
        let kinds = [AttentionKind::Bidirectional, AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 8 }];
        for (seq, heads, kv_heads, head_dim) in
            [(1, 2, 1, 16), (33, 4, 2, 16), (100, 4, 2, 64), (70, 3, 1, 32), (5, 2, 2, 128)]
        {
            let (q_w, kv_w) = (heads * head_dim, kv_heads * head_dim);
            let qkv = rng.uniform(seq * (q_w + 2 * kv_w), 2.0);
            let split = |from: usize, width: usize| -> Vec<f32> {
                qkv.chunks(q_w + 2 * kv_w).flat_map(|r| r[from..from + width].to_vec()).collect()
            };
            let shape = AttentionShape { seq, heads, kv_heads, head_dim };
            let (q, k, v) = (split(0, q_w), split(q_w, kv_w), split(q_w + kv_w, kv_w));
            for kind in kinds {
                let expected = ops::attention(&q, &k, &v, &vec![true; seq], &vec![false; seq], kind, shape);
                // Only the rows from `first` on are computed (the engine keeps the others from an earlier pass).
                let first = seq / 3;
                for ops_gpu in runners(head_dim).await.iter() {
                    let actual = ops_gpu.attention(&qkv, (heads, kv_heads, head_dim), kind, first).await.unwrap();
                    let what = format!("attention {kind:?} seq {seq} heads {heads}/{kv_heads} d {head_dim}");
                    assert!(actual[..first * q_w].iter().all(|&x| x == 0.0), "{what}: rows before {first} written");
                    assert_close(&actual[first * q_w..], &expected[first * q_w..], 5e-5, 5e-4, &what);
                }
            }
        }
    }
}

both! {
    /// masks_see_block: token rows attend causally, mask rows to their whole block, with masks scattered so
    /// that the kernels' query blocks mix both kinds of rows.
    async fn masked_attention_matches() {
        let mut rng = Rng(9);
        let kind = AttentionKind::MasksSeeBlock { block_size: 8 };
        for (seq, heads, kv_heads, head_dim) in [(33, 4, 2, 16), (100, 4, 2, 64), (70, 3, 1, 32)] {
            let (q_w, kv_w) = (heads * head_dim, kv_heads * head_dim);
            let qkv = rng.uniform(seq * (q_w + 2 * kv_w), 2.0);
            let split = |from: usize, width: usize| -> Vec<f32> {
                qkv.chunks(q_w + 2 * kv_w).flat_map(|r| r[from..from + width].to_vec()).collect()
            };
            let shape = AttentionShape { seq, heads, kv_heads, head_dim };
            let (q, k, v) = (split(0, q_w), split(q_w, kv_w), split(q_w + kv_w, kv_w));
            let is_mask: Vec<bool> = (0..seq).map(|i| i > seq / 4 && rng.below(3) != 0).collect();
            let expected = ops::attention(&q, &k, &v, &vec![true; seq], &is_mask, kind, shape);
            let first = seq / 5;
            for ops_gpu in runners(head_dim).await.iter() {
                let dims = (heads, kv_heads, head_dim);
                let actual = ops_gpu.attention_masked(&qkv, dims, kind, first, &is_mask).await.unwrap();
                let what = format!("attention {kind:?} seq {seq} heads {heads}/{kv_heads} d {head_dim}");
                assert_close(&actual[first * q_w..], &expected[first * q_w..], 5e-5, 5e-4, &what);
            }
        }
    }
}

both! {
    /// A batch: canvases of different lengths stacked in one buffer, each row attending within its own canvas
    /// exactly as that canvas alone (lengths that end inside and across the kernels' query blocks).
    async fn stacked_canvases_attend_within_themselves() {
        let mut rng = Rng(11);
        let (heads, kv_heads, head_dim) = (4, 2, 16);
        let width = (heads + 2 * kv_heads) * head_dim;
        let q_w = heads * head_dim;
        let lens = [5, 1, 70, 16, 33];
        let kinds = [AttentionKind::Bidirectional, AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 8 }];
        let qkv = rng.uniform(lens.iter().sum::<usize>() * width, 2.0);
        for kind in kinds {
            for ops_gpu in runners(head_dim).await.iter() {
                let stacked =
                    ops_gpu.attention_stacked(&qkv, (heads, kv_heads, head_dim), kind, 0, &lens).await.unwrap();
                let mut start = 0;
                for (b, &len) in lens.iter().enumerate() {
                    let own = &qkv[start * width..(start + len) * width];
                    let alone = ops_gpu.attention(own, (heads, kv_heads, head_dim), kind, 0).await.unwrap();
                    let got = &stacked[start * q_w..(start + len) * q_w];
                    assert_close(got, &alone, 1e-6, 1e-6, &format!("attention {kind:?}, canvas {b} of {lens:?}"));
                    start += len;
                }
            }
        }
    }
}

both! {
    async fn swiglu_matches() {
        for ops_gpu in runners(16).await.iter() {
            let mut rng = Rng(7);
            let (rows, width) = (5, 77);
            let gate_up = rng.uniform(rows * 2 * width, 4.0);
            let (gate, up): (Vec<f32>, Vec<f32>) = gate_up
                .chunks(2 * width)
                .map(|r| (r[..width].to_vec(), r[width..].to_vec()))
                .fold((vec![], vec![]), |(mut g, mut u), (a, b)| {
                    g.extend(a);
                    u.extend(b);
                    (g, u)
                });
            let actual = ops_gpu.swiglu(&gate_up, width).await.unwrap();
            assert_close(&actual, &ops::swiglu(&gate, &up), 1e-6, 1e-5, "swiglu");
        }
    }
}

fn rules(mask: u32) -> Vec<ProposalRule> {
    let sample = |temperature, top_p, top_k| TokenDraw::Sample { temperature, top_p, top_k };
    let mut rules = Vec::new();
    for score in [ScoreKind::Probability, ScoreKind::Margin, ScoreKind::NegEntropy, ScoreKind::Random] {
        rules.push(ProposalRule { draw: sample(0.0, 1.0, 0), score, mask_token: mask });
    }
    for draw in [
        sample(0.7, 0.9, 20),
        sample(1.0, 1.0, 0),
        sample(0.5, 0.5, 0),
        sample(1.3, 1.0, 3),
        sample(0.0, 0.8, 5),
        TokenDraw::Gumbel { temperature: 0.0 },
        TokenDraw::Gumbel { temperature: 0.8 },
    ] {
        rules.push(ProposalRule { draw, score: ScoreKind::Probability, mask_token: mask });
        rules.push(ProposalRule { draw, score: ScoreKind::NegEntropy, mask_token: mask });
    }
    rules
}

/// Tokens must match; scores to 1e-4 (f32 vs f64); candidates as `unmask_sampler::candidates` lists them.
async fn check_proposals(logits: &[f32], vocab: usize, positions: &[u32], what: &str) {
    for ops_gpu in runners(16).await.iter() {
        for rule in rules(3) {
            for step in [0, 7] {
                let key = StepKey { seed: 0x1_2345_6789, step };
                let actual = ops_gpu.propose(logits, positions, &rule, key).await.unwrap();
                for (row, (&position, got)) in positions.iter().zip(&actual).enumerate() {
                    let l = &logits[row * vocab..][..vocab];
                    let expected = propose_from_logits(l, position, &rule, key);
                    let case = format!("{what}: {rule:?} step {step} row {row}");
                    assert_eq!(got.proposal.token, expected.token, "{case}: token");
                    assert!(
                        (got.proposal.score - expected.score).abs() < 1e-4,
                        "{case}: score {} vs {}",
                        got.proposal.score,
                        expected.score
                    );
                    assert!(!got.candidates.iter().any(|c| c.0 == 3), "{case}: the mask token is never a candidate");
                    assert!(got.candidates.windows(2).all(|w| w[0].1 >= w[1].1), "{case}: candidates by probability");
                    let reference = candidates(l, &rule, 5);
                    assert_eq!(got.candidates.len(), reference.len(), "{case}: candidate count");
                    for (c, r) in got.candidates.iter().zip(&reference) {
                        assert_eq!(c.0, r.0, "{case}: candidate order");
                        assert!((c.1 - r.1).abs() < 1e-5, "{case}: candidate probability {} vs {}", c.1, r.1);
                    }
                }
            }
        }
    }
}

both! {
    async fn proposals_match_the_sampler_reference() {
        let mut rng = Rng(8);
        for vocab in [37, 1000, 4096] {
            let positions: Vec<u32> = vec![0, 5, 9, 200];
            let logits = rng.uniform(positions.len() * vocab, 6.0);
            check_proposals(&logits, vocab, &positions, &format!("vocab {vocab}")).await;
        }
    }
}

both! {
    async fn proposals_break_ties_like_the_reference() {
        // Logits on a coarse grid: many exact ties, so nucleus and top-k boundaries fall inside tie groups.
        let mut rng = Rng(9);
        let vocab = 300;
        let positions: Vec<u32> = (0..6).collect();
        let logits: Vec<f32> = rng.uniform(positions.len() * vocab, 3.0).iter().map(|x| (x * 2.0).round() / 2.0).collect();
        check_proposals(&logits, vocab, &positions, "tied logits").await;
    }
}
