//! Small context rules run after the main passes, each on a cue cheap to
//! find: a place name followed by a street word ("Leicester Square") or a
//! ZIP code in brackets ("Milwaukee (53281)"), a
//! first name opening a sentence with an age ("Jack is 4 and …"), a
//! first name after a staff role's colon doing something ("Physio: Will
//! assessed") or after "nurse" ("anticoag nurse Liz"), and a nickname in
//! quotes after a name ("Benjamin ("Benji") Koenig").

use crate::{lexicon::Lexicon, AgePolicy, Span};
use insitu_types::Category;
use std::sync::LazyLock;

/// Words that make a place name a street or square.
const STREET_WORDS: &[&str] = &[
    "Avenue", "Bridge", "Circus", "Close", "Common", "Crescent", "Drive", "Gardens", "Green",
    "Hill", "Lane", "Park", "Place", "Road", "Square", "Station", "Street", "Terrace", "Way",
];

/// Staff roles written as a label before the person's first name.
const STAFF_LABELS: &[&str] = &[
    "Physio:",
    "OT:",
    "SLT:",
    "Dietitian:",
    "Pharmacist:",
    "HCA:",
    "Nurse:",
    "SW:",
    "CNS:",
];

/// Runs the rules; `spans` are the spans found so far (sorted).
pub(crate) fn scan(text: &str, spans: &[Span], ages: AgePolicy) -> Vec<Span> {
    let mut out = Vec::new();
    streets_after_places(text, spans, &mut out);
    nicknames_after_names(text, spans, &mut out);
    jobs_after_names(text, spans, &mut out);
    jobs_by_trade(text, &mut out);
    first_names_after_nurse(text, &mut out);
    first_names_with_ages(text, ages, &mut out);
    first_names_after_staff_labels(text, &mut out);
    organisation_tails(text, spans, &mut out);
    user_names(text, &mut out);
    out
}

fn span(start: usize, end: usize, category: Category, detector: &'static str) -> Span {
    Span {
        start,
        end,
        category,
        detector,
        confidence: 0.7,
    }
}

/// "Leicester Square", "Ealing Broadway Station": the street word after a place.
fn streets_after_places(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    for s in spans {
        // "Milwaukee (53281)", "Madison (53728-1134)": a ZIP code in brackets
        // after the town, even a town also read as a name ("Denver").
        if matches!(s.category, Category::Location | Category::Name) {
            if let Some(zip) = text[s.end..].strip_prefix(" (") {
                let b = zip.as_bytes();
                let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let plus4 = digits == 5
                    && b.get(5) == Some(&b'-')
                    && b.len() >= 10
                    && b[6..10].iter().all(u8::is_ascii_digit);
                let len = if plus4 { 10 } else { digits };
                if digits == 5 && zip[len..].starts_with(')') {
                    let start = s.end + 2;
                    out.push(span(
                        start,
                        start + len,
                        Category::Location,
                        "zip_after_town",
                    ));
                }
            }
        }
        if s.category != Category::Location {
            continue;
        }
        // "Dublin 7", "Dublin 6W": the city's postal district.
        if text[s.start..s.end].eq_ignore_ascii_case("dublin") {
            if let Some(d) = text[s.end..].strip_prefix(' ') {
                let digits = d.bytes().take_while(u8::is_ascii_digit).count();
                let w = usize::from(d[digits..].starts_with(['W', 'w']));
                let closed = !d[digits + w..].starts_with(|c: char| c.is_alphanumeric());
                if (1..=2).contains(&digits) && closed {
                    let start = s.end + 1;
                    out.push(span(
                        start,
                        start + digits + w,
                        Category::Location,
                        "postal_district",
                    ));
                }
            }
        }
        let Some(rest) = text[s.end..].strip_prefix(' ') else {
            continue;
        };
        // "Mat Ward 3": a named ward's number, unless it opens a date or a
        // time ("Shelia Ward 10/8/25").
        if text[s.start..s.end].ends_with("Ward") || text[s.start..s.end].ends_with("WARD") {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let tail = &rest[digits..];
            let letter = usize::from(tail.starts_with(|c: char| c.is_ascii_uppercase()));
            let tail = &tail[letter..];
            let closed = !tail.starts_with(|c: char| c.is_alphanumeric() || matches!(c, '/' | ':'))
                && !((tail.starts_with('.') || tail.starts_with('-'))
                    && tail[1..].starts_with(|c: char| c.is_ascii_digit()));
            if (1..=2).contains(&digits) && closed {
                let start = s.end + 1;
                out.push(span(
                    start,
                    start + digits + letter,
                    Category::Location,
                    "ward_number",
                ));
            }
        }
        for w in STREET_WORDS {
            if let Some(after) = rest.strip_prefix(w) {
                if !after.starts_with(|c: char| c.is_alphanumeric()) {
                    let start = s.end + 1;
                    out.push(span(
                        start,
                        start + w.len(),
                        Category::Location,
                        "street_word",
                    ));
                }
                break;
            }
        }
    }
}

