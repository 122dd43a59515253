//! Which keys a query may attend to. Every engine and kernel asks this one type, so the four kinds mean the
//! same thing everywhere.

use serde::{Deserialize, Serialize};

/// The attention mask of a decoder, named in `config.json` as `attention` (and `block_size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttentionKind {
    /// Every position sees every position (Dream, DiffuCoder, LLaDA): the default.
    #[default]
    Bidirectional,
    /// Position `i` sees positions `0..=i`: an autoregressive model run as it was trained.
    Causal,
    /// Positions are cut into blocks of `block_size`; a position sees its own block whole and every earlier
    /// block (block diffusion: bidirectional inside a block, causal across blocks).
    BlockCausal { block_size: usize },
    /// Mask-gated adaptation of a causal model: a position holding a token sees `0..=i` as the causal model
    /// did; a mask position sees every earlier block and its own block whole, so it can read tokens already
    /// written to its right. Blocks of `block_size` are counted from position 0.
    MasksSeeBlock { block_size: usize },
}

impl AttentionKind {
    /// Parses `config.json`'s `attention` value; `block_size` is required by, and only read for,
    /// `block_causal` and `masks_see_block`.
    pub fn parse(name: &str, block_size: Option<usize>) -> Result<Self, String> {
        match (name, block_size) {
            ("bidirectional", _) => Ok(Self::Bidirectional),
            ("causal", _) => Ok(Self::Causal),
            ("block_causal" | "masks_see_block", Some(0)) => Err("`block_size` must be positive".into()),
            ("block_causal", Some(block_size)) => Ok(Self::BlockCausal { block_size }),
            ("masks_see_block", Some(block_size)) => Ok(Self::MasksSeeBlock { block_size }),
            (kind @ ("block_causal" | "masks_see_block"), None) => {
                Err(format!("`attention: {kind}` needs a `block_size`"))
            }
            (other, _) => Err(format!(
                "`attention` is `{other}` (expected bidirectional, causal, block_causal or masks_see_block)"
            )),
        }
    }

