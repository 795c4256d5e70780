//! ConText-style assertion (Harkema et al. 2009): is a concept in a sentence
//! present, absent, possible, hypothetical, historical, or about a family
//! member? Triggers from the lexicon modify the concept when it falls inside
//! their scope (direction, a word cap, and no terminator in between); the
//! section a concept sits in (FHx, PMH) supplies a default.

mod eval;
mod lexicon;

pub use eval::{AssertionScores, ClassScores};

use crate::sections::{section_at, sectionise};
use crate::sentences::split_sentences;
use crate::tokens::{tokenise, Token};
use crate::Error;
use insitu_types::Assertion;
use lexicon::{Dir, Kind, Trigger, DURATION, TRIGGERS, YEAR};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// Decides the assertion of the first occurrence of `concept` in `text`
/// (case-insensitive). Fails when the concept does not occur.
pub fn assert_concept(text: &str, concept: &str) -> Result<Assertion, Error> {
    let span = find_concept(text, concept).ok_or_else(|| Error::ConceptNotFound {
        concept: concept.to_string(),
    })?;
    Ok(assert_span(text, span))
}

/// Decides the assertion of the concept at byte range `span` of `text`.
pub fn assert_span(text: &str, span: Range<usize>) -> Assertion {
    let mut kinds: Vec<Kind> = Vec::new();
    if let Some(k) = prefix_kind(text, &span) {
        kinds.push(k);
    }
    // "pain-free", "symptom-free": a suffix glued to the concept.
    if text[span.end..].to_lowercase().starts_with("-free") {
        kinds.push(Kind::Negation);
    }
    let sentence = split_sentences(text)
        .into_iter()
        .find(|s| s.start <= span.start && span.start < s.end)
        .unwrap_or(0..text.len());
    let tokens: Vec<Token> = tokenise(&text[sentence.clone()])
        .into_iter()
        .map(|mut t| {
            t.span = t.span.start + sentence.start..t.span.end + sentence.start;
            t.lower = t.lower.replace('’', "'");
            t
        })
        .collect();
    let concept_toks = concept_tokens(&tokens, &span);
    let matches = match_triggers(&tokens, &concept_toks);
    for m in &matches {
        if matches!(m.kind, Kind::Pseudo | Kind::Terminate) {
            continue;
        }
        if in_scope(m, &concept_toks, &matches, &tokens) {
            kinds.push(m.kind);
        }
    }
    let sections = sectionise(text);
    if let Some(sec) = section_at(&sections, span.start) {
        match sec.name.as_str() {
            "family_history" => kinds.push(Kind::Family),
            "past_medical_history" => kinds.push(Kind::Historical),
            _ => {}
        }
    }
    resolve(&kinds)
}

/// Precedence when several modifiers apply: a conditional statement is not
/// an assertion at all; a negation outranks who or when; family outranks
/// uncertainty ("mother ?MS" is still about the mother).
fn resolve(kinds: &[Kind]) -> Assertion {
    let order = [
        (Kind::Hypothetical, Assertion::Hypothetical),
        (Kind::Negation, Assertion::Absent),
        (Kind::Family, Assertion::Family),
        (Kind::Uncertainty, Assertion::Possible),
        (Kind::Historical, Assertion::Historical),
    ];
    order
        .into_iter()
        .find(|(k, _)| kinds.contains(k))
        .map_or(Assertion::Present, |(_, a)| a)
}

fn find_concept(text: &str, concept: &str) -> Option<Range<usize>> {
    let needle = concept.trim();
    if needle.is_empty() {
        return None;
    }
    if let Some(i) = text.find(needle) {
        return Some(i..i + needle.len());
    }
    // Case-insensitive search that keeps byte offsets of the original text.
    let lower_needle = needle.to_lowercase();
    text.char_indices().map(|(i, _)| i).find_map(|i| {
        let rest = &text[i..];
        let mut end = i;
        let mut folded = String::new();
        for (j, c) in rest.char_indices() {
            if folded.len() >= lower_needle.len() {
                break;
            }
            folded.extend(c.to_lowercase());
            end = i + j + c.len_utf8();
        }
        (folded == lower_needle).then_some(i..end)
    })
}

