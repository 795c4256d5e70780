//! PHI detection, surrogate replacement, per-patient date shifting and span
//! evaluation for clinical notes in UK and US styles. Knows nothing about
//! storage: callers pass text and keys, and get spans and replaced text back.
//! It must never log or print note text, and never use a backtracking
//! matcher on untrusted input: every layer runs in time linear in the text.
//!
//! Detection runs in layers ([`Detector::scan`]):
//! 1. structured patterns with validators (NHS/CHI check digits, postcodes,
//!    phones, dates in many written forms, ages, e-mail, URLs, IPs, MRNs);
//! 2. word-level context (titles, header fields, relations, signatures),
//!    compiled dictionaries (census names, GeoNames places) tempered by a
//!    clinical allow-list and a list of names that are everyday words;
//! 3. propagation of names found once to every mention in the note.
//!
//! Spans are merged, then [`Replacer`] writes surrogates or tags, and
//! [`evaluate`] scores predicted spans against gold ones.

mod cues;
mod eval;
mod initials;
mod layout;
mod lexicon;
mod names;
mod patterns;
mod surrogate;

pub use eval::{evaluate, CategoryScores, EvalReport, Miss, Scores};
pub use surrogate::{Mode, Replacer, SurrogateKey};

use insitu_types::Category;
use std::sync::{LazyLock, OnceLock};

/// Errors from this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured identifier pattern does not compile.
    #[error("identifier pattern does not compile: {0} — patterns use Rust `regex` syntax without look-around or back-references")]
    Pattern(String),
    /// A key has the wrong length or encoding.
    #[error("surrogate key: {0}")]
    Key(String),
}

/// Which ages count as PHI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgePolicy {
    /// Every stated age ("a 45 year old"): the i2b2 convention, recall first.
    #[default]
    All,
    /// Only ages over 89 (HIPAA Safe Harbor).
    Over89,
}

/// Detector settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DetectorConfig {
    /// Which ages to report.
    pub ages: AgePolicy,
    /// Report clock times ("14:30", "2pm") as DATE.
    pub times: bool,
    /// Extra local identifier patterns (Rust regex syntax), reported as ID.
    pub extra_id_patterns: Vec<String>,
    /// Report a year standing alone ("diagnosed 1979") as DATE. Off by
    /// default: DESIGN.md counts a year alone as PHI only when tied to a person.
    #[serde(default)]
    pub years_alone: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            ages: AgePolicy::All,
            times: true,
            extra_id_patterns: Vec::new(),
            years_alone: false,
        }
    }
}

/// One detected PHI span: UTF-8 byte range into the scanned text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What kind of identifier.
    pub category: Category,
    /// Which rule found it (e.g. `nhs_or_chi_number`, `title`, `place`).
    pub detector: &'static str,
    /// Rough confidence in [0, 1]; context rules score above dictionaries.
    pub confidence: f32,
}

/// A compiled detector. Build once, scan many texts (it is `Sync`).
pub struct Detector {
    config: DetectorConfig,
    patterns: patterns::PatternSet,
}

impl Detector {
    /// Compiles the patterns and loads the dictionaries.
    pub fn new(config: DetectorConfig) -> Result<Detector, Error> {
        let patterns = patterns::PatternSet::new(&config)?;
        // Touch the lexicon so the first scan is not the slow one.
        let _ = lexicon::Lexicon::get();
        Ok(Detector { config, patterns })
    }

    /// The settings this detector was built with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Finds PHI spans in `text`: sorted, non-overlapping, on char boundaries.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        // About one span per 80 bytes of clinical text: reserve once
        // instead of growing the vector push by push.
        let mut spans = Vec::with_capacity(text.len() / 64 + 8);
        self.patterns.scan(text, &self.config, &mut spans);
        names::scan(text, &mut spans);
        for s in spans.iter_mut().filter(|s| s.detector == "institution") {
            s.start = institution_start(text, s.start, s.end);
            s.end = institution_end(text, s.end);
        }
        let mut spans = merge(text, spans);
        let mut ages = ages_beside_names(text, &spans, self.config.ages);
        ages.extend(ages_beside_people(text, self.config.ages));
        ages.extend(ages_in_brackets_after_ids(text, &spans, self.config.ages));
        ages.extend(ages_in_family_history(text, self.config.ages));
        ages.extend(ages_after_pronouns(text, &spans, self.config.ages));
        ages.extend(ages_at_milestones(text, self.config.ages));
        ages.extend(towns_before_postcodes(text, &spans));
        ages.extend(places_after_institutions(text, &spans));
        ages.extend(county_prefixes(text, &spans));
        ages.extend(day_ranges(text, &spans));
        ages.extend(decades_in_words(text, self.config.ages));
        ages.extend(sex_then_age(text, self.config.ages));
        ages.extend(initials::signed_and_mc_initials(text));
        ages.extend(initials::staff_initials(text));
        ages.extend(initials::names_before_dob(text));
        ages.extend(cues::scan(text, &spans, self.config.ages));
        ages.extend(names_in_brackets_after_roles(text));
        ages.extend(layout::scan(text, &spans));
        ages.extend(table_columns(text));
        ages.extend(structured_messages(text));
        ages.extend(address_fields(text, &spans));
        if self.config.times {
            ages.extend(times_after_dates(text, &spans));
        }
        if !ages.is_empty() {
            spans.extend(ages);
            spans = merge(text, spans);
        }
        spans
    }
}

/// Scans with the default settings (all ages, times included). Later stages
/// use this to check model generations and reports for PHI.
pub fn scan(text: &str) -> Vec<Span> {
    static DEFAULT: OnceLock<Detector> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            Detector::new(DetectorConfig::default()).expect("built-in patterns compile")
        })
        .scan(text)
}

/// How many capitalised words in `text` are neither covered by `spans` nor
/// explained by a word list: a residual-risk signal for reports (possible
/// missed names or places). Counts only; never returns the words.
pub fn unexplained_capitalised_words(text: &str, spans: &[Span]) -> usize {
    names::unexplained_capitalised(text, spans)
}

/// Verbs that open a sentence of a note, capitalised there, before the
/// place they act on ("Visited Mayo Clinic", "Attended Riverside Surgery"):
/// not part of an institution's name (sorted for binary search).
pub(crate) const OPENING_VERBS: &[&str] = &[
    "admitted",
    "arrived",
    "attended",
    "attends",
    "booked",
    "brought",
    "called",
    "collected",
    "contacted",
    "discharged",
    "emailed",
    "faxed",
    "moved",
    "phoned",
    "presented",
    "rang",
    "referred",
    "returned",
    "reviewed",
    "seen",
    "sent",
    "telephoned",
    "transferred",
    "visited",
    "went",
];

/// Where an institution's name found by its suffix starts once a verb
/// opening the sentence is left out ("Visited Mayo Clinic" → "Mayo
/// Clinic").
fn institution_start(text: &str, start: usize, end: usize) -> usize {
    let mut start = start;
    // "ADMITTED FROM GREENACRES NURSING HOME": on a line in capitals the
    // verb and the preposition after it are capitalised too.
    loop {
        let span = &text[start..end];
        let Some(space) = span.find(' ') else {
            return start;
        };
        let mut buf = [0u8; 16];
        let opening = lexicon::ascii_lowercase_in(&span[..space], &mut buf).is_some_and(|w| {
            OPENING_VERBS.binary_search(&w).is_ok()
                || matches!(w, "from" | "to" | "at" | "in" | "into")
        });
        // Keep two words at least: the name and its suffix.
        if !opening || !span[space + 1..].contains(' ') {
            return start;
        }
        start += space + 1;
    }
}

/// Where an institution's name found by its suffix ends: "St Mary's RC
/// Primary" runs on to the "School" after it (the pattern allows only so
/// many words before its suffix).
fn institution_end(text: &str, end: usize) -> usize {
    let rest = &text[end..];
    for tail in [" School", " SCHOOL", " Academy", " College"] {
        if rest.starts_with(tail) && !rest[tail.len()..].starts_with(|c: char| c.is_alphanumeric())
        {
            let last = text[..end].rsplit(' ').next().unwrap_or("");
            if matches!(
                last.to_ascii_lowercase().as_str(),
                "primary" | "junior" | "infant" | "infants" | "secondary" | "high" | "middle"
            ) {
                return end + tail.len();
            }
        }
    }
    end
}

/// "Mrs Patience Addo, 45, presented": a bare number set off right after a
/// name is that person's age, a convention of clinical and letter writing.
fn ages_beside_names(text: &str, spans: &[Span], policy: AgePolicy) -> Vec<Span> {
    let mut out = Vec::new();
    // "Connor Dunn (24)": a name that is also a place name is still a
    // person when an age in brackets follows it.
    let person = |s: &&Span| {
        s.category == Category::Name
            || (s.category == Category::Location && text[s.end..].starts_with(" ("))
    };
    for s in spans.iter().filter(person) {
        let rest = &text[s.end..];
        // "Ahmed Farouk   79   Dx": columns set apart by runs of spaces.
        let spaced = rest.starts_with("  ") || rest.starts_with('\t');
        let (after, bare) = match rest
            .strip_prefix(", now ")
            .or_else(|| rest.strip_prefix(", "))
            .or_else(|| rest.strip_prefix(" ("))
            .or_else(|| rest.strip_prefix(" | "))
        {
            Some(a) => (a, false),
            None if spaced => (rest.trim_start_matches([' ', '\t']), true),
            // "Doris Pemberton 88 - #NOF": a handover line, the number
            // closed off by a dash or the end of the line.
            None => match rest.strip_prefix(' ') {
                Some(a) => (a, true),
                None => continue,
            },
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&digits) {
            continue;
        }
        let tail = &after[digits..];
        let next = tail.chars().next();
        // "58." ends a sentence; "58.5" is a measurement.
        let full_stop =
            tail.starts_with('.') && !tail[1..].starts_with(|c: char| c.is_ascii_digit());
        let closed = if bare {
            tail.starts_with(" -")
                || tail.starts_with(" –")
                || tail.starts_with(", ")
                || tail.starts_with('\n')
                || tail.starts_with("  ")
                || tail.starts_with('\t')
                || tail.is_empty()
                || (spaced && tail.starts_with(" |"))
        } else {
            matches!(
                next,
                Some(',' | ')' | 'y' | ';' | ' ' | 'M' | 'F' | '\n') | None
            ) || full_stop
        };
        if !closed || (s.category == Category::Location && next != Some(')')) {
            continue;
        }
        let n: u32 = after[..digits].parse().unwrap_or(0);
        if n > 125 || (policy == AgePolicy::Over89 && n <= 89) {
            continue;
        }
        let start = s.end + (rest.len() - after.len());
        out.push(Span {
            start,
            end: start + digits,
            category: Category::Age,
            detector: "age_beside_name",
            confidence: 0.7,
        });
    }
    out
}

/// The lines of `text` as `str::split('\n')` gives them (a last, possibly
/// empty, line after a final newline), each with its byte offset. memchr
/// finds the newlines faster than the standard library's char search.
pub(crate) fn lines_at(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text.as_bytes())
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let line = (start, &text[start..end]);
            start = end + 1;
            line
        })
}

