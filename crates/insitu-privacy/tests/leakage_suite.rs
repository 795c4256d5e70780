//! The leakage suite on fake models: a model that memorised its training
//! notes is caught by every test; a model that did not is not.

use insitu_privacy::{
    generate_canaries, run_leakage_suite, write_report, FoundIdentifier, Generator, LossOracle,
    NoteText, ReportLimits, SuiteConfig, SuiteData, SuiteModels,
};
use insitu_types::Category;
use std::collections::HashSet;

/// A deterministic pseudo-random value in [0, 1) per word.
fn jitter(word: &str) -> f64 {
    let h = word.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    });
    (h % 1000) as f64 / 1000.0
}

struct Base;
impl LossOracle for Base {
    fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
        texts
            .iter()
            .map(|t| t.split_whitespace().map(|w| -2.0 - jitter(w)).collect())
            .collect()
    }
}

/// Base plus a uniform gain; `memorised` texts gain much more.
struct Adapted {
    memorised: HashSet<String>,
}
impl LossOracle for Adapted {
    fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
        let base = Base.token_logprobs(texts);
        texts
            .iter()
            .zip(base)
            .map(|(t, lp)| {
                let gain = if self.memorised.contains(t) { 1.5 } else { 0.1 };
                lp.into_iter().map(|l| (l + gain).min(-0.01)).collect()
            })
            .collect()
    }
}
impl Generator for Adapted {
    fn generate(&self, prompt: &str, _max_tokens: usize, _seed: u64) -> String {
        let mut known: Vec<&String> = self.memorised.iter().collect();
        known.sort();
        known
            .into_iter()
            .find_map(|t| t.strip_prefix(prompt).map(|r| r.trim_start().to_string()))
            .unwrap_or_else(|| "The patient was reviewed and is stable.".to_string())
    }
}

/// Synthetic notes: several per patient, each with the patient's fake number.
fn notes(patients: std::ops::Range<usize>) -> Vec<NoteText> {
    let mut out = Vec::new();
    for p in patients {
        for k in 0..2 {
            let text = format!(
                "Clinic letter {k} for patient {p}. Presented with cough and fever for three days, \
                 chest clear on examination, NHS number 999 {:03} {:04}, observations stable, \
                 advised fluids and rest, safety-netting given, review in two weeks if not improving.",
                p % 1000,
                (p * 37 + k) % 10000
            );
            out.push(NoteText {
                id: format!("n{p}-{k}"),
                patient: format!("p{p}"),
                text,
                context: String::new(),
            });
        }
    }
    out
}

/// Finds `999 ddd dddd` as an ID.
fn scanner(text: &str) -> Vec<FoundIdentifier> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(11))
        .filter(|&i| {
            &b[i..i + 4] == b"999 "
                && b[i + 4..i + 7].iter().all(u8::is_ascii_digit)
                && b[i + 7] == b' '
                && b[i + 8..i + 12].iter().all(u8::is_ascii_digit)
        })
        .map(|i| FoundIdentifier {
            start: i,
            end: i + 12,
            category: Category::Id,
        })
        .collect()
}

fn config() -> SuiteConfig {
    SuiteConfig {
        seed: 11,
        bootstrap_resamples: 50,
        canary_candidates: 200,
        free_generations: 4,
        ..SuiteConfig::default()
    }
}

