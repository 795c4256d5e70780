//! Names placed by the layout of a note rather than by a cue word before
//! them:
//! - the patient banner opening a printout or a triage line ("rose | MRN
//!   44948468 | DOB …", "stone 74F MRN …", "Fox, 21 Oct 1932, 943 476 5919");
//! - sign-off blocks: "-- Hicks", "Holly Lamb" over "Consultant Radiologist",
//!   "frank, ST3", "lola pérez (FY2), bleep 8794", "Signed knight 18/11";
//! - "SURNAME, Forename" pairs ("Sweet, Bernice Staff Nurse",
//!   "NOVÁKOVÁ, Flora");
//! - a middle name between two name words ("Justin Will Maddox");
//! - the letters before the slash of a hospital number ("RTH/9254316") and
//!   an ID's last hyphenated digit group ("NP-230203-0871").
//!
//! In these places a word is taken for a name when it is on a name list or
//! is no everyday English word, so "Flora" and "Sweet" count there although
//! a sentence would not make them names.

use crate::lexicon::Lexicon;
use crate::{lines_at, Span};
use insitu_types::Category;

/// Runs the rules; `spans` are the spans found so far (sorted).
pub(crate) fn scan(text: &str, spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut before: Option<&str> = None;
    let mut lines = lines_at(text).peekable();
    while let Some((at, line)) = lines.next() {
        let body = line.trim_start_matches([' ', '\t']);
        let start = at + (line.len() - body.len());
        match body.as_bytes().first() {
            // "24 | edwin banks | 43M |": a handover row's number first.
            Some(c) if c.is_ascii_digit() => banner_row(text, spans, start, body, &mut out),
            Some(c) if c.is_ascii_alphabetic() || *c >= 0x80 => {
                // Most lines open with prose: the words' shapes, found once,
                // rule them out before any rule looks further.
                let (ends, k) = shape_ends(body, 3);
                if k > 0 {
                    let after = lines.peek().map(|l| l.1);
                    let words = Words {
                        body,
                        start,
                        ends,
                        k,
                    };
                    banner(text, spans, &words, &mut out);
                    sign_off(text, spans, &words, before, after, &mut out);
                } else {
                    dash_signature(body, start, &mut out);
                }
            }
            Some(_) => dash_signature(body, start, &mut out),
            None => {}
        }
        before = Some(line);
    }
    comma_pairs(text, spans, &mut out);
    trailing_initials(text, spans, &mut out);
    middle_names(text, spans, &mut out);
    id_prefixes(text, spans, &mut out);
    out
}

/// A line's text after its indent, where it starts, and where each of its
/// first words ends ([`shape_ends`]).
struct Words<'a> {
    body: &'a str,
    start: usize,
    ends: [usize; 3],
    k: usize,
}

fn name(start: usize, end: usize, detector: &'static str) -> Span {
    Span {
        start,
        end,
        category: Category::Name,
        detector,
        confidence: 0.7,
    }
}

/// Words that open a banner or a sign-off line without being a name.
const LABELS: &[&str] = &[
    "patient",
    "pt",
    "name",
    "names",
    "details",
    "demographics",
    "summary",
    "report",
    "record",
    "bed",
    "bay",
    "no",
    "number",
    "age",
    "sex",
    "dob",
    "mrn",
    "nhs",
    "chi",
    "hospital",
    "unit",
    "id",
    "ref",
    "re",
    "dear",
    "signed",
    "date",
    "time",
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "male",
    "female",
    "by",
    "from",
    "to",
    "cc",
    "end",
    "note",
    "notes",
    "plan",
    "page",
    "copy",
    "yours",
    "regards",
    "thanks",
    // Greetings and informal sign-offs: "Cheers, Dave", "Hi, Ruth" (not
    // "Love" or "Ta": surnames, as in the banner "Love, Anita, 19-11-1916").
    "cheers",
    "thx",
    "hi",
    "hiya",
    "hello",
    "sincerely",
    "faithfully",
    "best",
    "kind",
    "many",
    "with",
    "and",
    "the",
    "of",
    "for",
    "see",
    "per",
    "ok",
    "nil",
    "none",
    "unknown",
    "discharge",
    "admission",
    "triage",
    "handover",
    "referral",
    "letter",
    "result",
    "results",
    "imaging",
    "radiology",
    "seen",
    "reviewed",
    "admitted",
    "discharged",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "this",
    "that",
    "it",
    "is",
    "was",
    "a",
    "an",
    "in",
    "on",
    "at",
    "i",
    "we",
    "has",
    "had",
    "have",
    "been",
    "be",
    "not",
    "also",
    "who",
    "which",
    "just",
    "now",
    "then",
    "there",
    "here",
    "all",
    "both",
    "very",
    "well",
    "still",
    "already",
    "too",
    "did",
    "does",
    "staff",
    "nurse",
    "sister",
    "charge",
    "consultant",
    "doctor",
    "registrar",
    "matron",
];

