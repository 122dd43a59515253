//! A model owns every buffer it allocates: loading adds them to `live_buffers`, steps add none for good, and
//! dropping the model gives them all back. (Alone in its binary: the count is the process's.)

mod common;

use common::{config, gpu};
use unmask_gpu::{GpuModel, GpuOptions, live_buffers};
use unmask_model::{Architecture, AttentionKind, ModelConfig, Weights};
use unmask_sampler::{ProposalRule, ScoreKind, StepKey, TokenDraw};

both! {
    async fn a_model_owns_its_buffers_and_gives_them_back() {
        let c = ModelConfig {
            model_type: "llama".into(),
            architecture: Architecture::Llama,
            qkv_bias: false,
            attention: AttentionKind::Causal,
            ..config(64, 2, 4, 2, 128, 256)
        };
        let weights = Weights::random(&c, 5);
        let rule = ProposalRule {
            draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
            score: ScoreKind::Probability,
            mask_token: c.mask_token_id,
        };
        let gpu = gpu().await;
        let before = live_buffers();
        for round in 0..2 {
            let options = GpuOptions { max_len: 32, kv_cache: true, ..GpuOptions::default() };
            let model = GpuModel::load(gpu.clone(), &c, &weights, options).await.unwrap();
            let loaded = live_buffers() - before;
            // Per layer two norms and four matrices, plus the embedding, the final norm, one q|k|v cache per
            // layer, nine scratch buffers, six for the canvas and proposals, one for the dispatch parameters.
            let least = 2 * 6 + 2 + 2 + 9 + 6 + 1;
            assert!(loaded >= least, "round {round}: {loaded} buffers counted after loading, expected at least {least}");
            let mut canvas: Vec<u32> = (0..6).collect();
            canvas.extend([c.mask_token_id; 10]);
            for step in 0..4u32 {
                let masked: Vec<u32> = (6 + step..16).collect();
                model.propose_with_candidates(&canvas, &masked, &rule, StepKey { seed: 1, step }).await.unwrap();
                canvas[(6 + step) as usize] = step;
            }
            model.logits(&canvas).await.unwrap();
            assert_eq!(live_buffers() - before, loaded, "round {round}: steps and logits keep no buffer");
            drop(model);
            assert_eq!(live_buffers(), before, "round {round}: dropping the model gives every buffer back");
        }
    }
}
