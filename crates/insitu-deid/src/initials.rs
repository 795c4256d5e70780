//! Staff initials that stand for a person: initials signing an entry after
//! a dash ("-JM") or with a "Mc" ("SMcG"), the reference line of a letter
//! ("Our ref: AM/JT" — author and typist), initials before a role in
//! brackets ("KL (Band 6)", "RT (HCA)"), initials signing off the end of a
//! note ("… chart amended. K.S."), and every other place in the note where
//! initials found that way appear again ("RT (HCA) with KL"). Also the
//! listed name words opening the line of a date of birth, in any case
//! ("cecilia little | DOB 25/02/1978").

use crate::{lexicon::Lexicon, Span};
use insitu_types::Category;
use std::sync::LazyLock;

/// Role words written in brackets after a person's initials.
const ROLES_IN_BRACKETS: &[&str] = &[
    "ahp", "anp", "ap", "band", "cn", "cns", "csw", "dn", "en", "fy1", "fy2", "hca", "hcsw", "hv",
    "na", "np", "nurse", "ot", "physio", "pt", "reg", "rgn", "rm", "rmn", "rn", "sho", "sister",
    "slt", "sn", "spr", "ssn", "staff", "student", "tvn",
];

/// Staff initials that sign an entry ("… Sitter requested. -JM") and
/// initials with a "Mc" ("SMcG", "LMcK"), which are never abbreviations.
pub(crate) fn signed_and_mc_initials(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    // Each line's end: only a line ending in two or three capitals after a
    // dash (checked on its last bytes) is looked at further.
    let mut line_end = 0;
    while line_end <= bytes.len() {
        let next_nl =
            memchr::memchr(b'\n', &bytes[line_end..]).map_or(bytes.len(), |i| line_end + i);
        let line_start = line_end;
        line_end = next_nl + 1;
        let mut e = next_nl;
        while e > line_start && matches!(bytes[e - 1], b' ' | b'\t' | b'\r') {
            e -= 1;
        }
        let letters = bytes[line_start..e]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_uppercase())
            .count();
        if !(2..=3).contains(&letters) {
            continue;
        }
        let tag_start = e - letters;
        let mut d = tag_start;
        while d > line_start && bytes[d - 1] == b' ' {
            d -= 1;
        }
        // "-JM", "- JM" or "– JM" (the en dash is three bytes).
        let dash = if d > line_start && bytes[d - 1] == b'-' {
            d - 1
        } else if d >= line_start + 3 && &bytes[d - 3..d] == "–".as_bytes() {
            d - 3
        } else {
            continue;
        };
        let before = text[line_start..dash].trim_end();
        if before.len() > 10 && before.ends_with(['.', ')']) {
            out.push(Span {
                start: tag_start,
                end: e,
                category: Category::Name,
                detector: "signing_initials",
                confidence: 0.7,
            });
        }
    }
    // "SMcG", "LMcK": one or two capitals, "Mc", one or two capitals.
    let b = text.as_bytes();
    for mc in memchr::memmem::find_iter(b, b"Mc") {
        let mut start = mc;
        while start > 0 && mc - start < 2 && b[start - 1].is_ascii_uppercase() {
            start -= 1;
        }
        let mut end = mc + 2;
        while end < b.len() && end - mc - 2 < 2 && b[end].is_ascii_uppercase() {
            end += 1;
        }
        let bounded = (start == 0 || !b[start - 1].is_ascii_alphanumeric())
            && (end == b.len() || !b[end].is_ascii_alphanumeric());
        if start < mc && end > mc + 2 && bounded {
            out.push(Span {
                start,
                end,
                category: Category::Name,
                detector: "initials",
                confidence: 0.7,
            });
        }
    }
    out
}

static REF: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"ef:"));

