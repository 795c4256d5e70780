//! Sentence splitter for clinical text. A full stop ends a sentence unless it
//! belongs to an abbreviation ("Dr.", "pt.", "b.d.", "e.g."), a decimal
//! ("37.5") or a run of vital signs ("HR 88. BP 120/80. RR 16."); a line
//! break ends a sentence unless the line was simply wrapped mid-sentence;
//! list items ("1.", "-", "•") start new sentences.

use std::ops::Range;

/// Abbreviations that end in a full stop without ending the sentence
/// (lower case, without the final dot).
const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "miss", "prof", "pt", "pts", "st", "vs", "etc", "approx", "eg", "ie",
    "no", "nos", "ref", "fig", "inc", "dept", "hosp", "wk", "wks", "yr", "yrs", "mo", "hr", "hrs",
    "min", "mins", "max", "sec", "mg", "mcg", "ml", "kg", "cm", "mm", "od", "bd", "tds", "qds",
    "nocte", "mane", "prn", "stat", "po", "iv", "im", "sc", "bid", "tid", "qid", "qd", "hx", "dx",
    "tx", "rx", "sx", "fx", "ca", "cf", "al", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "approx",
    "resp", "temp", "abdo", "obs", "sats", "exam", "assoc", "cont", "dept", "univ",
];

/// Labels that start a vital sign; a sentence made only of vitals is merged
/// with the next one when that also starts with a vital sign.
const VITAL_LABELS: &[&str] = &[
    "bp", "hr", "pr", "rr", "t", "temp", "spo2", "sats", "sao2", "o2", "gcs", "avpu", "cbg", "bm",
    "crt", "pulse", "p", "news", "news2", "pain", "wt", "weight", "ht", "bmi",
];

