//! The hand-written adversarial fixtures (`tests/fixtures/adversarial.txt`):
//! styles the synthetic generator does not write. Prints per-category scores
//! (run with `--nocapture` to see them) and holds the detector to floors.

mod fixture_markup;

use fixture_markup::{parse_file, parse_note, Fixture};
use insitu_types::Category;

fn fixtures() -> Vec<Fixture> {
    parse_file("adv", include_str!("fixtures/adversarial.txt"))
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
    let t = fixture_markup::score_and_print("adversarial fixtures", &fx);
    // Floors sit just under what the detector measures today, so a regression
    // fails the build; the targets (R 0.99, P 0.90) are not yet met here.
    t.assert_floors(RECALL_FLOOR, PRECISION_FLOOR);
}

const RECALL_FLOOR: f64 = 0.985;
const PRECISION_FLOOR: f64 = 0.96;
