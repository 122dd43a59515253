//! Grouping candidates by behaviour: two candidates that give the same outputs on the same inputs are taken
//! for the same program, and the largest group is the most likely correct one (AlphaCode's clustering).

use std::collections::HashMap;

/// Candidates (their indices in the input) that behaved identically, in increasing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub members: Vec<usize>,
}

/// Groups `behaviours` (one per candidate: its output on each input, in the same order for all; an error is
/// an output like any other, e.g. `"raised ValueError"`) by equality. Largest group first; equal sizes in the
/// order of their first member, so the result does not depend on hashing.
pub fn clusters<T: AsRef<str>>(behaviours: &[Vec<T>]) -> Vec<Cluster> {
    let mut by_behaviour: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut groups: Vec<Cluster> = Vec::new();
    for (candidate, outputs) in behaviours.iter().enumerate() {
        let key: Vec<&str> = outputs.iter().map(AsRef::as_ref).collect();
        let group = *by_behaviour.entry(key).or_insert_with(|| {
            groups.push(Cluster { members: Vec::new() });
            groups.len() - 1
        });
        groups[group].members.push(candidate);
    }
    groups.sort_by(|a, b| b.members.len().cmp(&a.members.len()).then(a.members[0].cmp(&b.members[0])));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_with_the_same_outputs_group_and_the_largest_group_leads() {
        // Three ways of doubling, two of squaring, one that raises: outputs on inputs 0, 1, 3.
        let double = vec!["0", "2", "6"];
        let square = vec!["0", "1", "9"];
        let raises = vec!["raised TypeError", "raised TypeError", "raised TypeError"];
        let behaviours = [square.clone(), double.clone(), raises, double.clone(), square, double];
        let got = clusters(&behaviours);
        assert_eq!(
            got,
            vec![Cluster { members: vec![1, 3, 5] }, Cluster { members: vec![0, 4] }, Cluster { members: vec![2] }]
        );
    }

    #[test]
    fn ties_keep_the_order_of_first_appearance_and_nothing_gives_nothing() {
        let got = clusters(&[vec!["b"], vec!["a"], vec!["a"], vec!["b"]]);
        assert_eq!(got, vec![Cluster { members: vec![0, 3] }, Cluster { members: vec![1, 2] }]);
        assert!(clusters::<&str>(&[]).is_empty());
    }
}
