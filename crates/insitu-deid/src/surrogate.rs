//! Replacement of detected spans: realistic surrogates (consistent per
//! patient, format-preserving, dates shifted by a secret per-patient offset)
//! or category tags.
//!
//! Every surrogate choice is an HMAC-SHA256 of the secret key, the patient
//! key, a purpose and the original text, so the same name in two notes of one
//! patient gets the same fake name, and nothing is random at replacement time.

use crate::lexicon::Lexicon;
use crate::patterns::{mod11_valid, postcode_area_known};
use crate::{Error, Span};
use chrono::{Datelike, Duration, NaiveDate};
use hmac::{Hmac, Mac};
use insitu_types::Category;
use sha2::Sha256;

/// The secret behind surrogates and date shifts (32 bytes).
#[derive(Clone)]
pub struct SurrogateKey([u8; 32]);

impl std::fmt::Debug for SurrogateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SurrogateKey(…)")
    }
}

impl SurrogateKey {
    /// A key from raw bytes (at least 16; longer keys are hashed to 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<SurrogateKey, Error> {
        if bytes.len() < 16 {
            return Err(Error::Key(format!(
                "{} bytes is too short — use at least 16 random bytes",
                bytes.len()
            )));
        }
        use sha2::Digest;
        Ok(SurrogateKey(Sha256::digest(bytes).into()))
    }

    /// A fresh random key (surrogates will differ from any other run).
    pub fn random() -> SurrogateKey {
        SurrogateKey(rand::random())
    }
}

/// How spans are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Realistic fake values (default).
    #[default]
    Surrogate,
    /// `[NAME]`, `[DATE]`, …
    Tag,
}

/// Writes de-identified text.
pub struct Replacer {
    key: SurrogateKey,
    mode: Mode,
}

type HmacSha256 = Hmac<Sha256>;

/// Outward codes drawn for surrogate postcodes (all real areas).
const SURROGATE_AREAS: &[&str] = &[
    "LS", "M", "B", "BS", "NE", "CF", "EH", "G", "SO", "NG", "YO", "EX",
];
const HOLIDAYS: &[&str] = &[
    "Easter",
    "Christmas",
    "New Year",
    "Bank Holiday",
    "Boxing Day",
];
const PROFESSION_SURROGATES: &[&str] = &[
    "teacher",
    "engineer",
    "shop assistant",
    "electrician",
    "accountant",
    "gardener",
    "driver",
    "librarian",
    "chef",
    "administrator",
];
/// Address and institution words that say what a place is, not which.
const KEEP_WORDS: &[&str] = &[
    "road",
    "rd",
    "street",
    "st",
    "lane",
    "ln",
    "avenue",
    "ave",
    "close",
    "drive",
    "dr",
    "way",
    "crescent",
    "gardens",
    "terrace",
    "place",
    "court",
    "grove",
    "hill",
    "rise",
    "view",
    "walk",
    "row",
    "square",
    "mews",
    "park",
    "parade",
    "boulevard",
    "highway",
    "circle",
    "trail",
    "parkway",
    "green",
    "hospital",
    "hospitals",
    "infirmary",
    "medical",
    "centre",
    "center",
    "health",
    "clinic",
    "surgery",
    "practice",
    "hospice",
    "trust",
    "foundation",
    "nhs",
    "university",
    "general",
    "royal",
    "ward",
    "flat",
    "apt",
    "apartment",
    "suite",
    "the",
    "of",
    "and",
    "saint",
    "care",
    "home",
    "nursing",
    "group",
    "school",
    "college",
    "ltd",
    "limited",
    "plc",
    "inc",
    "llc",
    "company",
    "po",
    "box",
    "district",
    "memorial",
    "community",
];

impl Replacer {
    /// A replacer with this key and mode.
    pub fn new(key: SurrogateKey, mode: Mode) -> Replacer {
        Replacer { key, mode }
    }