/// Where the letters running up to byte `end` begin.
fn word_start(text: &str, end: usize) -> usize {
    text[..end]
        .char_indices()
        .rev()
        .find(|&(_, c)| !c.is_alphabetic())
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// "Benji", "Will": a capital, then only lower-case letters, two or more.
fn written_as_a_name(word: &str) -> bool {
    word.len() >= 2
        && word.starts_with(|c: char| c.is_uppercase())
        && word.chars().skip(1).all(|c| c.is_lowercase())
}

fn first_name_at(text: &str, at: usize) -> Option<usize> {
    let word: &str = text[at..]
        .split(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or("");
    (written_as_a_name(word) && Lexicon::get().first.contains(word.to_lowercase().as_str()))
        .then_some(at + word.len())
}

/// `Benjamin ("Benji") Koenig`, `Robert 'Bob' Hale`: a capitalised word in
/// quotes right after a name is a nickname.
fn nicknames_after_names(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    for s in spans.iter().filter(|s| s.category == Category::Name) {
        let rest = &text[s.end..];
        let Some(quoted) = rest
            .strip_prefix(" (\"")
            .or_else(|| rest.strip_prefix(" \""))
            .or_else(|| rest.strip_prefix(" '"))
            .or_else(|| rest.strip_prefix(" (“"))
            .or_else(|| rest.strip_prefix(" “"))
        else {
            continue;
        };
        let word: &str = quoted
            .split(|c: char| !c.is_alphabetic())
            .next()
            .unwrap_or("");
        let closes = quoted[word.len()..].starts_with(['"', '\'', '”']);
        if closes && written_as_a_name(word) {
            let start = s.end + (rest.len() - quoted.len());
            out.push(span(start, start + word.len(), Category::Name, "nickname"));
        }
    }
}

/// Words for the care team's own roles: after a staff member's name they
/// say who wrote the note ("Dr Ash, consultant"), not a patient's job.
const CARE_ROLES: &[&str] = &[
    "nurse",
    "doctor",
    "consultant",
    "registrar",
    "surgeon",
    "midwife",
    "paramedic",
    "physio",
    "hca",
    "rn",
    "sister",
    "matron",
    "physician",
    "practitioner",
    "pharmacist",
    "therapist",
    "dietitian",
    "phlebotomist",
    "technician",
    "assistant",
    "worker",
    "manager",
];

/// A person's job written right after their name:
/// - "Mom (Keisha Monroe, pharmacy technician)": in the name's brackets;
/// - "daughter Jia Hui, a pharmacist living in …": after a comma and an
///   article;
/// - "grandson Jamal (Army medic, on leave)": in brackets after the name,
///   when the job is no care-team role. (After a bare comma it would be a
///   staff member's signature as often as a patient's job: "H. Madden, RN".)
///
/// The job is one to three words (the first may be capitalised, the rest
/// lower case) ending in a listed job, closed off by a bracket, a comma, a
/// full stop, the end of the line or a word such as "with" or "living".
fn jobs_after_names(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    for s in spans.iter().filter(|s| s.category == Category::Name) {
        let rest = &text[s.end..];
        let in_brackets = text[..s.start].ends_with('(');
        let (job_at, care_ok) = if let Some(r) = rest
            .strip_prefix(", a ")
            .or_else(|| rest.strip_prefix(", an "))
        {
            (r, true)
        } else if let Some(r) = rest.strip_prefix(", ").filter(|_| in_brackets) {
            (r, true)
        } else if let Some(r) = rest.strip_prefix(" (") {
            (r, false)
        } else {
            continue;
        };
        let Some(len) = job_phrase(job_at, care_ok) else {
            continue;
        };
        let start = s.end + (rest.len() - job_at.len());
        out.push(span(
            start,
            start + len,
            Category::Profession,
            "job_after_name",
        ));
    }
}

/// The length of a job phrase opening `s` (see [`jobs_after_names`]).
fn job_phrase(s: &str, care_ok: bool) -> Option<usize> {
    let mut end = 0;
    let mut job_end = None;
    for (n, w) in s.split(' ').take(3).enumerate() {
        let word_len = w
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic() || *b == b'-')
            .count();
        let word = &w[..word_len];
        let cased_ok = if n == 0 {
            word.bytes().skip(1).all(|b| !b.is_ascii_uppercase())
        } else {
            word.bytes().all(|b| !b.is_ascii_uppercase())
        };
        if word.len() < 2 || !cased_ok {
            break;
        }
        end += usize::from(n > 0) + word_len;
        let key = word.to_ascii_lowercase();
        let care = CARE_ROLES.contains(&key.as_str()) || crate::names::is_role_word(&key);
        if crate::names::is_job_word(&key) && (care_ok || !care) {
            job_end = Some(end);
        }
        if word_len != w.len() {
            break;
        }
    }
    let end = job_end?;
    let after = &s[end..];
    let closed = after.is_empty()
        || after.starts_with([')', ',', '.', ';', '\n'])
        || after.starts_with("  ")
        || [
            " with ", " living ", " who ", " at ", " for ", " in ", " from ",
        ]
        .iter()
        .any(|w| after.starts_with(w));
    closed.then_some(end)
}

static BY_TRADE: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b" by trade"));
static BY_PROFESSION: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b" by profession"));

