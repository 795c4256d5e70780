//! Per-document quality: length bounds, boilerplate-only notes, non-English
//! text and broken encoding, combined into one score in [0, 1].

use serde::{Deserialize, Serialize};

/// Thresholds for [`assess`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QualityConfig {
    /// Fewer words than this is too short to learn from.
    pub min_words: usize,
    /// More words than this is probably a concatenated export, not a note.
    pub max_words: usize,
    /// Lowest score a document may have and still be used.
    pub min_score: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_words: 20,
            max_words: 20_000,
            min_score: 0.5,
        }
    }
}

/// A problem found in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// Under `min_words`.
    TooShort,
    /// Over `max_words`.
    TooLong,
    /// Only standard phrases, headings and signatures.
    BoilerplateOnly,
    /// Mostly function words of another language.
    NotEnglish,
    /// Replacement characters, mojibake or control characters.
    BrokenEncoding,
}

/// The verdict for one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// 1.0 = no problems; each problem multiplies it down.
    pub score: f64,
    /// Word count.
    pub words: usize,
    /// Problems found.
    pub flags: Vec<QualityFlag>,
}

impl Quality {
    /// Whether the document should be used under `cfg`.
    pub fn passes(&self, cfg: &QualityConfig) -> bool {
        self.score >= cfg.min_score
    }
}

/// Lines that say nothing clinical on their own.
const BOILERPLATE: &[&str] = &[
    "electronically signed",
    "dictated but not read",
    "dictated not read",
    "see previous notes",
    "see previous entry",
    "see above",
    "no change to plan",
    "plan as above",
    "continue as per plan",
    "results reviewed",
    "letter to follow",
    "for information only",
    "confidential",
    "cc:",
    "copy to",
    "please do not hesitate",
    "yours sincerely",
    "kind regards",
    "many thanks",
    "thank you for referring",
    "did not attend",
    "dna",
    "patient not seen",
    "entered in error",
    "this note was",
    "page ",
    "printed on",
    "signed:",
    "reviewed by",
    "bleep",
    "ext.",
    "please see attached",
];

const ENGLISH: &[&str] = &[
    "the", "and", "of", "to", "with", "in", "on", "for", "no", "not", "is", "was", "has", "had",
    "he", "she", "his", "her", "patient", "pt", "pain", "seen", "today", "at", "as", "be", "by",
    "from", "or", "are", "were", "this", "that", "plan", "review", "history", "left", "right",
];

const OTHER_LANGUAGES: &[&str] = &[
    // French, German, Spanish, Italian, Portuguese, Dutch function words that
    // are not also common English words.
    "le", "la", "les", "et", "des", "une", "est", "avec", "pour", "pas", "dans", "du", "der", "die",
    "das", "und", "ist", "nicht", "mit", "ein", "eine", "auf", "den", "el", "los", "las", "y",
    "que", "con", "por", "del", "para", "il", "di", "che", "della", "gli", "non", "os", "da",
    "não", "com", "uma", "em", "het", "een", "niet", "met", "van", "zijn", "paciente", "patiënt",
    "douleur", "dolor",
];

/// Scores `text` under `cfg`.
pub fn assess(text: &str, cfg: &QualityConfig) -> Quality {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut flags = Vec::new();
    let mut score = 1.0f64;
    if words.len() < cfg.min_words {
        flags.push(QualityFlag::TooShort);
        score *= words.len() as f64 / cfg.min_words.max(1) as f64 * 0.5;
    }
    if words.len() > cfg.max_words {
        flags.push(QualityFlag::TooLong);
        score *= 0.4;
    }
    if boilerplate_only(text) {
        flags.push(QualityFlag::BoilerplateOnly);
        score *= 0.1;
    }
    let english = words
        .iter()
        .filter(|w| ENGLISH.contains(&w.as_str()))
        .count();
    let foreign = words
        .iter()
        .filter(|w| OTHER_LANGUAGES.contains(&w.as_str()))
        .count();
    if foreign >= 3 && foreign > english {
        flags.push(QualityFlag::NotEnglish);
        score *= 0.1;
    }
    if broken_encoding(text) {
        flags.push(QualityFlag::BrokenEncoding);
        score *= 0.2;
    }
    Quality {
        score,
        words: words.len(),
        flags,
    }
}

fn boilerplate_only(text: &str) -> bool {
    let mut substantive = 0;
    let mut any = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        any = true;
        let lower = line.to_lowercase();
        let is_boiler = BOILERPLATE.iter().any(|b| lower.contains(b));
        // Headings and sign-offs are short; a line of four or more words that is
        // not a stock phrase carries content.
        if !is_boiler && line.split_whitespace().count() >= 4 {
            substantive += 1;
        }
    }
    any && substantive == 0
}

fn broken_encoding(text: &str) -> bool {
    let replacement = text.matches('\u{FFFD}').count();
    let mojibake = ["Ã©", "Ã¨", "â€™", "â€œ", "â€", "Â£", "Â "]
        .iter()
        .map(|m| text.matches(m).count())
        .sum::<usize>();
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    let bad = replacement + mojibake + control;
    bad >= 3 || (bad > 0 && bad * 200 > text.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "PC: chest pain\nHPC: 2 days of central chest pain radiating to the left arm, worse on exertion.\nPlan: serial troponins and review by the medical team in the morning.";

    #[test]
    fn a_normal_note_scores_one() {
        let q = assess(GOOD, &QualityConfig::default());
        assert_eq!(q.flags, vec![]);
        assert_eq!(q.score, 1.0);
    }

    #[test]
    fn each_problem_is_flagged_and_lowers_the_score() {
        let cfg = QualityConfig::default();
        let short = assess("Seen. Fine.", &cfg);
        assert!(short.flags.contains(&QualityFlag::TooShort) && !short.passes(&cfg));
        let boiler = assess("See previous notes.\nPlan as above.\nElectronically signed by the registrar on call\nDictated but not read", &cfg);
        assert!(
            boiler.flags.contains(&QualityFlag::BoilerplateOnly),
            "{boiler:?}"
        );
        let french = assess("Le patient est arrivé avec une douleur thoracique et des nausées pour la première fois dans la journée avec son fils.", &cfg);
        assert!(
            french.flags.contains(&QualityFlag::NotEnglish),
            "{french:?}"
        );
        let broken = format!("{GOOD} caf\u{FFFD} \u{FFFD}\u{FFFD} donâ€™t");
        assert!(assess(&broken, &cfg)
            .flags
            .contains(&QualityFlag::BrokenEncoding));
        let long = QualityConfig {
            max_words: 10,
            ..cfg.clone()
        };
        assert!(assess(GOOD, &long).flags.contains(&QualityFlag::TooLong));
    }
}