    fn mac(&self, patient: &str, purpose: &str, original: &str) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(&self.key.0).expect("any key length works");
        for part in [patient, purpose, original] {
            m.update(&(part.len() as u64).to_le_bytes());
            m.update(part.as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    fn pick(&self, patient: &str, purpose: &str, original: &str, n: usize) -> usize {
        let h = self.mac(patient, purpose, original);
        (u64::from_le_bytes(h[..8].try_into().expect("8 bytes")) % n as u64) as usize
    }

    /// The patient's secret date shift in days: ±30…±395, never a whole
    /// number of weeks (so weekday names always change too).
    pub fn date_shift_days(&self, patient: &str) -> i64 {
        let h = self.mac(patient, "date-shift", "");
        let raw = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
        let mut days = 30 + (raw % 366) as i64;
        if days % 7 == 0 {
            days += 1;
        }
        if raw & (1 << 63) != 0 {
            -days
        } else {
            days
        }
    }

    /// Replaces `spans` (sorted, non-overlapping, from [`crate::Detector::scan`])
    /// in `text`. `patient` keys consistency: use the patient key, or the
    /// document id when the patient is unknown.
    pub fn replace(&self, text: &str, spans: &[Span], patient: &str) -> String {
        let mut out = String::with_capacity(text.len() + spans.len() * 4);
        let mut at = 0;
        let order = numeric_date_order(text, spans);
        for s in spans {
            if s.start < at || s.end > text.len() {
                continue;
            }
            out.push_str(&text[at..s.start]);
            let original = &text[s.start..s.end];
            out.push_str(&self.replacement(original, s.category, patient, order));
            at = s.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn replacement(
        &self,
        original: &str,
        category: Category,
        patient: &str,
        order: DateOrder,
    ) -> String {
        if category == Category::Age && age_over_89(original) {
            return "90+".to_string();
        }
        if self.mode == Mode::Tag {
            return format!("[{}]", category.as_str());
        }
        let fake = match category {
            Category::Name => self.name(original, patient),
            Category::Date => self.date(original, patient, order),
            Category::Age => self.age(original, patient),
            Category::Id => self.id(original, patient),
            Category::Phone => self.phone(original, patient),
            Category::Email => self.email(original, patient),
            Category::Url => format!(
                "https://www.example.org/{}",
                &hex::encode(self.mac(patient, "url", original))[..8]
            ),
            Category::Ip => self.ip(original, patient),
            Category::Location | Category::Organization => self.place(original, patient),
            Category::Profession => {
                let i = self.pick(
                    patient,
                    "profession",
                    &original.to_lowercase(),
                    PROFESSION_SURROGATES.len(),
                );
                PROFESSION_SURROGATES[i].to_string()
            }
            Category::Other => "[OTHER]".to_string(),
        };
        if fake == original {
            // Vanishingly rare (a pick landed on the original): fall back to a tag.
            format!("[{}]", category.as_str())
        } else {
            fake
        }
    }

    fn word_pick(&self, word: &str, patient: &str, purpose: &str, list: &[&'static str]) -> String {
        let key = word.to_lowercase();
        let mut i = self.pick(patient, purpose, &key, list.len());
        if list[i] == key {
            i = (i + 1) % list.len();
        }
        match_case(word, list[i])
    }

    fn name(&self, original: &str, patient: &str) -> String {
        let (first, last) = name_lists();
        let lex = Lexicon::get();
        map_words(original, |w| {
            if w.chars().count() == 1 {
                // An initial stays an initial.
                let i = self.pick(patient, "initial", &w.to_lowercase(), 26);
                let mut c = (b'A' + i as u8) as char;
                if c.to_string().eq_ignore_ascii_case(w) {
                    c = (b'A' + ((i + 1) % 26) as u8) as char;
                }
                return match_case(w, &c.to_string());
            }
            if lex.first.contains(w.to_lowercase().as_str()) {
                self.word_pick(w, patient, "first", first)
            } else {
                self.word_pick(w, patient, "surname", last)
            }
        })
    }

    fn date(&self, original: &str, patient: &str, order: DateOrder) -> String {
        let days = self.date_shift_days(patient);
        // "twenty third of June" is shifted as "23rd of June".
        let spelled = ordinal_words_to_digits(original);
        let original = spelled.as_deref().unwrap_or(original);
        if let Some(s) = shift_date(original, days, order) {
            if s != original {
                return s;
            }
        }
        if let Some(s) = shift_time(original, days) {
            return s;
        }
        let lower = original.to_lowercase();
        if HOLIDAYS.iter().any(|h| lower.contains(&h.to_lowercase()))
            || lower.contains("xmas")
            || lower.contains("eve")
        {
            let mut i = self.pick(patient, "holiday", &lower, HOLIDAYS.len());
            if lower.contains(&HOLIDAYS[i].to_lowercase()) {
                i = (i + 1) % HOLIDAYS.len();
            }
            return HOLIDAYS[i].to_string();
        }
        shift_lone_day(original, days).unwrap_or_else(|| "[DATE]".to_string())
    }

    fn age(&self, original: &str, patient: &str) -> String {
        // "80th" (a birthday) keeps an ordinal, with the suffix the new number needs.
        let trimmed = original.trim();
        let digits = trimmed.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let ordinal = digits.len() < trimmed.len();
        // A per-patient nudge keeps a patient's ages consistent with each other.
        let nudge = [-2, -1, 1, 2][self.pick(patient, "age", "", 4)];
        let Ok(n) = digits.parse::<i64>() else {
            return age_in_words(trimmed, nudge).unwrap_or_else(|| "[AGE]".to_string());
        };
        let fake = (n + nudge).clamp(0, 89);
        let fake = if fake == n { n + 1 } else { fake };
        if ordinal {
            format!("{fake}{}", ordinal_suffix(fake.unsigned_abs() as usize))
        } else {
            fake.to_string()
        }
    }

    fn digits_for(&self, patient: &str, purpose: &str, original: &str, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        let mut round = 0u32;
        while out.len() < n {
            let h = self.mac(patient, purpose, &format!("{original}\u{0}{round}"));
            out.extend(h.iter().map(|b| b % 10));
            round += 1;
        }
        out.truncate(n);
        out
    }

    fn id(&self, original: &str, patient: &str) -> String {
        let ds: Vec<u8> = original
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let letters = original.chars().filter(char::is_ascii_alphabetic).count();
        let mut fresh = self.digits_for(patient, "id", original, ds.len().max(1));
        if ds.len() == 10 && letters == 0 && mod11_valid(&ds) {
            // NHS numbers: reserved test range 999…, valid check digit.
            fresh[..3].copy_from_slice(&[9, 9, 9]);
            let mut bump = 0u8;
            loop {
                let sum: u32 = fresh[..9]
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| u32::from(x) * (10 - i as u32))
                    .sum();
                let check = (11 - sum % 11) % 11;
                if check != 10 {
                    fresh[9] = check as u8;
                    if fresh != ds {
                        break;
                    }
                }
                bump += 1;
                fresh[8] = (fresh[8] + 1) % 10;
                if bump > 20 {
                    break;
                }
            }
        } else if ds.len() == 9 && letters == 0 && original.contains('-') {
            // SSN-shaped: area 9xx is never issued.
            fresh[0] = 9;
        }
        let upper_letters: Vec<char> = self
            .mac(patient, "id-letters", original)
            .iter()
            .map(|b| (b'A' + b % 26) as char)
            .collect();
        let mut di = 0;
        let mut li = 0;
        let out: String = original
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    let d = fresh[di];
                    di += 1;
                    (b'0' + d) as char
                } else if c.is_ascii_alphabetic() {
                    let mut l = upper_letters[li % upper_letters.len()];
                    li += 1;
                    if l == c.to_ascii_uppercase() {
                        l = if l == 'Z' { 'A' } else { (l as u8 + 1) as char };
                    }
                    if c.is_ascii_lowercase() {
                        l.to_ascii_lowercase()
                    } else {
                        l
                    }
                } else {
                    c
                }
            })
            .collect();
        ensure_different(original, out)
    }

    fn phone(&self, original: &str, patient: &str) -> String {
        let ds: Vec<u8> = original
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let tail = self.digits_for(patient, "phone", original, ds.len());
        let n = ds.len();
        // Ofcom's drama ranges (07700 900xxx, 01632 960xxx) and the US 555-01xx block.
        let template: Vec<u8> = if n == 11 && ds[0] == 0 && ds[1] == 7 {
            vec![0, 7, 7, 0, 0, 9, 0, 0, tail[8], tail[9], tail[10]]
        } else if n == 11 && ds[0] == 0 {
            vec![0, 1, 6, 3, 2, 9, 6, 0, tail[8], tail[9], tail[10]]
        } else if n == 10 && ds[0] != 0 {
            vec![
                2 + tail[0] % 8,
                tail[1],
                tail[2],
                5,
                5,
                5,
                0,
                1,
                tail[8],
                tail[9],
            ]
        } else if n == 7 {
            vec![5, 5, 5, 0, 1, tail[5], tail[6]]
        } else {
            let mut t = tail.clone();
            if let (Some(f), Some(o)) = (t.first_mut(), ds.first()) {
                *f = *o;
            }
            t
        };
        let mut di = 0;
        let out: String = original
            .chars()
            .map(|c| {
                if c.is_ascii_digit() && di < template.len() {
                    let d = template[di];
                    di += 1;
                    (b'0' + d) as char
                } else {
                    c
                }
            })
            .collect();
        ensure_different(original, out)
    }

    fn email(&self, original: &str, patient: &str) -> String {
        let (first, last) = name_lists();
        let f = first[self.pick(patient, "email-first", original, first.len())];
        let l = last[self.pick(patient, "email-last", original, last.len())];
        format!("{f}.{l}@example.org")
    }

    fn ip(&self, original: &str, patient: &str) -> String {
        let h = self.mac(patient, "ip", original);
        if original.contains(':') {
            format!("2001:db8::{:x}", u16::from_le_bytes([h[0], h[1]]))
        } else {
            // TEST-NET-1 (RFC 5737).
            format!("192.0.2.{}", 1 + h[0] % 254)
        }
    }

    fn place(&self, original: &str, patient: &str) -> String {
        if let Some(p) = self.postcode(original, patient) {
            return p;
        }
        let (_, surnames) = name_lists();
        let places = single_word_places();
        let single_word = original.split_whitespace().count() == 1;
        let out = map_words_and_digits(
            original,
            |w| {
                if KEEP_WORDS.contains(&w.to_lowercase().as_str()) {
                    w.to_string()
                } else if single_word {
                    self.word_pick(w, patient, "place", places)
                } else {
                    self.word_pick(w, patient, "place-word", surnames)
                }
            },
            |d| {
                let fresh = self.digits_for(patient, "place-digits", d, d.len());
                let mut s: String = fresh.iter().map(|x| (b'0' + x) as char).collect();
                if s.starts_with('0') && d.len() > 1 {
                    s.replace_range(..1, "1");
                }
                s
            },
        );
        ensure_different(original, out)
    }

    fn postcode(&self, original: &str, patient: &str) -> Option<String> {
        let compact: String = original.chars().filter(|c| !c.is_whitespace()).collect();
        let up = compact.to_ascii_uppercase();
        let n = up.len();
        if !(5..=7).contains(&n) || !up.as_bytes()[n - 3].is_ascii_digit() {
            return None;
        }
        let area: String = up.chars().take_while(char::is_ascii_alphabetic).collect();
        if area.is_empty() || !(postcode_area_known(&area) || area == "ZZ") {
            return None;
        }
        let h = self.mac(patient, "postcode", &up);
        let mut new_area = SURROGATE_AREAS[h[0] as usize % SURROGATE_AREAS.len()];
        if new_area == area {
            new_area = SURROGATE_AREAS[(h[0] as usize + 1) % SURROGATE_AREAS.len()];
        }
        const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
        let district = 1 + h[1] % 19;
        let fake = format!(
            "{new_area}{district}{}{}{}{}",
            if original.contains(' ') { " " } else { "" },
            h[2] % 10,
            INWARD[h[3] as usize % INWARD.len()] as char,
            INWARD[h[4] as usize % INWARD.len()] as char
        );
        Some(if original.chars().any(|c| c.is_ascii_lowercase()) {
            fake.to_lowercase()
        } else {
            fake
        })
    }
}

/// Census first names and surnames, built once.
fn name_lists() -> &'static (Vec<&'static str>, Vec<&'static str>) {
    static LISTS: std::sync::OnceLock<(Vec<&'static str>, Vec<&'static str>)> =
        std::sync::OnceLock::new();
    LISTS.get_or_init(|| (Lexicon::first_list(), Lexicon::surname_list()))
}