/// "Address: Rose Cottage, Back Lane, Ilkley, LS29 8QT": after an address
/// label, every comma-separated part written as a name (capitalised words,
/// no digits) is part of the address, like the street and postcode found
/// by patterns.
fn address_fields(text: &str, spans: &[Span]) -> Vec<Span> {
    const LABELS: &[&str] = &[
        "address:",
        "addr:",
        "home address:",
        "home:",
        "lives at:",
        "residence:",
        "i live at:",
        "address",
        "addr",
    ];
    let mut out = Vec::new();
    for (line_at, line) in lines_at(text) {
        let trimmed = line.trim_start();
        // Every label starts with one of these letters: most lines stop here.
        if !trimmed
            .bytes()
            .next()
            .is_some_and(|b| matches!(b.to_ascii_lowercase(), b'a' | b'h' | b'l' | b'r' | b'i'))
        {
            continue;
        }
        let Some(label) = LABELS.iter().find(|l| {
            trimmed.len() >= l.len()
                && trimmed.as_bytes()[..l.len()].eq_ignore_ascii_case(l.as_bytes())
        }) else {
            continue;
        };
        let lead = line.len() - line.trim_start().len();
        let body_at = line_at + lead + label.len();
        let body = &text[body_at..line_at + line.len()];
        // Up to the end of the line or a run of spaces (a column break).
        let body = body.split("   ").next().unwrap_or("");
        let mut seg_at = body_at;
        for seg in body.split(',') {
            let this_at = seg_at;
            seg_at += seg.len() + 1;
            let t = seg.trim().trim_end_matches('.');
            let start = this_at + (seg.len() - seg.trim_start().len());
            let end = start + t.len();
            if t.is_empty() || !address_locality(t) {
                continue;
            }
            let first = t.split_whitespace().next().unwrap_or("");
            if matches!(first, "Mr" | "Mrs" | "Ms" | "Miss" | "Dr" | "Prof") {
                continue;
            }
            if spans
                .iter()
                .any(|s| s.start < end && start < s.end && s.category == Category::Name)
            {
                continue;
            }
            out.push(Span {
                start,
                end,
                category: Category::Location,
                detector: "address_field",
                confidence: 0.6,
            });
        }
    }
    out
}

