//! Decode-order metrics (SAMPLING.md §9): how left-to-right a finished decode was, after DiffuCoder's
//! local and global "AR-ness".

use unmask_model::trace::{ArNess, TraceStep};

/// The committed positions in decode order: steps in order, inside a step by increasing position. A draft
/// corrected later (`verify_drafts`) counts where it was first committed.
pub fn decode_order(steps: &[TraceStep]) -> Vec<u32> {
    let mut seen = std::collections::HashSet::new();
    steps.iter().flat_map(|s| s.commits.iter().map(|c| c.position)).filter(|&q| seen.insert(q)).collect()
}

/// Fraction of commits `i > k` whose last `k` commits each continued a left-to-right run (1 when `n ≤ k`).
pub fn local_ar_ness(order: &[u32], k: usize) -> f64 {
    let n = order.len();
    if n <= k {
        return 1.0;
    }
    let continues: Vec<bool> = order.windows(2).map(|w| w[1] == w[0] + 1).collect();
    // continues[j - 1] says whether commit j continued commit j - 1 (0-based j ≥ 1).
    let hits = (k..n).filter(|&i| continues[i - k..i].iter().all(|&c| c)).count();
    hits as f64 / (n - k) as f64
}

/// Fraction of commits that took one of the `k` leftmost positions still masked at that moment.
/// `initially_masked` are the masked positions before the first step, in increasing order.
pub fn global_ar_ness(order: &[u32], initially_masked: &[u32], k: usize) -> f64 {
    if order.is_empty() {
        return 1.0;
    }
    let mut still_masked: Vec<u32> = initially_masked.to_vec();
    let mut hits = 0;
    for &position in order {
        let rank = still_masked.iter().position(|&q| q == position).expect("committed position was masked");
        if rank < k {
            hits += 1;
        }
        still_masked.remove(rank);
    }
    hits as f64 / order.len() as f64
}

/// Local and global AR-ness at k = 1 and 2 of a decode that started from `initial` (masks = `mask_token`).
pub fn ar_ness(initial: &[u32], mask_token: u32, steps: &[TraceStep]) -> ArNess {
    let order = decode_order(steps);
    let masked: Vec<u32> = (0..initial.len() as u32).filter(|&q| initial[q as usize] == mask_token).collect();
    ArNess {
        local_1: local_ar_ness(&order, 1),
        local_2: local_ar_ness(&order, 2),
        global_1: global_ar_ness(&order, &masked, 1),
        global_2: global_ar_ness(&order, &masked, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_to_right_scores_one() {
        let order = [3, 4, 5, 6];
        assert_eq!(local_ar_ness(&order, 1), 1.0);
        assert_eq!(local_ar_ness(&order, 2), 1.0);
        assert_eq!(global_ar_ness(&order, &order, 1), 1.0);
    }

    #[test]
    fn hand_worked_example() {
        // Masks at 0..4, decoded in the order 3, 0, 1, 2.
        // local@1: commits 2..4 continue? 0 after 3: no; 1 after 0: yes; 2 after 1: yes → 2/3.
        // local@2: commits 3..4 with both previous steps continuing: commit 4 (2 after 1 after 0) → 1/2.
        // global@1: 3 is not leftmost (0 is); then 0, 1, 2 are → 3/4. global@2: 3 is rank 3 → 3/4.
        let order = [3, 0, 1, 2];
        let masked = [0, 1, 2, 3];
        assert!((local_ar_ness(&order, 1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((local_ar_ness(&order, 2) - 0.5).abs() < 1e-12);
        assert_eq!(global_ar_ness(&order, &masked, 1), 0.75);
        assert_eq!(global_ar_ness(&order, &masked, 2), 0.75);
        assert_eq!(global_ar_ness(&order, &masked, 4), 1.0);
    }
}