/// "non-tender", "afebrile", "ex-smoker": a prefix glued to the concept.
fn prefix_kind(text: &str, span: &Range<usize>) -> Option<Kind> {
    let before = &text[..span.start];
    let word_start = before
        .rfind(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ':'))
        .map_or(0, |i| i + 1);
    let glued = before[word_start..].to_lowercase();
    match glued.as_str() {
        "non-" | "non" | "a" | "an" => Some(Kind::Negation),
        "ex-" | "ex" | "post-" => Some(Kind::Historical),
        "?" => Some(Kind::Uncertainty),
        _ => None,
    }
}

fn concept_tokens(tokens: &[Token], span: &Range<usize>) -> Range<usize> {
    let first = tokens
        .iter()
        .position(|t| t.span.end > span.start)
        .unwrap_or(tokens.len());
    let last = tokens
        .iter()
        .rposition(|t| t.span.start < span.end)
        .map_or(first, |i| i + 1);
    first..last.max(first)
}

struct Match {
    kind: Kind,
    dir: Dir,
    cap: u8,
    toks: Range<usize>,
}

struct Compiled {
    by_first: HashMap<String, Vec<(Vec<String>, &'static Trigger)>>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let mut by_first: HashMap<String, Vec<(Vec<String>, &'static Trigger)>> = HashMap::new();
        for trig in TRIGGERS {
            let words: Vec<String> = trig
                .phrase
                .split_whitespace()
                .flat_map(|w| {
                    if w == YEAR || w == DURATION {
                        vec![w.to_string()]
                    } else {
                        tokenise(w).into_iter().map(|t| t.lower).collect()
                    }
                })
                .collect();
            by_first
                .entry(words[0].clone())
                .or_default()
                .push((words, trig));
        }
        for v in by_first.values_mut() {
            v.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
        }
        Compiled { by_first }
    })
}

fn token_matches(pattern: &str, tok: &str) -> bool {
    if pattern == YEAR {
        return tok.len() == 4
            && tok.chars().all(|c| c.is_ascii_digit())
            && (tok.starts_with("19") || tok.starts_with("20"));
    }
    if pattern == DURATION {
        let (n, unit) = tok.split_once('/').unwrap_or((tok, "7"));
        return !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
            && matches!(unit, "7" | "52" | "12" | "24");
    }
    pattern == tok
}

/// Longest-match trigger scan, left to right. Triggers overlapping the
/// concept itself are ignored ("free fluid" is not negated by "free").
fn match_triggers(tokens: &[Token], concept: &Range<usize>) -> Vec<Match> {
    let lex = compiled();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if concept.contains(&i) {
            i = concept.end;
            continue;
        }
        if tokens[i].lower == "?" {
            out.push(query_mark(tokens, i));
            i += 1;
            continue;
        }
        let keys = [tokens[i].lower.as_str(), YEAR, DURATION];
        let found = keys
            .iter()
            .filter(|k| token_matches(k, &tokens[i].lower) || **k == tokens[i].lower)
            .filter_map(|k| lex.by_first.get(*k))
            .flatten()
            .filter(|(words, _)| {
                let end = i + words.len();
                end <= tokens.len()
                    && !(i..end).any(|k| concept.contains(&k))
                    && words
                        .iter()
                        .zip(&tokens[i..end])
                        .all(|(w, t)| token_matches(w, &t.lower))
            })
            .max_by_key(|(words, _)| words.len());
        match found {
            Some((words, trig)) => {
                out.push(Match {
                    kind: trig.kind,
                    dir: trig.dir,
                    cap: trig.cap,
                    toks: i..i + words.len(),
                });
                i += words.len();
            }
            None => i += 1,
        }
    }
    out
}

/// "?PE", "? PE" query the next words; a trailing "PE?" queries the words before.
fn query_mark(tokens: &[Token], i: usize) -> Match {
    let followed_by_word = tokens.get(i + 1).is_some_and(|t| !t.is_punct());
    Match {
        kind: Kind::Uncertainty,
        dir: if followed_by_word {
            Dir::Forward
        } else {
            Dir::Backward
        },
        cap: 3,
        toks: i..i + 1,
    }
}