/// Fields of HL7 v2 segments (`PID|…`), X12 segments (`NM1*…~`) and FHIR
/// JSON (`"family": "…"`) pasted into notes, by the positions and keys the
/// standards give them: names, dates of birth, addresses, phones, IDs.
fn structured_messages(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let push = |start: usize, end: usize, category: Category, out: &mut Vec<Span>| {
        let v = &text[start..end];
        let lead = v.len() - v.trim_start().len();
        let t = v.trim();
        if !t.is_empty() && t.chars().any(char::is_alphanumeric) {
            out.push(Span {
                start: start + lead,
                end: start + lead + t.len(),
                category,
                detector: "structured_message",
                confidence: 0.8,
            });
        }
    };
    let mut at = 0;
    let lines_worth_reading = memchr::memchr2(b'|', b'*', text.as_bytes()).is_some();
    for line in text
        .split('\n')
        .take(if lines_worth_reading { usize::MAX } else { 0 })
    {
        let line_at = at;
        at += line.len() + 1;
        let l = line.trim_start();
        let l_at = line_at + (line.len() - l.len());
        // HL7 v2: SEG|f1|f2… with components split by '^'.
        if l.len() > 4
            && l.as_bytes()[3] == b'|'
            && l[..3]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            let seg = &l[..3];
            let fields: Vec<(usize, &str)> = {
                let mut v = Vec::new();
                let mut s0 = 0;
                for (i, c) in l.char_indices() {
                    if c == '|' {
                        v.push((l_at + s0, &l[s0..i]));
                        s0 = i + 1;
                    }
                }
                v.push((l_at + s0, &l[s0..]));
                v
            };
            // MSH counts the separator itself as field 1.
            let field = |n: usize| -> Option<(usize, &str)> {
                let idx = if seg == "MSH" { n.checked_sub(1)? } else { n };
                fields.get(idx).copied()
            };
            let comps = |f: (usize, &str)| -> Vec<(usize, usize)> {
                let mut v = Vec::new();
                let mut s0 = 0;
                for (i, c) in f.1.char_indices() {
                    if c == '^' || c == '~' {
                        v.push((f.0 + s0, f.0 + i));
                        s0 = i + 1;
                    }
                }
                v.push((f.0 + s0, f.0 + f.1.len()));
                v
            };
            let mark = |n: usize, which: &[usize], category: Category, out: &mut Vec<Span>| {
                if let Some(f) = field(n) {
                    let cs = comps(f);
                    for &w in which {
                        if let Some(&(a, b)) = cs.get(w) {
                            push(a, b, category, out);
                        }
                    }
                }
            };
            match seg {
                "MSH" => {
                    mark(4, &[0], Category::Location, &mut out);
                    mark(6, &[0], Category::Location, &mut out);
                    mark(7, &[0], Category::Date, &mut out);
                }
                "EVN" => mark(2, &[0], Category::Date, &mut out),
                "PID" => {
                    for n in [2, 3, 4, 18, 19, 20] {
                        mark(n, &[0], Category::Id, &mut out);
                    }
                    for n in [5, 6, 9] {
                        mark(n, &[0, 1, 2], Category::Name, &mut out);
                    }
                    mark(7, &[0], Category::Date, &mut out);
                    mark(29, &[0], Category::Date, &mut out);
                    mark(11, &[0, 1, 2, 3, 4, 5], Category::Location, &mut out);
                    mark(12, &[0], Category::Location, &mut out);
                    for n in [13, 14] {
                        mark(n, &[0], Category::Phone, &mut out);
                    }
                }
                "NK1" | "GT1" => {
                    let (name, addr, phones) = if seg == "NK1" {
                        (2, 4, [5, 6])
                    } else {
                        (3, 5, [6, 7])
                    };
                    mark(name, &[0, 1, 2], Category::Name, &mut out);
                    mark(addr, &[0, 1, 2, 3, 4, 5], Category::Location, &mut out);
                    for n in phones {
                        mark(n, &[0], Category::Phone, &mut out);
                    }
                }
                "PV1" => {
                    mark(3, &[0, 3], Category::Location, &mut out);
                    // Doctors: id^family^given.
                    for n in [7, 8, 9, 17] {
                        mark(n, &[0], Category::Id, &mut out);
                        mark(n, &[1, 2, 3], Category::Name, &mut out);
                    }
                    mark(19, &[0], Category::Id, &mut out);
                    mark(44, &[0], Category::Date, &mut out);
                    mark(45, &[0], Category::Date, &mut out);
                }
                "ORC" => {
                    mark(12, &[0], Category::Id, &mut out);
                    mark(12, &[1, 2, 3], Category::Name, &mut out);
                }
                "OBR" => {
                    mark(7, &[0], Category::Date, &mut out);
                    mark(16, &[0], Category::Id, &mut out);
                    mark(16, &[1, 2, 3], Category::Name, &mut out);
                }
                "IN1" => {
                    mark(4, &[0], Category::Organization, &mut out);
                    mark(16, &[0, 1, 2], Category::Name, &mut out);
                    mark(19, &[0, 1, 2, 3, 4], Category::Location, &mut out);
                    mark(36, &[0], Category::Id, &mut out);
                }
                _ => {}
            }
            continue;
        }
        // X12: SEG*e1*e2…~ (a segment id of two or three capitals/digits).
        let x12 = l.len() > 4
            && l.as_bytes()[..4].contains(&b'*')
            && l.bytes()
                .take_while(|&b| b != b'*')
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !x12 {
            continue;
        }
        for seg_text in l.split('~') {
            let seg_at = l_at + (seg_text.as_ptr() as usize - l.as_ptr() as usize);
            let els: Vec<(usize, &str)> = {
                let mut v = Vec::new();
                let mut s0 = 0;
                for (i, c) in seg_text.char_indices() {
                    if c == '*' {
                        v.push((seg_at + s0, &seg_text[s0..i]));
                        s0 = i + 1;
                    }
                }
                v.push((seg_at + s0, &seg_text[s0..]));
                v
            };
            if els.len() < 3 {
                continue;
            }
            let el = |n: usize| els.get(n).map(|&(a, t)| (a, a + t.len()));
            match els[0].1.trim() {
                "NM1" => {
                    let person = els.get(2).is_some_and(|e| e.1 == "1");
                    if person {
                        for n in [3, 4, 5] {
                            if let Some((a, b)) = el(n) {
                                push(a, b, Category::Name, &mut out);
                            }
                        }
                    } else if let Some((a, b)) = el(3) {
                        push(a, b, Category::Organization, &mut out);
                    }
                    if let Some((a, b)) = el(9) {
                        push(a, b, Category::Id, &mut out);
                    }
                }
                "N3" => {
                    for n in [1, 2] {
                        if let Some((a, b)) = el(n) {
                            push(a, b, Category::Location, &mut out);
                        }
                    }
                }
                "N4" => {
                    for n in [1, 2, 3] {
                        if let Some((a, b)) = el(n) {
                            push(a, b, Category::Location, &mut out);
                        }
                    }
                }
                "DMG" => {
                    if let Some((a, b)) = el(2) {
                        push(a, b, Category::Date, &mut out);
                    }
                }
                "DTP" => {
                    if let Some((a, b)) = el(3) {
                        push(a, b, Category::Date, &mut out);
                    }
                }
                "REF" => {
                    if let Some((a, b)) = el(2) {
                        push(a, b, Category::Id, &mut out);
                    }
                }
                "PER" => {
                    if let Some((a, b)) = el(2) {
                        push(a, b, Category::Name, &mut out);
                    }
                    for n in [3, 5, 7] {
                        if let (Some(q), Some((a, b))) = (els.get(n), el(n + 1)) {
                            let c = match q.1 {
                                "TE" | "FX" | "CP" | "HP" | "WP" => Category::Phone,
                                "EM" => Category::Email,
                                _ => continue,
                            };
                            push(a, b, c, &mut out);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // FHIR JSON: "key": "value" or "key": [ "value", … ].
    const KEYS: &[(&str, Category)] = &[
        ("\"family\"", Category::Name),
        ("\"given\"", Category::Name),
        ("\"birthDate\"", Category::Date),
        ("\"deceasedDateTime\"", Category::Date),
        ("\"line\"", Category::Location),
        ("\"city\"", Category::Location),
        ("\"district\"", Category::Location),
        ("\"state\"", Category::Location),
        ("\"postalCode\"", Category::Location),
    ];
    if memchr::memmem::find(text.as_bytes(), b"\": ").is_some() || text.contains("\":\"") {
        for &(key, category) in KEYS {
            for k in memchr::memmem::find_iter(text.as_bytes(), key.as_bytes()) {
                let mut i = k + key.len();
                let rest = &text[i..];
                let Some(colon) = rest.find(':').filter(|&c| rest[..c].trim().is_empty()) else {
                    continue;
                };
                i += colon + 1;
                let after = &text[i..];
                let trimmed = after.trim_start();
                i += after.len() - trimmed.len();
                let (mut j, list) = match trimmed.strip_prefix('[') {
                    Some(_) => (i + 1, true),
                    None => (i, false),
                };
                loop {
                    let rest = &text[j..];
                    let r = rest.trim_start();
                    j += rest.len() - r.len();
                    let Some(body) = r.strip_prefix('"') else {
                        break;
                    };
                    let Some(close) = body.find('"') else { break };
                    push(j + 1, j + 1 + close, category, &mut out);
                    j += close + 2;
                    if !list {
                        break;
                    }
                    let rest = &text[j..];
                    let r = rest.trim_start();
                    j += rest.len() - r.len();
                    match r.strip_prefix(',') {
                        Some(_) => j += 1,
                        None => break,
                    }
                }
            }
        }
        // "value" of a telecom or identifier entry: by the "system" beside it.
        for k in memchr::memmem::find_iter(text.as_bytes(), b"\"value\"") {
            let from = text[..k].rfind('{').unwrap_or(0);
            let obj = &text[from..k];
            let category = if obj.contains("\"phone\"") || obj.contains("\"fax\"") {
                Category::Phone
            } else if obj.contains("\"email\"") {
                Category::Email
            } else if obj.contains("\"system\"") {
                Category::Id
            } else {
                continue;
            };
            let rest = &text[k + 7..];
            let r = rest.trim_start().strip_prefix(':').map(str::trim_start);
            if let Some(r) = r.and_then(|r| r.strip_prefix('"')) {
                if let Some(close) = r.find('"') {
                    let start = text.len() - r.len();
                    push(start, start + close, category, &mut out);
                }
            }
        }
    }
    out
}

/// What a table column holds, from its header ("Patient", "Age", "DOB",
/// "Hosp no", "Init", "Taken by", "surname", "postcode" …).
fn column_category(header: &str) -> Option<Category> {
    let h: String = header
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .map(|c| {
            if c == '_' || c == '.' {
                ' '
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let h = h.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(match h.as_str() {
        "name" | "patient" | "pt" | "patient name" | "pt name" | "surname" | "forename"
        | "forenames" | "first name" | "last name" | "given name" | "family name" | "full name"
        | "client" | "resident" | "contact" | "init" | "initials" | "taken by" | "given by"
        | "signed" | "signed by" | "sign" | "by" | "checked by" | "seen by" | "witness"
        | "witnessed by" | "nok" | "next of kin" | "carer" | "relative" | "parent" | "guardian"
        | "child" | "infant" | "donor" | "recipient" | "owner" | "staff" | "nurse" | "rn"
        | "clinician" | "consultant" | "gp" | "attending" | "user name" | "employee" => {
            Category::Name
        }
        "age" | "age y" | "age yrs" | "age years" | "yrs" => Category::Age,
        "dob" | "d o b" | "date of birth" | "date" | "time" | "datetime" | "appt datetime"
        | "appt" | "appointment" | "sched" | "scheduled" | "given" | "due" | "onset" | "edd"
        | "admitted" | "admission" | "discharged" | "discharge" | "collected" | "taken"
        | "consent" | "seen" | "arrived" | "arrival" | "dos" | "date of service" | "sample"
        | "sampled" | "date seen" | "visit date" | "time given" | "admin time" => Category::Date,
        "hosp no" | "hospital no" | "hospital number" | "mrn" | "nhs" | "nhs no" | "nhs number"
        | "chi" | "chi no" | "id" | "patient id" | "pt id" | "scr no" | "screening no"
        | "subject" | "subject id" | "wristband" | "case no" | "accession" | "specimen"
        | "specimen no" | "sample id" | "ssn" | "ni no" | "nino" | "hrn" | "urn" | "crn"
        | "pas no" | "unit no" | "study id" | "kit" | "record no" | "member id" | "policy no" => {
            Category::Id
        }
        "postcode" | "post code" | "zip" | "zip code" | "address" | "town" | "city" => {
            Category::Location
        }
        "phone" | "tel" | "telephone" | "mobile" | "contact number" | "phone no" => Category::Phone,
        _ => return None,
    })
}

/// The cells of a table line (`|`, tab or comma separated) with their byte
/// ranges in `text` (from `at`), trimmed; `None` when the line is not one.
fn table_cells(line: &str, at: usize, sep: u8) -> Vec<(usize, usize)> {
    let mut cells = Vec::new();
    let mut start = 0;
    let b = line.as_bytes();
    for i in 0..=b.len() {
        if i == b.len() || b[i] == sep {
            let cell = &line[start..i];
            let lead = cell.len() - cell.trim_start().len();
            let t = cell.trim();
            cells.push((at + start + lead, at + start + lead + t.len()));
            start = i + 1;
        }
    }
    cells
}

/// Tables with a header row: every cell under a column headed "Patient",
/// "Age", "DOB", "Hosp no", "Init", "surname" … is that kind of PHI when
/// its content fits (a number for an age, digits for an ID or a date).
fn table_columns(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    // No table without two separators of one kind: most notes stop here.
    let b = text.as_bytes();
    let enough = |c: u8| memchr::memchr_iter(c, b).nth(1).is_some();
    if !enough(b'|') && !enough(b'\t') && memchr::memchr_iter(b',', b).nth(2).is_none() {
        return out;
    }
    let mut lines: Vec<(usize, &str)> =
        Vec::with_capacity(memchr::memchr_iter(b'\n', b).count() + 1);
    lines.extend(lines_at(text));
    let mut li = 0;
    while li < lines.len() {
        let (at, line) = lines[li];
        li += 1;
        // The three separators counted in one memchr pass over the line.
        let (mut pipes, mut tabs, mut commas) = (0usize, 0usize, 0usize);
        for p in memchr::memchr3_iter(b'|', b'\t', b',', line.as_bytes()) {
            match line.as_bytes()[p] {
                b'|' => pipes += 1,
                b'\t' => tabs += 1,
                _ => commas += 1,
            }
        }
        let sep = if pipes >= 2 {
            b'|'
        } else if tabs >= 2 {
            b'\t'
        } else if commas >= 3 && !line.contains(". ") && !line.contains(", ") {
            b','
        } else {
            continue;
        };
        let header = table_cells(line, at, sep);
        let named: Vec<&(usize, usize)> = header.iter().filter(|(a, b)| b > a).collect();
        let looks_like_header = named.len() >= 3
            && named.iter().all(|&&(a, b)| {
                let h = &text[a..b];
                h.len() <= 30 && h.chars().filter(char::is_ascii_digit).count() <= 2
            });
        if !looks_like_header {
            continue;
        }
        let columns: Vec<Option<Category>> = header
            .iter()
            .map(|&(a, b)| column_category(&text[a..b]))
            .collect();
        if columns.iter().all(Option::is_none) {
            continue;
        }
        // The rows under it, until a line that is not part of the table.
        while li < lines.len() {
            let (rat, row) = lines[li];
            if !row.as_bytes().contains(&sep) || row.trim().is_empty() {
                break;
            }
            li += 1;
            let cells = table_cells(row, rat, sep);
            // "4   | closed, D&V, deep clean": a short row inside the table
            // (a closed bed, a note) is skipped, and the rows after it read on.
            if cells.len() + 1 < header.len() {
                continue;
            }
            for (c, &(a, b)) in cells.iter().enumerate() {
                let Some(category) = columns.get(c).copied().flatten() else {
                    continue;
                };
                let v = &text[a..b];
                if v.is_empty() {
                    continue;
                }
                let has_digit = v.bytes().any(|x| x.is_ascii_digit());
                let fits = match category {
                    Category::Age => {
                        let d = v.trim_start_matches('~');
                        (1..=3).contains(&d.len()) && d.bytes().all(|x| x.is_ascii_digit())
                    }
                    Category::Date => {
                        has_digit
                            && v.bytes().all(|x| {
                                x.is_ascii_digit() || matches!(x, b'/' | b'-' | b'.' | b':' | b' ')
                            })
                    }
                    Category::Id | Category::Phone => has_digit && v.len() <= 30,
                    Category::Name => {
                        !has_digit
                            && v.len() <= 40
                            && v.split_whitespace().count() <= 4
                            && v.chars().any(char::is_alphabetic)
                            && !matches!(
                                v.to_ascii_lowercase().as_str(),
                                "unknown"
                                    | "none"
                                    | "n/a"
                                    | "na"
                                    | "nil"
                                    | "tbc"
                                    | "empty"
                                    | "staff"
                                    | "pending"
                                    | "self"
                                    | "yes"
                                    | "no"
                                    | "-"
                                    | "--"
                            )
                    }
                    _ => v.chars().any(char::is_alphanumeric),
                };
                if fits {
                    out.push(Span {
                        start: a + usize::from(v.starts_with('~')),
                        end: b,
                        category,
                        detector: "table_column",
                        confidence: 0.65,
                    });
                }
            }
        }
    }
    out
}

/// "DOB 17/09/2005 (18)", "CHI 2911363876 (87)": a bracketed number right
/// after a date of birth or a patient identifier is the age.
fn ages_in_brackets_after_ids(text: &str, spans: &[Span], policy: AgePolicy) -> Vec<Span> {
    let mut out = Vec::new();
    for s in spans {
        let dob = s.category == Category::Date && {
            // Only the few bytes before the date matter.
            let mut from = s.start.saturating_sub(16);
            while !text.is_char_boundary(from) {
                from += 1;
            }
            let before = text[from..s.start].trim_end().to_ascii_lowercase();
            before.ends_with("dob")
                || before.ends_with("d.o.b")
                || before.ends_with("dob:")
                || before.ends_with("d.o.b.")
                || before.ends_with("born")
                || before.ends_with("date of birth")
                || before.ends_with("date of birth:")
        };
        if !(dob || s.category == Category::Id) {
            continue;
        }
        // "DOB 10/28/2023, 10 weeks": an age in weeks or months after the DOB.
        if dob {
            if let Some(after) = text[s.end..].strip_prefix(", ") {
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                let unit = after[digits..].trim_start();
                if (1..=3).contains(&digits)
                    && [
                        "weeks", "wks", "months", "mths", "days", "years", "yrs", "y",
                    ]
                    .iter()
                    .any(|u| unit.starts_with(u))
                    && policy != AgePolicy::Over89
                {
                    let start = s.end + 2;
                    out.push(Span {
                        start,
                        end: start + digits,
                        category: Category::Age,
                        detector: "age_after_dob",
                        confidence: 0.75,
                    });
                    continue;
                }
            }
        }
        let Some(after) = text[s.end..].strip_prefix(" (") else {
            continue;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &after[digits..];
        if !(1..=3).contains(&digits)
            || !(tail.starts_with(')') || tail.starts_with("y)") || tail.starts_with("yrs)"))
        {
            continue;
        }
        let n: u32 = after[..digits].parse().unwrap_or(999);
        if n > 125 || (policy == AgePolicy::Over89 && n <= 89) {
            continue;
        }
        let start = s.end + 2;
        out.push(Span {
            start,
            end: start + digits,
            category: Category::Age,
            detector: "age_after_dob",
            confidence: 0.75,
        });
    }
    out
}

/// Family history: "mother dx breast ca at 44", "father died of an MI at
/// 61": an age given for a relative's diagnosis or death.
fn ages_in_family_history(text: &str, policy: AgePolicy) -> Vec<Span> {
    // Single words only: the clause is split at every non-letter, so
    // "half-brother" arrives as "half" and "brother".
    const RELATIVES: &[&str] = &[
        "aunt",
        "brother",
        "cousin",
        "dad",
        "daughter",
        "father",
        "grandfather",
        "grandma",
        "grandmother",
        "grandpa",
        "mother",
        "mum",
        "nephew",
        "niece",
        "parent",
        "sibling",
        "sister",
        "son",
        "stepbrother",
        "stepsister",
        "twin",
        "uncle",
    ];
    const EVENTS: &[&str] = &[
        "dx",
        "diagnosed",
        "died",
        "death",
        "ca",
        "cancer",
        "mi",
        "stroke",
        "cva",
        "passed",
        "deceased",
        "onset",
        "developed",
        "carcinoma",
        "lymphoma",
        "leukaemia",
        "leukemia",
    ];
    let mut out = Vec::new();
    let b = text.as_bytes();
    // Each " at " / " AT " followed by a digit; the clause before it is
    // lowered only then (most notes have none).
    // Built once: a searcher per note would cost more than most notes' search.
    static AT: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b" at "));
    static AT_UPPER: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b" AT "));
    let hits = AT
        .find_iter(b)
        .chain(AT_UPPER.find_iter(b))
        .filter(|&at| b.get(at + 4).is_some_and(u8::is_ascii_digit));
    for at in hits {
        let pos = at + 4;
        let clause_from = text[..pos]
            .rfind([';', '.', '(', '\n'])
            .map_or(0, |i| i + 1);
        let mut window_end = (pos + 8).min(text.len());
        while !text.is_char_boundary(window_end) {
            window_end -= 1;
        }
        let lower = text[clause_from..window_end].to_ascii_lowercase();
        let (lower, pos, base) = (lower.as_str(), pos - clause_from, clause_from);
        let digits = lower[pos..].bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&digits) {
            continue;
        }
        let tail = &lower[pos + digits..];
        // "at 44;" / "at 58)" but not "at 14:30", "at 10 mg", "at 12 weeks".
        if !(tail.is_empty()
            || tail.starts_with([';', ')', ',', '.', '\n'])
            || tail.starts_with(" and")
            || tail.starts_with(" y"))
            || tail.starts_with(".5")
        {
            continue;
        }
        // The clause before: back to the last ';', '.', '(' or line start.
        let clause_start = lower[..pos]
            .rfind([';', '.', '(', '\n'])
            .map_or(0, |i| i + 1);
        let clause = &lower[clause_start..pos];
        let words: Vec<&str> = clause
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        if !(words.iter().any(|w| RELATIVES.contains(w))
            && words.iter().any(|w| EVENTS.contains(w)))
        {
            continue;
        }
        let n: u32 = lower[pos..pos + digits].parse().unwrap_or(999);
        if n > 125 || (policy == AgePolicy::Over89 && n <= 89) {
            continue;
        }
        out.push(Span {
            start: base + pos,
            end: base + pos + digits,
            category: Category::Age,
            detector: "age_family_history",
            confidence: 0.7,
        });
    }
    out
}

/// "He is 7 and in Year 3", "she is now 93.": an age given for a person
/// referred to by pronoun.
fn ages_after_pronouns(text: &str, spans: &[Span], policy: AgePolicy) -> Vec<Span> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    // Each " is " / "'s " is checked for "he"/"she" before it and a number after.
    // Built once: a searcher per note would cost more than most notes' search.
    static IS: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b" is "));
    static APOSTROPHE_S: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"'s "));
    // "He was 74 at the time", "Mum was 61 when diagnosed".
    static WAS: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b" was "));
    let verbs = IS
        .find_iter(b)
        .chain(APOSTROPHE_S.find_iter(b))
        .chain(WAS.find_iter(b));
    for verb in verbs {
        let verb_len = match b[verb + 1] {
            b'i' => 4,
            b'w' => 5,
            _ => 3,
        };
        let past = verb_len == 5;
        // A number (or "now") must follow: most "is" are ruled out here.
        let after = verb + verb_len;
        if !b
            .get(after)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'n')
        {
            continue;
        }
        let head = &text[..verb];
        let subject = head
            .rsplit(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        let pronoun = subject.eq_ignore_ascii_case("he") || subject.eq_ignore_ascii_case("she");
        // "Wife is 61 and well", "Mum is 92 and lives in a care home".
        let relative = subject.len() > 2 && verb_len >= 4 && is_relative(subject);
        // "Mr Jones is 84 and lives alone": a name found just before "is".
        let named = || {
            let i = spans.partition_point(|s| s.start < verb);
            verb_len >= 4
                && spans[..i]
                    .last()
                    .is_some_and(|s| s.category == Category::Name && s.end == verb)
        };
        if !(pronoun || relative || named()) {
            continue;
        }
        let mut pos = verb + verb_len;
        if !past && text[pos..].starts_with("now ") {
            pos += 4;
        }
        let digits = b[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=3).contains(&digits) {
            continue;
        }
        let tail = &text[pos + digits..];
        // The past tense only with a time it refers to: "was 74 at the
        // time", not "was 7 and a half kilos".
        let then = [
            " when ",
            " at the time",
            " at diagnosis",
            " at death",
            " at onset",
        ]
        .iter()
        .any(|t| tail.starts_with(t));
        if past && !then {
            continue;
        }
        let closed = then
            || tail.starts_with(" and ")
            || tail.starts_with(", ")
            || tail.starts_with(". ")
            || tail.starts_with(".\n")
            || tail == "."
            || tail.starts_with(" today")
            || tail.starts_with(" years")
            || tail.starts_with(" now");
        let n: u32 = text[pos..pos + digits].parse().unwrap_or(999);
        if !closed || n > 125 || (policy == AgePolicy::Over89 && n <= 89) {
            continue;
        }
        out.push(Span {
            start: pos,
            end: pos + digits,
            category: Category::Age,
            detector: "age_after_pronoun",
            confidence: 0.65,
        });
    }
    out
}