    /// The name `config.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bidirectional => "bidirectional",
            Self::Causal => "causal",
            Self::BlockCausal { .. } => "block_causal",
            Self::MasksSeeBlock { .. } => "masks_see_block",
        }
    }

    /// The block size of the kinds that have blocks.
    pub fn block_size(self) -> Option<usize> {
        match self {
            Self::BlockCausal { block_size } | Self::MasksSeeBlock { block_size } => Some(block_size),
            Self::Bidirectional | Self::Causal => None,
        }
    }

    /// Whether which keys a query sees depends on whether the query is a mask.
    pub fn depends_on_masks(self) -> bool {
        matches!(self, Self::MasksSeeBlock { .. })
    }

    /// The block size as the kernels take it for a query that is (`query_is_mask`) or is not a mask: 0 for
    /// bidirectional (no limit), 1 for causal, `b` for block-causal. A query at `i` then sees keys
    /// `0 .. (i / b + 1) · b` (all keys when 0).
    pub fn kernel_block(self, query_is_mask: bool) -> u32 {
        match self {
            Self::Bidirectional => 0,
            Self::Causal => 1,
            Self::MasksSeeBlock { .. } if !query_is_mask => 1,
            Self::BlockCausal { block_size } | Self::MasksSeeBlock { block_size } => {
                u32::try_from(block_size).unwrap_or(u32::MAX)
            }
        }
    }

    /// One past the last key that the query at `query` sees, in a canvas of `seq` positions; `query_is_mask`
    /// says whether the query holds the mask token (only `masks_see_block` asks).
    pub fn key_end(self, query: usize, seq: usize, query_is_mask: bool) -> usize {
        match self.kernel_block(query_is_mask) as usize {
            0 => seq,
            block => ((query / block + 1).saturating_mul(block)).min(seq),
        }
    }

    /// Whether the hidden states of a position depend only on earlier blocks and its own: then the rows
    /// before a block boundary can be kept from one pass to the next while the tokens before it are unchanged.
    pub fn is_prefix_stable(self) -> bool {
        self != Self::Bidirectional
    }

    /// Given that the first `unchanged` positions of `canvas` equal those of the previous pass, how many leading
    /// rows of that pass (keys, values and outputs of every layer) are still exact: `unchanged` rounded down
    /// to a block boundary, and 0 for bidirectional attention, where every row sees every token. Under
    /// `masks_see_block` a token row after that boundary sees only earlier positions, so the rows are exact up
    /// to the first mask after the boundary (a mask row sees its whole block, which changed).
    pub fn reusable_rows(self, canvas: &[u32], unchanged: usize, mask: u32) -> usize {
        let unchanged = unchanged.min(canvas.len());
        match self.kernel_block(true) as usize {
            0 => 0,
            block => {
                let boundary = unchanged / block * block;
                match self {
                    Self::MasksSeeBlock { .. } => {
                        canvas[boundary..unchanged].iter().position(|&t| t == mask).map_or(unchanged, |i| boundary + i)
                    }
                    _ => boundary,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ends_by_hand() {
        let seq = 10;
        let ends = |kind: AttentionKind| (0..seq).map(|q| kind.key_end(q, seq, false)).collect::<Vec<_>>();
        assert_eq!(ends(AttentionKind::Bidirectional), vec![10; 10]);
        assert_eq!(ends(AttentionKind::Causal), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(ends(AttentionKind::BlockCausal { block_size: 4 }), vec![4, 4, 4, 4, 8, 8, 8, 8, 10, 10]);
        // Tokens see causally, masks their whole block.
        let gated = AttentionKind::MasksSeeBlock { block_size: 4 };
        assert_eq!(ends(gated), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            (0..seq).map(|q| gated.key_end(q, seq, true)).collect::<Vec<_>>(),
            vec![4, 4, 4, 4, 8, 8, 8, 8, 10, 10]
        );
        assert_eq!(AttentionKind::BlockCausal { block_size: 4 }.key_end(5, seq, true), 8);
    }

    #[test]
    fn reusable_rows_stop_at_a_block_boundary() {
        let (mask, canvas) = (1, [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 1, 1]);
        assert_eq!(AttentionKind::Bidirectional.reusable_rows(&canvas, 9, mask), 0);
        assert_eq!(AttentionKind::Causal.reusable_rows(&canvas, 9, mask), 9);
        assert_eq!(AttentionKind::BlockCausal { block_size: 4 }.reusable_rows(&canvas, 9, mask), 8);
        assert_eq!(AttentionKind::BlockCausal { block_size: 4 }.reusable_rows(&canvas, 3, mask), 0);
        // Token rows see causally: all nine are exact.
        let gated = AttentionKind::MasksSeeBlock { block_size: 4 };
        assert_eq!(gated.reusable_rows(&canvas, 9, mask), 9);
        // A mask after the boundary saw its changed block: reuse stops there; one before it saw only unchanged
        // positions (its block ends at the boundary).
        assert_eq!(gated.reusable_rows(&[7, 7, 7, 7, 7, 7, 7, 7, 7, 1, 7, 7], 11, mask), 9);
        assert_eq!(gated.reusable_rows(&[7, 7, 7, 7, 7, 7, 7, 7, 1, 7, 7, 7], 11, mask), 8);
        assert_eq!(gated.reusable_rows(&[7, 7, 7, 7, 7, 7, 1, 7, 7, 7], 9, mask), 9);
        assert_eq!(gated.reusable_rows(&[7, 7], 9, mask), 2);
    }

    #[test]
    fn parses_config_names() {
        assert_eq!(AttentionKind::parse("causal", None), Ok(AttentionKind::Causal));
        assert_eq!(AttentionKind::parse("block_causal", Some(8)), Ok(AttentionKind::BlockCausal { block_size: 8 }));
        assert!(AttentionKind::parse("block_causal", None).unwrap_err().contains("needs a `block_size`"));
        assert!(AttentionKind::parse("block_causal", Some(0)).unwrap_err().contains("positive"));
        assert_eq!(
            AttentionKind::parse("masks_see_block", Some(16)),
            Ok(AttentionKind::MasksSeeBlock { block_size: 16 })
        );
        assert!(AttentionKind::parse("masks_see_block", None).unwrap_err().contains("needs a `block_size`"));
        assert!(AttentionKind::parse("sliding", None).unwrap_err().contains("`sliding`"));
    }
}