/// A word that can stand in a name where the layout says a name stands:
/// letters (any script) with apostrophes or hyphens inside, not a label,
/// and on a name list or not an everyday or clinical word.
pub(crate) fn name_word(w: &str) -> bool {
    let mut chars = w.chars();
    if !chars.next().is_some_and(char::is_alphabetic)
        || !w
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-'))
        || w.ends_with(['-', '\'', '’'])
    {
        return false;
    }
    let k = w.to_lowercase();
    if LABELS.contains(&k.as_str()) {
        return false;
    }
    let lex = Lexicon::get();
    lex.first.contains(k.as_str())
        || lex.surnames.contains(k.as_str())
        || !(lex.common.contains(k.as_str()) || lex.clinical.contains(k.as_str()))
}

/// "D" or "D." before a surname.
fn initial(w: &str) -> bool {
    let w = w.strip_suffix('.').unwrap_or(w);
    w.len() == 1 && w.bytes().all(|c| c.is_ascii_uppercase())
}

/// The one to three words opening `s`, separated by single spaces (an
/// initial may come first): their byte length, or None.
fn name_words(s: &str, max: usize) -> Option<usize> {
    let mut end = 0;
    let mut named = 0;
    for (n, w) in s.split(' ').take(max).enumerate() {
        let trimmed = w.trim_end_matches([',', ';']);
        if !(name_word(trimmed) || (n == 0 && initial(trimmed))) {
            break;
        }
        named += usize::from(!initial(trimmed));
        // A space before every word but the first.
        end += usize::from(n > 0) + trimmed.len();
        if trimmed.len() != w.len() {
            break;
        }
    }
    (named > 0).then_some(end)
}

/// Where each of the first one to `max` words of `s` ends, judged by shape
/// alone (letters, or an initial first), before any word-list look-up: the
/// cheap test that rules out almost every line.
pub(crate) fn shape_ends(s: &str, max: usize) -> ([usize; 3], usize) {
    let b = s.as_bytes();
    let mut ends = [0; 3];
    let mut k = 0;
    let mut i = 0;
    while k < max.min(3) {
        // A word starts with a letter (ASCII, or any alphabetic character).
        let first_ok = match b.get(i) {
            Some(c) if c.is_ascii_alphabetic() => true,
            Some(c) if *c >= 0x80 => s[i..].starts_with(char::is_alphabetic),
            _ => false,
        };
        if !first_ok {
            break;
        }
        let mut j = i;
        while j < b.len() {
            let c = b[j];
            if c.is_ascii_alphabetic() || matches!(c, b'\'' | b'-' | b'.') {
                j += 1;
            } else if c >= 0x80 {
                let ch = s[j..].chars().next().expect("char boundary");
                if !(ch.is_alphabetic() || ch == '’') {
                    break;
                }
                j += ch.len_utf8();
            } else {
                break;
            }
        }
        // The word ends at a space, a comma or semicolon (which also ends
        // the run), or the end of the text; anything else spoils its shape.
        match b.get(j) {
            None | Some(b' ') => {}
            Some(b',' | b';') => {
                ends[k] = j;
                k += 1;
                break;
            }
            _ => break,
        }
        ends[k] = j;
        k += 1;
        if j + 1 >= b.len() || b[j + 1] == b' ' {
            break;
        }
        i = j + 1;
    }
    (ends, k)
}

/// Whether the words of `s` (single spaces) are all name words, an
/// initial allowed first, and not only initials.
fn all_name_words(s: &str) -> bool {
    name_words(s, 3) == Some(s.len())
}

