//! The fifth holdout set (`tests/fixtures/holdout5.txt`, 151 notes of
//! mainstream hospital text: US discharge summaries, H&Ps, ED, progress,
//! consult, operative, radiology, pathology, psychiatry and nursing notes;
//! UK and Irish clinic and GP letters, TTOs, A&E cards, MDT outcomes, CPA
//! and Mental Health Act notes): written in session 5 by a writer who saw
//! neither the detector's rules and word lists nor the other fixture sets'
//! bodies. Its first score over all 151 notes, taken before any rule was
//! changed with it in view, is recorded in docs/deid.md.
//!
//! After that first score the set was split: the odd-numbered notes are a
//! tuning half (its misses are printed, like holdout-2 and holdout-4), the
//! even-numbered notes stay blind (only overall and per-category figures are
//! printed), so that the blind half keeps measuring how rules tuned on the
//! other half carry over to notes nobody tuned on.

mod fixture_markup;

use fixture_markup::{parse_file, Fixture};

/// (tuning half: odd-numbered notes, blind half: even-numbered notes).
fn halves() -> (Vec<Fixture>, Vec<Fixture>) {
    let fx = parse_file("hold5", include_str!("fixtures/holdout5.txt"));
    assert!(fx.len() >= 150, "only {} fixtures", fx.len());
    let (mut tuning, mut blind) = (Vec::new(), Vec::new());
    for (i, f) in fx.into_iter().enumerate() {
        if i % 2 == 1 {
            tuning.push(f);
        } else {
            blind.push(f);
        }
    }
    (tuning, blind)
}

#[test]
fn holdout_5_tuning_half_meets_the_floors() {
    let (tuning, _) = halves();
    let t = fixture_markup::score_and_print("holdout-5 tuning half (odd notes)", &tuning);
    t.assert_floors(TUNING_RECALL_FLOOR, TUNING_PRECISION_FLOOR);
}

#[test]
fn holdout_5_blind_half_meets_the_floors() {
    let (_, blind) = halves();
    let t = fixture_markup::score_quietly("holdout-5 blind half (even notes)", &blind);
    t.assert_floors(BLIND_RECALL_FLOOR, BLIND_PRECISION_FLOOR);
}

// Floors sit just under the measured figures (docs/deid.md) so a regression fails the build.
const TUNING_RECALL_FLOOR: f64 = 0.97;
const TUNING_PRECISION_FLOOR: f64 = 0.97;
const BLIND_RECALL_FLOOR: f64 = 0.95;
const BLIND_PRECISION_FLOOR: f64 = 0.955;
