//! Prints a few synthetic notes with their PHI spans marked, for eyeballing.
//! `cargo run -p insitu-synth --example dump -- [patients] [seed]`

fn main() {
    let mut args = std::env::args().skip(1);
    let patients = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let cfg = insitu_synth::SynthConfig {
        patients,
        seed,
        ..Default::default()
    };
    for p in insitu_synth::generate(&cfg) {
        for n in p.notes {
            let mut marked = String::new();
            let mut at = 0;
            for s in &n.phi {
                marked.push_str(&n.note.text[at..s.start]);
                marked.push_str(&format!(
                    "[{}|{}]",
                    &n.note.text[s.start..s.end],
                    s.category
                ));
                at = s.end;
            }
            marked.push_str(&n.note.text[at..]);
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
}
