//! Scores the assertion engine on the hand-annotated fixture
//! (`fixtures/assertion_gold.jsonl`, 360+ UK and US sentences, six classes).
//! The fixture and the lexicon were written by the same people, so this is a
//! regression floor, not an estimate of accuracy on unseen notes.

use insitu_text::assertion::{assert_concept, AssertionScores};
use insitu_types::Assertion;

#[derive(serde::Deserialize)]
struct Gold {
    id: String,
    text: String,
    concept: String,
    assertion: Assertion,
}

#[test]
fn fixture_scores_stay_above_the_floor() {
    let text = include_str!("../fixtures/assertion_gold.jsonl");
    let mut pairs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let g: Gold = serde_json::from_str(line).unwrap();
        let p = assert_concept(&g.text, &g.concept).unwrap();
        if p != g.assertion {
            eprintln!(
                "MISS {} gold={} got={} concept={:?} text={:?}",
                g.id,
                g.assertion.as_str(),
                p.as_str(),
                g.concept,
                g.text
            );
        }
        pairs.push((g.assertion, p));
    }
    let s = AssertionScores::from_pairs(&pairs);
    eprintln!("{}", s.table());
    assert!(s.total >= 300);
    for c in &s.classes {
        assert!(
            c.support >= 25,
            "{:?} needs at least 25 gold examples",
            c.class
        );
    }
    assert!(
        s.class(Assertion::Absent).f1 >= 0.93,
        "negation F1 fell below 0.93"
    );
    assert!(s.macro_f1 >= 0.85, "macro F1 fell below 0.85");
}

/// A smaller set written after the lexicon was frozen. Its first, untuned
/// score (negation F1 0.947, accuracy 0.933) is the honest one and is in the
/// docs; three of its four misses were then fixed with general rules, so it
/// is no longer held out. The floor is deliberately loose.
#[test]
fn holdout_written_after_the_lexicon_was_frozen() {
    let text = include_str!("../fixtures/assertion_holdout.jsonl");
    let mut pairs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let g: Gold = serde_json::from_str(line).unwrap();
        let p = assert_concept(&g.text, &g.concept).unwrap();
        if p != g.assertion {
            eprintln!(
                "MISS {} gold={} got={} concept={:?} text={:?}",
                g.id,
                g.assertion.as_str(),
                p.as_str(),
                g.concept,
                g.text
            );
        }
        pairs.push((g.assertion, p));
    }
    let s = AssertionScores::from_pairs(&pairs);
    eprintln!("{}", s.table());
    assert!(
        s.class(Assertion::Absent).f1 >= 0.8,
        "holdout negation F1 fell below 0.8"
    );
}
