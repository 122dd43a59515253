//! The shaders' parameter blocks, field for field as each WGSL file declares its `Params` (all 4-byte scalars,
//! so `#[repr(C)]` gives WGSL's uniform layout). `Tiles` (`kernels.rs`) fills them; the engine and the kernels'
//! tests upload them through [`Dispatch`](crate::kernels::Dispatch), one 64-byte uniform slot per dispatch.

use bytemuck::{Pod, Zeroable};

/// Bytes of one dispatch's uniform slot; every block fits (checked at compile time by [`slot`]).
pub(crate) const PARAM_BYTES: usize = 64;

/// A block in its uniform slot, zero-padded.
pub(crate) fn slot<P: Pod>(params: P) -> [u32; PARAM_BYTES / 4] {
    const { assert!(size_of::<P>() <= PARAM_BYTES && size_of::<P>().is_multiple_of(4)) };
    let mut words = [0u32; PARAM_BYTES / 4];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..size_of::<P>()].copy_from_slice(bytemuck::bytes_of(&params));
    words
}

/// matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub group_size: u32,
    pub x_stride: u32,
    pub y_stride: u32,
    pub y_offset: u32,
    /// [`ADD_BIAS`] | [`ACCUMULATE`].
    pub flags: u32,
    /// Floats before x's first row: where a cached step's rows start (a multiple of 4).
    pub x_offset: u32,
    /// Where the bias of output column 0 is: the chunk's first weight row (`y_offset` also holds the step's
    /// first row, which the bias must not follow).
    pub bias_offset: u32,
}

/// Matmul flags: add the bias row; accumulate into y (the residual connection).
pub(crate) const ADD_BIAS: u32 = 1;
pub(crate) const ACCUMULATE: u32 = 2;

/// embed.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct EmbedParams {
    pub seq: u32,
    pub width: u32,
    pub first_row: u32,
    /// Rows in this dispatch's part of the embedding.
    pub n: u32,
    pub group_size: u32,
    /// Tokens before this one are left as they are (a cached step).
    pub first: u32,
}

/// rms_norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct RmsNormParams {
    pub rows: u32,
    pub width: u32,
    pub eps: f32,
    /// 1: normalize the rows listed in `rows` (the head's rows), 0: rows 0.. in order.
    pub gather: u32,
    /// Without gather: rows before this one are left as they are; `rows` counts those after it.
    pub first: u32,
}

/// rope.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct RopeParams {
    pub seq: u32,
    pub heads: u32,
    pub head_dim: u32,
    pub row_stride: u32,
    /// Rows before this one are left as they are.
    pub first: u32,
}

/// attention.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct AttentionParams {
    pub seq: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub qkv_stride: u32,
    pub out_stride: u32,
    pub scale: f32,
    /// The first query row computed.
    pub first: u32,
    /// `AttentionKind::kernel_block` of token rows and of mask rows: 0 bidirectional, 1 causal, b block-causal.
    pub block: u32,
    pub mask_block: u32,
}

/// swiglu.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct SwigluParams {
    /// Rows from `first` on.
    pub rows: u32,
    pub width: u32,
    pub first: u32,
}

/// mask_rows.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MaskRowsParams {
    pub seq: u32,
    pub first: u32,
    pub width: u32,
    /// [`ZERO_TOKEN_ROWS`] or [`FILL_MASK_ROWS`].
    pub mode: u32,
}

/// mask_rows.wgsl's modes: zero the rows that are not masks; write the vector over the rows that are.
pub(crate) const ZERO_TOKEN_ROWS: u32 = 0;
pub(crate) const FILL_MASK_ROWS: u32 = 1;

/// propose.wgsl: the rows of one dispatch and the rule.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct ProposeParams {
    pub vocab: u32,
    pub rows: u32,
    pub first_row: u32,
    pub rule: RuleParams,
}

/// propose.wgsl's rule, from `draw` to `mask_token` (the same for every row of a dispatch).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct RuleParams {
    /// 0: Dream's sampling (temperature, top-p, top-k); 1: LLaDA's Gumbel-max.
    pub draw: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    /// 0: probability; 1: top-1 − top-2 margin; 2: Σ p ln p; 3: uniform random.
    pub score: u32,
    pub mask_token: u32,
}

/// propose.wgsl's `RowKey`: what keys one row's randomness (its canvas position and its canvas's step key).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct RowKey {
    pub position: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub step: u32,
}

/// rope.wgsl's and attention.wgsl's `rows`: where one row of the stacked canvases sits in its own canvas.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct CanvasRow {
    /// Its position in its canvas.
    pub position: u32,
    /// The row its canvas starts at, and that canvas's length.
    pub start: u32,
    pub len: u32,
    /// 1 where the row holds the mask token (masks_see_block attends and mask-gated adapters act by it).
    pub is_mask: u32,
}

impl CanvasRow {
    /// The rows of `canvases` stacked one after another, mask rows flagged.
    pub fn stacked(canvases: &[&[u32]], mask: u32) -> Vec<CanvasRow> {
        let mut rows = Vec::new();
        for canvas in canvases {
            let (start, len) = (rows.len() as u32, canvas.len() as u32);
            rows.extend(canvas.iter().zip(0..).map(|(&token, position)| CanvasRow {
                position,
                start,
                len,
                is_mask: u32::from(token == mask),
            }));
        }
        rows
    }

    /// Canvases of `lens` rows stacked one after another, none flagged as a mask.
    pub fn of_lens(lens: impl IntoIterator<Item = usize>) -> Vec<CanvasRow> {
        let canvases: Vec<Vec<u32>> = lens.into_iter().map(|len| vec![0; len]).collect();
        let canvases: Vec<&[u32]> = canvases.iter().map(Vec::as_slice).collect();
        CanvasRow::stacked(&canvases, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_fills_its_slot_in_declaration_order() {
        let words = slot(RmsNormParams { rows: 3, width: 64, eps: 1e-6, gather: 1, first: 2 });
        assert_eq!(words[..5], [3, 64, 1e-6f32.to_bits(), 1, 2]);
        assert!(words[5..].iter().all(|&w| w == 0));
        let rule = RuleParams { mask_token: 7, ..Zeroable::zeroed() };
        let words = slot(ProposeParams { vocab: 9, rows: 2, first_row: 1, rule });
        assert_eq!((words[0], words[1], words[2], words[8]), (9, 2, 1, 7));
    }

    #[test]
    fn stacked_canvases_number_their_rows_from_their_own_start() {
        let rows = CanvasRow::stacked(&[&[5, 9], &[9, 4, 9]], 9);
        let row = |position, start, len, is_mask| CanvasRow { position, start, len, is_mask };
        assert_eq!(rows, [row(0, 0, 2, 0), row(1, 0, 2, 1), row(0, 2, 3, 1), row(1, 2, 3, 0), row(2, 2, 3, 1)]);
    }
}
