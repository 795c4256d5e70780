//! UK clinical abbreviations: finds them, picks a sense for ambiguous ones
//! ("MS", "PE", "RA", "CP", "MI") from cue words nearby, and expands them.
//! The lexicon is `lexicon/abbreviations.toml` (compiled in; licence beside it).

use crate::tokens::tokenise;
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

const DEFAULT_LEXICON: &str = include_str!("../lexicon/abbreviations.toml");

/// Tokens either side of an abbreviation searched for cue words.
const CUE_WINDOW: usize = 12;

#[derive(Deserialize)]
struct LexiconFile {
    abbr: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    abbr: String,
    #[serde(default, rename = "match")]
    match_mode: Option<String>,
    senses: Vec<Sense>,
}

#[derive(Deserialize)]
struct Sense {
    expansion: String,
    cues: Vec<String>,
}

/// One abbreviation found in text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbbreviationHit {
    /// Byte range of the abbreviation.
    pub span: Range<usize>,
    /// Chosen expansion.
    pub expansion: String,
    /// False when the abbreviation is ambiguous and no cue decided it (the
    /// default sense was taken); such hits are not expanded.
    pub confident: bool,
}

/// A compiled abbreviation lexicon.
pub struct AbbreviationLexicon {
    exact: HashMap<String, usize>,
    any_case: HashMap<String, usize>,
    entries: Vec<Entry>,
}

impl AbbreviationLexicon {
    /// Parses a lexicon in the format of `lexicon/abbreviations.toml`.
    pub fn from_toml(text: &str, origin: &str) -> Result<AbbreviationLexicon, Error> {
        let file: LexiconFile = toml::from_str(text).map_err(|e| Error::Lexicon {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        let mut lex = AbbreviationLexicon {
            exact: HashMap::new(),
            any_case: HashMap::new(),
            entries: Vec::new(),
        };
        for (i, e) in file.abbr.into_iter().enumerate() {
            if e.senses.is_empty() {
                return Err(Error::Lexicon {
                    origin: origin.into(),
                    message: format!(
                        "abbreviation {:?} has no senses — give at least one {{expansion, cues}}",
                        e.abbr
                    ),
                });
            }
            match e.match_mode.as_deref() {
                None | Some("exact") => lex.exact.insert(e.abbr.clone(), i),
                Some("any") => lex.any_case.insert(e.abbr.to_lowercase(), i),
                Some(other) => {
                    return Err(Error::Lexicon {
                        origin: origin.into(),
                        message: format!(
                            "abbreviation {:?}: match = {other:?} — use \"exact\" or \"any\"",
                            e.abbr
                        ),
                    })
                }
            };
            lex.entries.push(e);
        }
        Ok(lex)
    }

    /// The compiled-in UK lexicon.
    pub fn builtin() -> &'static AbbreviationLexicon {
        static LEX: OnceLock<AbbreviationLexicon> = OnceLock::new();
        LEX.get_or_init(|| {
            AbbreviationLexicon::from_toml(DEFAULT_LEXICON, "lexicon/abbreviations.toml")
                .expect("built-in abbreviation lexicon is valid (tested)")
        })
    }

    /// Every abbreviation in `text`, with its sense.
    pub fn find(&self, text: &str) -> Vec<AbbreviationHit> {
        let tokens = tokenise(text);
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let raw = &text[t.span.clone()];
            let Some(&idx) = self.exact.get(raw).or_else(|| self.any_case.get(&t.lower)) else {
                continue;
            };
            let entry = &self.entries[idx];
            let lo = i.saturating_sub(CUE_WINDOW);
            let hi = (i + CUE_WINDOW + 1).min(tokens.len());
            let context: Vec<&str> = tokens[lo..hi]
                .iter()
                .enumerate()
                .filter(|(j, _)| lo + j != i)
                .map(|(_, t)| t.lower.as_str())
                .collect();
            let scores: Vec<usize> = entry
                .senses
                .iter()
                .map(|s| {
                    s.cues
                        .iter()
                        .filter(|c| context.contains(&c.as_str()))
                        .count()
                })
                .collect();
            let best = scores.iter().copied().max().unwrap_or(0);
            let chosen = scores.iter().position(|&s| s == best).unwrap_or(0);
            let tied = scores.iter().filter(|&&s| s == best).count() > 1;
            let confident = entry.senses.len() == 1 || (best > 0 && !tied);
            out.push(AbbreviationHit {
                span: t.span.clone(),
                expansion: entry.senses[chosen].expansion.clone(),
                confident,
            });
        }
        out
    }

    /// `text` with every confidently resolved abbreviation replaced by its expansion.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 4);
        let mut at = 0;
        for hit in self.find(text).into_iter().filter(|h| h.confident) {
            out.push_str(&text[at..hit.span.start]);
            out.push_str(&hit.expansion);
            at = hit.span.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Expands abbreviations with the built-in lexicon.
pub fn expand_abbreviations(text: &str) -> String {
    AbbreviationLexicon::builtin().expand(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sense(text: &str, abbr: &str) -> (String, bool) {
        let start = text.find(abbr).unwrap();
        let h = AbbreviationLexicon::builtin()
            .find(text)
            .into_iter()
            .find(|h| h.span.start == start)
            .unwrap();
        (h.expansion, h.confident)
    }

    #[test]
    fn ambiguous_abbreviations_follow_their_context() {
        assert_eq!(
            sense("Known MS, relapse last year, on ocrelizumab.", "MS").0,
            "multiple sclerosis"
        );
        assert_eq!(
            sense("Loud diastolic murmur, echo shows severe MS.", "MS").0,
            "mitral stenosis"
        );
        assert_eq!(
            sense("MS 10mg oral PRN for pain.", "MS").0,
            "morphine sulphate"
        );
        assert_eq!(sense("Sats 95% on RA.", "RA").0, "room air");
        assert_eq!(
            sense("RA on methotrexate, hands swollen.", "RA").0,
            "rheumatoid arthritis"
        );
        assert_eq!(
            sense("CTPA to exclude PE, Wells 6.", "PE").0,
            "pulmonary embolism"
        );
        assert_eq!(
            sense("Blunting of costophrenic angle, small PE, for tap.", "PE").0,
            "pleural effusion"
        );
    }

    #[test]
    fn undecided_senses_are_not_expanded() {
        assert_eq!(sense("Has MS.", "MS"), ("multiple sclerosis".into(), false));
        assert_eq!(expand_abbreviations("Has MS."), "Has MS.");
    }

    #[test]
    fn expansion_replaces_unambiguous_and_resolved_ones() {
        assert_eq!(expand_abbreviations("Pt c/o SOB, PMH T2DM. Metformin b.d."), "patient complaining of shortness of breath, past medical history type 2 diabetes mellitus. Metformin twice daily");
        // Case matters for exact entries: "sob" in prose is not expanded.
        assert_eq!(expand_abbreviations("she began to sob"), "she began to sob");
    }

    #[test]
    fn bad_lexicons_are_rejected_with_the_file_name() {
        let e =
            AbbreviationLexicon::from_toml("[[abbr]]\nabbr = \"X\"\nsenses = []\n", "mine.toml")
                .err()
                .unwrap()
                .to_string();
        assert!(e.contains("mine.toml") && e.contains("no senses"), "{e}");
    }
}