/// Age and sex as a banner writes them: "74F", "100F", "43M", "77 F".
fn age_sex(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) {
        return false;
    }
    let rest = s[digits..].strip_prefix(' ').unwrap_or(&s[digits..]);
    rest.starts_with(['M', 'F']) && !rest[1..].starts_with(|c: char| c.is_alphanumeric())
}

/// Identifier labels that follow the name in a banner.
const BANNER_CUES: &[&str] = &[
    "MRN", "DOB", "D.O.B", "DoB", "NHS", "CHI", "Hosp", "HOSP", "MR#", "URN", "Unit No",
];

/// "rose | MRN 44948468 | DOB …", "stone 74F MRN 64291659", "24 | edwin
/// banks | 43M |", "GRACE WILKERSON   DOB: 04OCT1938", "Fox, 21 Oct 1932,
/// 567 582 57": the words opening a line that goes on straight into the
/// patient's identifiers.
fn banner(text: &str, spans: &[Span], w: &Words, out: &mut Vec<Span>) {
    let (body, start) = (w.body, w.start);
    for &n in w.ends[..w.k].iter().rev() {
        // "KNIGHT, Dawn | DOB": a surname, a comma, then the forename.
        if let Some(rest) = body[n..].strip_prefix(", ").filter(|_| w.k == 1) {
            let (fore, j) = shape_ends(rest, 2);
            for &m in fore[..j].iter().rev() {
                if cue_follows(text, spans, start + n + 2 + m, &rest[m..])
                    && all_name_words(&body[..n])
                    && all_name_words(&rest[..m])
                {
                    out.push(name(start, start + n + 2 + m, "banner_name"));
                    return;
                }
            }
        }
        // "Rose NHS 45M": when the longer run is no name ("NHS" is a
        // label), a shorter one before its own cue may be.
        if cue_follows(text, spans, start + n, &body[n..]) && all_name_words(&body[..n]) {
            out.push(name(start, start + n, "banner_name"));
            return;
        }
    }
}

/// "24 | edwin banks | 43M | CVA": the banner after a handover row's number.
fn banner_row(text: &str, spans: &[Span], start: usize, body: &str, out: &mut Vec<Span>) {
    let digits = body.bytes().take(4).take_while(u8::is_ascii_digit).count();
    let Some(rest) = body[digits..].strip_prefix(" | ") else {
        return;
    };
    if !(1..=3).contains(&digits) || !rest.starts_with(char::is_alphabetic) {
        return;
    }
    let (ends, k) = shape_ends(rest, 3);
    let start = start + (body.len() - rest.len());
    let words = Words {
        body: rest,
        start,
        ends,
        k,
    };
    banner(text, spans, &words, out);
}

/// Whether `rest` (the line after the name words, starting at byte `at`)
/// goes on with a separator and then an identifier: a label such as MRN,
/// an age and sex, or a date followed by another field.
fn cue_follows(text: &str, spans: &[Span], at: usize, rest: &str) -> bool {
    let b = rest.as_bytes();
    let mut i = if b.starts_with(b" | ") {
        3
    } else if b.starts_with(b", ") {
        2
    } else if matches!(b.first(), Some(b' ' | b'\t')) {
        1
    } else {
        return false;
    };
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    // Every cue starts with a digit or a capital: prose stops here.
    let first = match b.get(i) {
        Some(&c) if c.is_ascii_digit() || c.is_ascii_uppercase() => c,
        _ => return false,
    };
    let cue = &rest[i..];
    let labelled = || {
        BANNER_CUES.iter().any(|c| {
            cue.starts_with(c) && !cue[c.len()..].starts_with(|ch: char| ch.is_ascii_alphabetic())
        })
    };
    if (first.is_ascii_digit() && age_sex(cue)) || (b"MDNCHU".contains(&first) && labelled()) {
        return true;
    }
    // A date of birth starts with its day or its month's name.
    if !(first.is_ascii_digit() || b"JFMASOND".contains(&first)) {
        return false;
    }
    // "Fox, 21 Oct 1932, 567 582 57": a date of birth, then an identifier
    // (not "Seen 12-03-24, 19-03-24": a list of dates).
    let cue_at = at + (rest.len() - cue.len());
    let starting_at = |pos: usize, category: Category| {
        let i = spans.partition_point(|s| s.start < pos);
        spans[i..]
            .iter()
            .take_while(|s| s.start == pos)
            .find(|s| s.category == category)
    };
    let Some(d) = starting_at(cue_at, Category::Date) else {
        return false;
    };
    let after = &text[d.end..];
    let Some(next) = after
        .strip_prefix(", ")
        .or_else(|| after.strip_prefix(" | "))
    else {
        return false;
    };
    let next_at = d.end + (after.len() - next.len());
    starting_at(next_at, Category::Id).is_some()
}