/// Singular words for a person whose age may follow them (sorted: looked
/// up by binary search, lower case).
const RELATIVES: &[&str] = &[
    "aunt",
    "auntie",
    "aunty",
    "baby",
    "boy",
    "boyfriend",
    "brother",
    "child",
    "cousin",
    "dad",
    "daughter",
    "father",
    "fiance",
    "fiancee",
    "fiancé",
    "fiancée",
    "gentleman",
    "girl",
    "girlfriend",
    "gran",
    "grandad",
    "granddad",
    "granddaughter",
    "grandfather",
    "grandma",
    "grandmother",
    "grandpa",
    "grandson",
    "granny",
    "husband",
    "infant",
    "lady",
    "mam",
    "man",
    "mom",
    "mother",
    "mum",
    "nan",
    "nana",
    "nephew",
    "niece",
    "partner",
    "patient",
    "sibling",
    "sister",
    "son",
    "spouse",
    "stepdad",
    "stepdaughter",
    "stepfather",
    "stepmother",
    "stepmum",
    "stepson",
    "toddler",
    "twin",
    "uncle",
    "widow",
    "widower",
    "wife",
    "woman",
];

/// The ASCII letters running up to byte `end` (empty when there are none).
fn ascii_word_before(text: &str, end: usize) -> &str {
    &text[initials::ascii_word_start(text, end)..end]
}

/// Whether `word` (any case) is one of [`RELATIVES`].
fn is_relative(word: &str) -> bool {
    let mut buf = [0u8; 16];
    word.len() >= 2
        && lexicon::ascii_lowercase_in(word, &mut buf)
            .is_some_and(|lower| RELATIVES.binary_search(&lower).is_ok())
}

/// "Son, 12, attends school", "Mother alive, 84, with dementia": a number
/// set off by commas after a word for one person (or after "alive" /
/// "deceased" / "well" following one) is that person's age. `comma` is the
/// byte offset of the comma before the number.
fn ages_after_comma(text: &str, comma: usize, policy: AgePolicy, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let word_before = |end: usize| ascii_word_before(text, end);
    let mut word = word_before(comma);
    if ["alive", "deceased", "living", "well", "died", "dead"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
        && comma > word.len()
        && b[comma - word.len() - 1] == b' '
    {
        word = word_before(comma - word.len() - 1);
    }
    if word.len() < 3 || !is_relative(word) {
        return;
    }
    // "Patient, now 84, lives alone".
    let at = comma
        + if text[comma..].starts_with(", now ") {
            6
        } else {
            2
        };
    let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) {
        return;
    }
    let tail = &text[at + digits..];
    let closed = tail.starts_with(", ")
        || tail.starts_with(". ")
        || tail.starts_with(".\n")
        || tail == "."
        || tail.starts_with("; ")
        || tail.starts_with(" and ")
        || tail.starts_with(" with ")
        || tail.starts_with(" who ")
        || tail.starts_with(" is ")
        || tail.starts_with(" has ")
        || tail.starts_with(" lives ");
    let n: u32 = text[at..at + digits].parse().unwrap_or(999);
    if !closed || n > 125 || (policy == AgePolicy::Over89 && n <= 89) {
        return;
    }
    out.push(Span {
        start: at,
        end: at + digits,
        category: Category::Age,
        detector: "age_beside_person",
        confidence: 0.65,
    });
}

/// "She turned 50 last month", "her 80th birthday": milestones are ages.
fn ages_at_milestones(text: &str, policy: AgePolicy) -> Vec<Span> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut push = |start: usize, end: usize| {
        let digits = text[start..end].trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let n: u32 = digits.parse().unwrap_or(999);
        if n <= 125 && !(policy == AgePolicy::Over89 && n <= 89) {
            out.push(Span {
                start,
                end,
                category: Category::Age,
                detector: "age_milestone",
                confidence: 0.65,
            });
        }
    };
    static TURN: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"turn"));
    static BIRTHDAY: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b" birthday"));
    for verb in TURN.find_iter(b) {
        let rest = &text[verb..];
        let Some(after) = ["turned ", "turns ", "turning "]
            .iter()
            .find_map(|v| rest.strip_prefix(v))
        else {
            continue;
        };
        if verb > 0 && b[verb - 1].is_ascii_alphabetic() {
            continue;
        }
        let at = text.len() - after.len();
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        let tail = &text[at + digits..];
        let closed = tail.is_empty()
            || tail.starts_with(['.', ',', ';', ')', '\n'])
            || [
                " last",
                " this",
                " next",
                " in ",
                " on ",
                " and ",
                " yesterday",
                " today",
                " recently",
                " years",
                " soon",
            ]
            .iter()
            .any(|t| tail.starts_with(t));
        if (1..=3).contains(&digits) && closed && !tail.starts_with(" years ago") {
            push(at, at + digits);
        }
    }
    for day in BIRTHDAY.find_iter(b) {
        // "80th birthday", "her 21st birthday"
        let head = &b[..day];
        let suffix = head.len().saturating_sub(2);
        if suffix < 1 || !matches!(&head[suffix..], b"th" | b"st" | b"nd" | b"rd") {
            continue;
        }
        let digits = head[..suffix]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let start = suffix - digits;
        if (1..=3).contains(&digits) && (start == 0 || !head[start - 1].is_ascii_alphanumeric()) {
            // The ordinal is part of the age: its surrogate needs its own suffix.
            push(start, day);
        }
    }
    out
}

/// "D/w reg (Tom)", "FY1 (Priya) aware", "charge nurse (Dele)": a first
/// name alone in brackets right after a role or relative is that person.
fn names_in_brackets_after_roles(text: &str) -> Vec<Span> {
    const ROLES: &[&str] = &[
        "reg",
        "registrar",
        "spr",
        "sho",
        "fy1",
        "fy2",
        "f1",
        "f2",
        "ct1",
        "ct2",
        "st3",
        "st4",
        "consultant",
        "cons",
        "physio",
        "nurse",
        "hca",
        "ot",
        "salt",
        "dietitian",
        "dietician",
        "pharmacist",
        "matron",
        "midwife",
        "gp",
        "doctor",
        "dr",
        "anaesthetist",
        "surgeon",
        "cns",
        "anp",
        "acp",
        "pa",
        "rn",
        "lpn",
        "cna",
        "np",
        "intern",
        "resident",
        "attending",
        "fellow",
        "medic",
        "paramedic",
        "chaplain",
        "interpreter",
        "carer",
        "friend",
        "neighbour",
        "neighbor",
        "worker",
        "coordinator",
        "manager",
        "son",
        "daughter",
        "wife",
        "husband",
        "partner",
        "brother",
        "sister",
        "mother",
        "father",
        "mum",
        "dad",
        "nok",
        "student",
        "sw",
        "chw",
        "officer",
        "sitter",
        "porter",
        "clerk",
        "receptionist",
        // People who live with or look after the patient: "roommate (Tony)".
        "roommate",
        "flatmate",
        "housemate",
        "lodger",
        "landlord",
        "landlady",
        "guardian",
        "keyworker",
        "advocate",
        "colleague",
        "boss",
        "vicar",
        "pastor",
        "priest",
        "imam",
        "rabbi",
        "boyfriend",
        "girlfriend",
        "fiance",
        "fiancee",
        "spouse",
        "grandson",
        "granddaughter",
        "grandma",
        "grandad",
        "grandpa",
        "gran",
        "nan",
        "niece",
        "nephew",
        "uncle",
        "aunt",
        "auntie",
        "cousin",
        "stepdad",
        "stepmum",
        "stepson",
        "stepdaughter",
    ];
    let lex = lexicon::Lexicon::get();
    let b = text.as_bytes();
    let mut out = Vec::new();
    for open in memchr::memchr_iter(b'(', b) {
        // The word before: letters and digits, one space before the bracket.
        if open < 2 || b[open - 1] != b' ' {
            continue;
        }
        let end = open - 1;
        let len = b[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let role = &text[end - len..end];
        // "Twin A (Lily)", "twin 2 (Rose)": a twin's letter or number.
        let twin = len == 1 && end >= 6 && b[end - 6..end - 1].eq_ignore_ascii_case(b"twin ");
        if !twin
            && (!(2..=13).contains(&len) || !ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)))
        {
            continue;
        }
        let inner_start = open + 1;
        let Some(close) = memchr::memchr(b')', &b[inner_start..]).map(|i| inner_start + i) else {
            continue;
        };
        let inner = &text[inner_start..close];
        let words: Vec<&str> = inner.split(' ').collect();
        let name_like = |w: &str| {
            let wb = w.as_bytes();
            wb.len() >= 2
                && wb[0].is_ascii_uppercase()
                && wb[1..].iter().all(u8::is_ascii_lowercase)
                && {
                    let lower = w.to_ascii_lowercase();
                    let l = lower.as_str();
                    !lex.clinical.contains(l) && (lex.first.contains(l) || !lex.common.contains(l))
                }
        };
        if (1..=2).contains(&words.len()) && words.iter().all(|w| name_like(w)) {
            out.push(Span {
                start: inner_start,
                end: close,
                category: Category::Name,
                detector: "name_in_brackets_after_role",
                confidence: 0.7,
            });
        }
    }
    out
}

