//! Deterministic synthetic clinical notes (NHS and US styles) with gold PHI
//! spans, ICD-10 codes and assertion labels. For tests and the demo only:
//! nothing here may be used on real data, and nothing here reads any.
//!
//! A corpus is a list of patients; each patient has one or two admissions and
//! every admission a timeline of notes (ED triage → radiology → operation →
//! handover → discharge summary → clinic letter). Notes are written by
//! appending fragments and recording each identifier's byte range as it is
//! appended, so gold spans are exact by construction. The same
//! [`SynthConfig`] always gives the same bytes.
//!
//! ```
//! let cfg = insitu_synth::SynthConfig { patients: 3, seed: 7, ..Default::default() };
//! let corpus = insitu_synth::Corpus::generate(&cfg);
//! let note = &corpus.notes[0];
//! for span in corpus.phi.iter().filter(|s| s.doc == note.id) {
//!     assert!(!note.text[span.start..span.end].is_empty());
//! }
//! ```

mod builder;
mod clinical;
mod nhs;
mod notes;
mod patient;
mod surface;
mod words;
mod write;
mod writer;

pub use nhs::{is_valid_nhs_number, nhs_check_digit};
pub use write::{write_corpus, write_corpus_with_progress, Error, Summary, OUTPUT_FILES};

use chrono::{Duration, NaiveDateTime};
use insitu_types::{Assertion, SpanRecord};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a corpus is generated.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Number of patients (each gets 3–12 notes).
    pub patients: usize,
    /// Seed for every random choice: same config, same bytes.
    pub seed: u64,
    /// Share of patients written in US style (the rest NHS style), 0.0–1.0.
    pub us_share: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            patients: 50,
            seed: 0,
            us_share: 0.3,
        }
    }
}

/// Which health system's conventions a note follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// UK: NHS numbers, dd/mm/yyyy, postcodes, GP practices, UK spelling.
    Nhs,
    /// US: MRNs, SSN-like numbers, mm/dd/yyyy, ZIP codes, US spelling.
    Us,
}

/// The kinds of note a corpus contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Emergency department triage note (has a triage category).
    EdTriage,
    /// Radiology report with findings and impression.
    Radiology,
    /// Operative or procedure note.
    Operative,
    /// Ward handover sheet entry (SBAR).
    Handover,
    /// Discharge summary.
    DischargeSummary,
    /// Outpatient clinic letter to the GP / primary care physician.
    ClinicLetter,
}

impl NoteKind {
    /// Every kind, in timeline order.
    pub const ALL: [NoteKind; 6] = [
        NoteKind::EdTriage,
        NoteKind::Radiology,
        NoteKind::Operative,
        NoteKind::Handover,
        NoteKind::DischargeSummary,
        NoteKind::ClinicLetter,
    ];

    /// The snake_case label used in `notes.jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::EdTriage => "ed_triage",
            NoteKind::Radiology => "radiology",
            NoteKind::Operative => "operative",
            NoteKind::Handover => "handover",
            NoteKind::DischargeSummary => "discharge_summary",
            NoteKind::ClinicLetter => "clinic_letter",
        }
    }
}

impl fmt::Display for NoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `notes.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Unique document id, `syn-<patient>-<seq>`.
    pub id: String,
    /// The raw identifier an export carries: NHS number (10 digits, NHS
    /// style) or MRN (8 digits, US style).
    pub patient_id: String,
    /// What kind of note this is.
    pub kind: NoteKind,
    /// When it was written, RFC 3339 UTC (`2024-03-12T14:05:00Z`).
    pub written_at: String,
    /// The note text.
    pub text: String,
    /// The admission this note belongs to, `enc-<patient>-<n>`.
    pub encounter_id: String,
    /// NHS or US conventions.
    pub style: Style,
    /// ICD-10 codes of the encounter: the acute diagnosis first, then comorbidities.
    pub icd10: Vec<String>,
    /// ED triage category 1 (most urgent) – 5, only on `ed_triage` notes:
    /// Manchester Triage System for NHS style, ESI for US style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_category: Option<u8>,
}

/// A planted clinical finding: `text[start..end] == concept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingLabel {
    /// Byte offset of the concept's first byte.
    pub start: usize,
    /// Byte offset one past its last byte.
    pub end: usize,
    /// The concept exactly as written in the text.
    pub concept: String,
    /// Present, absent, possible, hypothetical, historical or family.
    pub assertion: Assertion,
    /// ICD-10 code of the concept when it is a coded diagnosis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
}

/// A section: its heading as written and the byte range from the heading's
/// first byte to the end of the section's text (trailing whitespace excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionLabel {
    /// The heading exactly as written (`text[start..start + heading.len()]`).
    pub heading: String,
    /// Byte offset of the heading.
    pub start: usize,
    /// Byte offset one past the section's last non-whitespace byte.
    pub end: usize,
}

/// An ICD-10 code with its (WHO ICD-10) title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodedDiagnosis {
    /// The code, e.g. `J18.9`.
    pub code: String,
    /// Its title, e.g. `Pneumonia, unspecified`.
    pub description: String,
}

/// One line of `labels.jsonl`: everything known about one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocLabels {
    /// The document id (matches `Note::id`).
    pub doc: String,
    /// The encounter the document belongs to.
    pub encounter_id: String,
    /// The encounter's codes with titles, acute diagnosis first.
    pub icd10: Vec<CodedDiagnosis>,
    /// Every planted finding with its assertion.
    pub findings: Vec<FindingLabel>,
    /// Section boundaries.
    pub sections: Vec<SectionLabel>,
}

