//! Dataset building on a synthetic corpus (insitu-synth): patient-disjoint
//! deterministic splits, every task and format, cohort refusal, atomic write.

use insitu_data::{
    advise, build, Approach, BuildOptions, CustomTemplate, Error, Format, Record, Split, Task,
};
use std::collections::BTreeSet;
use std::sync::OnceLock;

fn records() -> Vec<Record> {
    static R: OnceLock<Vec<Record>> = OnceLock::new();
    R.get_or_init(|| {
        let corpus = insitu_synth::Corpus::generate(&insitu_synth::SynthConfig {
            patients: 120,
            seed: 11,
            us_share: 0.3,
        });
        corpus
            .notes
            .into_iter()
            .map(|n| {
                let mut meta = serde_json::Map::new();
                meta.insert("icd10".into(), serde_json::json!(n.icd10));
                if let Some(t) = n.triage_category {
                    meta.insert("triage_category".into(), serde_json::json!(t));
                }
                Record {
                    doc_id: n.id,
                    patient_key: format!("pk-{}", n.patient_id),
                    kind: n.kind.to_string(),
                    written_at: n.written_at,
                    text: n.text,
                    meta,
                }
            })
            .collect()
    })
    .clone()
}

fn opts(task: Task, format: Format) -> BuildOptions {
    BuildOptions {
        min_patients_per_split: 5,
        seed: 3,
        ..BuildOptions::new(task, format)
    }
}

#[test]
fn every_task_builds_with_disjoint_patient_splits() {
    for (task, format) in [
        (Task::Handover, Format::Alpaca),
        (Task::RadiologyImpression, Format::Messages),
        (Task::Icd10, Format::Alpaca),
        (Task::Triage, Format::Preference),
        (Task::ContinuedPretraining, Format::Text),
    ] {
        let ds =
            build(records(), &opts(task, format), None).unwrap_or_else(|e| panic!("{task}: {e}"));
        let sets: Vec<BTreeSet<&str>> = Split::ALL
            .iter()
            .map(|s| {
                ds.splits[s]
                    .iter()
                    .map(|e| e.patient_key.as_str())
                    .collect()
            })
            .collect();
        for i in 0..3 {
            for j in i + 1..3 {
                assert!(
                    sets[i].is_disjoint(&sets[j]),
                    "{task}: a patient is in two splits"
                );
            }
            assert!(sets[i].len() >= 5, "{task}: split {i} too small");
        }
        let total: usize = ds.splits.values().map(Vec::len).sum();
        assert!(total > 20, "{task}: only {total} examples");
        for e in ds.splits.values().flatten() {
            assert!(
                !e.output.trim().is_empty(),
                "{task}: empty output for {}",
                e.doc_id
            );
        }
    }
}

#[test]
fn radiology_impression_is_not_in_the_input_and_triage_category_is_hidden() {
    let ds = build(
        records(),
        &opts(Task::RadiologyImpression, Format::Alpaca),
        None,
    )
    .unwrap();
    for e in ds.splits.values().flatten() {
        assert!(
            e.input.starts_with("Clinical details:") || e.input.starts_with("Findings:"),
            "{}",
            e.input
        );
        assert!(
            !e.input.contains(&e.output),
            "impression leaked into input for {}",
            e.doc_id
        );
    }
    let ds = build(records(), &opts(Task::Triage, Format::Alpaca), None).unwrap();
    for e in ds.splits.values().flatten() {
        assert!(
            !e.input.to_lowercase().contains("triage category"),
            "{}",
            e.doc_id
        );
        assert!(
            matches!(e.output.as_str(), "1" | "2" | "3" | "4" | "5"),
            "{}",
            e.output
        );
    }
}

