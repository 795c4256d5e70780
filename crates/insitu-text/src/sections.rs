//! Sectioniser: splits a note into sections by the headings NHS and US notes
//! use ("PMH:", "O/E", "Impression", "A/P" …). Headings come from a TOML
//! lexicon; the default one is compiled in.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

const DEFAULT_LEXICON: &str = include_str!("../lexicon/sections.toml");

/// Headings longer than this (in bytes) are not looked up: a heading is a
/// short label, and this keeps prose lines with a colon from matching.
const MAX_HEADING_BYTES: usize = 48;

/// One section of a note: its canonical name and where its body lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Canonical name from the lexicon (`past_medical_history`, `plan`, …);
    /// `preamble` for text before the first heading.
    pub name: String,
    /// The heading as written (`PMH`), empty for the preamble.
    pub heading: String,
    /// Byte range of the body (after the heading and its colon).
    pub body: Range<usize>,
}

#[derive(Deserialize)]
struct LexiconFile {
    section: Vec<SectionEntry>,
}

#[derive(Deserialize)]
struct SectionEntry {
    name: String,
    headings: Vec<String>,
}

/// Heading → canonical section name, loaded from TOML.
#[derive(Debug, Clone)]
pub struct SectionLexicon {
    by_heading: HashMap<String, String>,
}

impl SectionLexicon {
    /// Parses a lexicon: `[[section]] name = "…" headings = ["…"]`.
    /// `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<SectionLexicon, Error> {
        let file: LexiconFile = toml::from_str(text).map_err(|e| Error::Lexicon {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut by_heading = HashMap::new();
        for entry in file.section {
            for h in entry.headings {
                let key = normalise_heading(&h);
                if key.is_empty() || key.len() > MAX_HEADING_BYTES {
                    return Err(Error::Lexicon {
                        origin: origin.to_string(),
                        message: format!(
                            "section {:?}: heading {h:?} must be 1–{MAX_HEADING_BYTES} bytes",
                            entry.name
                        ),
                    });
                }
                if let Some(prev) = by_heading.insert(key, entry.name.clone()) {
                    if prev != entry.name {
                        return Err(Error::Lexicon {
                            origin: origin.to_string(),
                            message: format!(
                                "heading {h:?} is listed under both {prev:?} and {:?} — keep it in one section",
                                entry.name
                            ),
                        });
                    }
                }
            }
        }
        Ok(SectionLexicon { by_heading })
    }

    /// The compiled-in NHS + US lexicon.
    pub fn builtin() -> &'static SectionLexicon {
        static LEX: OnceLock<SectionLexicon> = OnceLock::new();
        LEX.get_or_init(|| {
            SectionLexicon::from_toml(DEFAULT_LEXICON, "lexicon/sections.toml")
                .expect("the built-in section lexicon is valid (tested)")
        })
    }

    /// Canonical section for a heading as written, if known.
    pub fn lookup(&self, heading: &str) -> Option<&str> {
        self.by_heading
            .get(&normalise_heading(heading))
            .map(String::as_str)
    }

    /// Splits `text` into sections. Text before the first heading becomes a
    /// `preamble` section (omitted when blank).
    pub fn sectionise(&self, text: &str) -> Vec<Section> {
        let mut out: Vec<Section> = Vec::new();
        let mut current = Section {
            name: "preamble".into(),
            heading: String::new(),
            body: 0..0,
        };
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            if let Some((heading_len, body_offset, name)) = self.heading_at_line_start(line) {
                current.body.end = line_start;
                if !(current.heading.is_empty() && text[current.body.clone()].trim().is_empty()) {
                    out.push(current);
                }
                let indent = line.len() - line.trim_start().len();
                current = Section {
                    name: name.to_string(),
                    heading: line[indent..indent + heading_len].trim().to_string(),
                    body: line_start + body_offset..line_start + body_offset,
                };
            }
            line_start += line.len();
        }
        current.body.end = text.len();
        if !(current.heading.is_empty() && text[current.body.clone()].trim().is_empty()) {
            out.push(current);
        }
        out
    }

    /// If `line` starts with a known heading, returns (heading length after
    /// indentation, offset of the body within the line, canonical name).
    fn heading_at_line_start(&self, line: &str) -> Option<(usize, usize, &str)> {
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        let content = rest.trim_end();
        // "PMH: asthma" / "PMH - asthma" / "PMH" alone / "PAST MEDICAL HISTORY".
        let candidates = [
            content.find(':').map(|i| (i, i + 1)),
            content.find(" - ").map(|i| (i, i + 3)),
            Some((content.len(), content.len())),
        ];
        for (end, body) in candidates.into_iter().flatten() {
            let label = &content[..end];
            if label.len() > MAX_HEADING_BYTES || label.trim().is_empty() {
                continue;
            }
            if let Some(name) = self.lookup(label) {
                // A bare line only counts as a heading when nothing follows it.
                if end == content.len() && !content.ends_with(':') {
                    let bare = label.trim();
                    let shouty = bare.chars().any(|c| c.is_alphabetic())
                        && !bare.chars().any(|c| c.is_lowercase());
                    if !shouty && bare.split_whitespace().count() < 2 && bare.len() < 4 {
                        // "PE" alone on a line is more likely a finding than a heading.
                        continue;
                    }
                }
                let body_start = indent + body;
                let skip_ws = line[body_start..].len()
                    - line[body_start..].trim_start_matches([' ', '\t']).len();
                return Some((end, body_start + skip_ws, name));
            }
        }
        None
    }
}