/// A note with its gold PHI spans and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticNote {
    /// The note.
    pub note: Note,
    /// Gold PHI spans, sorted by start offset.
    pub phi: Vec<SpanRecord>,
    /// Codes, findings and sections.
    pub labels: DocLabels,
}

/// One patient's notes in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// The raw identifier (NHS number or MRN).
    pub patient_id: String,
    /// NHS or US conventions.
    pub style: Style,
    /// Notes in the order they were written.
    pub notes: Vec<SyntheticNote>,
}

/// A whole corpus in memory (for tests; use [`write_corpus`] for large ones).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Corpus {
    /// Every note, patient by patient.
    pub notes: Vec<Note>,
    /// Every gold PHI span.
    pub phi: Vec<SpanRecord>,
    /// One label record per note.
    pub labels: Vec<DocLabels>,
}

impl Corpus {
    /// Generates the corpus described by `cfg` in memory.
    pub fn generate(cfg: &SynthConfig) -> Corpus {
        let mut c = Corpus::default();
        for p in generate(cfg) {
            for n in p.notes {
                c.notes.push(n.note);
                c.phi.extend(n.phi);
                c.labels.push(n.labels);
            }
        }
        c
    }
}

/// Generates patients one at a time (memory stays flat for big corpora).
pub fn generate(cfg: &SynthConfig) -> impl Iterator<Item = Patient> + '_ {
    (0..cfg.patients).map(move |i| generate_patient(cfg, i))
}

/// Generates patient `index` of the corpus `cfg` describes; independent of
/// the other patients, so any one can be regenerated alone.
pub fn generate_patient(cfg: &SynthConfig, index: usize) -> Patient {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(index as u64);
    let p = patient::patient(&mut rng, cfg.seed, index, cfg.us_share.clamp(0.0, 1.0));
    let patient_id = p.patient_id();

    // (time, kind, encounter) in timeline order.
    let mut plan: Vec<(NaiveDateTime, NoteKind, usize)> = Vec::new();
    for (ei, e) in p.encounters.iter().enumerate() {
        plan.push((
            e.arrival + Duration::minutes(rng.gen_range(5..40)),
            NoteKind::EdTriage,
            ei,
        ));
        if rng.gen_bool(0.9) {
            plan.push((
                e.imaging_at + Duration::minutes(rng.gen_range(20..180)),
                NoteKind::Radiology,
                ei,
            ));
        }
        if let Some(op) = e.op_at {
            plan.push((
                op + Duration::minutes(rng.gen_range(60..150)),
                NoteKind::Operative,
                ei,
            ));
        }
        if e.handover_at < e.discharge && rng.gen_bool(0.75) {
            plan.push((e.handover_at, NoteKind::Handover, ei));
        }
        plan.push((e.discharge, NoteKind::DischargeSummary, ei));
        if let Some(clinic) = e.clinic {
            plan.push((
                clinic + Duration::days(rng.gen_range(1..6)),
                NoteKind::ClinicLetter,
                ei,
            ));
        }
    }
    plan.sort_by_key(|(t, k, _)| (*t, *k));

    let notes = plan
        .into_iter()
        .enumerate()
        .map(|(seq, (at, kind, ei))| {
            let e = &p.encounters[ei];
            let mut w = writer::Writer::new(rng.gen(), &p, e, at);
            match kind {
                NoteKind::EdTriage => notes::ed_triage(&mut w),
                NoteKind::Radiology => notes::radiology(&mut w),
                NoteKind::Operative => notes::operative(&mut w),
                NoteKind::Handover => notes::handover(&mut w),
                NoteKind::DischargeSummary => notes::discharge_summary(&mut w),
                NoteKind::ClinicLetter => notes::clinic_letter(&mut w),
            }
            let built = w.b.finish();
            let id = format!("syn-{index:06}-{seq:02}");
            let mut codes = vec![CodedDiagnosis {
                code: e.acute.icd10.into(),
                description: e.acute.description.into(),
            }];
            for item in &e.pmh {
                if let Some(code) = item.icd10 {
                    if let Some(c) = clinical::CHRONIC.iter().find(|c| c.icd10 == code) {
                        codes.push(CodedDiagnosis {
                            code: code.into(),
                            description: c.description.into(),
                        });
                    }
                }
            }
            let note = Note {
                id: id.clone(),
                patient_id: patient_id.clone(),
                kind,
                written_at: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                text: built.text,
                encounter_id: e.id.clone(),
                style: p.style,
                icd10: codes.iter().map(|c| c.code.clone()).collect(),
                triage_category: (kind == NoteKind::EdTriage).then_some(e.triage),
            };
            let phi = built
                .phi
                .into_iter()
                .map(|(start, end, category)| SpanRecord {
                    doc: id.clone(),
                    start,
                    end,
                    category,
                })
                .collect();
            let labels = DocLabels {
                doc: id,
                encounter_id: e.id.clone(),
                icd10: codes,
                findings: built.findings,
                sections: built.sections,
            };
            SyntheticNote { note, phi, labels }
        })
        .collect();
    Patient {
        patient_id,
        style: p.style,
        notes,
    }
}
