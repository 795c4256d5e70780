//! Properties every generated corpus must have.

use insitu_synth::{is_valid_nhs_number, Corpus, NoteKind, Style, SynthConfig};
use insitu_types::{Assertion, Category};
use std::collections::{BTreeMap, BTreeSet};

fn corpus(patients: usize, seed: u64) -> Corpus {
    Corpus::generate(&SynthConfig {
        patients,
        seed,
        ..Default::default()
    })
}

#[test]
fn same_seed_gives_identical_files_and_other_seeds_differ() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        patients: 20,
        seed: 42,
        ..Default::default()
    };
    let sa = insitu_synth::write_corpus(&cfg, a.path()).unwrap();
    let sb = insitu_synth::write_corpus(&cfg, b.path()).unwrap();
    insitu_synth::write_corpus(
        &SynthConfig {
            seed: 43,
            ..cfg.clone()
        },
        c.path(),
    )
    .unwrap();
    assert_eq!(sa, sb);
    for f in ["notes.jsonl", "phi.jsonl", "labels.jsonl"] {
        let fa = std::fs::read(a.path().join(f)).unwrap();
        assert!(!fa.is_empty(), "{f} is empty");
        assert_eq!(
            fa,
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs between runs with one seed"
        );
        assert_ne!(
            fa,
            std::fs::read(c.path().join(f)).unwrap(),
            "{f} is the same for seeds 42 and 43"
        );
    }
    // No temporary files are left behind.
    let names: BTreeSet<String> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["labels.jsonl", "notes.jsonl", "phi.jsonl"]
            .map(String::from)
            .into()
    );
}

#[test]
fn files_parse_back_into_the_documented_types() {
    let dir = tempfile::tempdir().unwrap();
    let s = insitu_synth::write_corpus(
        &SynthConfig {
            patients: 5,
            seed: 1,
            ..Default::default()
        },
        dir.path(),
    )
    .unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let notes: Vec<insitu_synth::Note> = read("notes.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let spans: Vec<insitu_types::SpanRecord> = read("phi.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<insitu_synth::DocLabels> = read("labels.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(notes.len(), s.notes);
    assert_eq!(spans.len(), s.phi_spans);
    assert_eq!(labels.len(), s.notes);
    // The DESIGN.md contract fields are present on every line.
    for line in read("notes.jsonl").lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "id",
            "patient_id",
            "kind",
            "written_at",
            "text",
            "encounter_id",
            "style",
            "icd10",
        ] {
            assert!(
                v.get(field).is_some(),
                "notes.jsonl line lacks {field}: {line}"
            );
        }
    }
    assert_eq!(
        Corpus::generate(&SynthConfig {
            patients: 5,
            seed: 1,
            ..Default::default()
        })
        .notes,
        notes
    );
}

#[test]
fn every_span_is_exact_non_empty_and_on_char_boundaries() {
    let c = corpus(60, 7);
    let texts: BTreeMap<&str, &str> = c
        .notes
        .iter()
        .map(|n| (n.id.as_str(), n.text.as_str()))
        .collect();
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &c.phi {
        let text = texts[s.doc.as_str()];
        assert!(
            s.start < s.end && s.end <= text.len(),
            "{s:?} out of bounds"
        );
        assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "{s:?} splits a character"
        );
        let covered = &text[s.start..s.end];
        assert_eq!(
            covered.trim(),
            covered,
            "{s:?} has surrounding whitespace: {covered:?}"
        );
        let prev = last.insert(&s.doc, s.end).unwrap_or(0);
        assert!(s.start >= prev, "{s:?} overlaps or is out of order");
    }
}

#[test]
fn every_nhs_number_is_valid_and_belongs_to_its_patient() {
    let c = corpus(80, 3);
    let notes: BTreeMap<&str, &insitu_synth::Note> =
        c.notes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut checked = 0;
    for n in c.notes.iter().filter(|n| n.style == Style::Nhs) {
        assert!(
            is_valid_nhs_number(&n.patient_id),
            "{} has patient_id {}",
            n.id,
            n.patient_id
        );
    }
    for s in c.phi.iter().filter(|s| s.category == Category::Id) {
        let n = notes[s.doc.as_str()];
        let id = &n.text[s.start..s.end];
        let digits: String = id.chars().filter(|c| *c != ' ').collect();
        let nhs_shaped = digits.len() == 10
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (id.len() == 10 || id.len() == 12);
        if n.style == Style::Nhs && nhs_shaped {
            assert!(is_valid_nhs_number(id), "{}: {id:?} fails modulus 11", n.id);
            assert_eq!(digits, n.patient_id);
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} NHS numbers seen");
    let spaced = c.phi.iter().any(|s| {
        let t = &notes[s.doc.as_str()].text[s.start..s.end];
        t.len() == 12 && is_valid_nhs_number(t)
    });
    assert!(spaced, "no spaced NHS number in the corpus");
}

#[test]
fn patient_ids_are_unique_per_patient() {
    let c = corpus(300, 11);
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for n in &c.notes {
        let patient = &n.id[..10]; // syn-NNNNNN
        let prev = owner.insert(&n.patient_id, patient);
        assert!(
            prev.is_none_or(|p| p == patient),
            "{} shared by two patients",
            n.patient_id
        );
    }
}

#[test]
fn a_small_corpus_has_every_category_kind_and_style() {
    let c = corpus(50, 0);
    let categories: BTreeSet<Category> = c.phi.iter().map(|s| s.category).collect();
    for cat in Category::ALL {
        assert!(categories.contains(&cat), "no {cat} span in 50 patients");
    }
    let kinds: BTreeSet<NoteKind> = c.notes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, NoteKind::ALL.into_iter().collect());
    let styles: BTreeSet<String> = c.notes.iter().map(|n| format!("{:?}", n.style)).collect();
    assert_eq!(styles.len(), 2);
    let assertions: BTreeSet<&str> = c
        .labels
        .iter()
        .flat_map(|l| &l.findings)
        .map(|f| f.assertion.as_str())
        .collect();
    for a in [
        Assertion::Present,
        Assertion::Absent,
        Assertion::Possible,
        Assertion::Hypothetical,
        Assertion::Historical,
        Assertion::Family,
    ] {
        assert!(assertions.contains(a.as_str()), "no {} finding", a.as_str());
    }
    for n in &c.notes {
        assert_eq!(
            n.triage_category.is_some(),
            n.kind == NoteKind::EdTriage,
            "{}",
            n.id
        );
        assert!(!n.icd10.is_empty());
    }
}