/// One-word place names, built once.
fn single_word_places() -> &'static Vec<&'static str> {
    static PLACES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    PLACES.get_or_init(|| {
        let mut v: Vec<&'static str> = Lexicon::get()
            .places
            .iter()
            .copied()
            .filter(|p| !p.contains(' '))
            .collect();
        // Hash-set order differs between runs; sort so the same key gives the same surrogate.
        v.sort_unstable();
        v
    })
}

fn ensure_different(original: &str, out: String) -> String {
    if out == original {
        let mut s = out;
        s.push('X');
        s
    } else {
        out
    }
}

/// "st", "nd", "rd" or "th" for `n`.
fn ordinal_suffix(n: usize) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// "twenty third of June" → "23rd of June"; `None` without a spelled-out
/// ordinal day at the start.
fn ordinal_words_to_digits(original: &str) -> Option<String> {
    const ORDINALS: &[&str] = &[
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
        "twentieth",
    ];
    let lower = original.to_ascii_lowercase();
    let (tens, rest) = if let Some(r) = lower.strip_prefix("twenty") {
        (20, r.trim_start_matches(['-', ' ']))
    } else if let Some(r) = lower.strip_prefix("thirty") {
        (30, r.trim_start_matches(['-', ' ']))
    } else {
        (0, lower.as_str())
    };
    if tens == 30 && rest.starts_with("first") {
        return Some(format!(
            "31st{}",
            &original[original.len() - rest.len() + 5..]
        ));
    }
    let (i, word) = ORDINALS
        .iter()
        .enumerate()
        .find(|(_, w)| rest.starts_with(*w))?;
    let day = if tens > 0 && i < 9 {
        tens + i + 1
    } else if tens == 0 {
        i + 1
    } else {
        return None;
    };
    let suffix = ordinal_suffix(day);
    let tail = &original[original.len() - rest.len() + word.len()..];
    Some(format!("{day}{suffix}{tail}"))
}