/// "a joiner by trade", "an electrical engineer by profession": the one to
/// three plain words between "a"/"an" and "by trade" are the job.
fn jobs_by_trade(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in BY_TRADE.find_iter(b).chain(BY_PROFESSION.find_iter(b)) {
        let before = &text[..at];
        // The job starts after "a"/"an", or opens its line ("Builder by
        // trade." in a social history), its first word then capitalised.
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let article = before
            .rfind(" a ")
            .map(|i| i + 3)
            .max(before.rfind(" an ").map(|i| i + 4))
            .filter(|&a| a > line_start);
        let (start, opens_line) = match article {
            Some(a) => (a, false),
            None => {
                let lead = before[line_start..].len() - before[line_start..].trim_start().len();
                (line_start + lead, true)
            }
        };
        let job = &text[start..at];
        let words: Vec<&str> = job.split(' ').collect();
        // Without an article the words before "by trade" may be the
        // sentence's own ("He was by trade a carpenter"): none of those.
        const CLAUSE: &[&str] = &[
            "he",
            "she",
            "they",
            "i",
            "we",
            "is",
            "was",
            "were",
            "are",
            "am",
            "also",
            "and",
            "originally",
            "previously",
            "formerly",
            "mainly",
        ];
        let plain = |k: usize, w: &str| {
            let b = w.as_bytes();
            w.len() >= 2
                && (b[0].is_ascii_lowercase()
                    || (k == 0 && opens_line && b[0].is_ascii_uppercase()))
                && b[1..].iter().all(u8::is_ascii_lowercase)
                && !(opens_line && CLAUSE.iter().any(|c| c.eq_ignore_ascii_case(w)))
        };
        if (1..=3).contains(&words.len()) && words.iter().enumerate().all(|(k, w)| plain(k, w)) {
            out.push(span(start, at, Category::Profession, "job_by_trade"));
        }
    }
}

static NURSE: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"nurse "));