#[test]
fn labels_point_at_their_findings_and_sections() {
    let c = corpus(40, 5);
    for (n, l) in c.notes.iter().zip(&c.labels) {
        assert_eq!(n.id, l.doc);
        assert_eq!(n.encounter_id, l.encounter_id);
        assert_eq!(
            n.icd10,
            l.icd10.iter().map(|d| d.code.clone()).collect::<Vec<_>>()
        );
        assert!(!l.findings.is_empty(), "{} has no findings", n.id);
        for f in &l.findings {
            assert_eq!(&n.text[f.start..f.end], f.concept, "{}", n.id);
        }
        assert!(!l.sections.is_empty(), "{} has no sections", n.id);
        let mut prev_end = 0;
        for s in &l.sections {
            assert!(n.text[s.start..].starts_with(&s.heading), "{}: {s:?}", n.id);
            assert!(
                s.start >= prev_end && s.end <= n.text.len() && s.start + s.heading.len() <= s.end
            );
            prev_end = s.end;
        }
    }
}

#[test]
fn identifiers_come_in_many_surface_forms() {
    let c = corpus(300, 9);
    let texts: BTreeMap<&str, &str> = c
        .notes
        .iter()
        .map(|n| (n.id.as_str(), n.text.as_str()))
        .collect();
    let spans = |cat: Category| -> Vec<&str> {
        c.phi
            .iter()
            .filter(|s| s.category == cat)
            .map(|s| &texts[s.doc.as_str()][s.start..s.end])
            .collect()
    };
    // Every UK postcode outward form: A9, A99, A9A, AA9, AA99, AA9A.
    let shape = |outward: &str| -> String {
        outward
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { 'A' })
            .collect()
    };
    let forms: BTreeSet<String> = spans(Category::Location)
        .iter()
        .filter_map(|t| {
            let (out, inward) = t.split_once(' ')?;
            (inward.len() == 3
                && shape(inward) == "9AA"
                && out.len() <= 4
                && out.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| shape(out))
        })
        .collect();
    for f in ["A9", "A99", "A9A", "AA9", "AA99", "AA9A"] {
        assert!(
            forms.contains(f),
            "no postcode of outward form {f}: {forms:?}"
        );
    }
    let names = spans(Category::Name);
    assert!(
        names
            .iter()
            .any(|n| n.chars().any(char::is_lowercase) && *n == n.to_lowercase()),
        "no lower-case name"
    );
    assert!(
        names.iter().any(|n| n.len() > 3 && *n == n.to_uppercase()),
        "no ALL-CAPS name"
    );
    for word in ["Rose", "Hope", "May", "Brown", "Hall", "Wood", "Bell"] {
        assert!(
            names.iter().any(|n| n.split([' ', ',']).any(|p| p == word)),
            "no name containing {word}"
        );
    }
    assert!(
        names.iter().any(|n| !n.is_ascii()),
        "no name with non-ASCII letters"
    );
    let ids = spans(Category::Id);
    let ni_shaped = |t: &str| {
        let c: String = t.chars().filter(|c| *c != ' ').collect();
        c.len() == 9
            && c[..2].chars().all(|x| x.is_ascii_uppercase())
            && c[2..8].chars().all(|x| x.is_ascii_digit())
            && "ABCD".contains(&c[8..])
    };
    assert!(ids.iter().any(|t| ni_shaped(t)), "no NI number");
    assert!(
        ids.iter()
            .any(|t| t.len() == 11 && t.as_bytes()[3] == b'-' && t.as_bytes()[6] == b'-'),
        "no SSN-shaped number"
    );
    let ages: Vec<u32> = spans(Category::Age)
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    assert!(ages.iter().any(|&a| a > 89), "no age over 89");
    let dates = spans(Category::Date);
    type DateProbe = (&'static str, fn(&str) -> bool);
    let probes: [DateProbe; 6] = [
        ("dd/mm/yyyy", |d: &str| {
            d.len() == 10 && d.as_bytes()[2] == b'/'
        }),
        ("yyyy-mm-dd", |d: &str| {
            d.len() == 10 && d.as_bytes()[4] == b'-'
        }),
        ("12-Mar-24", |d: &str| {
            d.len() == 9 && d.as_bytes()[2] == b'-' && d[3..6].chars().all(char::is_alphabetic)
        }),
        ("ordinal", |d: &str| {
            ["st ", "nd ", "rd ", "th "].iter().any(|o| d.contains(o))
        }),
        ("Month d, yyyy", |d: &str| {
            d.contains(", 20") && d.chars().next().is_some_and(char::is_alphabetic)
        }),
        ("'yy", |d: &str| d.contains('\'')),
    ];
    for (what, probe) in probes {
        assert!(dates.iter().any(|d| probe(d)), "no date in form {what}");
    }
    let phones = spans(Category::Phone);
    assert!(phones.iter().any(|p| p.starts_with("+44")));
    assert!(phones.iter().any(|p| p.starts_with("07700")));
    assert!(phones
        .iter()
        .any(|p| p.starts_with('(') && p.contains("555-")));
}

