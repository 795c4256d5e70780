//! Shared by the hand-written fixture tests (`adversarial.rs`, `holdout.rs`):
//! parses `[[CATEGORY:text]]` markup into note text and gold spans, scans the
//! notes and prints the scores with every miss and false positive.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
use insitu_deid::{evaluate, scan};
use insitu_types::{Category, SpanRecord};
use std::collections::HashMap;

/// One fixture note: plain text plus gold spans.
pub struct Fixture {
    pub id: String,
    pub text: String,
    pub gold: Vec<SpanRecord>,
}

/// Parses `[[CATEGORY:text]]` markup into text and gold spans.
pub fn parse_note(id: &str, marked: &str) -> Fixture {
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

/// Splits a fixture file (header, then notes separated by `---` lines) into
/// parsed notes with ids `<prefix>NNN`.
pub fn parse_file(prefix: &str, raw: &str) -> Vec<Fixture> {
    let mut out = Vec::new();
    for (i, block) in raw.split("\n---\n").enumerate().skip(1) {
        let body = block.trim_end_matches("\n---").trim_matches('\n');
        if body.is_empty() {
            continue;
        }
        out.push(parse_note(&format!("{prefix}{i:03}"), body));
    }
    out
}

/// Token-level precision and recall (category ignored).
pub struct TokenScore {
    pub precision: f64,
    pub recall: f64,
}

impl TokenScore {
    /// Fails the test when recall or precision falls under its floor.
    pub fn assert_floors(&self, recall_floor: f64, precision_floor: f64) {
        assert!(
            self.recall >= recall_floor,
            "token recall {:.3}",
            self.recall
        );
        assert!(
            self.precision >= precision_floor,
            "token precision {:.3}",
            self.precision
        );
    }
}

/// Scans every fixture with the default detector, prints overall and
/// per-category scores, misses and false positives, and returns the
/// token-level figures.
pub fn score_and_print(name: &str, fx: &[Fixture]) -> TokenScore {
    score(name, fx, true)
}

/// Like [`score_and_print`], but prints only the overall and per-category
/// figures: for a blind set whose misses nobody tuning rules should read.
#[allow(dead_code)]
pub fn score_quietly(name: &str, fx: &[Fixture]) -> TokenScore {
    score(name, fx, false)
}

fn score(name: &str, fx: &[Fixture], details: bool) -> TokenScore {
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    let mut notes = HashMap::new();
    for f in fx {
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
        "{name}: {} notes; overlap P {:.3} R {:.3}; token P {:.3} R {:.3}; exact P {:.3} R {:.3}",
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
    if !details {
        return TokenScore {
            precision: t.precision,
            recall: t.recall,
        };
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
    // Gold spans found only in part: the words no prediction covers.
    for f in fx {
        let pred = scan(&f.text);
        let covered = |a: usize, b: usize| pred.iter().any(|p| p.start < b && a < p.end);
        for g in f.gold.iter().filter(|g| covered(g.start, g.end)) {
            let span = &f.text[g.start..g.end];
            let mut at = g.start;
            for w in span.split(|c: char| !c.is_alphanumeric()) {
                let (a, b) = (at, at + w.len());
                at = b + span[b - g.start..].chars().next().map_or(0, char::len_utf8);
                if !w.is_empty() && !covered(a, b) {
                    println!("  PARTIAL {} {} {:?} in {:?}", f.id, g.category, w, span);
                }
            }
        }
    }
    TokenScore {
        precision: t.precision,
        recall: t.recall,
    }
}
