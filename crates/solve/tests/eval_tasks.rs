//! The examples of the project's evaluation tasks (tools/train/eval_tasks), whose doctests Python's own
//! `doctest` module runs in `validate.py`: every one is found, with the output Python checks.

use unmask_solve::{Form, entry_point, examples, variants};

#[test]
fn every_doctest_of_the_evaluation_tasks_is_found() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/train/eval_tasks/tasks.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut tasks, mut found, mut derived) = (0, 0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let task: serde_json::Value = serde_json::from_str(line).unwrap();
        let prompt = task["prompt"].as_str().unwrap();
        let name = entry_point(prompt).unwrap();
        assert_eq!(name, task["entry_point"].as_str().unwrap());
        let stated = prompt.lines().filter(|l| l.trim_start().starts_with(">>>")).count();
        let got = examples(prompt);
        assert_eq!(got.len(), stated, "{name}: {got:?}");
        for example in &got {
            assert_eq!(example.form, Form::Doctest);
            assert!(example.call.contains(&format!("{name}(")), "{name}: {}", example.call);
            assert!(!example.expected.is_empty());
        }
        let calls: Vec<&str> = got.iter().map(|e| e.call.as_str()).collect();
        derived += variants(&calls, &name, 12).len();
        tasks += 1;
        found += got.len();
    }
    assert!(tasks >= 100, "{tasks} tasks");
    assert_eq!(found, 246, "the doctest examples validate.py counts");
    assert!(derived > 5 * tasks, "only {derived} derived inputs for {tasks} tasks");
}