/// Grades and job titles written after a name at a sign-off, beside the
/// credentials the word pass knows ([`crate::names::is_credential`]).
const GRADES: &[&str] = &[
    "st8", "ct3", "f1", "f2", "str", "reg", "pa-c", "lvn", "gp", "nurse", "physio", "ot", "slt",
    "midwife", "hcsw", "ccp", "sn", "ssn",
];

/// The first word of `s`, lower-cased, if it names a grade or a staff role.
fn grade_word(s: &str) -> bool {
    let len = s
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'-')
        .count();
    if !(2..=16).contains(&len) || s[len..].starts_with(|c: char| c.is_alphabetic()) {
        return false;
    }
    let mut buf = [0u8; 16];
    crate::lexicon::ascii_lowercase_in(&s[..len], &mut buf).is_some_and(|k| {
        GRADES.contains(&k) || crate::names::is_credential(k) || crate::names::is_role_word(k)
    })
}

/// Closings that a signature follows on the next line.
const CLOSINGS: &[&str] = &[
    "yours sincerely",
    "yours faithfully",
    "kind regards",
    "best regards",
    "regards",
    "best wishes",
    "with best wishes",
    "many thanks",
    "thanks",
    "signed",
];

/// "-- Hicks", "— Kovač": a signature after a dash, alone on its line.
fn dash_signature(body: &str, start: usize, out: &mut Vec<Span>) {
    let Some(rest) = body.strip_prefix("-- ").or_else(|| body.strip_prefix("— ")) else {
        return;
    };
    let rest_at = start + (body.len() - rest.len());
    let rest = rest.trim_end();
    if rest.starts_with(char::is_uppercase) && name_words(rest, 3) == Some(rest.len()) {
        out.push(name(rest_at, rest_at + rest.len(), "dash_signature"));
    }
}

fn sign_off(
    text: &str,
    spans: &[Span],
    w: &Words,
    before: Option<&str>,
    after: Option<&str>,
    out: &mut Vec<Span>,
) {
    let (body, start) = (w.body, w.start);
    // "Signed knight November 18, 2022", "Signed by A Monroe, 6/8".
    if matches!(body.as_bytes()[0], b'S' | b's') {
        for lead in ["Signed by ", "Signed ", "signed by ", "signed "] {
            if let Some(rest) = body.strip_prefix(lead) {
                signed(text, spans, start + lead.len(), rest.trim_end(), out);
                return;
            }
        }
    }
    for &n in &w.ends[..w.k] {
        let tail = body[n..].trim_end();
        // "frank, ST3", "lola pérez (FY2), bleep 8794", "Sweet, B Staff Nurse".
        let graded = tail
            .strip_prefix(", ")
            .or_else(|| tail.strip_prefix(" ("))
            .is_some_and(grade_word);
        // "Holly Lamb" over "Consultant Radiologist", "Johns" over "bleep
        // 7386", after a blank line or a closing.
        let signed_block = || {
            tail.is_empty()
                && body.starts_with(char::is_uppercase)
                && after.is_some_and(|next| {
                    let next = next.trim_start();
                    grade_word(next)
                        || ["bleep", "Bleep", "BLEEP", "Ext", "ext"]
                            .iter()
                            .any(|b| next.starts_with(b))
                })
                && before.is_none_or(|prev| {
                    let prev = prev.trim().trim_end_matches([',', '.']).to_lowercase();
                    prev.is_empty() || CLOSINGS.contains(&prev.as_str())
                })
        };
        if (graded || signed_block()) && all_name_words(&body[..n]) {
            out.push(name(start, start + n, "signature_line"));
            return;
        }
    }
}