fn in_scope(m: &Match, concept: &Range<usize>, all: &[Match], tokens: &[Token]) -> bool {
    let between = if concept.start >= m.toks.end && m.dir != Dir::Backward {
        m.toks.end..concept.start
    } else if concept.end <= m.toks.start && m.dir != Dir::Forward {
        concept.end..m.toks.start
    } else {
        return false;
    };
    let words = tokens[between.clone()]
        .iter()
        .filter(|t| !t.is_punct())
        .count();
    if words > m.cap as usize {
        return false;
    }
    // "Delirium, likely multifactorial": a two-way uncertainty word after a
    // comma qualifies what follows it, not what came before.
    let looking_back = concept.end <= m.toks.start;
    if looking_back
        && m.dir == Dir::Both
        && m.kind == Kind::Uncertainty
        && tokens[between.clone()].iter().any(|t| t.lower == ",")
    {
        return false;
    }
    !all.iter().any(|other| {
        other.kind == Kind::Terminate
            && other.toks.start >= between.start
            && other.toks.end <= between.end
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Assertion::*;

    fn a(text: &str, concept: &str) -> Assertion {
        assert_concept(text, concept).unwrap()
    }

    #[test]
    fn negation_forward_backward_and_lists() {
        assert_eq!(
            a("Denies chest pain, palpitations or syncope.", "syncope"),
            Absent
        );
        assert_eq!(a("CTPA: PE ruled out.", "PE"), Absent);
        assert_eq!(a("Abdo soft, non-tender.", "tender"), Absent);
        assert_eq!(a("Nil vomiting.", "vomiting"), Absent);
        assert_eq!(a("Chest pain, no SOB.", "chest pain"), Present);
    }

    #[test]
    fn pseudo_triggers_and_terminators_block_negation() {
        assert_eq!(a("No change in her cough.", "cough"), Present);
        assert_eq!(a("Gram negative bacilli in urine.", "bacilli"), Present);
        assert_eq!(
            a("No fever but productive cough.", "productive cough"),
            Present
        );
        assert_eq!(a("Cough has not resolved.", "Cough"), Present);
    }

    #[test]
    fn uncertainty_hypothetical_history_family() {
        assert_eq!(a("?PE - for CTPA.", "PE"), Possible);
        assert_eq!(a("PE cannot be excluded.", "PE"), Possible);
        assert_eq!(
            a("Return if chest pain develops.", "chest pain"),
            Hypothetical
        );
        assert_eq!(a("History of MI in 2015.", "MI"), Historical);
        assert_eq!(a("3 day history of cough.", "cough"), Present);
        assert_eq!(
            a("Mother had breast cancer aged 45.", "breast cancer"),
            Family
        );
        assert_eq!(a("FHx:\nIHD, T2DM", "IHD"), Family);
        assert_eq!(a("PMH: asthma, T2DM", "asthma"), Historical);
        assert_eq!(a("No family history of IHD.", "IHD"), Absent);
    }

    #[test]
    fn missing_concept_is_an_error() {
        let e = assert_concept("No fever.", "rash").unwrap_err().to_string();
        assert!(e.contains("rash"), "{e}");
        assert_eq!(find_concept("NO FEVER", "fever"), Some(3..8));
    }

    #[test]
    fn suffixes_nouns_and_neither_nor() {
        assert_eq!(a("Now symptom-free at rest.", "symptom"), Absent);
        assert_eq!(a("Neither fever nor rigors.", "fever"), Absent);
        assert_eq!(a("Consider PE if tachycardic.", "PE"), Possible);
        assert_eq!(a("Asthma runs in the family.", "Asthma"), Family);
    }

    #[test]
    fn comma_stops_backward_uncertainty() {
        assert_eq!(
            a("Delirium, likely multifactorial, is improving.", "delirium"),
            Present
        );
        assert_eq!(a("PE likely.", "PE"), Possible);
    }
}