/// Initials ("KL", "SMcK", "K.S.") naming staff; see the module comment.
pub(crate) fn staff_initials(text: &str) -> Vec<Span> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    letter_references(text, &mut found);
    before_roles_in_brackets(text, &mut found);
    signing_off(text, &mut found);
    after_staff_labels(text, &mut found);
    after_done_by(text, &mut found);
    if found.is_empty() {
        return Vec::new();
    }
    // The same initials elsewhere in the note are the same person.
    let mut again = Vec::new();
    for &(s, e) in &found {
        let token = &text[s..e];
        if token.contains('.') || token.len() < 2 {
            continue;
        }
        for (at, _) in text.match_indices(token) {
            let end = at + token.len();
            if at != s && whole_word(text, at, end) && !found.contains(&(at, end)) {
                again.push((at, end));
            }
        }
    }
    found
        .into_iter()
        .map(|se| (se, 0.7))
        .chain(again.into_iter().map(|se| (se, 0.6)))
        .map(|((start, end), confidence)| Span {
            start,
            end,
            category: Category::Name,
            detector: "staff_initials",
            confidence,
        })
        .collect()
}

fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    (start == 0 || !b[start - 1].is_ascii_alphanumeric())
        && (end == b.len() || !b[end].is_ascii_alphanumeric())
}

/// "KL", "SMcK", "LMcG": two to four letters, capitals apart from "Mc".
fn is_initials(token: &str) -> bool {
    let upper = token.bytes().filter(u8::is_ascii_uppercase).count();
    let mc = token.matches("Mc").count();
    (2..=5).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphabetic())
        && upper + mc == token.len()
        && upper >= 2
        && !is_clinical(token)
}

fn is_clinical(token: &str) -> bool {
    Lexicon::get()
        .clinical
        .contains(token.to_ascii_lowercase().as_str())
}

/// "Ref: AM/JT", "Our ref: SMcK/LD", "Your ref: RB/am": author and typist.
fn letter_references(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for at in REF.find_iter(b) {
        if at == 0 || !matches!(b[at - 1], b'r' | b'R') {
            continue;
        }
        if at >= 2 && b[at - 2].is_ascii_alphabetic() {
            continue;
        }
        let value_start = at + 3 + (text[at + 3..].len() - text[at + 3..].trim_start().len());
        author_and_typist(text, value_start, out);
    }
    // "typed 30/11/2023 AB/cd": the pair closing a typed letter's line.
    for at in TYPED.find_iter(b) {
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let mut from = at;
        while let Some(slash) = text[from..line_end].find('/') {
            let slash = from + slash;
            let start = ascii_word_start(text, slash);
            if start < slash {
                author_and_typist(text, start, out);
            }
            from = slash + 1;
        }
    }
}

/// Where the ASCII letters running up to byte `end` begin (bytewise, so
/// always on a character boundary).
pub(crate) fn ascii_word_start(text: &str, end: usize) -> usize {
    let b = text.as_bytes();
    let mut i = end;
    while i > 0 && b[i - 1].is_ascii_alphabetic() {
        i -= 1;
    }
    i
}

static TYPED: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"yped "));

/// "AM/JT", "SMcK/LD", "RB/am" at `value_start`: the author's initials and
/// the typist's, each part initials or two or three lower-case letters.
fn author_and_typist(text: &str, value_start: usize, out: &mut Vec<(usize, usize)>) {
    let value_end = text[value_start..]
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '.' | ')'))
        .map_or(text.len(), |i| value_start + i);
    let value = &text[value_start..value_end];
    if !value.contains('/') {
        return;
    }
    let mut parts = Vec::new();
    let mut at_part = value_start;
    for part in value.split('/') {
        let typist = (2..=3).contains(&part.len()) && part.bytes().all(|c| c.is_ascii_lowercase());
        if !(is_initials(part) || typist) {
            return;
        }
        parts.push((at_part, at_part + part.len()));
        at_part += part.len() + 1;
    }
    out.extend(parts);
}

/// "KL (Band 6)", "RT (HCA)", "JP (student nurse)".
fn before_roles_in_brackets(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for open in memchr::memchr_iter(b'(', b) {
        let mut e = open;
        while e > 0 && b[e - 1] == b' ' {
            e -= 1;
        }
        if e == open {
            continue;
        }
        let s = text[..e]
            .char_indices()
            .rev()
            .find(|&(_, c)| !c.is_ascii_alphabetic())
            .map_or(0, |(i, c)| i + c.len_utf8());
        if s == e || !is_initials(&text[s..e]) {
            continue;
        }
        let inside = &text[open + 1..];
        let role: String = inside
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if ROLES_IN_BRACKETS.contains(&role.as_str()) {
            out.push((s, e));
        }
    }
}