fn normalise_heading(h: &str) -> String {
    h.trim()
        .trim_end_matches([':', '-', '.'])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Sectionises with the built-in lexicon.
pub fn sectionise(text: &str) -> Vec<Section> {
    SectionLexicon::builtin().sectionise(text)
}

/// The section whose body contains byte `offset`, if any.
pub fn section_at(sections: &[Section], offset: usize) -> Option<&Section> {
    sections
        .iter()
        .find(|s| s.body.start <= offset && offset < s.body.end.max(s.body.start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, String)> {
        sectionise(text)
            .into_iter()
            .map(|s| (s.name, text[s.body].trim().to_string()))
            .collect()
    }

    #[test]
    fn nhs_clerking_headings_split_into_sections() {
        let note = "PC: chest pain\nHPC: 2/7 central CP radiating to L arm.\nPMH: T2DM, HTN\nDHx: metformin 500mg b.d.\nSHx: ex-smoker\nFHx: father MI aged 50\nO/E: HS I+II+0\nImp: ?ACS\nPlan: serial trops\nTTO: aspirin 75mg od\n";
        let got = names(note);
        let want = [
            ("presenting_complaint", "chest pain"),
            (
                "history_presenting_complaint",
                "2/7 central CP radiating to L arm.",
            ),
            ("past_medical_history", "T2DM, HTN"),
            ("drug_history", "metformin 500mg b.d."),
            ("social_history", "ex-smoker"),
            ("family_history", "father MI aged 50"),
            ("examination", "HS I+II+0"),
        ];
        for (i, (n, b)) in want.iter().enumerate() {
            assert_eq!(got[i], (n.to_string(), b.to_string()), "section {i}");
        }
        assert_eq!(got[7], ("impression".into(), "?ACS".into()));
        assert_eq!(got[8], ("plan".into(), "serial trops".into()));
        assert_eq!(
            got[9],
            ("discharge_medications".into(), "aspirin 75mg od".into())
        );
    }

    #[test]
    fn us_headings_and_multiline_bodies() {
        let note = "Chief Complaint: cough\n\nHPI:\n45M with 3 days of cough.\nNo fever.\n\nROS: negative\nASSESSMENT AND PLAN\nLikely viral URI.\n";
        let got = names(note);
        assert_eq!(got[0], ("presenting_complaint".into(), "cough".into()));
        assert_eq!(
            got[1],
            (
                "history_presenting_complaint".into(),
                "45M with 3 days of cough.\nNo fever.".into()
            )
        );
        assert_eq!(got[2], ("review_of_systems".into(), "negative".into()));
        assert_eq!(
            got[3],
            ("assessment_plan".into(), "Likely viral URI.".into())
        );
    }

    #[test]
    fn radiology_findings_and_impression() {
        let note = "CT PULMONARY ANGIOGRAM\nFindings: No filling defect.\nImpression: No PE.";
        let got = names(note);
        assert_eq!(got[0].0, "preamble");
        assert_eq!(got[1], ("findings".into(), "No filling defect.".into()));
        assert_eq!(got[2], ("impression".into(), "No PE.".into()));
    }

    #[test]
    fn prose_with_colons_is_not_a_heading() {
        let got = names("Patient seen today: feels better.\npe\nplan to discharge\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "preamble");
    }

    #[test]
    fn custom_toml_lexicon_is_used_and_conflicts_are_rejected() {
        let lex = SectionLexicon::from_toml(
            "[[section]]\nname = \"jobs\"\nheadings = [\"jobs for ward\"]\n",
            "custom.toml",
        )
        .unwrap();
        let s = lex.sectionise("Jobs for ward: bloods\n");
        assert_eq!(s[0].name, "jobs");
        let err = SectionLexicon::from_toml(
            "[[section]]\nname = \"a\"\nheadings = [\"x\"]\n[[section]]\nname = \"b\"\nheadings = [\"X\"]\n",
            "bad.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bad.toml") && err.contains("both"), "{err}");
        let err = SectionLexicon::from_toml("nonsense = [", "broken.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken.toml"), "{err}");
    }

    #[test]
    fn section_at_finds_the_enclosing_section() {
        let text = "PMH: asthma\nFHx: IHD\n";
        let s = sectionise(text);
        let at = text.find("IHD").unwrap();
        assert_eq!(section_at(&s, at).unwrap().name, "family_history");
    }
}