#[test]
fn identifiers_never_appear_outside_a_gold_span() {
    // If an identifier's text occurs again in the note, that occurrence must
    // be covered by a span too: a planted identifier without a span would
    // count against a de-identifier that correctly removed it. Professions
    // are ordinary words ("nurse") and are exempt, as are single words.
    let c = corpus(60, 13);
    for n in &c.notes {
        let spans: Vec<(usize, usize, Category)> = c
            .phi
            .iter()
            .filter(|s| s.doc == n.id)
            .map(|s| (s.start, s.end, s.category))
            .collect();
        let covered = |a: usize, b: usize| spans.iter().any(|&(s, e, _)| s <= a && b <= e);
        for &(s, e, _) in spans.iter().filter(|(_, _, c)| *c != Category::Profession) {
            let needle = &n.text[s..e];
            // Single words ("Black", "Hope", "Manchester") legitimately occur
            // as ordinary words; check multi-token or numeric identifiers.
            let distinctive =
                needle.contains([' ', '@', '/', '.']) || needle.chars().any(|c| c.is_ascii_digit());
            if needle.len() < 5 || !distinctive {
                continue;
            }
            for (at, _) in n.text.match_indices(needle) {
                assert!(
                    covered(at, at + needle.len()),
                    "{}: {needle:?} at {at} has no span\n{}",
                    n.id,
                    n.text
                );
            }
        }
    }
}

#[test]
fn past_history_is_copied_forward_between_a_patients_notes() {
    let c = corpus(80, 17);
    let mut bodies: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, l) in c.notes.iter().zip(&c.labels) {
        for s in l.sections.iter().filter(|s| {
            let h = s.heading.trim();
            h.starts_with("PMH") || h.starts_with("Past medical history")
        }) {
            let body = n.text[s.start + s.heading.len()..s.end].trim();
            if body.len() > 20 {
                bodies.entry(&n.patient_id).or_default().push(body);
            }
        }
    }
    let with_two: Vec<&Vec<&str>> = bodies.values().filter(|b| b.len() >= 2).collect();
    let repeated = with_two
        .iter()
        .filter(|b| b.iter().enumerate().any(|(i, x)| b[i + 1..].contains(x)))
        .count();
    assert!(
        with_two.len() >= 20,
        "only {} patients have two PMH sections",
        with_two.len()
    );
    assert!(
        repeated * 2 >= with_two.len(),
        "PMH copied verbatim for only {repeated} of {} patients",
        with_two.len()
    );
}

#[test]
fn an_unwritable_target_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("corpus");
    let err = insitu_synth::write_corpus(
        &SynthConfig {
            patients: 1,
            ..Default::default()
        },
        &target,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    assert_eq!(
        insitu_synth::OUTPUT_FILES,
        ["notes.jsonl", "phi.jsonl", "labels.jsonl"]
    );
}

#[test]
fn us_share_picks_the_style_mix() {
    for (share, style) in [(0.0, Style::Nhs), (1.0, Style::Us)] {
        let c = Corpus::generate(&SynthConfig {
            patients: 15,
            seed: 2,
            us_share: share,
        });
        assert!(c.notes.iter().all(|n| n.style == style), "us_share {share}");
        let kinds: BTreeSet<NoteKind> = c.notes.iter().map(|n| n.kind).collect();
        assert!(kinds.len() >= 5, "us_share {share}: only {kinds:?}");
    }
}

#[test]
fn progress_is_reported_once_per_patient() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let cfg = SynthConfig {
        patients: 4,
        ..Default::default()
    };
    insitu_synth::write_corpus_with_progress(&cfg, dir.path(), |done| seen.push(done)).unwrap();
    assert_eq!(seen, vec![1, 2, 3, 4]);
}