/// The note's last word, when it is initials after a full stop or on a line
/// of its own: "… chart amended. K.S.", "consider Actico if exudate
/// reduces. BC".
fn signing_off(text: &str, out: &mut Vec<(usize, usize)>) {
    let end = text.trim_end().len();
    let start = text[..end]
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    if start == 0 || start == end {
        return;
    }
    let token = &text[start..end];
    let dotted = token.len() >= 4
        && token.len() <= 6
        && token
            .split_terminator('.')
            .all(|p| p.len() == 1 && p.bytes().all(|c| c.is_ascii_uppercase()))
        && token.ends_with('.');
    let word = !dotted
        && Lexicon::get()
            .common
            .contains(token.to_ascii_lowercase().as_str());
    if !(dotted || is_initials(token)) || word {
        return;
    }
    let before = text[..start].trim_end_matches([' ', '\t']);
    if before.ends_with(['.', '\n']) || text[before.len()..start].contains('\n') {
        out.push((start, end));
    }
}

/// Labels for the member of staff who did a task, before their initials
/// (not `cues::STAFF_LABELS`, roles written before a first name).
const TASK_LABELS: &[&str] = &[
    "tech",
    "technician",
    "rph",
    "pharmacist",
    "phlebotomist",
    "witness",
    "witnessed",
    "checker",
    "checked",
    "initials",
    "nurse",
    "rn",
    "hca",
    "scribe",
    "operator",
    "porter",
    "sonographer",
    "radiographer",
    "recorder",
    "runner",
    "dispenser",
    "dispensed",
    "counted",
    "staff",
];

/// Service and test abbreviations that are no one's initials ("seen by GP",
/// "confirmed by CT").
const NOT_INITIALS: &[&str] = &[
    "gp", "ed", "ct", "mri", "ot", "slt", "ae", "icu", "itu", "hdu", "ccu", "ent", "ecg", "ekg",
    "us", "uss", "cxr", "xr", "ir", "np", "pa", "rn", "hca", "md", "do", "dr", "mdt", "ems", "iv",
    "po", "sc", "im", "pr", "ng", "amu", "sau", "cdu", "gi", "ob", "pt", "nhs", "cqc", "sw", "cpn",
    "cmht", "uk", "usa", "ok", "na", "nad", "pmh", "hpi", "ltc", "snf", "pcp", "ip", "op", "or",
    "pacu", "nicu", "picu", "scbu", "ms", "mr", "dn", "hv", "mw",
];

/// "Phlebotomist: DW", "Tech: SKM", "RPH: TLN", "Initials R-W": initials
/// after a label for the member of staff who did the task.
fn after_staff_labels(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for colon in memchr::memchr_iter(b':', b) {
        // Initials start with two capitals: most colons (times, labels
        // before words) stop here, before the label is looked up.
        let mut v = colon + 1;
        while matches!(b.get(v), Some(b' ' | b'\t')) {
            v += 1;
        }
        if !(b.get(v).is_some_and(u8::is_ascii_uppercase)
            && b.get(v + 1)
                .is_some_and(|c| c.is_ascii_uppercase() || *c == b'c'))
        {
            continue;
        }
        let label_start = ascii_word_start(text, colon);
        let label = &text[label_start..colon];
        if label.len() < 2
            || label.len() > 13
            || !TASK_LABELS.iter().any(|l| l.eq_ignore_ascii_case(label))
        {
            continue;
        }
        out.extend(staff_initials_at(text, v));
    }
}

/// The initials starting at byte `start` ("DW", "SKM"), closed off by
/// anything but a letter, digit or full stop, and no service abbreviation.
fn staff_initials_at(text: &str, start: usize) -> Option<(usize, usize)> {
    let rest = &text[start..];
    let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    let token = &rest[..len];
    let closed = !rest[len..].starts_with(|c: char| c.is_alphanumeric() || c == '.');
    (closed && is_initials(token) && !NOT_INITIALS.contains(&token.to_ascii_lowercase().as_str()))
        .then_some((start, start + len))
}

static BY: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b" by "));

