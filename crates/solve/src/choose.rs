//! From judged candidates to answers: the survivors (parsed, gave every stated example) grouped by their
//! outputs on the derived inputs, largest group first, and the first member of each group as its answer. The
//! CLI and the page both choose through [`choose`], so they pick the same sample from the same outcomes.

use crate::cluster::clusters;
use crate::job::Outcome;

/// What [`choose`] decided about a set of candidates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Choice {
    /// The survivors' groups as candidate indices, largest first (ties: the group seen first leads).
    pub groups: Vec<Vec<usize>>,
    /// For each candidate, the rank of its group; `None` for one that did not survive.
    pub group_of: Vec<Option<usize>>,
    /// Up to `keep` answers, best first: the first member of each of the largest groups, or, when nothing
    /// survived, the candidate that came closest ([`closest`]).
    pub chosen: Vec<usize>,
}

impl Choice {
    /// How many candidates survived the examples.
    pub fn survivors(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }
}

/// Groups the survivors among `outcomes` (one per candidate, in candidate order) and picks up to `keep`.
pub fn choose(outcomes: &[Outcome], keep: usize) -> Choice {
    let survivors: Vec<usize> = (0..outcomes.len()).filter(|&i| outcomes[i].passed()).collect();
    let behaviours: Vec<Vec<&str>> =
        survivors.iter().map(|&i| outcomes[i].probes.iter().map(String::as_str).collect()).collect();
    let groups: Vec<Vec<usize>> = clusters(&behaviours)
        .into_iter()
        .map(|cluster| cluster.members.into_iter().map(|m| survivors[m]).collect())
        .collect();
    let mut group_of = vec![None; outcomes.len()];
    for (rank, group) in groups.iter().enumerate() {
        for &member in group {
            group_of[member] = Some(rank);
        }
    }
    let chosen = if groups.is_empty() {
        closest(outcomes).into_iter().collect()
    } else {
        groups.iter().take(keep).map(|g| g[0]).collect()
    };
    Choice { groups, group_of, chosen }
}

/// With no survivor: the candidate that passed the most examples among those that parse (the earliest of
/// equals), else the first candidate; `None` only when there are none.
pub fn closest(outcomes: &[Outcome]) -> Option<usize> {
    let passed = |o: &Outcome| o.examples.iter().filter(|e| e.passed).count();
    (0..outcomes.len())
        .filter(|&i| outcomes[i].parses)
        .max_by_key(|&i| (passed(&outcomes[i]), std::cmp::Reverse(i)))
        .or((!outcomes.is_empty()).then_some(0))
}

/// The program the sandbox runs for one sample: the prompt as the sample left it (its holes filled, for an
/// infilling prompt) followed by the completion's function body ([`function_only`]).
pub fn program(filled_prompt: &str, completion: &str) -> String {
    format!("{filled_prompt}{}", function_only(completion))
}

/// The completion up to its first non-blank line that starts at column 0 (not a comment): the function body,
/// without code the model wrote after it. This is what the sandbox runs.
pub fn function_only(completion: &str) -> &str {
    let mut at = 0;
    for line in completion.split_inclusive('\n') {
        let code = !line.trim().is_empty() && !line.starts_with([' ', '\t', '#']);
        if code && at > 0 {
            return &completion[..at];
        }
        at += line.len();
    }
    completion
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{ErrorKind, ExampleOutcome};

    fn passing(probes: &[&str]) -> Outcome {
        Outcome {
            parses: true,
            examples: vec![ExampleOutcome { passed: true, got: "4".into() }],
            probes: probes.iter().map(|p| p.to_string()).collect(),
            ..Outcome::default()
        }
    }

    fn failing(parses: bool, passed: usize) -> Outcome {
        let examples = (0..3).map(|i| ExampleOutcome { passed: i < passed, got: "0".into() }).collect();
        let error = Some(if parses { ErrorKind::WrongAnswer } else { ErrorKind::Syntax });
        Outcome { parses, error, examples, ..Outcome::default() }
    }

    #[test]
    fn survivors_group_by_behaviour_and_the_largest_group_answers() {
        // Candidates 1 and 4 double on the derived inputs, 3 squares, 0 and 2 fail the examples.
        let outcomes =
            [failing(true, 1), passing(&["6", "10"]), failing(false, 0), passing(&["9", "25"]), passing(&["6", "10"])];
        let choice = choose(&outcomes, 2);
        assert_eq!(choice.groups, vec![vec![1, 4], vec![3]]);
        assert_eq!(choice.group_of, vec![None, Some(0), None, Some(1), Some(0)]);
        assert_eq!(choice.chosen, vec![1, 3]);
        assert_eq!(choice.survivors(), 3);
        assert_eq!(choose(&outcomes, 1).chosen, vec![1]);
    }

    #[test]
    fn without_survivors_the_closest_parsing_candidate_is_chosen() {
        let outcomes = [failing(false, 0), failing(true, 1), failing(true, 2), failing(true, 2)];
        let choice = choose(&outcomes, 3);
        assert!(choice.groups.is_empty() && choice.group_of.iter().all(Option::is_none));
        assert_eq!(choice.chosen, vec![2], "most examples passed, the earliest of equals");
        assert_eq!(choose(&[failing(false, 0), failing(false, 0)], 1).chosen, vec![0]);
        assert_eq!(choose(&[], 1), Choice::default());
    }

    #[test]
    fn code_after_the_function_is_cut() {
        assert_eq!(function_only("    return x\n\nprint(f(1))\n"), "    return x\n\n");
        assert_eq!(function_only("    return x\n# done\n    \n"), "    return x\n# done\n    \n");
        assert_eq!(function_only("x = 1\n"), "x = 1\n");
        assert_eq!(program("def f(x):\n    return x + 1\n", "\nf(2)\n"), "def f(x):\n    return x + 1\n\n");
    }
}