/// "from 3rd to 5th March", "1-3 Feb", "2nd and 4th May": the first day of
/// a range or pair belongs to the month written after the second.
fn day_ranges(text: &str, spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    for s in spans.iter().filter(|s| s.category == Category::Date) {
        // The date must open with its day: "5th March", "3 Feb".
        if !b[s.start].is_ascii_digit()
            || !text[s.start..s.end].contains(|c: char| c.is_alphabetic())
        {
            continue;
        }
        let head = &text[..s.start];
        let Some(joined) = [" to ", "-", "–", " - ", " and ", " & "]
            .iter()
            .find_map(|j| head.strip_suffix(j))
        else {
            continue;
        };
        let ordinal = joined
            .strip_suffix("st")
            .or_else(|| joined.strip_suffix("nd"))
            .or_else(|| joined.strip_suffix("rd"))
            .or_else(|| joined.strip_suffix("th"))
            .unwrap_or(joined);
        let digits = ordinal.bytes().rev().take_while(u8::is_ascii_digit).count();
        let start = ordinal.len() - digits;
        if !(1..=2).contains(&digits)
            || text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '.')
        {
            continue;
        }
        let day: u32 = ordinal[start..].parse().unwrap_or(0);
        if !(1..=31).contains(&day) {
            continue;
        }
        out.push(Span {
            start,
            end: joined.len(),
            category: Category::Date,
            detector: "day_range",
            confidence: 0.7,
        });
    }
    out
}

/// "F 84 presenting with falls", "Pt: M 67,", "84 ♀ with SOB": a bare
/// number beside a sex written as a letter or a sign, at a line's or a
/// field's head (as "84F" and "84 F" are patterns).
fn sex_then_age(text: &str, policy: AgePolicy) -> Vec<Span> {
    static FIELD: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b": "));
    // The first two bytes of "♀" and "♂" in UTF-8.
    static SIGN: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\xe2\x99"));
    let mut out = Vec::new();
    let b = text.as_bytes();
    let keep = |n: u32| n <= 125 && (policy == AgePolicy::All || n > 89);
    let sex_at = |start: usize, out: &mut Vec<Span>| {
        // Most candidates fail on their first byte.
        if !matches!(b.get(start), Some(b'F' | b'M')) {
            return;
        }
        let rest = &text[start..];
        let Some(after) = ["F ", "M ", "Female ", "Male "]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        else {
            return;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &after[digits..];
        let closed = tail.is_empty()
            || tail.starts_with([' ', ',', '\n', ';', ')'])
                && !tail.trim_start().starts_with(|c: char| c.is_ascii_digit());
        // "F 12 catheter": a French gauge, not an age.
        let next = tail
            .trim_start()
            .split([' ', ',', '.'])
            .next()
            .unwrap_or("");
        let device = [
            "catheter", "cannula", "tube", "foley", "ngt", "drain", "fr", "ch", "gauge", "g",
            "sheath", "stent",
        ]
        .iter()
        .any(|d| next.eq_ignore_ascii_case(d));
        let n: u32 = after[..digits].parse().unwrap_or(999);
        if (1..=3).contains(&digits) && closed && !device && keep(n) {
            let s = start + (rest.len() - after.len());
            out.push(Span {
                start: s,
                end: s + digits,
                category: Category::Age,
                detector: "age_after_sex",
                confidence: 0.65,
            });
        }
    };
    // At a line's head (after its indent) or a field's ("Pt: M 67").
    for (at, line) in lines_at(text) {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        sex_at(at + indent, &mut out);
    }
    for at in FIELD.find_iter(b) {
        sex_at(at + 2, &mut out);
    }
    // "84 ♀": a number before a sex sign.
    for i in SIGN.find_iter(b) {
        if !matches!(b.get(i + 2), Some(0x80 | 0x82)) {
            continue;
        }
        let head = text[..i].strip_suffix(' ').unwrap_or(&text[..i]);
        let digits = head.bytes().rev().take_while(u8::is_ascii_digit).count();
        let start = head.len() - digits;
        let bounded = !text[..start].ends_with(|c: char| c.is_alphanumeric() || c == '.');
        let n: u32 = head[start..].parse().unwrap_or(999);
        if (1..=3).contains(&digits) && bounded && keep(n) {
            out.push(Span {
                start,
                end: head.len(),
                category: Category::Age,
                detector: "age_before_sex_sign",
                confidence: 0.65,
            });
        }
    }
    out
}

/// "in her nineties", "in his late eighties": an age by its decade, in
/// words ("in her 90s" is a pattern).
fn decades_in_words(text: &str, policy: AgePolicy) -> Vec<Span> {
    static TIES: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"ties"));
    let mut out = Vec::new();
    for at in TIES.find_iter(text.as_bytes()) {
        let end = at + "ties".len();
        if text[end..].starts_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let start = text[..at]
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |i| i + 1);
        let mut buf = [0u8; 16];
        let Some(word) = lexicon::ascii_lowercase_in(&text[start..end], &mut buf) else {
            continue;
        };
        let decade = match word {
            "twenties" | "thirties" | "forties" | "fifties" | "sixties" | "seventies"
            | "eighties" => policy == AgePolicy::All,
            "nineties" => true,
            _ => false,
        };
        if !decade {
            continue;
        }
        // "in her (early|mid|late) nineties".
        let mut head = text[..start].trim_end_matches(' ');
        for q in ["early", "mid", "late", "mid-"] {
            if let Some(h) = head.strip_suffix(q) {
                head = h.trim_end_matches(' ');
                break;
            }
        }
        let lower_head = head.to_ascii_lowercase();
        let person = ["in his", "in her", "in their", "in my", "in your"]
            .iter()
            .any(|p| lower_head.ends_with(p));
        if person {
            out.push(Span {
                start,
                end,
                category: Category::Age,
                detector: "age_decade_words",
                confidence: 0.7,
            });
        }
    }
    out
}

/// "Co. Cork", "Co Tyrone", "County Mayo": the county word before a place
/// found on its own belongs to it (Irish and Northern Irish addresses).
fn county_prefixes(text: &str, spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for s in spans.iter().filter(|s| s.category == Category::Location) {
        let head = &text[..s.start];
        let Some(prefix) = ["Co. ", "Co ", "CO. ", "County ", "COUNTY "]
            .iter()
            .find(|p| head.ends_with(*p))
        else {
            continue;
        };
        let start = s.start - prefix.len();
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        out.push(Span {
            start,
            end: s.end,
            category: Category::Location,
            detector: "county",
            confidence: 0.85,
        });
    }
    out
}

/// "St Columba's Primary School, Andersonstown", "Mourne View Surgery,
/// Newry": a capitalised word or two after an institution and a comma, at
/// the end of the line or clause, is the place it is in.
fn places_after_institutions(text: &str, spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for s in spans
        .iter()
        .filter(|s| s.detector == "institution" || s.detector == "organisation_list")
    {
        let Some(after) = text[s.end..].strip_prefix(", ") else {
            continue;
        };
        let end = after
            .find(['\n', ',', '.', ';', '(', ')'])
            .unwrap_or(after.len());
        let place = after[..end].trim_end();
        if place.is_empty() || !address_locality(place) || place.split_whitespace().count() > 2 {
            continue;
        }
        let (start, end) = (s.end + 2, s.end + 2 + place.len());
        let mut overlapping = spans.iter().filter(|o| o.start < end && start < o.end);
        // "GREENACRES NURSING HOME, BRADFORD": a town that a name list
        // also holds was only guessed a name from the list; the place it
        // stands in says it is the town.
        // Only after an institution, which stands somewhere; a listed
        // organisation is followed as often by its worker ("from Mencap,
        // Jordan").
        let guessed_name = |o: &Span| {
            s.detector == "institution"
                && o.category == Category::Name
                && o.start >= start
                && o.end <= end
                && matches!(
                    o.detector,
                    "first_name" | "surname" | "name_shape" | "unknown_capitalised"
                )
        };
        let confidence = match overlapping.next() {
            None => 0.6,
            Some(o) if guessed_name(o) && overlapping.all(guessed_name) => 0.8,
            Some(_) => continue,
        };
        out.push(Span {
            start,
            end,
            category: Category::Location,
            detector: "place_after_institution",
            confidence,
        });
    }
    out
}

/// Positions of the ASCII digits in `bytes`, in order, found eight bytes
/// at a time: a word-wide test marks the digits of each block of eight,
/// so most of prose costs a few instructions per block, not per byte.
fn digit_positions(bytes: &[u8]) -> DigitPositions<'_> {
    DigitPositions {
        bytes,
        block: 0,
        next_block: 0,
        mask: 0,
    }
}

/// Iterator of [`digit_positions`].
struct DigitPositions<'a> {
    bytes: &'a [u8],
    /// Start of the block `mask` describes.
    block: usize,
    /// Start of the block to load next.
    next_block: usize,
    /// The high bit of each byte of the block not yet returned that is a digit.
    mask: u64,
}

impl DigitPositions<'_> {
    /// The high bit of every byte of `x` in b'0'..=b'9' (the "has between"
    /// bit trick: per byte, no carry or borrow crosses into the next).
    fn digit_mask(x: u64) -> u64 {
        const L: u64 = 0x0101_0101_0101_0101;
        let low7 = x & (L * 0x7f);
        (L * (0x7f + 0x3a) - low7) & !x & (low7 + L * (0x7f - 0x2f)) & (L * 0x80)
    }
}

impl Iterator for DigitPositions<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let at = self.next_block;
            if at >= self.bytes.len() {
                return None;
            }
            let mut word = [0u8; 8];
            let end = (at + 8).min(self.bytes.len());
            word[..end - at].copy_from_slice(&self.bytes[at..end]);
            self.mask = Self::digit_mask(u64::from_le_bytes(word));
            self.block = at;
            self.next_block = at + 8;
        }
        let i = self.mask.trailing_zeros() as usize / 8;
        self.mask &= self.mask - 1;
        Some(self.block + i)
    }
}