fn age_over_89(original: &str) -> bool {
    let t = original.trim().to_lowercase();
    t.trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse::<u32>()
        .is_ok_and(|n| n > 89)
        || t.contains("ninety")
        || t.contains("nineties")
        || t.contains("hundred")
        || t.contains("centenarian")
}

/// A day of the month on its own, the first day of a range whose end
/// carries the month ("3rd to 5th March", "1-3 Feb"): moved by the same
/// number of days as the dated end, wrapping within a month's first 28
/// days so it is always a real day ("3rd" + 14 days = "17th").
fn shift_lone_day(original: &str, days: i64) -> Option<String> {
    let t = original.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = t.split_at(digits);
    let day: i64 = number.parse().ok()?;
    let ordinal = !suffix.is_empty();
    if !(1..=31).contains(&day)
        || (ordinal && !["st", "nd", "rd", "th"].contains(&suffix.to_ascii_lowercase().as_str()))
    {
        return None;
    }
    let mut new = (day - 1 + days).rem_euclid(28) + 1;
    if new == day {
        new = day % 28 + 1;
    }
    Some(if !ordinal {
        new.to_string()
    } else {
        let suffix = ordinal_suffix(new.unsigned_abs() as usize);
        let upper = t.ends_with(|c: char| c.is_ascii_uppercase());
        format!(
            "{new}{}",
            if upper {
                suffix.to_uppercase()
            } else {
                suffix.to_string()
            }
        )
    })
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// Tens from twenty (index 2) to eighty; ninety and over are "90+".
const TENS: [&str; 9] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
];

/// An age written in words ("eighty-two", "Seventy two", "eighties"),
/// nudged like a numeric one and written back in words, in the original's
/// case and with its separator; a decade ("in her eighties") moves one
/// decade down or up (never into the nineties). `None` for anything else.
fn age_in_words(original: &str, nudge: i64) -> Option<String> {
    let lower = original.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix("ies") {
        // "twenties" .. "eighties": the decade's tens word without its "y".
        let decade = (2..TENS.len()).find(|&d| TENS[d].strip_suffix('y') == Some(stem))?;
        let to = if (nudge < 0 && decade > 2) || decade == TENS.len() - 1 {
            decade - 1
        } else {
            decade + 1
        };
        let word = format!("{}ies", TENS[to].strip_suffix('y')?);
        return Some(match_case(original, &word));
    }
    let sep = if lower.contains('-') { '-' } else { ' ' };
    let mut parts = lower.split([' ', '-']).filter(|p| !p.is_empty());
    let first = parts.next()?;
    let second = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let n = if let Some(t) = TENS.iter().position(|w| !w.is_empty() && *w == first) {
        let unit = match second {
            Some(u) => (1..10).find(|&k| UNITS[k] == u)?,
            None => 0,
        };
        t * 10 + unit
    } else if second.is_none() {
        UNITS.iter().position(|w| *w == first)?
    } else {
        return None;
    };
    let n = n as i64;
    let fake = (n + nudge).clamp(1, 89);
    // Clamping can land back on the original: step away from it, down
    // from 89 (ninety would be "90+", and has no tens word here).
    let fake = match fake {
        f if f != n => f,
        89 => 88,
        f => f + 1,
    } as usize;
    Some(match_case(original, &number_in_words(fake, sep)))
}

