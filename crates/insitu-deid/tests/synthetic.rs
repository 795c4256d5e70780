//! Scores the detector on the synthetic corpus (`insitu-synth`).
//! Seed 7 is the development seed (its misses are printed to study);
//! seeds 1001–1003 are held out: only their aggregate figures are printed,
//! and rules are never written from them. `--nocapture` shows the figures.

use insitu_deid::{evaluate, scan, EvalReport, Span};
use insitu_synth::{Corpus, SynthConfig};
use insitu_types::SpanRecord;
use std::collections::HashMap;

/// A corpus, the detector's spans on each of its notes, and their scores.
struct Scored {
    report: EvalReport,
    corpus: Corpus,
    notes: HashMap<String, String>,
    spans: HashMap<String, Vec<Span>>,
}

fn score(seed: u64, patients: usize) -> Scored {
    let corpus = Corpus::generate(&SynthConfig {
        patients,
        seed,
        us_share: 0.4,
    });
    let mut pred = Vec::new();
    let mut notes = HashMap::new();
    let mut spans = HashMap::new();
    for n in &corpus.notes {
        let found = scan(&n.text);
        for s in &found {
            pred.push(SpanRecord {
                doc: n.id.clone(),
                start: s.start,
                end: s.end,
                category: s.category,
            });
        }
        notes.insert(n.id.clone(), n.text.clone());
        spans.insert(n.id.clone(), found);
    }
    Scored {
        report: evaluate(&corpus.phi, &pred, Some(&notes), true),
        corpus,
        notes,
        spans,
    }
}

/// A miss or false alarm with 40 bytes of context each side (for development only).
fn context(notes: &HashMap<String, String>, m: &insitu_deid::Miss) -> String {
    let t = &notes[&m.doc];
    let mut a = m.start.saturating_sub(40);
    while !t.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (m.end + 25).min(t.len());
    while !t.is_char_boundary(b) {
        b += 1;
    }
    format!(
        "{:?}[[{}]]{:?}",
        &t[a..m.start],
        &t[m.start..m.end],
        &t[m.end..b]
    )
}

fn print(label: &str, r: &EvalReport, notes: usize) {
    let t = r.token.expect("notes given");
    println!(
        "{label}: {notes} notes; token P {:.4} R {:.4}; span overlap P {:.4} R {:.4}; exact P {:.4} R {:.4}",
        t.precision, t.recall, r.overlap.precision, r.overlap.recall, r.exact.precision, r.exact.recall
    );
    for c in &r.per_category {
        let ct = c.token.expect("notes given");
        println!(
            "  {:<13} gold {:>5} token R {:.4} | pred {:>5} token P {:.4}",
            c.category.as_str(),
            c.overlap.gold,
            ct.recall,
            c.overlap.predicted,
            ct.precision
        );
    }
}

/// The words of `text[start..end]` (runs of letters and digits) for which
/// `covered(word_start, word_end)` is false.
fn uncovered_words(
    text: &str,
    start: usize,
    end: usize,
    covered: impl Fn(usize, usize) -> bool,
) -> Vec<&str> {
    let span = &text[start..end];
    let mut out = Vec::new();
    let mut at = start;
    for w in span.split(|c: char| !c.is_alphanumeric()) {
        let (a, b) = (at, at + w.len());
        at = b + span[b - start..].chars().next().map_or(0, char::len_utf8);
        if !w.is_empty() && !covered(a, b) {
            out.push(w);
        }
    }
    out
}

/// Gold spans found only in part: the words of each that no prediction
/// covers (token-level misses the overlap list does not show).
fn print_partial_misses(scored: &Scored) {
    let mut shown = 0;
    for g in &scored.corpus.phi {
        let text = &scored.notes[&g.doc];
        let pred = &scored.spans[&g.doc];
        let covered = |a: usize, b: usize| pred.iter().any(|p| p.start < b && a < p.end);
        if !covered(g.start, g.end) {
            continue;
        }
        for w in uncovered_words(text, g.start, g.end, covered) {
            if shown == 200 {
                return;
            }
            shown += 1;
            let line_start = text[..g.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[g.end..].find('\n').map_or(text.len(), |i| g.end + i);
            println!(
                "  PARTIAL {} {:?} in {:?} on line {:?}",
                g.category,
                w,
                &text[g.start..g.end],
                &text[line_start..line_end]
            );
        }
    }
}

/// Seed 7 with 20 patients, unless `DEID_DEV_SEED` (and `DEID_DEV_PATIENTS`)
/// name another development corpus to study: any seed but the held-out ones.
fn development_seed() -> (u64, usize) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let seed = env("DEID_DEV_SEED").unwrap_or(7);
    assert!(
        !HELD_OUT_SEEDS.contains(&seed),
        "seed {seed} is held out: study another"
    );
    (seed, env("DEID_DEV_PATIENTS").map_or(20, |p| p as usize))
}

/// Words inside a prediction that overlaps a gold span but that no gold
/// span covers (the token-level false alarms the overlap list hides).
fn print_overreach(scored: &Scored) {
    let mut shown = 0;
    for n in &scored.corpus.notes {
        let text = &scored.notes[&n.id];
        let gold: Vec<_> = scored.corpus.phi.iter().filter(|g| g.doc == n.id).collect();
        let in_gold = |a: usize, b: usize| gold.iter().any(|g| g.start < b && a < g.end);
        for p in &scored.spans[&n.id] {
            if !in_gold(p.start, p.end) {
                continue;
            }
            for w in uncovered_words(text, p.start, p.end, in_gold) {
                if shown == 400 {
                    return;
                }
                shown += 1;
                println!(
                    "  OVER {} {:?} in {:?}",
                    p.detector,
                    w,
                    &text[p.start..p.end]
                );
            }
        }
    }
}

#[test]
fn development_seed_meets_the_floors() {
    let (seed, patients) = development_seed();
    let scored = score(seed, patients);
    let r = &scored.report;
    print(
        &format!("synthetic seed {seed} (development)"),
        r,
        scored.corpus.notes.len(),
    );
    if std::env::var_os("DEID_SHOW_MISSES").is_some() {
        for m in r.misses.iter().take(80) {
            println!("  MISS {} {}", m.category, context(&scored.notes, m));
        }
        for m in r.false_positives.iter().take(80) {
            println!("  FALSE {} {}", m.category, context(&scored.notes, m));
        }
        print_partial_misses(&scored);
        print_overreach(&scored);
    }
    let t = r.token.unwrap();
    assert!(t.recall >= DEV_RECALL_FLOOR, "token recall {:.4}", t.recall);
    assert!(
        t.precision >= DEV_PRECISION_FLOOR,
        "token precision {:.4}",
        t.precision
    );
}

/// Held-out seeds: figures for docs/deid.md (`--nocapture` prints them),
/// held to the target (token recall 0.99, precision 0.90). No rule
/// is written from these seeds' misses, and the test never prints them.
#[test]
fn held_out_seeds_meet_the_target() {
    for seed in HELD_OUT_SEEDS {
        let scored = score(seed, 40);
        let r = &scored.report;
        print(
            &format!("synthetic seed {seed} (held out)"),
            r,
            scored.corpus.notes.len(),
        );
        let t = r.token.expect("notes given");
        assert!(
            t.recall >= 0.99 && t.precision >= 0.90,
            "seed {seed}: token recall {:.4}, precision {:.4}",
            t.recall,
            t.precision
        );
    }
}

const HELD_OUT_SEEDS: [u64; 3] = [1001, 1002, 1003];
const DEV_RECALL_FLOOR: f64 = 0.995;
const DEV_PRECISION_FLOOR: f64 = 0.98;