/// "his daughter (70)", "two children (4 and 6)", "Husband 96 and …": a
/// number set off right after a word for a person is that person's age.
fn ages_beside_people(text: &str, policy: AgePolicy) -> Vec<Span> {
    const PLURALS: &[&str] = &["children", "kids", "twins", "siblings", "sons", "daughters"];
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    // Start from each number that follows " " or " (" (rare), then look
    // back for the word before it, instead of testing every word.
    for pos in digit_positions(bytes) {
        if pos < 2 || !matches!(bytes[pos - 1], b' ' | b'(') {
            continue;
        }
        // What follows the number must close it (")", ".", ",", ";", " and",
        // the end): checked first, it rules out most numbers cheaply.
        let digits = bytes[pos..]
            .iter()
            .take(4)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let next = bytes.get(pos + digits).copied();
        if bytes[pos - 1] == b' '
            && (1..=3).contains(&digits)
            && age_after_at_or_of(text, pos, digits)
        {
            let n: u32 = text[pos..pos + digits].parse().unwrap_or(999);
            if n <= 125 && (policy == AgePolicy::All || n > 89) {
                out.push(Span {
                    start: pos,
                    end: pos + digits,
                    category: Category::Age,
                    detector: "age_beside_person",
                    confidence: 0.65,
                });
            }
            continue;
        }
        if digits > 3
            || !matches!(next, None | Some(b')' | b'.' | b',' | b';' | b' '))
            || (next == Some(b' ')
                && !bytes[pos + digits..].starts_with(b" and ")
                && !bytes[pos + digits..].starts_with(b" with ")
                && !bytes[pos + digits..].starts_with(b" who ")
                && !bytes[pos + digits..].starts_with(b" is ")
                && !bytes[pos + digits..].starts_with(b" has ")
                && !bytes[pos + digits..].starts_with(b" lives "))
        {
            continue;
        }
        let i = match (bytes[pos - 2], bytes[pos - 1]) {
            (b' ', b'(') => pos - 2,
            (b',', b' ') => {
                ages_after_comma(text, pos - 2, policy, &mut out);
                continue;
            }
            // "Patient, now 84, lives alone".
            (b'w', b' ') if text[..pos].ends_with(", now ") => {
                ages_after_comma(text, pos - 6, policy, &mut out);
                continue;
            }
            (_, b' ') => pos - 1,
            _ => continue,
        };
        let word = ascii_word_before(text, i);
        let plural = PLURALS.iter().any(|p| p.eq_ignore_ascii_case(word));
        if word.is_empty() || !(plural || is_relative(word)) {
            continue;
        }
        let rest = &text[i..];
        let (mut at, paren) = match rest.strip_prefix(" (") {
            Some(r) => (i + rest.len() - r.len(), true),
            None => match rest.strip_prefix(' ') {
                Some(r) => (i + rest.len() - r.len(), false),
                None => continue,
            },
        };
        // One number, or several joined by "and" / "," inside brackets.
        let mut found = Vec::new();
        loop {
            let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
            let n: u32 = text[at..at + digits].parse().unwrap_or(999);
            if !(1..=3).contains(&digits) || n > 125 {
                found.clear();
                break;
            }
            found.push((at, at + digits));
            let tail = &text[at + digits..];
            if paren {
                if let Some(r) = tail
                    .strip_prefix(" and ")
                    .or_else(|| tail.strip_prefix(", "))
                {
                    at = text.len() - r.len();
                    continue;
                }
                if !tail.starts_with(')') {
                    found.clear();
                }
            } else if !(tail.starts_with(" and ")
                || tail.starts_with(". ")
                || tail.starts_with(", ")
                || tail.starts_with(';')
                || tail == "."
                || tail.is_empty())
            {
                found.clear();
            }
            break;
        }
        for (start, end) in found {
            let n: u32 = text[start..end].parse().unwrap_or(0);
            if policy == AgePolicy::Over89 && n <= 89 {
                continue;
            }
            out.push(Span {
                start,
                end,
                category: Category::Age,
                detector: "age_beside_person",
                confidence: 0.65,
            });
        }
    }
    out
}

/// "At 84 she still drives", "a lady of 92": the number at `pos` (after a
/// space) follows "at" and opens a clause about her or him, or follows
/// "of" after a word for a person that is no relative ("mother of 3" is a
/// count of children).
fn age_after_at_or_of(text: &str, pos: usize, digits: usize) -> bool {
    let b = text.as_bytes();
    let word_before = |end: usize| ascii_word_before(text, end);
    let word = word_before(pos - 1);
    let rest = &text[pos + digits..];
    if word.eq_ignore_ascii_case("at") {
        // Opening its sentence, and past any hour of the day ("At 10 he
        // was given morphine" is a time).
        let head = text[..pos - 1 - word.len()].trim_end_matches(' ');
        let opens = head.is_empty() || head.ends_with(['.', '\n', ';']);
        let n: u32 = text[pos..pos + digits].parse().unwrap_or(0);
        let rest = rest.strip_prefix(',').unwrap_or(rest);
        return opens
            && n > 24
            && [" she ", " he ", " She ", " He "]
                .iter()
                .any(|p| rest.starts_with(p));
    }
    if !word.eq_ignore_ascii_case("of") || pos < word.len() + 2 || b[pos - word.len() - 2] != b' ' {
        return false;
    }
    let person = word_before(pos - word.len() - 2);
    let closed = !rest
        .starts_with(|c: char| c.is_alphanumeric() || matches!(c, '/' | ':' | '.' | '%'))
        || rest.starts_with(". ")
        || rest == ".";
    closed
        && [
            "lady",
            "gentleman",
            "gent",
            "man",
            "woman",
            "chap",
            "boy",
            "girl",
        ]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(person))
}

/// Whether a line is a short run of capitalised words (a town, a house
/// name or a locality in an address block): no digits, at most three words.
fn address_locality(line: &str) -> bool {
    let line = line.trim().trim_end_matches(',').trim_end();
    let words: Vec<&str> = line.split_whitespace().collect();
    !line.is_empty()
        && line.len() <= 40
        && (1..=3).contains(&words.len())
        && words.iter().all(|w| {
            w.starts_with(|c: char| c.is_uppercase())
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.'))
        })
}

/// "Dublin 4", "Dublin 15": a town with its postal district number.
fn without_district_number(part: &str) -> &str {
    match part.rsplit_once(' ') {
        Some((town, n))
            if (1..=2).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_digit())
                && !town.is_empty() =>
        {
            town
        }
        _ => part,
    }
}

/// UK address blocks: the town written just before a postcode, on its line
/// ("Anytown AB1 2CD", "Anytown, AB1 2CD") or on the one or two lines above
/// it, is a location even when no list knows it.
fn towns_before_postcodes(text: &str, spans: &[Span]) -> Vec<Span> {
    // Already found in full: nothing to add (a partial find is widened).
    let covered = |a: usize, b: usize| spans.iter().any(|s| s.start <= a && b <= s.end);
    let mut out = Vec::new();
    let push = |start: usize, end: usize, out: &mut Vec<Span>| {
        if start < end && !covered(start, end) {
            out.push(Span {
                start,
                end,
                category: Category::Location,
                detector: "address_block",
                confidence: 0.6,
            });
        }
    };
    // A part of the address that is someone's name ends the walk back (a
    // name only guessed from an unknown word may be the village's).
    let named = |a: usize, b: usize| {
        spans.iter().any(|s| {
            s.category == Category::Name && s.confidence >= 0.7 && s.start < b && a < s.end
        })
    };
    for pc in spans
        .iter()
        .filter(|s| s.detector == "uk_postcode" || s.detector == "postcode")
    {
        let line_start = text[..pc.start].rfind('\n').map_or(0, |i| i + 1);
        let before = &text[line_start..pc.start];
        let mut head = before.trim_end().trim_end_matches(',').trim_end();
        if !head.is_empty() {
            // On the postcode's own line, the comma-separated parts before
            // it, back to the street or flat (which has digits): "Flat 6,
            // Harbour Court, Exmouth EX8 1BU", "Chapel Cottage, Mevagissey,
            // Cornwall PL26 6UB", "Apartment 14, Grand Canal Wharf, Dublin 4".
            loop {
                let from = head.rfind(',').map_or(0, |i| i + 1);
                let part = head[from..].trim_start();
                let part_start = line_start + (head.len() - part.len());
                let part_end = line_start + head.len();
                if !address_locality(without_district_number(part)) || named(part_start, part_end) {
                    break;
                }
                push(part_start, part_end, &mut out);
                if from == 0 {
                    break;
                }
                head = head[..from - 1].trim_end();
            }
            continue;
        }
        // The postcode opens its line: look at up to three lines above
        // (house name, village, town), stopping at the addressee.
        let mut end = line_start;
        for _ in 0..3 {
            if end == 0 {
                break;
            }
            let above_end = end - 1;
            let above_start = text[..above_end].rfind('\n').map_or(0, |i| i + 1);
            let line = &text[above_start..above_end];
            let addressee = named(above_start, above_end)
                || ["Mr ", "Mrs ", "Ms ", "Miss ", "Dr ", "Mx ", "Prof "]
                    .iter()
                    .any(|t| line.trim_start().starts_with(t));
            if !address_locality(line) || addressee {
                break;
            }
            let lead = line.len() - line.trim_start().len();
            let trimmed = line.trim().trim_end_matches(',').trim_end();
            push(
                above_start + lead,
                above_start + lead + trimmed.len(),
                &mut out,
            );
            end = above_start;
        }
    }
    out
}

/// "4:20 AM", "13:16", "0730h", "3.30pm", "1556": a clock time on its own.
fn looks_like_clock_time(s: &str) -> bool {
    let lower = s.trim().to_ascii_lowercase();
    let digits = lower.bytes().filter(u8::is_ascii_digit).count();
    let only_time_chars = lower.bytes().all(|b| {
        b.is_ascii_digit()
            || matches!(
                b,
                b':' | b'.' | b' ' | b'a' | b'p' | b'm' | b'h' | b'r' | b's'
            )
    });
    // "16.54": an hour, a dot and two digits of minutes.
    let dotted = lower.contains('.') && hour_minutes_prefix(&lower) == Some(lower.len());
    only_time_chars
        && (3..=6).contains(&digits)
        && (lower.contains(':')
            || dotted
            || lower.ends_with("am")
            || lower.ends_with("pm")
            || lower.ends_with('h')
            || lower.ends_with("hrs")
            || (digits == 4 && lower.len() == 4))
}

/// The length of "hh.mm" or "hh:mm" (hour up to 23, minutes up to 59)
/// opening `s`, closed off by anything but a digit or a decimal part.
fn hour_minutes_prefix(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let h = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let ok = (1..=2).contains(&h)
        && matches!(b.get(h), Some(b'.' | b':'))
        && b.len() >= h + 3
        && b[h + 1..h + 3].iter().all(u8::is_ascii_digit)
        && !b.get(h + 3).is_some_and(|c| c.is_ascii_digit())
        && !(b.get(h + 3) == Some(&b'.') && b.get(h + 4).is_some_and(u8::is_ascii_digit))
        && s[..h].parse::<u32>().is_ok_and(|v| v <= 23)
        && s[h + 1..h + 3].parse::<u32>().is_ok_and(|v| v <= 59);
    ok.then_some(h + 3)
}

/// "18/07/2020 2125", "14/06/2022 at 16.54", "28th Sep, 00.23": the clock
/// time right after a date; "6th Mar 21.37": a date whose last number is
/// the hour of a dotted time.
fn times_after_dates(text: &str, spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let time = |start: usize, end: usize| Span {
        start,
        end,
        category: Category::Date,
        detector: "time_after_date",
        confidence: 0.7,
    };
    for s in spans.iter().filter(|s| s.category == Category::Date) {
        let rest = &text[s.end..];
        // "6th Mar 21.37": ".37" right after a date ending in a small number.
        if rest.starts_with('.') {
            let date = &text[s.start..s.end];
            let last = date.bytes().rev().take_while(u8::is_ascii_digit).count();
            let head = &date[..date.len() - last];
            if (1..=2).contains(&last) && head.ends_with(' ') {
                let from = s.end - last;
                if let Some(n) = hour_minutes_prefix(&text[from..]) {
                    out.push(time(from, from + n));
                }
            }
        }
        let Some(after) = rest
            .strip_prefix(" at ")
            .or_else(|| rest.strip_prefix(' '))
            .or_else(|| rest.strip_prefix(", "))
        else {
            continue;
        };
        if let Some(n) = hour_minutes_prefix(after) {
            let start = s.end + (rest.len() - after.len());
            out.push(time(start, start + n));
            continue;
        }
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits != 4 || after[4..].starts_with(|c: char| c.is_alphanumeric() && c != 'h') {
            continue;
        }
        let v: u32 = after[..4].parse().unwrap_or(9999);
        if v / 100 > 23 || v % 100 > 59 {
            continue;
        }
        let start = s.end + (rest.len() - after.len());
        out.push(time(start, start + 4));
    }
    out
}