/// "Signed knight November 18, 2022": the one to three name words after
/// "Signed" (`rest`, at byte `rest_at`), closed by the line's end, a comma
/// or a date.
fn signed(text: &str, spans: &[Span], rest_at: usize, rest: &str, out: &mut Vec<Span>) {
    let Some(mut n) = name_words(rest, 3) else {
        return;
    };
    // "knight November 18": the name stops where a date starts.
    if let Some(d) = spans
        .iter()
        .find(|d| d.category == Category::Date && d.start > rest_at && d.start < rest_at + n)
    {
        n = text[rest_at..d.start].trim_end().len();
    }
    let tail = &rest[n..];
    let dated = spans.iter().any(|s| {
        s.category == Category::Date
            && s.start > rest_at + n
            && text[rest_at + n..s.start]
                .chars()
                .all(|c| c == ' ' || c == ',')
    });
    if tail.is_empty() || tail.starts_with(", ") || dated {
        out.push(name(rest_at, rest_at + n, "signed_name"));
    }
}

/// Whether byte `at` opens a field: the line start, or after "- ", ": ",
/// "| " or "– " (spaces and tabs between).
fn opens_field(text: &str, at: usize) -> bool {
    let head = text[..at].trim_end_matches([' ', '\t']);
    head.is_empty() || head.ends_with(['\n', '-', ':', '|', '–'])
}

/// "Sweet, Bernice Staff Nurse", "Snider, Duane (partner)", "NOVÁKOVÁ,
/// Flora", "KOVAČ, Latoya, 15-10-2001": a surname and forename joined by a
/// comma at the head of a line or field, one of them already found as a
/// name, the pair closed off by the end of the line, a bracket, a number
/// or a role.
fn comma_pairs(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    let closed = |at: usize| {
        let rest = &text[at..];
        rest.is_empty()
            || rest.starts_with(['\n', '\r', '\t', '|'])
            || rest.starts_with(" (")
            || rest.starts_with(" |")
            || rest.starts_with("  ")
            || rest
                .strip_prefix(", ")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            || rest.strip_prefix(' ').is_some_and(grade_word)
    };
    let opens_field = |at: usize| opens_field(text, at);
    for s in spans.iter().filter(|s| s.category == Category::Name) {
        let word = &text[s.start..s.end];
        if word.contains(' ') {
            continue;
        }
        // The surname before a found forename.
        if let Some(head) = text[..s.start].strip_suffix(", ") {
            let w_start = head
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_alphabetic() || matches!(c, '\'' | '’' | '-')))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let w = &head[w_start..];
            if w.starts_with(char::is_uppercase)
                && name_word(w)
                && opens_field(w_start)
                && closed(s.end)
            {
                out.push(name(w_start, head.len(), "surname_comma"));
            }
        }
        // The forename after a found surname in capitals.
        let upper = word.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !word.chars().any(char::is_lowercase);
        if let Some(rest) = text[s.end..].strip_prefix(", ") {
            let n = rest
                .find(|c: char| !(c.is_alphabetic() || matches!(c, '\'' | '’' | '-')))
                .unwrap_or(rest.len());
            let w = &rest[..n];
            let at = s.end + 2;
            let listed = || {
                let k = w.to_lowercase();
                Lexicon::get().first.contains(k.as_str())
            };
            if upper
                && w.starts_with(char::is_uppercase)
                && w.chars().skip(1).all(char::is_lowercase)
                && w.len() >= 2
                && (name_word(w) || listed())
                && opens_field(s.start)
                && closed(at + n)
            {
                out.push(name(at, at + n, "forename_comma"));
            }
        }
    }
}