/// Splits `text` into sentence byte ranges (trimmed, never empty).
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let mut raw: Vec<Range<usize>> = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let boundary_end = match b {
            b'\n' => {
                if line_break_ends_sentence(text, start, i) {
                    Some(i)
                } else {
                    None
                }
            }
            b'.' | b'!' | b'?' => {
                if punctuation_ends_sentence(text, start, i) {
                    Some(i + 1)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(end) = boundary_end {
            push_trimmed(text, start..end, &mut raw);
            start = end;
        }
        i += 1;
    }
    push_trimmed(text, start..text.len(), &mut raw);
    merge_vital_runs(text, raw)
}

fn push_trimmed(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail < s.len() {
        out.push(r.start + lead..r.end - trail);
    }
}

fn punctuation_ends_sentence(text: &str, start: usize, i: usize) -> bool {
    let bytes = text.as_bytes();
    let next = text[i + 1..].chars().next();
    // Must be followed by whitespace or the end ("37.5", "b.d.s", "?PE" stay whole).
    match next {
        None => return true,
        Some(c) if !c.is_whitespace() && c != '"' && c != ')' => return false,
        _ => {}
    }
    if bytes[i] != b'.' {
        // "?" after a space is a query marker ("? PE"), not a question mark.
        let query_marker = bytes[i] == b'?'
            && (text[start..i].trim().is_empty() || (i > 0 && bytes[i - 1] == b' '));
        return !query_marker;
    }
    let word_start = text[start..i]
        .rfind(|c: char| c.is_whitespace() || c == '(')
        .map_or(start, |p| start + p + 1);
    let word = &text[word_start..i];
    let bare = word
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    if bare.contains('.') {
        return false; // "b.d.", "e.g.", "i.e."
    }
    if bare.len() == 1 && bare.chars().all(|c| c.is_alphabetic()) {
        return false; // initials: "J. Smith"
    }
    if ABBREVIATIONS.contains(&bare.as_str()) {
        // "… 2 mg. Next" is still ambiguous; only a capitalised next word after a
        // unit-like abbreviation is taken as a new sentence.
        let after = text[i + 1..].trim_start();
        let next_word_cap = after.chars().next().is_some_and(|c| c.is_uppercase());
        let unit_like = matches!(
            bare.as_str(),
            "mg" | "mcg"
                | "ml"
                | "kg"
                | "cm"
                | "mm"
                | "od"
                | "bd"
                | "tds"
                | "qds"
                | "nocte"
                | "mane"
                | "prn"
                | "stat"
                | "etc"
                | "obs"
                | "hrs"
                | "mins"
                | "wks"
                | "yrs"
        );
        return unit_like && next_word_cap;
    }
    // "1." at the start of a line is a list marker, not a sentence.
    if bare.chars().all(|c| c.is_ascii_digit()) && text[start..word_start].trim().is_empty() {
        return false;
    }
    true
}

fn line_break_ends_sentence(text: &str, start: usize, i: usize) -> bool {
    let before = text[start..i].trim_end();
    if before.is_empty() {
        return true;
    }
    let after_line = text[i + 1..].lines().next().unwrap_or("");
    let next = after_line.trim_start();
    if next.is_empty() {
        return true; // blank line
    }
    if starts_list_item(next) {
        return true;
    }
    // A wrapped line: previous ends mid-phrase and the next starts lower case.
    let last = before.chars().last().unwrap_or('.');
    let first = next.chars().next().unwrap_or('A');
    let wrapped = (last.is_alphanumeric() || last == ',') && first.is_lowercase();
    !wrapped
}

fn starts_list_item(line: &str) -> bool {
    if line.starts_with(['-', '*', '•', '–']) {
        return true;
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && digits < 3 && matches!(line[digits..].chars().next(), Some('.') | Some(')'))
}

fn is_vital_fragment(s: &str) -> bool {
    let first = s
        .split(|c: char| c.is_whitespace() || c == ':')
        .next()
        .unwrap_or("")
        .to_lowercase();
    VITAL_LABELS.contains(&first.as_str())
        && s.chars().any(|c| c.is_ascii_digit())
        && s.split_whitespace().count() <= 6
}

fn merge_vital_runs(text: &str, raw: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(raw.len());
    for r in raw {
        if let Some(prev) = out.last_mut() {
            let gap = &text[prev.end..r.start];
            let prev_text = &text[prev.clone()];
            let prev_last_fragment = prev_text
                .rsplit(['.', ','])
                .find(|f| !f.trim().is_empty())
                .unwrap_or(prev_text)
                .trim();
            if !gap.contains('\n')
                && is_vital_fragment(prev_last_fragment)
                && is_vital_fragment(&text[r.clone()])
            {
                prev.end = r.end;
                continue;
            }
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: &str) -> Vec<&str> {
        split_sentences(t).into_iter().map(|r| &t[r]).collect()
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        assert_eq!(
            split("Seen by Dr. Patel with pt. in clinic. Takes ramipril 5mg o.d. and metformin b.d. for T2DM. Plan e.g. bloods."),
            ["Seen by Dr. Patel with pt. in clinic.", "Takes ramipril 5mg o.d. and metformin b.d. for T2DM.", "Plan e.g. bloods."]
        );
    }

    #[test]
    fn decimals_and_queries_stay_inside() {
        assert_eq!(
            split("Temp 37.5 today. ? PE - for CTPA. K+ 5.9 mmol/L."),
            ["Temp 37.5 today.", "? PE - for CTPA.", "K+ 5.9 mmol/L."]
        );
    }

    #[test]
    fn vital_sign_runs_are_one_sentence() {
        assert_eq!(
            split("Obs stable. HR 88. BP 120/80. RR 16. Sats 98% RA. Chest clear."),
            [
                "Obs stable.",
                "HR 88. BP 120/80. RR 16. Sats 98% RA.",
                "Chest clear."
            ]
        );
    }

    #[test]
    fn lists_and_lines() {
        assert_eq!(
            split("Plan:\n1. Bloods\n2. CXR\n- review in AM\nPatient is a 45 year old man who\npresented with cough.\n\nNo fever"),
            ["Plan:", "1. Bloods", "2. CXR", "- review in AM", "Patient is a 45 year old man who\npresented with cough.", "No fever"]
        );
    }

    #[test]
    fn question_marks_and_exclamations_end_sentences() {
        assert_eq!(
            split("Is he allergic? Unknown! Ask GP."),
            ["Is he allergic?", "Unknown!", "Ask GP."]
        );
    }
}