/// "Fell on Sunday night", "since Easter", "twenty third of June": a word
/// that is a name only by the dictionary, inside a date a pattern found, is
/// the date (its surrogate is a shifted date, not a fake name) — unless
/// another name is next to it ("June Smith", "Sunday Adelaja"), when the date
/// pattern gives way instead.
fn prefer_dates_over_lone_name_words(spans: &mut Vec<Span>) {
    let name_word = |x: &Span| {
        x.category == Category::Name
            && matches!(
                x.detector,
                "first_name" | "surname" | "unknown_capitalised" | "propagated"
            )
    };
    if !spans.iter().any(|s| s.category == Category::Date) || !spans.iter().any(name_word) {
        return;
    }
    let mut drop = vec![false; spans.len()];
    for (i, n) in spans.iter().enumerate() {
        if !name_word(n) {
            continue;
        }
        let Some(d) = spans
            .iter()
            .position(|d| d.category == Category::Date && d.start <= n.start && n.end <= d.end)
        else {
            continue;
        };
        let beside_a_name = spans.iter().enumerate().any(|(j, m)| {
            j != i
                && m.category == Category::Name
                && ((m.start >= n.end && m.start <= n.end + 2)
                    || (m.end <= n.start && m.end + 2 >= n.start))
        });
        if !beside_a_name {
            drop[i] = true;
        } else if spans[d].start == n.start && spans[d].end == n.end {
            drop[d] = true;
        }
    }
    let mut k = 0;
    spans.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
}

/// Resolves overlaps (the more confident span decides the category, the union
/// of bytes is kept) and joins neighbouring name words into one name,
/// and a date with the clock time written after it into one date.
fn merge(text: &str, mut spans: Vec<Span>) -> Vec<Span> {
    prefer_dates_over_lone_name_words(&mut spans);
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        if let Some(last) = out.last_mut() {
            if s.start < last.end {
                if s.confidence > last.confidence {
                    last.category = s.category;
                    last.detector = s.detector;
                    last.confidence = s.confidence;
                }
                last.end = last.end.max(s.end);
                continue;
            }
            let gap = &text[last.end..s.start];
            // "10/8/25 at 4:20 AM", "9 Dec 2023, 03:09": a date and its
            // clock time are one date; so are "03:29 on 7/21/2024", a clock
            // time and the date it fell on.
            if last.category == Category::Date && s.category == Category::Date {
                let date_then_time = matches!(gap, " " | ", " | " at " | " @ " | " AT " | " - ");
                let time_then_date = gap == " on ";
                if date_then_time || time_then_date {
                    let time_first = looks_like_clock_time(&text[last.start..last.end]);
                    let time_second = looks_like_clock_time(&text[s.start..s.end]);
                    if (date_then_time && time_second && !time_first)
                        || (time_then_date && time_first && !time_second)
                    {
                        last.end = s.end;
                        continue;
                    }
                }
            }
            let joinable = last.category == Category::Name
                && s.category == Category::Name
                && gap.len() <= 3
                && !gap.contains('\n')
                && !gap.contains("  ")
                && gap.chars().all(|c| c == ' ' || c == '.' || c == '-');
            if joinable {
                last.end = s.end;
                last.confidence = last.confidence.max(s.confidence);
                continue;
            }
        }
        out.push(s);
    }
    finish_clock_times(text, &mut out);
    out
}

