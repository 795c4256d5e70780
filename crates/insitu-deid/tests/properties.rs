//! Property tests: spans are well-formed on any input, surrogates always
//! change what they replace, and tag mode is idempotent.

use insitu_deid::{scan, Mode, Replacer, SurrogateKey};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "Dr",
    "Mrs",
    "Amelia",
    "Rose",
    "Smith",
    "O'Brien",
    "MAY",
    "Hope",
    "seen",
    "by",
    "on",
    "at",
    "12/03/2024",
    "3/4",
    "12th March",
    "Mon 4th",
    "2024-03-12",
    "'24",
    "1998",
    "14:30",
    "2pm",
    "943 476 5919",
    "SW1A 1AA",
    "07700 900123",
    "aged 93",
    "45M",
    "MRN:",
    "A1234567",
    "NHS",
    "Parkinson's",
    "disease",
    "Leeds",
    "Hospital",
    "St",
    "Mary's",
    "Ward",
    "7B",
    "email",
    "jo@example.org",
    "https://x.example.com/a",
    "10.0.0.1",
    "£",
    "é",
    "日本",
    "\n",
    ",",
    ".",
    ":",
    "(",
    ")",
    "[NAME]",
    "[DATE]",
    "90+",
    "power",
    "5/5",
    "x",
    "mg",
    "2000",
    "NOK:",
    "Dear",
];

fn note() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|v| v.join(" "))
}

fn replacer(mode: Mode) -> Replacer {
    Replacer::new(
        SurrogateKey::from_bytes(b"property-test-key-0123456789").unwrap(),
        mode,
    )
}

fn check_spans(text: &str) -> Result<(), TestCaseError> {
    let spans = scan(text);
    let mut last_end = 0;
    for s in &spans {
        prop_assert!(
            s.start < s.end && s.end <= text.len(),
            "{s:?} out of bounds"
        );
        prop_assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "{s:?} splits a char"
        );
        prop_assert!(s.start >= last_end, "{s:?} overlaps the previous span");
        last_end = s.end;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn spans_are_in_bounds_on_char_boundaries_and_disjoint(text in "\\PC{0,200}") {
        check_spans(&text)?;
    }

    // Structured text (HL7, X12, JSON, tables) mixed with other scripts:
    // the structure readers slice by bytes and must stay on char boundaries.
    #[test]
    fn spans_are_well_formed_on_structured_text_in_any_script(
        text in "([A-Z0-9]{2,3}[|*]|[|*^~,:\"\\[\\]{}\n\t ]|[a-zA-Z0-9]{1,6}|[éÅßçØœŁñ€’–•中文]){0,80}"
    ) {
        check_spans(&text)?;
    }

    #[test]
    fn spans_are_well_formed_on_note_like_text(text in note()) {
        check_spans(&text)?;
    }

    #[test]
    fn every_surrogate_differs_from_its_original(text in note(), patient in "[a-z0-9]{1,8}") {
        let r = replacer(Mode::Surrogate);
        for s in scan(&text) {
            let out = r.replace(&text, std::slice::from_ref(&s), &patient);
            let replaced = &out[s.start..out.len() - (text.len() - s.end)];
            prop_assert_ne!(replaced, &text[s.start..s.end], "span {:?}", s);
        }
    }

    #[test]
    fn tag_mode_is_idempotent(text in note()) {
        let r = replacer(Mode::Tag);
        let once = r.replace(&text, &scan(&text), "p");
        let twice = r.replace(&once, &scan(&once), "p");
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn surrogates_are_deterministic_for_a_key(text in note()) {
        let spans = scan(&text);
        prop_assert_eq!(
            replacer(Mode::Surrogate).replace(&text, &spans, "p"),
            replacer(Mode::Surrogate).replace(&text, &spans, "p")
        );
    }
}