/// "Adebayo, F", "Castellano, R, DDS", "WHITLOCK, CORA J", "OSTROWSKI,
/// ADAM J MD": the initial that closes a name written surname first, in a
/// list, a table cell or a banner. The initial must be closed off (by the
/// end of the line or cell, a bracket, a comma, a full stop or a grade),
/// so "Smith, I think" and "Jones, A and E" keep their words.
fn trailing_initials(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    let closed = |at: usize| {
        let rest = &text[at..];
        rest.is_empty()
            || rest.starts_with(['\n', '\r', '\t', '|', '.', ',', ')'])
            || rest.starts_with(" (")
            || rest.starts_with(" |")
            || rest.starts_with("  ")
            || rest.strip_prefix(' ').is_some_and(grade_word)
    };
    let opens_field = |at: usize| opens_field(text, at);
    // The capital letter `at` holds, if it stands alone there.
    let initial_at = |at: usize| {
        let b = text.as_bytes();
        at < b.len()
            && b[at].is_ascii_uppercase()
            && !b.get(at + 1).is_some_and(u8::is_ascii_alphanumeric)
            // "M.D.": a dotted credential, not an initial.
            && !(b.get(at + 1) == Some(&b'.') && b.get(at + 2).is_some_and(u8::is_ascii_alphabetic))
            && closed(at + 1)
    };
    for (i, s) in spans.iter().enumerate() {
        if s.category != Category::Name {
            continue;
        }
        let word = &text[s.start..s.end];
        // "Adebayo, F": a lone surname at a field's head, then its initial.
        if !word.contains([' ', ',']) && opens_field(s.start) && text[s.end..].starts_with(", ") {
            let at = s.end + 2;
            if initial_at(at) {
                out.push(name(at, at + 1, "surname_initial"));
            }
            continue;
        }
        // "WHITLOCK, CORA J": a surname-first pair, then the initial.
        let surname_first = word.contains(", ")
            || i.checked_sub(1).is_some_and(|p| {
                let prev = &spans[p];
                prev.category == Category::Name
                    && prev.end + 2 == s.start
                    && text[prev.end..s.start] == *", "
                    && opens_field(prev.start)
            });
        if surname_first && text[s.end..].starts_with(' ') {
            let at = s.end + 1;
            if initial_at(at) {
                out.push(name(at, at + 1, "surname_initial"));
            }
        }
    }
}

/// "Justin Will Maddox": a capitalised word between two name words.
fn middle_names(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    for pair in spans.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.category != Category::Name || b.category != Category::Name || b.start <= a.end {
            continue;
        }
        let Some(w) = text[a.end..b.start]
            .strip_prefix(' ')
            .and_then(|m| m.strip_suffix(' '))
        else {
            continue;
        };
        if w.len() >= 2
            && w.starts_with(|c: char| c.is_ascii_uppercase())
            && w.chars().skip(1).all(char::is_lowercase)
            && name_word(w)
        {
            out.push(name(a.end + 1, b.start - 1, "middle_name"));
        }
    }
}

