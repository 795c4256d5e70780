//! The hand-written adversarial fixtures (`tests/fixtures/adversarial.txt`):
//! styles the synthetic generator does not write. Prints per-category scores
//! (run with `--nocapture` to see them) and holds the detector to floors.

use insitu_deid::{evaluate, scan};
use insitu_types::{Category, SpanRecord};
use std::collections::HashMap;

/// One fixture note: plain text plus gold spans.
struct Fixture {
    id: String,
    text: String,
    gold: Vec<SpanRecord>,
}

/// Parses `[[CATEGORY:text]]` markup into text and gold spans.
fn parse_note(id: &str, marked: &str) -> Fixture {
    let mut text = String::new();
    let mut gold = Vec::new();
    let mut rest = marked;
    while let Some(open) = rest.find("[[") {
        text.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("]]")
            .unwrap_or_else(|| panic!("{id}: unclosed [["));
        let inner = &after[..close];
        let (cat, value) = inner
            .split_once(':')
            .unwrap_or_else(|| panic!("{id}: no ':' in [[{inner}]]"));
        let category =
            Category::parse(cat).unwrap_or_else(|| panic!("{id}: unknown category {cat}"));
        let start = text.len();
        text.push_str(value);
        gold.push(SpanRecord {
            doc: id.to_string(),
            start,
            end: text.len(),
            category,
        });
        rest = &after[close + 2..];
    }
    text.push_str(rest);
    Fixture {
        id: id.to_string(),
        text,
        gold,
    }
}

fn fixtures() -> Vec<Fixture> {
    let raw = include_str!("fixtures/adversarial.txt");
    let mut out = Vec::new();
    for (i, block) in raw.split("\n---\n").enumerate().skip(1) {
        let body = block.trim_end_matches("\n---").trim_matches('\n');
        if body.is_empty() {
            continue;
        }
        out.push(parse_note(&format!("adv{i:03}"), body));
    }
    out
}

#[test]
fn the_markup_parser_recovers_text_and_offsets() {
    let f = parse_note("x", "Dear Dr [[NAME:Hope]], seen [[DATE:3/4]].");
    assert_eq!(f.text, "Dear Dr Hope, seen 3/4.");
    assert_eq!(&f.text[f.gold[0].start..f.gold[0].end], "Hope");
    assert_eq!(f.gold[1].category, Category::Date);
}

#[test]
fn adversarial_fixtures_meet_the_floors() {
    let fx = fixtures();
    assert!(fx.len() >= 100, "only {} fixtures", fx.len());
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    let mut notes = HashMap::new();
    for f in &fx {
        gold.extend(f.gold.iter().cloned());
        for s in scan(&f.text) {
            pred.push(SpanRecord {
                doc: f.id.clone(),
                start: s.start,
                end: s.end,
                category: s.category,
            });
        }
        notes.insert(f.id.clone(), f.text.clone());
    }
    let r = evaluate(&gold, &pred, Some(&notes), true);
    let t = r.token.expect("notes given");
    println!(
        "adversarial fixtures: {} notes; overlap P {:.3} R {:.3}; token P {:.3} R {:.3}; exact P {:.3} R {:.3}",
        fx.len(),
        r.overlap.precision,
        r.overlap.recall,
        t.precision,
        t.recall,
        r.exact.precision,
        r.exact.recall
    );
    for c in &r.per_category {
        println!(
            "  {:<13} gold {:>3} recall {:.3}  pred {:>3} precision {:.3}",
            c.category.as_str(),
            c.overlap.gold,
            c.overlap.recall,
            c.overlap.predicted,
            c.overlap.precision
        );
    }
    for m in &r.misses {
        println!(
            "  MISS {} {:?} {}",
            m.doc,
            m.text.as_deref().unwrap_or(""),
            m.category
        );
    }
    for m in &r.false_positives {
        println!(
            "  FALSE {} {:?} {}",
            m.doc,
            m.text.as_deref().unwrap_or(""),
            m.category
        );
    }
    // Floors sit just under what the detector measures today, so a regression
    // fails the build; the targets (R 0.99, P 0.90) are not yet met here.
    assert!(t.recall >= RECALL_FLOOR, "token recall {:.3}", t.recall);
    assert!(
        t.precision >= PRECISION_FLOOR,
        "token precision {:.3}",
        t.precision
    );
}

const RECALL_FLOOR: f64 = 0.88;
const PRECISION_FLOOR: f64 = 0.95;