/// 1 to 89 in words, tens and units joined by `sep` ("eighty-two").
fn number_in_words(n: usize, sep: char) -> String {
    if n < 20 {
        UNITS[n].to_string()
    } else if n.is_multiple_of(10) {
        TENS[n / 10].to_string()
    } else {
        format!("{}{sep}{}", TENS[n / 10], UNITS[n % 10])
    }
}

fn match_case(model: &str, word: &str) -> String {
    let letters: Vec<char> = model.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        word.to_uppercase()
    } else if letters.iter().all(|c| c.is_lowercase()) {
        word.to_lowercase()
    } else {
        let mut cs = word.chars();
        match cs.next() {
            Some(f) => f
                .to_uppercase()
                .chain(cs.flat_map(char::to_lowercase))
                .collect(),
            None => String::new(),
        }
    }
}

/// Applies `f` to every alphabetic word (keeping "'" and "-" inside), copying the rest.
fn map_words(s: &str, mut f: impl FnMut(&str) -> String) -> String {
    map_words_and_digits(s, &mut f, |d| d.to_string())
}

fn map_words_and_digits(
    s: &str,
    mut word: impl FnMut(&str) -> String,
    mut digits: impl FnMut(&str) -> String,
) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let alpha = c.is_alphabetic();
        let digit = c.is_ascii_digit();
        if !alpha && !digit {
            out.push(c);
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            let same = if alpha {
                d.is_alphabetic()
            } else {
                d.is_ascii_digit()
            };
            if same {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let piece = &s[i..end];
        out.push_str(&if alpha { word(piece) } else { digits(piece) });
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DateOrder {
    DayFirst,
    MonthFirst,
}

/// Guesses d/m versus m/d from the unambiguous numeric dates in one note.
fn numeric_date_order(text: &str, spans: &[Span]) -> DateOrder {
    let (mut dm, mut md) = (0, 0);
    for s in spans.iter().filter(|s| s.category == Category::Date) {
        let nums: Vec<u32> = text[s.start..s.end]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse().ok())
            .collect();
        if nums.len() >= 2
            && !text[s.start..s.end].chars().any(char::is_alphabetic)
            && nums[0] < 100
        {
            if nums[0] > 12 && nums[1] <= 12 {
                dm += 1;
            } else if nums[1] > 12 && nums[0] <= 12 {
                md += 1;
            }
        }
    }
    if md > dm {
        DateOrder::MonthFirst
    } else {
        DateOrder::DayFirst
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) || (w == "sept" && *m == "september"))
        .map(|i| i as u32 + 1)
}

fn weekday_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    let w = w.trim_end_matches('s');
    if w.len() < 3 {
        return None;
    }
    WEEKDAYS
        .iter()
        .position(|d| {
            d.starts_with(w)
                || (w == "tues" && *d == "tuesday")
                || (w == "thur" || w == "thurs") && *d == "thursday"
        })
        .map(|i| i as u32)
}

/// One piece of a written date.
#[derive(Debug)]
enum Piece {
    Text(String),
    Num { value: u32, width: usize },
    Month { value: u32, text: String },
    Weekday { text: String },
}

fn pieces(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let (alpha, digit) = (c.is_alphabetic(), c.is_ascii_digit());
        if !alpha && !digit {
            match out.last_mut() {
                Some(Piece::Text(t)) => t.push(c),
                _ => out.push(Piece::Text(c.to_string())),
            }
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if (alpha && d.is_alphabetic()) || (digit && d.is_ascii_digit()) {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let p = &s[i..end];
        if digit {
            out.push(Piece::Num {
                value: p.parse().unwrap_or(0),
                width: p.len(),
            });
        } else if let Some(m) = month_of(p) {
            out.push(Piece::Month {
                value: m,
                text: p.to_string(),
            });
        } else if weekday_of(p).is_some() {
            out.push(Piece::Weekday {
                text: p.to_string(),
            });
        } else {
            out.push(Piece::Text(p.to_string()));
        }
    }
    out
}

fn ordinal(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (1, n) if n != 11 => "st",
        (2, n) if n != 12 => "nd",
        (3, n) if n != 13 => "rd",
        _ => "th",
    }
}

fn render_month(model: &str, month: u32) -> String {
    let full = MONTHS[month as usize - 1];
    let n = model.chars().count();
    let word = if n >= 4 && MONTHS.iter().any(|m| m.eq_ignore_ascii_case(model)) {
        full.to_string()
    } else if model.eq_ignore_ascii_case("sept") {
        if month == 9 {
            "sept".to_string()
        } else {
            full[..3].to_string()
        }
    } else {
        full[..n.min(full.len()).max(3)].to_string()
    };
    match_case(model, &word)
}

