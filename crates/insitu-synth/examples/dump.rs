//! Prints synthetic notes with their PHI spans marked, for eyeballing:
//! `cargo run -p insitu-synth --example dump -- [patients] [seed]`.
//! With a third argument `shapes`, prints instead how many distinct line
//! shapes the corpus has (identifiers replaced by their category, digits by 9),
//! a rough measure of template variety.

use std::collections::BTreeMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let patients = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let shapes_only = args.next().as_deref() == Some("shapes");
    let cfg = insitu_synth::SynthConfig {
        patients,
        seed,
        ..Default::default()
    };
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    for p in insitu_synth::generate(&cfg) {
        for n in p.notes {
            let mut marked = String::new();
            let mut masked = String::new();
            let mut at = 0;
            for s in &n.phi {
                marked.push_str(&n.note.text[at..s.start]);
                masked.push_str(&n.note.text[at..s.start]);
                marked.push_str(&format!(
                    "[{}|{}]",
                    &n.note.text[s.start..s.end],
                    s.category
                ));
                masked.push_str(&format!("<{}>", s.category));
                at = s.end;
            }
            marked.push_str(&n.note.text[at..]);
            masked.push_str(&n.note.text[at..]);
            if shapes_only {
                for line in masked.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let shape: String = line
                        .chars()
                        .map(|c| if c.is_ascii_digit() { '9' } else { c })
                        .collect();
                    *shapes.entry(shape).or_default() += 1;
                }
                continue;
            }
            println!(
                "=== {} {} {} {} {:?}\n{marked}",
                n.note.id, n.note.kind, n.note.written_at, n.note.patient_id, n.note.icd10
            );
            for f in &n.labels.findings {
                print!("<{}:{}> ", f.concept, f.assertion.as_str());
            }
            println!();
        }
    }
    if shapes_only {
        let lines: usize = shapes.values().sum();
        let (top, count) = shapes
            .iter()
            .max_by_key(|(_, c)| **c)
            .map(|(s, c)| (s.clone(), *c))
            .unwrap_or_default();
        println!(
            "{lines} non-empty lines, {} distinct shapes; most frequent ({count}×): {top:?}",
            shapes.len()
        );
    }
}