/// "anticoag nurse Liz", "our specialist nurse Sioned Parry": a listed first
/// name (and a capitalised word after it) right after "nurse" in prose.
fn first_names_after_nurse(text: &str, out: &mut Vec<Span>) {
    for at in NURSE.find_iter(text.as_bytes()) {
        let start = at + "nurse ".len();
        let lex = Lexicon::get();
        let capitalised = |t: &str| -> usize {
            let w: &str = t
                .split(|c: char| !c.is_alphabetic() && c != '-')
                .next()
                .unwrap_or("");
            let ok = w.len() >= 2
                && w.starts_with(|c: char| c.is_uppercase())
                && w.chars().skip(1).any(|c| c.is_lowercase());
            if ok {
                w.len()
            } else {
                0
            }
        };
        let first_len = capitalised(&text[start..]);
        if first_len == 0 {
            continue;
        }
        let first = text[start..start + first_len].to_lowercase();
        let listed_first = lex.first.contains(first.as_str());
        // The surname: one more capitalised word that a list knows.
        let after = start + first_len;
        let surname_len = text[after..].strip_prefix(' ').map_or(0, capitalised);
        let listed_surname = surname_len > 0
            && lex.surnames.contains(
                text[after + 1..after + 1 + surname_len]
                    .to_lowercase()
                    .as_str(),
            );
        let end = match (listed_first, listed_surname) {
            (_, true) if !lex.common.contains(first.as_str()) || listed_first => {
                after + 1 + surname_len
            }
            (true, _) => after,
            _ => continue,
        };
        out.push(span(start, end, Category::Name, "name_after_nurse"));
    }
}

static IS: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b" is "));