/// "2020-12-30 2:33 AM", "15th Dec, 13:00": a date pattern that stopped
/// inside a clock time ("15th Dec, 13" read as a year) takes the rest of it.
fn finish_clock_times(text: &str, spans: &mut [Span]) {
    for i in 0..spans.len() {
        if spans[i].category != Category::Date
            || !text[..spans[i].end].ends_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        let limit = spans.get(i + 1).map_or(text.len(), |n| n.start);
        let mut end = spans[i].end;
        let b = text.as_bytes();
        if b.len() >= end + 3
            && b[end] == b':'
            && b[end + 1].is_ascii_digit()
            && b[end + 2].is_ascii_digit()
            && b.get(end + 3).is_none_or(|c| !c.is_ascii_digit())
        {
            end += 3;
        }
        let rest = &text[end..];
        let spaced = rest.strip_prefix(' ').unwrap_or(rest);
        for suffix in ["AM", "PM", "am", "pm", "a.m.", "p.m."] {
            if let Some(after) = spaced.strip_prefix(suffix) {
                if !after.starts_with(|c: char| c.is_alphanumeric()) {
                    end += rest.len() - after.len();
                }
                break;
            }
        }
        if end <= limit {
            spans[i].end = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_positions_are_the_ascii_digits() {
        // Non-ASCII bytes whose low seven bits are digits ('°' is C2 B0,
        // '¹' C2 B9) must not count; blocks end mid-text and at its end.
        for text in [
            "",
            "7",
            "no digits at all here",
            "0123456789/:",
            "a1b2c3d4e5f6g7h8i9j0",
            "30°C, ¹ footnote, 2024-05-06 at 14:30 — ’twas 9",
        ] {
            let want: Vec<usize> = text
                .bytes()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                digit_positions(text.as_bytes()).collect::<Vec<_>>(),
                want,
                "{text:?}"
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        let want: Vec<usize> = (usize::from(b'0')..=usize::from(b'9')).collect();
        assert_eq!(digit_positions(&all).collect::<Vec<_>>(), want);
    }

    fn found(text: &str) -> Vec<(&str, Category)> {
        scan(text)
            .iter()
            .map(|s| (&text[s.start..s.end], s.category))
            .collect()
    }

    #[test]
    fn hl7_x12_fhir_and_tables_are_read_by_their_structure() {
        let hl7 = "PID|1||88341207^^^SMN^MR||OKAFOR^CHIDINMA^A||19870922|F|||4410 W BELMONT AVE^APT 3R^CHICAGO^IL^60641||(773)555-0182\n";
        let got = found(hl7);
        for want in [
            ("88341207", Category::Id),
            ("OKAFOR", Category::Name),
            ("CHIDINMA", Category::Name),
            ("19870922", Category::Date),
            ("CHICAGO", Category::Location),
            ("60641", Category::Location),
        ] {
            assert!(
                got.iter().any(|(t, c)| t.contains(want.0) && *c == want.1),
                "{want:?} in {got:?}"
            );
        }
        let x12 = "NM1*IL*1*PRZYBYLSKI*AGATA****MI*ZGP931044827~\nN4*GREEN BAY*WI*54302~\nDMG*D8*19680312*F~\n";
        let got = found(x12);
        for want in [
            "PRZYBYLSKI",
            "AGATA",
            "ZGP931044827",
            "GREEN BAY",
            "54302",
            "19680312",
        ] {
            assert!(
                got.iter().any(|(t, _)| t.contains(want)),
                "{want} in {got:?}"
            );
        }
        let fhir = r#"{ "name": [ { "family": "Brightwater", "given": [ "Lorena", "Faye" ] } ],
  "telecom": [ { "system": "phone", "value": "508-555-0164" } ], "birthDate": "1963-02-14" }"#;
        let got = found(fhir);
        for want in [
            "Brightwater",
            "Lorena",
            "Faye",
            "508-555-0164",
            "1963-02-14",
        ] {
            assert!(
                got.iter().any(|(t, _)| t.contains(want)),
                "{want} in {got:?}"
            );
        }
        let table = "# | Hosp no  | Patient        | Age | Procedure\n1 | K2291846 | Sheila Forest  | 67  | TKR\n";
        let got = found(table);
        assert!(got.contains(&("67", Category::Age)), "{got:?}");
        assert!(got.iter().any(|(t, _)| *t == "Sheila Forest"), "{got:?}");
        // A short row (a closed bed) does not end the table.
        let table = "Bed | Pt       | Age | EDD\n4   | closed, D&V\n5   | WREN J   | 58  | 16/05\n";
        assert!(
            found(table).contains(&("58", Category::Age)),
            "{:?}",
            found(table)
        );
        // Other scripts next to these shapes must not break the scanners.
        for t in [
            "Teléfono / Phone: 956-555-0112",
            "ÀB*C",
            "PÏD|x",
            "é|é|é",
            "Nom, Prénom, Âge\nÉlise, Dœuf, 4",
        ] {
            let _ = scan(t);
        }
    }

    #[test]
    fn towns_in_address_blocks_are_found_without_a_list() {
        let block = "Mrs Jane Okoro\n14 Quarry Lane\nFoxbridge Magna\nAB12 4DX\n";
        assert!(
            found(block).contains(&("Foxbridge Magna", Category::Location)),
            "{:?}",
            found(block)
        );
        let inline = "Address: 3 Mill Row, Upper Wobbleton, AB12 4DX.";
        // Found (another rule may name the category first).
        assert!(
            found(inline).iter().any(|(s, _)| *s == "Upper Wobbleton"),
            "{:?}",
            found(inline)
        );
        // Not an address block: capitalised words before a postcode-shaped
        // line that is not a postcode stay alone.
        assert!(found("Plan\nRepeat Bloods\nFBC U&E\n").is_empty());
        // House names and estates between the flat and the town, on one
        // line or in a letter's block, and the addressee left a name.
        let house = |t: &str, part: &str| {
            let f = found(t);
            assert!(f.contains(&(part, Category::Location)), "{part} in {f:?}");
        };
        house(
            "Address: Flat 6, Harbour Court, Exmouth EX8 1BU",
            "Harbour Court",
        );
        house(
            "NHS 412 642 4520, Chapel Cottage, Mevagissey, PL26 6UB",
            "Chapel Cottage",
        );
        house(
            "Apartment 14, Grand Canal Wharf, Dublin 4, D04 XH79",
            "Grand Canal Wharf",
        );
        let letter = "Mrs Valentina Rossi\nOrchard House\nBishops Lydeard\nTaunton\nTA4 3BQ\n";
        house(letter, "Orchard House");
        assert!(found(letter).contains(&("Valentina Rossi", Category::Name)));
    }

    #[test]
    fn ages_beside_a_sex_written_first_or_as_a_sign() {
        assert_eq!(
            found("F 84 presenting with falls"),
            vec![("84", Category::Age)]
        );
        assert_eq!(found("84 ♀ with SOB"), vec![("84", Category::Age)]);
        assert_eq!(
            found("Patient, now 84, lives alone."),
            vec![("84", Category::Age)]
        );
        assert!(found("F 12 catheter inserted").is_empty());
    }

    #[test]
    fn services_and_virtual_wards_are_no_one() {
        assert!(found("Discussed with Medical Registrar on call.").is_empty());
        assert!(found("Hospital at Home declined. Virtual Ward considered.").is_empty());
    }

    #[test]
    fn day_ranges_and_decades_in_words() {
        assert_eq!(
            found("Away from 3rd to 5th March."),
            vec![("3rd", Category::Date), ("5th March", Category::Date)]
        );
        assert_eq!(
            found("Admitted 1-3 Feb."),
            vec![("1", Category::Date), ("3 Feb", Category::Date)]
        );
        assert_eq!(found("Results Jan-03."), vec![("Jan-03", Category::Date)]);
        assert_eq!(
            found("A lady in her late nineties."),
            vec![("nineties", Category::Age)]
        );
        // A decade that is no one's age.
        assert!(found("Built in the sixties.").is_empty());
    }

    #[test]
    fn organisations_named_by_their_kind() {
        let orgs = |t: &str| -> Vec<String> {
            found(t)
                .into_iter()
                .filter(|(_, c)| *c == Category::Organization)
                .map(|(s, _)| s.to_string())
                .collect()
        };
        assert_eq!(
            orgs("Attends Little Sprouts Daycare."),
            ["Little Sprouts Daycare"]
        );
        assert_eq!(
            orgs("staying at Union Gospel Mission today"),
            ["Union Gospel Mission"]
        );
        // The word alone, or after a function word, names nothing.
        assert!(orgs("The Mission was closed. At Mission, no beds.").is_empty());
    }

    #[test]
    fn hyphenated_forenames_are_forenames() {
        assert_eq!(
            found("Jean-Pierre Dubois, 67, admitted."),
            vec![
                ("Jean-Pierre Dubois", Category::Name),
                ("67", Category::Age)
            ]
        );
    }

    #[test]
    fn an_age_after_a_named_person_and_is() {
        let f = found("Mr Jones is 84 and lives alone.");
        assert!(f.contains(&("84", Category::Age)), "{f:?}");
        assert!(!found("Room is 12 and clean.").contains(&("12", Category::Age)));
        // The past tense, with the time the age refers to.
        let f = found("He was 74 at the time of the fall.");
        assert!(f.contains(&("74", Category::Age)), "{f:?}");
        let f = found("Mum was 61 when diagnosed.");
        assert!(f.contains(&("61", Category::Age)), "{f:?}");
        assert!(found("She was 7 and a half kilos.").is_empty());
    }

    #[test]
    fn a_date_and_its_clock_time_are_one_span_and_the_date_is_shifted() {
        for (text, date) in [
            ("Signed 10/8/25 at 4:20 AM by", "10/8/25 at 4:20 AM"),
            ("ED triage 2020-12-30 2:33 AM - ESI 2", "2020-12-30 2:33 AM"),
            ("Review 15th Dec, 13:00 on ward", "15th Dec, 13:00"),
            ("Seen 05-30-2020 11:27 AM by", "05-30-2020 11:27 AM"),
            ("Reported on 14/06/2022 at 16.54", "14/06/2022 at 16.54"),
            ("Arrival: 6th Mar 21.37\nTriage", "6th Mar 21.37"),
            ("Verified 16NOV2023 at 11.45.", "16NOV2023 at 11.45"),
            (
                "by telephone at 03:29 on 7/21/2024, read back",
                "03:29 on 7/21/2024",
            ),
        ] {
            assert!(
                found(text).contains(&(date, Category::Date)),
                "{:?}",
                found(text)
            );
        }
        // A dose after a date is no clock time.
        assert!(!found("On 12/03/2024 4.5 mg")
            .iter()
            .any(|(s, _)| s.contains("4.5")));
        // Two dates side by side stay two dates.
        assert_eq!(found("admitted 12/03 14/03 then").len(), 2);
        let replacer = Replacer::new(
            SurrogateKey::from_bytes(b"test-key-0123456789abcdef").unwrap(),
            Mode::Surrogate,
        );
        let text = "Signed 10/8/25 at 4:20 AM by";
        let out = replacer.replace(text, &scan(text), "p1");
        assert!(!out.contains("10/8/25") && out.contains(" at "), "{out}");
    }

    #[test]
    fn institutions_with_and_or_of_in_their_names() {
        let t =
            "Transferred from Brigham and Women's Hospital to the Royal Infirmary of Edinburgh.";
        let f = found(t);
        assert!(
            f.iter()
                .any(|(s, _)| s.contains("Brigham and Women's Hospital")),
            "{f:?}"
        );
        assert!(
            f.iter().any(|(s, _)| s.contains("Infirmary of Edinburgh")),
            "{f:?}"
        );
        let t = "Transferred to University Hospital of Sheffield today.";
        assert!(
            found(t).contains(&("University Hospital of Sheffield", Category::Location)),
            "{:?}",
            found(t)
        );
    }

    #[test]
    fn a_letter_header_is_fully_found() {
        let text = "Re: Mrs Jane Okafor, DOB 03/04/1951, NHS No 943 476 5919\n\
                    14 Acacia Avenue, Leeds LS6 2AB. Tel 0113 496 0000";
        let got: Vec<(String, Category)> = scan(text)
            .into_iter()
            .map(|s| (text[s.start..s.end].to_string(), s.category))
            .collect();
        let want = [
            ("Jane Okafor", Category::Name),
            ("03/04/1951", Category::Date),
            ("943 476 5919", Category::Id),
            ("14 Acacia Avenue", Category::Location),
            ("Leeds", Category::Location),
            ("LS6 2AB", Category::Location),
            ("0113 496 0000", Category::Phone),
        ];
        for (t, c) in want {
            assert!(
                got.iter().any(|(gt, gc)| gt == t && *gc == c),
                "missing {t} as {c}: {got:?}"
            );
        }
    }

    #[test]
    fn weekdays_months_and_holidays_that_are_also_names() {
        assert_eq!(
            found("Fell on Sunday night."),
            vec![("Sunday", Category::Date)]
        );
        assert_eq!(found("Since Easter."), vec![("Easter", Category::Date)]);
        assert_eq!(
            found("Review next Easter Monday."),
            vec![("Easter Monday", Category::Date)]
        );
        // A weekday's letters inside a word do not open a date.
        assert_eq!(
            found("Reviewed Mar. 12th, '24 by GP."),
            vec![("Mar. 12th, '24", Category::Date)]
        );
        assert_eq!(
            found("Date of death: twenty third of June."),
            vec![("twenty third of June", Category::Date)]
        );
        assert_eq!(
            found("Seen with June Smith today."),
            vec![("June Smith", Category::Name)]
        );
    }

    #[test]
    fn first_names_in_brackets_after_a_role() {
        let names = |t: &str| -> Vec<String> {
            found(t)
                .into_iter()
                .filter(|(_, c)| *c == Category::Name)
                .map(|(s, _)| s.to_string())
                .collect()
        };
        assert_eq!(names("D/w reg (Tom) - plan CT."), vec!["Tom"]);
        assert_eq!(names("FY1 (Priya) aware of bloods."), vec!["Priya"]);
        assert_eq!(names("Lives with roommate (Tony)."), vec!["Tony"]);
        assert_eq!(
            names("Twin A (Lily) and Twin B (Rose) feeding well."),
            vec!["Lily", "Rose"]
        );
        // Not names: clinical words, ordinary words, longer notes.
        assert!(names("Seen by reg (Cardiology) today.").is_empty());
        assert!(names("Spoke to nurse (Night) re fluids.").is_empty());
        assert!(names("Discussed with consultant (see plan below).").is_empty());
    }

    #[test]
    fn opening_verbs_are_sorted_for_binary_search() {
        assert!(OPENING_VERBS.windows(2).all(|w| w[0] < w[1]));
        let f = found("Visited Mayo Clinic in Rochester.");
        assert!(f.contains(&("Mayo Clinic", Category::Location)), "{f:?}");
        assert_eq!(
            found("Pt from Co. Cork, now in Kilburn."),
            vec![
                ("Co. Cork", Category::Location),
                ("Kilburn", Category::Location)
            ]
        );
        assert_eq!(
            found("Attends St Mary's RC Primary School."),
            vec![("St Mary's RC Primary School", Category::Organization)]
        );
        assert_eq!(
            found("Holiday in Tenerife last month."),
            vec![("Tenerife", Category::Location)]
        );
        // After a listed organisation, a forename is its worker.
        assert_eq!(
            found("Came with her support worker from Mencap, Jordan."),
            vec![
                ("Mencap", Category::Organization),
                ("Jordan", Category::Name)
            ]
        );
        // On a line in capitals, the preposition too; the town after the
        // home is a town although a forename list holds it.
        assert_eq!(
            found("ADMITTED FROM GREENACRES NURSING HOME, BRADFORD"),
            vec![
                ("GREENACRES NURSING HOME", Category::Location),
                ("BRADFORD", Category::Location)
            ]
        );
    }

    #[test]
    fn in_lower_case_lines_verbs_on_the_surname_list_end_a_name() {
        assert_eq!(
            found("spoke to betty needs more support at home"),
            vec![("betty", Category::Name)]
        );
        // A surname that is also a word still follows a forename or a title.
        assert_eq!(
            found("spoke to mary smith re discharge"),
            vec![("mary smith", Category::Name)]
        );
        assert_eq!(
            found("seen by dr good today"),
            vec![("good", Category::Name)]
        );
    }

    #[test]
    fn ages_after_at_and_after_a_person_of() {
        assert_eq!(
            found("At 84 she still drives."),
            vec![("84", Category::Age)]
        );
        assert_eq!(
            found("Lady of 92 admitted from home."),
            vec![("92", Category::Age)]
        );
        // Not a count of children, a time or a score.
        assert_eq!(found("She is a mother of 3."), vec![]);
        assert_eq!(found("Seen at 40 he was settled."), vec![]);
        assert_eq!(found("At 10 he was given morphine."), vec![]);
        assert_eq!(found("A man of 5.5 kg"), vec![]);
    }

    #[test]
    fn jobs_after_she_is_and_he_is_contracted() {
        assert_eq!(
            found("She's a nurse at the hospice."),
            vec![("nurse", Category::Profession)]
        );
        assert_eq!(
            found("He's an electrician."),
            vec![("electrician", Category::Profession)]
        );
        // Not a possessive-free "she" before a verb.
        assert_eq!(found("She nurses her husband at home."), vec![]);
    }

    #[test]
    fn e_referral_booking_numbers_are_ids() {
        assert_eq!(
            found("Booked via e-RS, UBRN 0001 2345 6789."),
            vec![("0001 2345 6789", Category::Id)]
        );
        assert_eq!(
            found("eRS ref 000123456789 sent to patient."),
            vec![("000123456789", Category::Id)]
        );
    }

    #[test]
    fn house_names_after_a_cue_for_where_someone_lives() {
        assert_eq!(
            found("Lives at Foxglove House (supported living)."),
            vec![("Foxglove House", Category::Location)]
        );
        // Without the cue, English words and a plain suffix are no place.
        assert_eq!(found("Open House on the ward was busy."), vec![]);
    }

    #[test]
    fn listed_places_with_joining_words_inside() {
        for (text, place) in [
            ("Grew up in Kingston upon Hull.", "Kingston upon Hull"),
            ("Moved to Newcastle upon Tyne.", "Newcastle upon Tyne"),
            ("Holiday on the Isle of Wight.", "Isle of Wight"),
        ] {
            assert_eq!(found(text), vec![(place, Category::Location)], "{text}");
        }
    }

    #[test]
    fn hospitals_known_by_a_nickname_or_an_acronym() {
        assert_eq!(
            found("Transferred to Guy's for cardiac surgery."),
            vec![("Guy", Category::Organization)]
        );
        assert_eq!(
            found("Seen at the Royal Free last year; records from BWH and MGH."),
            vec![
                ("Royal Free", Category::Organization),
                ("BWH", Category::Organization),
                ("MGH", Category::Organization)
            ]
        );
        assert_eq!(
            found("Follow up at Mass General in six weeks."),
            vec![("Mass General", Category::Organization)]
        );
        // A test named after a hospital is a test; "a nice guy" a guy.
        assert_eq!(found("Addenbrooke's Cognitive Examination 88/100."), vec![]);
        assert_eq!(found("Husband is a nice guy, very supportive."), vec![]);
    }

    #[test]
    fn relatives_are_sorted_for_binary_search() {
        assert!(RELATIVES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_relative("Mum") && is_relative("WIFE") && !is_relative("drug"));
    }

    #[test]
    fn ages_set_off_by_commas_milestones_and_words() {
        let ages = |t: &str| -> Vec<String> {
            found(t)
                .into_iter()
                .filter(|(_, c)| *c == Category::Age)
                .map(|(s, _)| s.to_string())
                .collect()
        };
        assert_eq!(ages("Mother alive, 84, with dementia."), vec!["84"]);
        assert_eq!(ages("His daughter, 34, is his carer."), vec!["34"]);
        assert_eq!(ages("Wife is 61 and well."), vec!["61"]);
        assert_eq!(ages("She turned 50 last month."), vec!["50"]);
        assert_eq!(ages("for her 80th birthday"), vec!["80th"]);
        assert_eq!(
            ages("Pt is a forty-five year old woman."),
            vec!["forty-five"]
        );
        // Counts, weights, turns and durations are not ages.
        for t in [
            "Children, 3, all well.",
            "Brother, 58 kg, well.",
            "He turned 180 degrees and fell.",
            "Pain turned 2 hours ago into pressure.",
            "A two year history of cough.",
        ] {
            assert!(ages(t).is_empty(), "{t}: {:?}", ages(t));
        }
    }
}