/// "RTH/9254316", "K/1977509": the letters and slash before a found
/// hospital number belong to it; "NP-230203-0871": so does a last group of
/// digits after a hyphen.
fn id_prefixes(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    for s in spans.iter().filter(|s| s.category == Category::Id) {
        if let Some(tail) = text[s.end..].strip_prefix('-') {
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            let closed = !tail[digits..].starts_with(|c: char| c.is_alphanumeric());
            if (1..=8).contains(&digits) && closed {
                out.push(Span {
                    start: s.start,
                    end: s.end + 1 + digits,
                    category: Category::Id,
                    detector: "id_suffix",
                    confidence: 0.8,
                });
            }
        }
        // "RTH/9254316": capitals and a slash; "Order #A-998877": a short
        // code opening with a capital, and a hyphen.
        let Some(head) = text[..s.start]
            .strip_suffix('/')
            .or_else(|| text[..s.start].strip_suffix('-'))
        else {
            continue;
        };
        let prefix = if text.as_bytes()[head.len()] == b'-' {
            let code = head
                .bytes()
                .rev()
                .take_while(u8::is_ascii_alphanumeric)
                .count();
            let from = head.len() - code;
            let opens_with_capital = head
                .as_bytes()
                .get(from)
                .is_some_and(u8::is_ascii_uppercase);
            let bounded = head[..from]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || matches!(c, '#' | ':' | '(' | '|'));
            ((1..=4).contains(&code) && opens_with_capital && bounded).then_some(from)
        } else {
            let letters = head
                .bytes()
                .rev()
                .take_while(u8::is_ascii_uppercase)
                .count();
            let from = head.len() - letters;
            let bounded = head[..from]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '/');
            ((1..=4).contains(&letters) && bounded).then_some(from)
        };
        if let Some(from) = prefix {
            out.push(Span {
                start: from,
                end: s.end,
                category: Category::Id,
                detector: "id_prefix",
                confidence: 0.8,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    /// Whether the whole of `word` (its first occurrence) is inside one span
    /// of the full scan.
    fn covered(text: &str, word: &str) -> bool {
        let at = text.find(word).expect("word in text");
        crate::scan(text)
            .iter()
            .any(|s| s.start <= at && at + word.len() <= s.end)
    }

    #[test]
    fn initials_close_surname_first_names() {
        assert!(covered(
            "| 28 | Adebayo, F         | Tri-State Pharmacy |",
            "F"
        ));
        assert!(covered("| Castellano, R, DDS | Riverbend Drug |", "R"));
        assert!(covered(
            "REFILLS: 3\nJOHANSEN, BRIGID K\n455 CANYON RD",
            "K"
        ));
        assert!(covered("CONFIRMED BY: OSTROWSKI, ADAM J MD", "J"));
        assert!(!covered("ATTENDING: KIRK, JANE M.D.", "M"));
        // A pronoun or "A and E" after a comma is not an initial.
        assert!(!covered("Smith, I think he went home", "I"));
        assert!(!covered("Jones, A and E attender", "A"));
        // Nor a capital that opens a word.
        assert!(!covered("Okafor, Family present", "Family"));
    }

    #[test]
    fn banners_name_the_patient_before_the_identifiers() {
        assert!(covered("Summary\nrose | MRN 44948468 | DOB May 2", "rose"));
        assert!(covered("ED triage\nstone 74F MRN 64291659", "stone"));
        assert!(covered(
            "Handover\n24 | edwin banks | 43M | CVA",
            "edwin banks"
        ));
        assert!(covered("KNIGHT, Dawn | DOB 1946-05-13", "KNIGHT"));
        assert!(covered("Fox, 21 Oct 1932, 943 476 5919", "Fox"));
        assert!(covered("Rose NHS 45M", "Rose"));
        // Headings and clinical words before identifiers are not names.
        assert!(!covered("Patient details | MRN 44948468", "details"));
        assert!(!covered("Chest pain 54M MRN 1234567", "pain"));
        assert!(!covered("Admitted 12 Oct 2024, 14:00", "Admitted"));
        assert!(!covered("Seen 12-03-24, 19-03-24 and 26-03-24", "Seen"));
        assert!(!covered("MY HOSPITAL PASSPORT", "MY"));
    }

    #[test]
    fn greetings_are_not_surnames_before_a_forename() {
        let text = "Thanks for seeing him.\nCheers, Dave\n";
        assert!(covered(text, "Dave") && !covered(text, "Cheers"));
    }

    #[test]
    fn sign_offs_name_the_writer() {
        assert!(covered("to resus.\n-- Hicks\n", "Hicks"));
        assert!(covered("to reg.\nfrank, ST3\n", "frank"));
        assert!(covered("x\nlola pérez (FY2), bleep 8794", "lola pérez"));
        assert!(covered("rest.\n\nJohns\nbleep 7386\n", "Johns"));
        assert!(covered(
            "weeks.\n\nHolly Lamb\nConsultant Radiologist\n",
            "Holly Lamb"
        ));
        assert!(covered("Signed knight November 18, 2022", "knight"));
        // Prose and headings before a role line are not signatures.
        assert!(!covered("Plan\nConsultant review tomorrow", "Plan"));
        assert!(!covered("-- End of report\n", "End"));
        assert!(!covered("Seen with reg, ST3 happy", "reg"));
    }

    #[test]
    fn surname_forename_pairs_middle_names_and_id_prefixes() {
        assert!(covered("Sweet, Bernice Staff Nurse", "Sweet"));
        // Given the surname in capitals, the forename after its comma.
        let text = "Visitors\nNOVÁKOVÁ, Flora\n";
        let surname = [super::name(9, 19, "surname")];
        let mut out = Vec::new();
        super::comma_pairs(text, &surname, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&text[out[0].start..out[0].end], "Flora");
        assert!(covered(
            "Triaged by Justin Will Maddox, RN",
            "Justin Will Maddox"
        ));
        assert!(covered("Mr Jefferson (64) RTH/1877933", "RTH/1877933"));
        assert!(covered("Order #A-998877 placed.", "A-998877"));
        assert!(!covered("Covid-19 test 123456 done", "Covid"));
        assert!(covered(
            "PC Shields, incident log NP-230203-0871) informed",
            "NP-230203-0871"
        ));
        assert!(covered(
            "Pt: Oduya, Emmanuel   64 M   MRN 311-20-448",
            "Oduya"
        ));
        // A sentence's comma is not a surname's.
        assert!(!covered("Today, John came in", "Today"));
        assert!(!covered("Flora: normal, Grace", "Flora"));
    }
}