/// "Jack is 4 and attends nursery", "Emily is 12, in year 7": found from
/// each " is " back to a first name that opens the sentence.
fn first_names_with_ages(text: &str, ages: AgePolicy, out: &mut Vec<Span>) {
    for is in IS.find_iter(text.as_bytes()) {
        let rest = &text[is + 4..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let closed = [" and", ",", ".", " years", " yrs", " y/o", " now"]
            .iter()
            .any(|t| rest[digits..].starts_with(t));
        if !(1..=2).contains(&digits) || !closed {
            continue;
        }
        let at = word_start(text, is);
        let opens = text[..at].trim_end_matches(' ');
        if !(opens.is_empty() || opens.ends_with(['.', '\n']))
            || first_name_at(text, at) != Some(is)
        {
            continue;
        }
        out.push(span(at, is, Category::Name, "name_with_age"));
        if ages != AgePolicy::Over89 {
            out.push(span(
                is + 4,
                is + 4 + digits,
                Category::Age,
                "name_with_age",
            ));
        }
    }
}

/// "Physio: Will assessed, will return pm": a first name after a staff
/// role's colon, followed by what they did.
fn first_names_after_staff_labels(text: &str, out: &mut Vec<Span>) {
    for colon in memchr::memchr_iter(b':', text.as_bytes()) {
        let label_start = word_start(text, colon);
        if !STAFF_LABELS.contains(&&text[label_start..=colon]) {
            continue;
        }
        let at = colon + 1;
        let at = at + (text[at..].len() - text[at..].trim_start_matches(' ').len());
        let Some(end) = first_name_at(text, at) else {
            continue;
        };
        let next: &str = text[end..]
            .trim_start_matches(' ')
            .split(|c: char| !c.is_alphabetic())
            .next()
            .unwrap_or("");
        // A past tense ("assessed", "reviewed"), not "need", "feed".
        let did = next.len() > 4
            && next.ends_with("ed")
            && !next.ends_with("eed")
            && next.chars().all(|c| c.is_ascii_lowercase());
        if did {
            out.push(span(at, end, Category::Name, "name_after_staff_label"));
        }
    }
}

/// Words that end the name of a service, team or institution.
const ORG_TAILS: &[&str] = &[
    "academy",
    "agency",
    "aging",
    "ageing",
    "alliance",
    "association",
    "associates",
    "authority",
    "board",
    "care",
    "center",
    "centre",
    "church",
    "clinic",
    "college",
    "council",
    "department",
    "foundation",
    "group",
    "health",
    "healthcare",
    "home",
    "homes",
    "hospice",
    "hospital",
    "hospitals",
    "hub",
    "institute",
    "living",
    "network",
    "nursing",
    "office",
    "partnership",
    "pathology",
    "pharmacy",
    "physicians",
    "practice",
    "program",
    "programme",
    "project",
    "regional",
    "rehab",
    "rehabilitation",
    "school",
    "service",
    "services",
    "society",
    "surgery",
    "team",
    "trust",
    "unit",
    "university",
    "general",
    "pavilion",
    "labs",
    "methodist",
    "baptist",
    "presbyterian",
    "insurance",
    "mutual",
    "opportunities",
    "medicaid",
    "infirmary",
];

/// Words that open an institution's name before the place it is named after.
const ORG_HEADS: &[&str] = &[
    "community",
    "county",
    "district",
    "general",
    "hospital",
    "memorial",
    "regional",
    "royal",
    "university",
];

/// "Kentucky River Area Agency on Aging", "Fareham North Neighbourhood
/// Team", "Frimley Valley Pathology", "University Hospital Galway": a place
/// or organisation found at the head (or the tail) of a run of capitalised
/// words on one line that ends (or starts) with a word for a service, team
/// or institution: the whole run is the organisation.
fn organisation_tails(text: &str, spans: &[Span], out: &mut Vec<Span>) {
    let capitalised = |w: &str| {
        let mut cs = w.chars();
        cs.next().is_some_and(char::is_uppercase)
            && cs.all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.'))
    };
    let connector = |w: &str| matches!(w, "and" | "&" | "on" | "of" | "for" | "the");
    // Whether `w` (any case, a possessive "'s" dropped) is in `list`; no
    // allocation, since this runs for every capitalised word after a place.
    let listed = |w: &str, list: &[&str]| {
        let w = w.trim_end_matches("'s").trim_end_matches("’s");
        let mut buf = [0u8; 16];
        crate::lexicon::ascii_lowercase_in(w, &mut buf).is_some_and(|k| list.contains(&k))
    };
    // "St. Brendan's Church": a saint's name opens many an institution's.
    let saint = |s: &Span| {
        let t = &text[s.start..s.end];
        s.category == Category::Name
            && (t.starts_with("St ") || t.starts_with("St. ") || t.starts_with("Saint "))
    };
    // Where the run of up to `max` words before byte `end`, each on one
    // space and each accepted, begins (`end` itself when there is none).
    let words_before = |end: usize, max: usize, accept: &dyn Fn(&str) -> bool| {
        let mut from = end;
        for _ in 0..max {
            let Some(before) = text[..from].strip_suffix(' ') else {
                break;
            };
            let w_start = before
                .rfind([' ', '\n', ',', '(', ':'])
                .map_or(0, |i| i + 1);
            if !accept(&before[w_start..]) {
                break;
            }
            from = w_start;
        }
        from
    };
    for s in spans
        .iter()
        .filter(|s| matches!(s.category, Category::Location | Category::Organization) || saint(s))
    {
        // "Baptist Health Medical Center": a lone institution word found as
        // a place takes the capitalised words before it.
        if listed(&text[s.start..s.end], ORG_TAILS) {
            let from = words_before(s.start, 4, &|w| capitalised(w) && !w.ends_with('.'));
            if from < s.start {
                out.push(span(
                    from,
                    s.end,
                    Category::Organization,
                    "organisation_tail",
                ));
            }
        }
        // Forward: "Kentucky River Area Agency on Aging", "St. Anne's Home".
        let mut at = s.end;
        if text[at..].starts_with("'s ") {
            at += "'s".len();
        } else if text[at..].starts_with("’s ") {
            at += "’s".len();
        }
        let mut tail_end = None;
        for _ in 0..6 {
            let Some(rest) = text[at..].strip_prefix(' ') else {
                break;
            };
            let len = rest
                .find([' ', '\n', ',', ';', ':', '(', ')'])
                .unwrap_or(rest.len());
            let w = &rest[..len];
            if !(capitalised(w) || connector(w)) || w.ends_with('.') {
                break;
            }
            at += 1 + len;
            if capitalised(w) && listed(w, ORG_TAILS) {
                tail_end = Some(at);
            }
        }
        if let Some(end) = tail_end {
            out.push(span(s.start, end, s.category, "organisation_tail"));
        }
        // Backward: "University Hospital Galway".
        let from = words_before(s.start, 3, &|w| capitalised(w) && listed(w, ORG_HEADS));
        if from < s.start {
            out.push(span(from, s.end, s.category, "organisation_head"));
        }
    }
}

static USER: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"ser"));