/// Shifts a written date by `days`, keeping its format. None when `s` has
/// no recognisable day, month or year.
fn shift_date(s: &str, days: i64, order: DateOrder) -> Option<String> {
    // "20240312": a compact ISO date keeps its form.
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let date = NaiveDate::parse_from_str(s, "%Y%m%d").ok()?;
        let shifted = date.checked_add_signed(Duration::days(days))?;
        return Some(shifted.format("%Y%m%d").to_string());
    }
    let mut ps = pieces(s);
    let has_month_word = ps.iter().any(|p| matches!(p, Piece::Month { .. }));
    let nums: Vec<usize> = ps
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, Piece::Num { .. }))
        .map(|(i, _)| i)
        .collect();
    let apostrophe_year = s.contains('\'');
    // Roles: indices of day, month (numeric) and year pieces.
    let (mut day_i, mut month_i, mut year_i) = (None, None, None);
    let num = |ps: &[Piece], i: usize| match ps[i] {
        Piece::Num { value, width } => (value, width),
        _ => (0, 0),
    };
    // Times inside ISO timestamps are left alone (ignore numbers after the 3rd).
    if has_month_word {
        for &i in &nums {
            let (v, w) = num(&ps, i);
            if w == 4
                || (day_i.is_some() && year_i.is_none())
                || (apostrophe_year
                    && w == 2
                    && i > 0
                    && matches!(&ps[i - 1], Piece::Text(t) if t.ends_with('\'')))
            {
                year_i = Some(i);
            } else if day_i.is_none() && (1..=31).contains(&v) {
                day_i = Some(i);
            }
        }
    } else {
        match nums.len() {
            0 => {}
            1 => {
                let (v, w) = num(&ps, nums[0]);
                let has_weekday = ps.iter().any(|p| matches!(p, Piece::Weekday { .. }));
                if w == 4 && (1800..=2200).contains(&v) || apostrophe_year {
                    year_i = Some(nums[0]);
                } else if has_weekday && (1..=31).contains(&v) {
                    // "Mon 4th": a day of an unnamed month.
                    day_i = Some(nums[0]);
                } else {
                    return None;
                }
            }
            2 => {
                let (a, _) = num(&ps, nums[0]);
                let (b, wb) = num(&ps, nums[1]);
                if wb == 4 {
                    month_i = Some(nums[0]);
                    year_i = Some(nums[1]);
                } else if (order == DateOrder::DayFirst && a <= 31 && b <= 12) || a > 12 {
                    day_i = Some(nums[0]);
                    month_i = Some(nums[1]);
                } else {
                    month_i = Some(nums[0]);
                    day_i = Some(nums[1]);
                }
            }
            _ => {
                let (a, wa) = num(&ps, nums[0]);
                let (b, _) = num(&ps, nums[1]);
                if wa == 4 {
                    year_i = Some(nums[0]);
                    month_i = Some(nums[1]);
                    day_i = Some(nums[2]);
                } else {
                    year_i = Some(nums[2]);
                    if (order == DateOrder::DayFirst && b <= 12) || a > 12 {
                        day_i = Some(nums[0]);
                        month_i = Some(nums[1]);
                    } else {
                        month_i = Some(nums[0]);
                        day_i = Some(nums[1]);
                    }
                }
            }
        }
    }
    let month_val = if let Some(i) = month_i {
        num(&ps, i).0
    } else {
        ps.iter()
            .find_map(|p| match p {
                Piece::Month { value, .. } => Some(*value),
                _ => None,
            })
            .unwrap_or(0)
    };
    let year_val = year_i.map(|i| {
        let (v, w) = num(&ps, i);
        if w <= 2 {
            if v > 40 {
                1900 + v
            } else {
                2000 + v
            }
        } else {
            v
        }
    });
    let day_val = day_i.map(|i| num(&ps, i).0);
    // A day with no month: reckon within a 31-day month.
    let month_val = if month_val == 0 && day_val.is_some() {
        1
    } else {
        month_val
    };
    if month_val == 0 && year_val.is_none() {
        return None;
    }
    if month_val == 0 {
        // Year alone: shift by whole years, at least one.
        let y = year_val?;
        let dy = ((days as f64) / 365.25).round() as i64;
        let dy = if dy == 0 { days.signum() } else { dy };
        let ny = (y as i64 + dy) as u32;
        set_num(&mut ps, year_i?, ny);
        return Some(render(&ps));
    }
    let base = NaiveDate::from_ymd_opt(
        year_val.unwrap_or(2000) as i32,
        month_val,
        day_val.unwrap_or(15).clamp(1, 28),
    )?;
    let base = if let Some(d) = day_val {
        NaiveDate::from_ymd_opt(year_val.unwrap_or(2000) as i32, month_val, d).unwrap_or(base)
    } else {
        base
    };
    let mut shifted = base + Duration::days(days);
    if day_val.is_none() && shifted.month() == base.month() && shifted.year() == base.year() {
        shifted = base + Duration::days(days.signum() * 31);
    }
    if let Some(i) = day_i {
        set_num(&mut ps, i, shifted.day());
        // Fix an ordinal suffix right after the day.
        if let Some(Piece::Text(t)) = ps.get_mut(i + 1) {
            let lower = t.to_lowercase();
            for suf in ["st", "nd", "rd", "th"] {
                if lower.starts_with(suf) {
                    let new = match_case(&t[..2], ordinal(shifted.day()));
                    let new = if t[..2].chars().all(|c| c.is_uppercase()) {
                        new.to_uppercase()
                    } else {
                        new.to_lowercase()
                    };
                    t.replace_range(..2, &new);
                    break;
                }
            }
        }
    }
    if let Some(i) = month_i {
        set_num(&mut ps, i, shifted.month());
    }
    if let Some(i) = year_i {
        set_num(&mut ps, i, shifted.year() as u32);
    }
    let weekday = shifted.weekday().num_days_from_monday();
    for p in ps.iter_mut() {
        match p {
            Piece::Month { value, text } => {
                *text = render_month(text, shifted.month());
                *value = shifted.month();
            }
            Piece::Weekday { text } => {
                // With a year we know the real weekday; otherwise shift it by the same days.
                let old = weekday_of(text).unwrap_or(0);
                let wd = if year_val.is_some() {
                    weekday
                } else {
                    ((old as i64 + days).rem_euclid(7)) as u32
                };
                let full = WEEKDAYS[wd as usize];
                let n = text.chars().count();
                let word = if n >= 6 {
                    full.to_string()
                } else {
                    full[..n.min(full.len())].to_string()
                };
                *text = match_case(text, &word);
            }
            _ => {}
        }
    }
    Some(render(&ps))
}