/// "Processed by KT 28/2", "checked by AB and CD": initials after a verb
/// for a task done and "by".
fn after_done_by(text: &str, out: &mut Vec<(usize, usize)>) {
    const DONE: &[&str] = &[
        "processed",
        "checked",
        "witnessed",
        "given",
        "administered",
        "dispensed",
        "prepared",
        "verified",
        "entered",
        "recorded",
        "scanned",
        "typed",
        "completed",
        "signed",
        "taken",
        "collected",
        "drawn",
        "counted",
        "countersigned",
        "transcribed",
        "documented",
    ];
    let b = text.as_bytes();
    for at in BY.find_iter(b) {
        let verb_start = ascii_word_start(text, at);
        if !DONE
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&text[verb_start..at]))
        {
            continue;
        }
        out.extend(staff_initials_at(text, at + " by ".len()));
    }
}

static DOB: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"DOB"));

/// "cecilia little | DOB 25/02/1978", "OKAFOR Chidi, DOB: …": the two or
/// three words opening the line a date of birth is on are the patient's
/// name when a name list knows them, whatever their case.
pub(crate) fn names_before_dob(text: &str) -> Vec<Span> {
    let lex = Lexicon::get();
    let mut out = Vec::new();
    for at in DOB.find_iter(text.as_bytes()) {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let head = text[line_start..at].trim_end_matches([' ', '\t', '|', ',', '-', ';', '(']);
        let lead = head.len() - head.trim_start().len();
        let head = head.trim_start();
        let words: Vec<&str> = head.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        if !(2..=3).contains(&words.len())
            || !words.iter().all(|w| {
                w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-'))
            })
        {
            continue;
        }
        let listed = |w: &&str| {
            let k = w.to_lowercase();
            lex.first.contains(k.as_str()) || lex.surnames.contains(k.as_str())
        };
        let everyday = |w: &&str| {
            let k = w.to_lowercase();
            lex.clinical.contains(k.as_str())
                || (lex.common.contains(k.as_str()) && !lex.first.contains(k.as_str()))
        };
        // Both words known as names, and not a heading ("Patient details").
        if words.iter().all(listed)
            && !words.iter().all(everyday)
            && !words.iter().any(|w| {
                let k = w.to_lowercase();
                lex.clinical.contains(k.as_str())
            })
        {
            let start = line_start + lead;
            out.push(Span {
                start,
                end: start + head.len(),
                category: Category::Name,
                detector: "name_before_dob",
                confidence: 0.7,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        staff_initials(text)
            .into_iter()
            .map(|s| &text[s.start..s.end])
            .collect()
    }

    #[test]
    fn initials_in_references_before_roles_and_at_the_end() {
        assert_eq!(names("Our ref: SMcK/LD     Date: 4 May"), ["SMcK", "LD"]);
        assert_eq!(names("Ref: AM/jt\nDear Dr"), ["AM", "jt"]);
        assert_eq!(names("Ref: 2024/118 seen"), Vec::<&str>::new());
        assert_eq!(
            names("letter dictated 28/11/2023, typed 30/11/2023 AB/cd."),
            ["AB", "cd"]
        );
        assert_eq!(names("typed notes: IV/po switch"), Vec::<&str>::new());
        assert_eq!(names("Phlebotomist: DW\nTech: SKM"), ["DW", "SKM"]);
        assert_eq!(names("Processed by KT 28/2"), ["KT"]);
        // Letters outside ASCII before a label or a slash.
        assert!(names("Café: AB ü/x é by KT").is_empty());
        assert_eq!(
            names("Checked by GP. Tech: CT done. Reviewed by JS"),
            Vec::<&str>::new()
        );
        assert_eq!(
            names("Next visit Thursday. KL (Band 6)\nRT (HCA) with KL"),
            ["KL", "RT", "KL"]
        );
        assert_eq!(names("Pharmacy clinical check complete. K.S."), ["K.S."]);
        assert_eq!(names("Continue plan if exudate reduces. BC"), ["BC"]);
        // Clinical abbreviations are not initials.
        assert_eq!(names("Obs stable. NAD"), Vec::<&str>::new());
    }

    #[test]
    fn listed_names_opening_a_date_of_birth_line() {
        let found = |t: &str| {
            names_before_dob(t)
                .into_iter()
                .map(|s| t[s.start..s.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found("Report\ncecilia little | DOB 25/02/1978"),
            ["cecilia little"]
        );
        assert!(found("Patient details DOB 01/02/1960").is_empty());
        assert!(found("Date of birth / DOB: 1/1/1950").is_empty());
    }
}