/// "user bwalcott", "Username: kfoss2", "user ID jmcguire4": a login name in
/// an access log.
fn user_names(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in USER.find_iter(b) {
        if at == 0 || !matches!(b[at - 1], b'u' | b'U') {
            continue;
        }
        if at >= 2 && b[at - 2].is_ascii_alphanumeric() {
            continue;
        }
        let mut rest = &text[at + 3..];
        for label in ["name", "Name", "NAME", " ID", " id", "id", "ID"] {
            if let Some(r) = rest.strip_prefix(label) {
                rest = r;
                break;
            }
        }
        let Some(value) = rest
            .strip_prefix(": ")
            .or_else(|| rest.strip_prefix(' '))
            .or_else(|| rest.strip_prefix(":"))
        else {
            continue;
        };
        let len = value
            .bytes()
            .take_while(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_')
            })
            .count();
        let token = value[..len].trim_end_matches('.');
        let closed = !value[token.len()..].starts_with(|c: char| c.is_alphanumeric());
        let lex = Lexicon::get();
        if (4..=20).contains(&token.len())
            && token.starts_with(|c: char| c.is_ascii_lowercase())
            && closed
            && !lex.common.contains(token)
            && !lex.clinical.contains(token)
        {
            let start = text.len() - value.len();
            out.push(span(start, start + token.len(), Category::Id, "user_name"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, spans: &[Span]) -> Vec<(String, Category)> {
        scan(text, spans, AgePolicy::All)
            .into_iter()
            .map(|s| (text[s.start..s.end].to_string(), s.category))
            .collect()
    }

    #[test]
    fn login_names_in_access_logs() {
        let ids = |t: &str| -> Vec<String> { found(t, &[]).into_iter().map(|(s, _)| s).collect() };
        assert_eq!(ids("Access 1: 03:22, user bwalcott (RN)"), ["bwalcott"]);
        assert_eq!(ids("Username: kfoss2"), ["kfoss2"]);
        // Words after "user" are not logins.
        assert!(ids("the user reported an error; user error").is_empty());
    }

    #[test]
    fn organisations_run_on_to_their_service_word() {
        let org = |text: &str, place: &str, whole: &str| {
            let at = text.find(place).unwrap();
            let found = found(
                text,
                &[span(at, at + place.len(), Category::Location, "place")],
            );
            assert!(found.iter().any(|(s, _)| s == whole), "{text}: {found:?}");
        };
        org(
            "Referral to Kentucky River Area Agency on Aging for meals",
            "Kentucky",
            "Kentucky River Area Agency on Aging",
        );
        org(
            "Fareham North Neighbourhood Team |",
            "Fareham",
            "Fareham North Neighbourhood Team",
        );
        org(
            "referred to St. Anne's Home and",
            "St. Anne",
            "St. Anne's Home",
        );
        org(
            "Department of Psychiatry, University Hospital Galway",
            "Galway",
            "University Hospital Galway",
        );
        org(
            "Reporter: G Espinoza, MSW, Baptist Health Medical Center, (501)",
            "Center",
            "Baptist Health Medical Center",
        );
        org(
            "Labs at Pacific Coast Labs in 4 wks.",
            "Pacific",
            "Pacific Coast Labs",
        );
        org(
            "Transported to West Town General per pt",
            "West Town",
            "West Town General",
        );
        // A sentence after a place is not part of it.
        let text = "Lives in Leeds. Team meeting on Friday.";
        assert!(found(text, &[span(9, 14, Category::Location, "place")]).is_empty());
        let text = "Moved to Leeds Road Surgery";
        assert!(found(text, &[span(9, 14, Category::Location, "place")])
            .iter()
            .any(|(s, _)| s == "Leeds Road Surgery"));
    }

    #[test]
    fn streets_names_with_ages_and_names_after_staff_labels() {
        let text = "Brought from Leicester Square at 23:50.";
        let place = [span(13, 22, Category::Location, "place")];
        assert_eq!(
            found(text, &place),
            [("Square".to_string(), Category::Location)]
        );
        let text = "Lives in Milwaukee (53281) with partner.";
        let place = [span(9, 18, Category::Location, "place")];
        assert_eq!(
            found(text, &place),
            [("53281".to_string(), Category::Location)]
        );
        let text = "delivered on Mat Ward 3 overnight";
        let ward = [span(13, 21, Category::Location, "ward")];
        assert_eq!(found(text, &ward), [("3".to_string(), Category::Location)]);
        let text = "signed: Shelia Ward 10/8/25 at 4:20";
        let ward = [span(8, 19, Category::Location, "ward")];
        assert!(found(text, &ward).is_empty());
        let text = "Eccles Street, Dublin 7\n";
        let city = [span(15, 21, Category::Location, "place")];
        assert_eq!(found(text, &city), [("7".to_string(), Category::Location)]);
        let text = "Lives alone in Madison (53728-1134).";
        let town_read_as_name = [span(15, 22, Category::Name, "first_name")];
        assert_eq!(
            found(text, &town_read_as_name),
            [("53728-1134".to_string(), Category::Location)]
        );
        assert_eq!(
            found("Jack is 4 and attends nursery.", &[]),
            [
                ("Jack".to_string(), Category::Name),
                ("4".to_string(), Category::Age)
            ]
        );
        assert!(found("Will is 4 weeks post-op.", &[]).is_empty());
        // A person's job after their name: (text, the name's bytes, the job).
        for (text, (a, b), job) in [
            (
                "Mom (Keisha Monroe, pharmacy technician) brought her in.",
                (5, 18),
                "pharmacy technician",
            ),
            (
                "Visiting daughter Jia Hui, a pharmacist living in Leeds.",
                (18, 25),
                "pharmacist",
            ),
            (
                "grandson Jamal Pruitt (Army medic, on leave).",
                (9, 21),
                "Army medic",
            ),
            (
                "brother Declan (police officer with the PSNI).",
                (8, 14),
                "police officer",
            ),
        ] {
            let name = [span(a, b, Category::Name, "relation")];
            assert_eq!(
                found(text, &name),
                [(job.to_string(), Category::Profession)],
                "{text}"
            );
        }
        // A staff member's role after their name is not a patient's job.
        let text = "CBT with Dr Lois Kettle (psychologist); Janice Holt, home manager.";
        let names = [
            span(12, 23, Category::Name, "title"),
            span(40, 51, Category::Name, "name"),
        ];
        assert!(found(text, &names).is_empty());
        let text = "Reviewed by Dr Ash, consultant.\nH. Madden, RN";
        let names = [
            span(15, 18, Category::Name, "title"),
            span(32, 41, Category::Name, "initial"),
        ];
        assert!(found(text, &names).is_empty());
        assert_eq!(
            found("He is a joiner by trade and lives alone.", &[]),
            [("joiner".to_string(), Category::Profession)]
        );
        assert_eq!(
            found("She is an electrical engineer by profession.", &[]),
            [("electrical engineer".to_string(), Category::Profession)]
        );
        assert!(found("He is a smoker of many years, by trade unknown.", &[]).is_empty());
        // A job opening its line in a social history, without an article.
        assert_eq!(
            found("Lives with wife.\nBuilder by trade, still working.", &[]),
            [("Builder".to_string(), Category::Profession)]
        );
        assert!(found("Lives alone.\nNot working at present by trade.", &[]).is_empty());
        assert!(found("Lives alone.\nHe was by trade a carpenter.", &[]).is_empty());
        let text = "Seen with (Jo Smith, on leave) today.";
        let name = [span(11, 19, Category::Name, "relation")];
        assert!(found(text, &name).is_empty());
        let text = "Patient: Benjamin (\"Benji\") Koenig, 21";
        let name = [span(9, 17, Category::Name, "name_field")];
        assert_eq!(found(text, &name), [("Benji".to_string(), Category::Name)]);
        assert_eq!(
            found("Confirmed with anticoag nurse Liz - chart amended.", &[]),
            [("Liz".to_string(), Category::Name)]
        );
        assert_eq!(
            found("training with our specialist nurse Sioned Parry today", &[]),
            [("Sioned Parry".to_string(), Category::Name)]
        );
        assert!(found("seen by the nurse Practitioner team", &[]).is_empty());
        assert_eq!(
            found("Physio: Will assessed, will return pm.", &[]),
            [("Will".to_string(), Category::Name)]
        );
        assert!(found("Physio: Will need a frame.", &[]).is_empty());
        // Letters outside ASCII right before a colon or " is " (this once
        // sliced inside "ó"): no panic, and no name where there is no cue.
        assert!(found("Dr. Wójcik: seen. Ms Núñez is 4 days post-op.", &[]).is_empty());
    }
}