#[test]
fn same_seed_writes_the_same_bytes_and_a_different_seed_reshuffles() {
    let dir = tempfile::tempdir().unwrap();
    let write = |seed: u64, name: &str| {
        let o = BuildOptions {
            seed,
            ..opts(Task::Icd10, Format::Messages)
        };
        build(records(), &o, None)
            .unwrap()
            .write(&dir.path().join(name))
            .unwrap()
    };
    let a = write(3, "a");
    let b = write(3, "b");
    let c = write(4, "c");
    for f in [
        "train.jsonl",
        "validation.jsonl",
        "test.jsonl",
        "splits.json",
        "card.json",
        "card.md",
    ] {
        assert_eq!(
            std::fs::read(a.dir.join(f)).unwrap(),
            std::fs::read(b.dir.join(f)).unwrap(),
            "{f} differs"
        );
    }
    assert_eq!(a.card_sha256, b.card_sha256);
    assert_ne!(
        std::fs::read(a.dir.join("splits.json")).unwrap(),
        std::fs::read(c.dir.join("splits.json")).unwrap()
    );
    // Card digests match the files on disk.
    for (f, h) in &a.card.files {
        use sha2::Digest;
        assert_eq!(
            &hex::encode(sha2::Sha256::digest(std::fs::read(a.dir.join(f)).unwrap())),
            h,
            "{f}"
        );
    }
    // Every line is JSON with the messages shape and provenance columns.
    let line = std::fs::read_to_string(a.dir.join("train.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(
        v["messages"][v["messages"].as_array().unwrap().len() - 1]["role"],
        "assistant"
    );
    assert!(v["patient_key"].as_str().unwrap().starts_with("pk-"));
}

#[test]
fn default_cohort_minimum_refuses_small_datasets() {
    let err = build(
        records(),
        &BuildOptions::new(Task::Icd10, Format::Alpaca),
        None,
    )
    .unwrap_err();
    match &err {
        Error::CohortTooSmall {
            minimum, patients, ..
        } => assert!(*minimum == 50 && *patients < 50),
        other => panic!("expected a cohort refusal, got {other}"),
    }
    assert!(err.to_string().contains("min_patients_per_split"), "{err}");
}

#[test]
fn preference_rejected_comes_from_the_same_split_and_differs() {
    let ds = build(records(), &opts(Task::Icd10, Format::Preference), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = ds.write(&dir.path().join("p")).unwrap();
    let text = std::fs::read_to_string(w.dir.join("test.jsonl")).unwrap();
    let outputs: BTreeSet<String> = ds.splits[&Split::Test]
        .iter()
        .map(|e| e.output.clone())
        .collect();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_ne!(v["chosen"], v["rejected"]);
        assert!(
            outputs.contains(v["rejected"].as_str().unwrap()),
            "rejected output from another split"
        );
    }
}

#[test]
fn custom_templates_render_over_sections_and_bad_ones_are_named() {
    let custom = CustomTemplate {
        instruction: "Summarise the plan.".into(),
        input: "{{ sections.history_presenting_complaint }}".into(),
        output: "{{ sections.plan }}".into(),
    };
    let o = BuildOptions {
        custom: Some(custom),
        ..opts(Task::Custom, Format::Alpaca)
    };
    let ds = build(records(), &o, None).unwrap();
    assert!(ds
        .splits
        .values()
        .flatten()
        .all(|e| e.instruction == "Summarise the plan." && !e.output.is_empty()));
    let bad = CustomTemplate {
        instruction: "x".into(),
        input: String::new(),
        output: "{{ unclosed".into(),
    };
    let err = build(
        records(),
        &BuildOptions {
            custom: Some(bad),
            ..opts(Task::Custom, Format::Alpaca)
        },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("custom template output"), "{err}");
}

#[test]
fn invalid_combinations_and_overwrites_are_refused() {
    assert!(matches!(
        build(
            records(),
            &opts(Task::ContinuedPretraining, Format::Alpaca),
            None
        ),
        Err(Error::Invalid(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
    let err = build(records(), &opts(Task::Icd10, Format::Alpaca), None)
        .unwrap()
        .write(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
    assert!(dir.path().join("keep.txt").exists());
}

#[test]
fn phi_rescan_result_is_recorded_and_card_reports_dedup() {
    let scanner = |t: &str| {
        if t.contains("NHS") {
            vec!["ID".to_string()]
        } else {
            vec![]
        }
    };
    let ds = build(
        records(),
        &opts(Task::ContinuedPretraining, Format::Text),
        Some(("test-scanner", &scanner)),
    )
    .unwrap();
    let md = ds.card.markdown();
    assert!(md.contains("PHI re-scan (test-scanner)"), "{md}");
    assert!(ds.card.dedup.documents > 0);
    let none = build(
        records(),
        &opts(Task::ContinuedPretraining, Format::Text),
        None,
    )
    .unwrap();
    assert!(none.card.markdown().contains("NOT RUN"));
}

#[test]
fn advice_follows_example_counts() {
    let ds = build(records(), &opts(Task::Icd10, Format::Alpaca), None).unwrap();
    let mut card = ds.card.clone();
    card.splits.get_mut(&Split::Train).unwrap().examples = 100;
    assert_eq!(advise(&card).approach, Approach::Prompting);
    card.splits.get_mut(&Split::Train).unwrap().examples = 2_000;
    assert_eq!(advise(&card).approach, Approach::Lora);
    card.splits.get_mut(&Split::Train).unwrap().examples = 20_000;
    let a = advise(&card);
    assert_eq!(a.approach, Approach::FullFineTuning);
    assert!(a.reasons.len() >= 2);
}
