//! Prints the spans found in text read from stdin: `cargo run -p insitu-deid --example scan < note.txt`.
use std::io::Read;

fn main() {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .expect("stdin is UTF-8");
    for s in insitu_deid::scan(&text) {
        println!(
            "{:>5}..{:<5} {:<12} {:<18} {:?}",
            s.start,
            s.end,
            s.category.as_str(),
            s.detector,
            &text[s.start..s.end]
        );
    }
}