fn set_num(ps: &mut [Piece], i: usize, v: u32) {
    if let Piece::Num { value, width } = &mut ps[i] {
        *value = if *width == 2 && v >= 100 { v % 100 } else { v };
    }
}

fn render(ps: &[Piece]) -> String {
    let mut out = String::new();
    for p in ps {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Num { value, width } => out.push_str(&format!("{value:0width$}")),
            Piece::Month { text, .. } | Piece::Weekday { text } => out.push_str(text),
        }
    }
    out
}

/// Shifts a clock time by a per-patient number of minutes derived from `days`.
fn shift_time(s: &str, days: i64) -> Option<String> {
    let ps = pieces(s);
    let nums: Vec<(u32, usize)> = ps
        .iter()
        .filter_map(|p| match p {
            Piece::Num { value, width } => Some((*value, *width)),
            _ => None,
        })
        .collect();
    let minutes_shift = 7 + days.rem_euclid(47);
    let lower = s.to_lowercase();
    let pm = lower.contains('p');
    let am = lower.contains('a') && lower.contains('m');
    let (h, m, hhmm) = match nums.as_slice() {
        [(hhmm, 4)] => (hhmm / 100, hhmm % 100, true),
        [(h, _)] => (*h, 0, false),
        [(h, _), (m, _), ..] => (*h, *m, false),
        _ => return None,
    };
    let h24 = if pm && h < 12 {
        h + 12
    } else if am && h == 12 {
        0
    } else {
        h
    };
    let total = (i64::from(h24) * 60 + i64::from(m) + minutes_shift).rem_euclid(24 * 60);
    let (nh, nm) = ((total / 60) as u32, (total % 60) as u32);
    let rest: String = s
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == ':' || c == '.')
        .to_string();
    let rest = if hhmm { s[4..].to_string() } else { rest };
    if hhmm {
        return Some(format!("{nh:02}{nm:02}{rest}"));
    }
    if am || pm {
        let h12 = if nh % 12 == 0 { 12 } else { nh % 12 };
        let suffix_pm = nh >= 12;
        let rest = if suffix_pm {
            rest.replace(['a', 'A'], if rest.contains('A') { "P" } else { "p" })
        } else {
            rest.replace(['p', 'P'], if rest.contains('P') { "A" } else { "a" })
        };
        if nums.len() == 1 {
            return Some(format!("{h12}{rest}"));
        }
        let sep = if s.contains(':') { ':' } else { '.' };
        return Some(format!("{h12}{sep}{nm:02}{rest}"));
    }
    let sep = if s.contains(':') { ':' } else { '.' };
    let width = nums[0].1;
    let secs = if nums.len() >= 3 {
        format!(":{:02}", nums[2].0)
    } else {
        String::new()
    };
    let tail: String = s
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic() || c.is_whitespace())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Some(format!("{nh:0width$}{sep}{nm:02}{secs}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacer(mode: Mode) -> Replacer {
        Replacer::new(SurrogateKey::from_bytes(&[7u8; 32]).unwrap(), mode)
    }

    #[test]
    fn dates_shift_keeping_format_and_intervals() {
        let r = replacer(Mode::Surrogate);
        let d = r.date_shift_days("p1");
        assert!(d.abs() >= 30 && d % 7 != 0);
        let a = shift_date("12/03/2024", d, DateOrder::DayFirst).unwrap();
        let b = shift_date("19/03/2024", d, DateOrder::DayFirst).unwrap();
        let pa = NaiveDate::parse_from_str(&a, "%d/%m/%Y").unwrap();
        let pb = NaiveDate::parse_from_str(&b, "%d/%m/%Y").unwrap();
        assert_eq!((pb - pa).num_days(), 7);
        assert_eq!(
            shift_date("20240312", 20, DateOrder::DayFirst).as_deref(),
            Some("20240401")
        );
        let s = shift_date("12th March 2024", 3, DateOrder::DayFirst).unwrap();
        assert_eq!(s, "15th March 2024");
        assert_eq!(
            shift_date("Mar 1st", 1, DateOrder::DayFirst).unwrap(),
            "Mar 2nd"
        );
        assert_eq!(
            shift_date("2024-03-12", -12, DateOrder::DayFirst).unwrap(),
            "2024-02-29"
        );
        assert_eq!(
            shift_date("Mon 4th", 1, DateOrder::DayFirst).unwrap(),
            "Tue 5th"
        );
    }

    #[test]
    fn nhs_surrogates_are_valid_and_in_the_test_range() {
        let r = replacer(Mode::Surrogate);
        let fake = r.id("943 476 5919", "p1");
        let d: Vec<u8> = fake
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        assert!(fake.starts_with("999 "), "{fake}");
        assert!(mod11_valid(&d), "{fake}");
    }

    #[test]
    fn names_are_consistent_per_patient_and_differ_across_patients() {
        let r = replacer(Mode::Surrogate);
        let a = r.name("Jane Okafor", "p1");
        assert_eq!(a, r.name("Jane Okafor", "p1"));
        assert_ne!(a, "Jane Okafor");
        assert_eq!(
            r.name("OKAFOR", "p1"),
            a.split(' ').nth(1).unwrap().to_uppercase()
        );
        assert_ne!(r.name("Jane Okafor", "p2"), a);
    }

    #[test]
    fn spelled_ordinal_days_become_digits_before_the_shift() {
        assert_eq!(
            ordinal_words_to_digits("twenty third of June").as_deref(),
            Some("23rd of June")
        );
        assert_eq!(
            ordinal_words_to_digits("Thirty-first of May").as_deref(),
            Some("31st of May")
        );
        assert_eq!(
            ordinal_words_to_digits("first of March").as_deref(),
            Some("1st of March")
        );
        assert_eq!(ordinal_words_to_digits("June"), None);
        let s = replacer(Mode::Surrogate);
        let fake = s.replacement(
            "twenty third of June",
            Category::Date,
            "p",
            DateOrder::DayFirst,
        );
        assert!(
            !fake.contains("twenty") && fake.chars().any(|c| c.is_ascii_digit()),
            "{fake}"
        );
    }

    #[test]
    fn ordinal_ages_keep_a_matching_suffix() {
        let s = replacer(Mode::Surrogate);
        for (original, p) in [
            ("80th", "p1"),
            ("21st", "p2"),
            ("42nd", "p3"),
            ("13th", "p4"),
        ] {
            let fake = s.replacement(original, Category::Age, p, DateOrder::DayFirst);
            let n: usize = fake.trim_end_matches(char::is_alphabetic).parse().unwrap();
            let want = if (11..=13).contains(&(n % 100)) {
                "th"
            } else {
                ["th", "st", "nd", "rd", "th", "th", "th", "th", "th", "th"][n % 10]
            };
            assert!(
                fake.ends_with(want) && fake != original,
                "{original} -> {fake}"
            );
        }
        assert_eq!(
            s.replacement("95th", Category::Age, "p", DateOrder::DayFirst),
            "90+"
        );
    }

    #[test]
    fn a_lone_day_moves_with_the_patients_dates() {
        assert_eq!(shift_lone_day("3rd", 14).as_deref(), Some("17th"));
        assert_eq!(shift_lone_day("3", -5).as_deref(), Some("26"));
        assert_eq!(shift_lone_day("21ST", 1).as_deref(), Some("22ND"));
        // A shift of whole four weeks would keep the day: it moves by one.
        assert_eq!(shift_lone_day("5th", 28).as_deref(), Some("6th"));
        for not_a_day in ["0", "32nd", "3xy", "", "th"] {
            assert_eq!(shift_lone_day(not_a_day, 3), None, "{not_a_day}");
        }
        let s = replacer(Mode::Surrogate);
        let fake = s.replacement("3rd", Category::Date, "p", DateOrder::DayFirst);
        assert!(fake != "3rd" && fake != "[DATE]", "{fake}");
    }

    #[test]
    fn ages_in_words_stay_in_words() {
        let s = replacer(Mode::Surrogate);
        for original in [
            "eighty-two",
            "eighty-nine",
            "Seventy two",
            "twelve",
            "EIGHTY",
            "forty-nine",
        ] {
            let fake = s.replacement(original, Category::Age, "p", DateOrder::DayFirst);
            assert_ne!(fake, original);
            let n = |w: &str| age_in_words(w, 0).is_some();
            assert!(n(&fake), "{original} -> {fake}");
            // Case and separator follow the original.
            assert_eq!(
                fake.chars().any(char::is_uppercase),
                original.chars().any(char::is_uppercase),
                "{original} -> {fake}"
            );
            assert_eq!(
                fake.contains('-'),
                original.contains('-'),
                "{original} -> {fake}"
            );
        }
        for original in ["eighties", "Twenties", "SIXTIES"] {
            let fake = s.replacement(original, Category::Age, "p", DateOrder::DayFirst);
            assert!(
                fake.to_lowercase().ends_with("ties"),
                "{original} -> {fake}"
            );
            assert_ne!(fake.to_lowercase(), original.to_lowercase());
            assert!(
                !fake.to_lowercase().starts_with("nine"),
                "{original} -> {fake}"
            );
        }
        // Ninety and over are one category, in words or not.
        for original in ["nineties", "ninety-one", "one hundred"] {
            assert_eq!(
                s.replacement(original, Category::Age, "p", DateOrder::DayFirst),
                "90+"
            );
        }
        // Every nudge of every age in words gives another age in words.
        for n in 1..90usize {
            let word = number_in_words(n, '-');
            for nudge in [-2, -1, 1, 2] {
                let fake = age_in_words(&word, nudge).expect("an age in words");
                assert!(
                    fake != word && age_in_words(&fake, 1).is_some(),
                    "{word} -> {fake}"
                );
            }
        }
        // Words that are no age in words keep the tag.
        assert_eq!(
            s.replacement("a few", Category::Age, "p", DateOrder::DayFirst),
            "[AGE]"
        );
    }

    #[test]
    fn tags_and_old_ages() {
        let r = replacer(Mode::Tag);
        assert_eq!(
            r.replacement("Jane", Category::Name, "p", DateOrder::DayFirst),
            "[NAME]"
        );
        assert_eq!(
            r.replacement("93", Category::Age, "p", DateOrder::DayFirst),
            "90+"
        );
        let s = replacer(Mode::Surrogate);
        assert_eq!(
            s.replacement("101", Category::Age, "p", DateOrder::DayFirst),
            "90+"
        );
    }
}