#[test]
fn memorising_model_is_caught_everywhere() {
    let members = notes(0..60);
    let nonmembers = notes(100..160);
    let canaries = generate_canaries(3, &[1, 2, 4, 8], 1);
    let mut memorised: HashSet<String> = members.iter().map(|n| n.text.clone()).collect();
    // Only the canaries seen 4 or 8 times are memorised.
    memorised.extend(
        canaries
            .iter()
            .filter(|c| c.repetitions >= 4)
            .map(|c| c.sentence()),
    );
    let model = Adapted { memorised };
    let r = run_leakage_suite(
        &SuiteModels {
            base: &Base,
            adapter: &model,
            generator: &model,
        },
        &SuiteData {
            members: &members,
            nonmembers: &nonmembers,
            canaries: &canaries,
        },
        &scanner,
        &config(),
    )
    .unwrap();
    assert!(r.summary.mia_auc_max > 0.99, "{:?}", r.summary);
    assert!(r.summary.mia_tpr_at_0_1pct_fpr_max > 0.9, "{:?}", r.summary);
    assert_eq!(r.membership.len(), 4);
    let exposure = |reps| {
        r.canaries
            .iter()
            .find(|c| c.repetitions == reps)
            .unwrap()
            .exposure
    };
    assert!(
        exposure(8) > 15.0 && exposure(1) < exposure(8),
        "{:?}",
        r.canaries
    );
    assert_eq!(r.extraction.verbatim_rate, 1.0);
    assert!(r.summary.phi_findings > 0);

    let dir = tempfile::tempdir().unwrap();
    let limits = ReportLimits {
        max_mia_tpr_at_0_1pct_fpr: Some(0.05),
        max_canary_exposure: Some(10.0),
        max_phi_findings: Some(0),
        max_extraction_verbatim_rate: None,
    };
    let w = write_report(&r, &limits, dir.path()).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(md.contains("**OVER LIMIT**"));
    let png = std::fs::read(&w.roc_png).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let json = std::fs::read_to_string(&w.json).unwrap();
    // Neither the notes' numbers nor their text may appear in the report.
    for n in &members {
        let id = &n.text[n.text.find("999").unwrap()..][..12];
        assert!(
            !json.contains(id) && !md.contains(id),
            "identifier {id} leaked into the report"
        );
    }
    assert!(!json.contains("Presented with cough"));
}

#[test]
fn model_that_learned_nothing_specific_looks_like_chance() {
    let members = notes(0..60);
    let nonmembers = notes(100..160);
    let model = Adapted {
        memorised: HashSet::new(),
    };
    let r = run_leakage_suite(
        &SuiteModels {
            base: &Base,
            adapter: &model,
            generator: &model,
        },
        &SuiteData {
            members: &members,
            nonmembers: &nonmembers,
            canaries: &[],
        },
        &scanner,
        &config(),
    )
    .unwrap();
    let lr = r
        .membership
        .iter()
        .find(|a| a.attack == "loss_ratio" && a.level == "note")
        .unwrap();
    assert!(lr.auc.ci_low < 0.5 + 0.2 && lr.auc.ci_high > 0.3, "{lr:?}");
    assert_eq!(r.summary.canary_exposure_max, None);
    assert_eq!(r.extraction.verbatim, 0);
    assert_eq!(r.summary.phi_findings, 0);
}

#[test]
fn same_seed_same_report() {
    let members = notes(0..20);
    let nonmembers = notes(100..120);
    let canaries = generate_canaries(3, &[1, 8], 1);
    let model = Adapted {
        memorised: members.iter().map(|n| n.text.clone()).collect(),
    };
    let run = || {
        run_leakage_suite(
            &SuiteModels {
                base: &Base,
                adapter: &model,
                generator: &model,
            },
            &SuiteData {
                members: &members,
                nonmembers: &nonmembers,
                canaries: &canaries,
            },
            &scanner,
            &config(),
        )
        .unwrap()
    };
    assert_eq!(
        serde_json::to_string(&run()).unwrap(),
        serde_json::to_string(&run()).unwrap()
    );
}

#[test]
fn refuses_missing_nonmembers() {
    let members = notes(0..5);
    let model = Adapted {
        memorised: HashSet::new(),
    };
    let e = run_leakage_suite(
        &SuiteModels {
            base: &Base,
            adapter: &model,
            generator: &model,
        },
        &SuiteData {
            members: &members,
            nonmembers: &[],
            canaries: &[],
        },
        &scanner,
        &config(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("0 non-members"), "{e}");
}
