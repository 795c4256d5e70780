//! Names, places, organisations and professions: a word tokenizer, the
//! compiled dictionaries, context rules (titles, header fields, relations,
//! signature blocks) and in-document propagation of names already found.
//!
//! Capitalisation is the strongest cue in ordinary prose and absent in
//! all-caps or all-lower-case lines, so every rule asks the line it sits on
//! whether case can be trusted ("caseless" lines lean on dictionaries only).

use crate::lexicon::Lexicon;
use crate::lexicon::{FlagTable, WordHasher, WordSet};

type WordHasherBuild = std::hash::BuildHasherDefault<WordHasher>;
use crate::Span;
use insitu_types::Category;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// "Smith", "O'Brien", "McDonald"
    Title,
    /// "SMITH"
    Upper,
    /// "smith"
    Lower,
    /// anything else with letters ("iPhone")
    Mixed,
}

#[derive(Clone, Debug)]
pub(crate) struct Word<'a> {
    pub start: usize,
    pub end: usize,
    shape: Shape,
    /// Lower-case form without a possessive "'s".
    key: Key<'a>,
    /// Line has both cases (capitalisation is informative).
    cased_line: bool,
    /// First word of a sentence or line.
    sentence_start: bool,
    /// Index of the line (for "same line" checks).
    line: usize,
    /// The word carries a possessive ("Parkinson's").
    possessive: bool,
    /// A digit touches the word ("ST4", "x3days"): a code, never a name.
    glued_digit: bool,
    /// Which rule word lists hold `key` (bits below), looked up once per
    /// word in a small table because the rules ask again and again.
    flags: u32,
    /// Bits from the big dictionaries (names, English words, clinical
    /// terms, list starts), looked up only when a rule first asks: most
    /// lower-case words never need them, and each look-up in a table of
    /// 200,000 words is a cache miss.
    lexicon: std::cell::Cell<u32>,
}

/// A word's lower-case form: borrowed from the note when the word is
/// already lower-case ASCII (most words), so the tokenizer rarely allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key<'a>(std::borrow::Cow<'a, str>);

impl Key<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Key<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Whether `s` is exactly one character (an initial), without counting all of them.
fn single_char(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some() && chars.next().is_none()
}

impl Word<'_> {
    /// Whether the word is in any of the lists in `mask`. Inlined: most
    /// masks are constants without dictionary bits, so the test folds to
    /// one AND; the dictionary look-up stays out of line.
    #[inline(always)]
    fn has(&self, mask: u32) -> bool {
        if mask & LEXICON_BITS == 0 {
            return self.flags & mask != 0;
        }
        (self.flags | self.lexicon_flags()) & mask != 0
    }

    #[inline(never)]
    fn lexicon_flags(&self) -> u32 {
        let cached = self.lexicon.get();
        if cached != NOT_LOOKED_UP {
            return cached;
        }
        let key = self.key.as_str();
        let mut flags = lexicon_flag_map().get(key).copied().unwrap_or(0);
        // "Jean-Pierre", "Mary-Jane", "Anne-Marie": a forename of forenames.
        if flags & FIRST == 0 && key.contains('-') {
            let first = |p: &str| lexicon_flag_map().get(p).is_some_and(|f| f & FIRST != 0);
            if key.split('-').all(first) {
                flags |= FIRST;
            }
        }
        self.lexicon.set(flags);
        flags
    }
}

const FIRST: u32 = 1;
const SURNAME: u32 = 1 << 1;
const COMMON: u32 = 1 << 2;
const CLINICAL: u32 = 1 << 3;
const STOP_WORD: u32 = 1 << 4;
const TITLE: u32 = 1 << 5;
const ROLE: u32 = 1 << 6;
const CREDENTIAL: u32 = 1 << 7;
const RELATION: u32 = 1 << 8;
const PROFESSION: u32 = 1 << 9;
const PROF_MODIFIER: u32 = 1 << 10;
const PROF_HEAD: u32 = 1 << 11;
const ORG_HEAD: u32 = 1 << 12;
const LABEL_HEAD: u32 = 1 << 13;
const EPONYM_NOUN: u32 = 1 << 14;
/// First word of a listed place name.
const PLACE_START: u32 = 1 << 15;
/// First word of a listed organisation name.
const ORG_LIST_START: u32 = 1 << 16;
/// A trade named without a cue ("roofer").
const TRADE: u32 = 1 << 17;
/// A generic job head that needs a qualifier ("driver").
const TRADE_HEAD: u32 = 1 << 18;
/// Words the rules added in session 4 look for first ("dob", "present",
/// "its", "pt", …): one bit, so that other words skip them cheaply.
const RULE_CUE: u32 = 1 << 19;
/// Words that open a sign-off or a handover bed ("yours", "kind", "bed"):
/// a bit for the loops that look for them, and nothing more (it does not
/// make a word known, see [`UNKNOWN_WORD_EXCLUDES`]).
const LOOP_CUE: u32 = 1 << 20;
/// The words with [`LOOP_CUE`].
const LOOP_CUES: &[&str] = &["yours", "kind", "best", "many", "regards", "bed"];
/// A word for a kind of organisation that ends its name ([`KIND_TAILS`]).
const KIND_TAIL: u32 = 1 << 21;
/// Words that say what kind of organisation the capitalised words before
/// them name, and are rarely anything else written with a capital at the
/// end of such a run: "Little Sprouts Daycare", "Union Gospel Mission",
/// "Ashby Pryce Solicitors", "Desert Sun Builders".
const KIND_TAILS: &[&str] = &[
    "barbers",
    "builders",
    "butchers",
    "chapel",
    "charities",
    "daycare",
    "foodbank",
    "gurdwara",
    "haulage",
    "hostel",
    "logistics",
    "ministries",
    "mission",
    "mosque",
    "preschool",
    "salon",
    "shelter",
    "solicitors",
    "synagogue",
];
/// The bits that live in the big dictionary table.
const LEXICON_BITS: u32 = FIRST | SURNAME | COMMON | CLINICAL | PLACE_START | ORG_LIST_START;
/// Any bit that says what a word is (so not an unknown capitalised word).
const UNKNOWN_WORD_EXCLUDES: u32 = !(FIRST | SURNAME | NOT_LOOKED_UP | LOOP_CUE);
/// `Word::lexicon` before its first look-up.
const NOT_LOOKED_UP: u32 = 1 << 31;

type FlagMap = std::collections::HashMap<&'static str, u32, WordHasherBuild>;

fn flag_table(lists: &[(&WordSet, u32)]) -> FlagMap {
    let mut map = FlagMap::default();
    for (set, bit) in lists {
        for w in set.iter() {
            *map.entry(*w).or_insert(0) |= *bit;
        }
    }
    map
}

/// The rule word lists and the bit each sets, for [`flag_map`] and its
/// [`flag_filter`] (one list, so the filter cannot miss a word the map holds).
fn rule_lists() -> [(&'static WordSet, u32); 15] {
    let sets = sets();
    [
        (&sets.stop, STOP_WORD),
        (&sets.titles, TITLE),
        (&sets.credentials, CREDENTIAL),
        (&sets.relations, RELATION),
        (&sets.professions, PROFESSION),
        (&sets.profession_modifiers, PROF_MODIFIER),
        (&sets.profession_heads, PROF_HEAD),
        (&sets.org_heads, ORG_HEAD),
        (&sets.label_heads, LABEL_HEAD),
        (&sets.eponym_nouns, EPONYM_NOUN),
        (&sets.trades, TRADE),
        (&sets.trade_heads, TRADE_HEAD),
        (&sets.rule_cues, RULE_CUE),
        (&sets.loop_cues, LOOP_CUE),
        (&sets.kind_tails, KIND_TAIL),
    ]
}

/// [`flag_map`]'s words as a [`ShapeFilter`], asked before the map.
fn flag_filter() -> &'static crate::lexicon::ShapeFilter {
    static FILTER: std::sync::OnceLock<crate::lexicon::ShapeFilter> = std::sync::OnceLock::new();
    FILTER.get_or_init(|| {
        crate::lexicon::ShapeFilter::new(
            rule_lists()
                .into_iter()
                .flat_map(|(set, _)| set.iter().copied()),
        )
    })
}

/// The rule word lists (a few hundred words) as one map from word to bits.
fn flag_map() -> &'static FlagTable {
    static MAP: std::sync::OnceLock<FlagTable> = std::sync::OnceLock::new();
    MAP.get_or_init(|| FlagTable::new(flag_table(&rule_lists())))
}

/// The big dictionaries as one map from word to bits.
fn lexicon_flag_map() -> &'static FlagTable {
    static MAP: std::sync::OnceLock<FlagTable> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let lex = Lexicon::get();
        let mut map = flag_table(&[
            (&lex.first, FIRST),
            (&lex.surnames, SURNAME),
            (&lex.common, COMMON),
            (&lex.clinical, CLINICAL),
        ]);
        for (heads, bit) in [
            (&lex.place_heads, PLACE_START),
            (&lex.organisation_heads, ORG_LIST_START),
        ] {
            for w in heads.keys() {
                *map.entry(*w).or_insert(0) |= bit;
            }
        }
        FlagTable::new(map)
    })
}

/// Bits for a lower-case word.
fn flags_of(key: &str) -> u32 {
    let mut f = if flag_filter().may_contain(key) {
        flag_map().get(key).copied().unwrap_or(0)
    } else {
        0
    };
    if is_role_word(key) {
        f |= ROLE;
    }
    f
}

/// The copy of a note that [`words`] borrows word keys from: ASCII
/// letters lowered, everything else as it is (so byte offsets agree). One
/// allocation per note instead of one per capitalised word.
fn lowered(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// The letter starting at byte `i`, if any, and its length in bytes.
#[inline]
fn letter_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return b.is_ascii_alphabetic().then_some(1);
    }
    let c = text[i..].chars().next()?;
    c.is_alphabetic().then(|| c.len_utf8())
}

/// Splits text into alphabetic words (internal apostrophes and hyphens
/// kept). `lower` is [`lowered`]`(text)`: keys of ASCII words are borrowed
/// from it. Bytewise, decoding a character only where a byte is not ASCII.
fn words<'a>(text: &'a str, lower: &'a str) -> Vec<Word<'a>> {
    words_and_triggers(text, lower, None)
}

/// Words that can open a rule (see [`Ctx::triggers`]): in a list the rules
/// start from, possessive ("dean's dad") or hyphenated ("ex-miner",
/// "37-year-old").
const TRIGGER_BITS: u32 = TITLE
    | CREDENTIAL
    | RELATION
    | PROF_HEAD
    | LABEL_HEAD
    | RULE_CUE
    | LOOP_CUE
    | KIND_TAIL
    | TRADE
    | TRADE_HEAD
    | ORG_HEAD;

/// [`words`], also filling `triggers` (when given) with the indices of the
/// words that can open a rule, in order.
fn words_and_triggers<'a>(
    text: &'a str,
    lower: &'a str,
    mut triggers: Option<&mut Vec<u32>>,
) -> Vec<Word<'a>> {
    debug_assert_eq!(text.len(), lower.len());
    let b = text.as_bytes();
    let n = b.len();
    // About one word per six bytes of clinical text: reserve once.
    let mut out: Vec<Word<'a>> = Vec::with_capacity(n / 6 + 8);
    let (flags, filter) = (flag_map(), flag_filter());
    let (mut line, mut sentence_start, mut i) = (0usize, true, 0usize);
    // Whether the current line has upper- and lower-case letters: known
    // only at its end, so its words are patched then (one pass, not two).
    let (mut up, mut lo, mut line_first) = (false, false, 0usize);
    let close_line = |out: &mut Vec<Word<'a>>, first: usize, cased: bool| {
        for w in &mut out[first..] {
            w.cased_line = cased;
        }
    };
    while i < n {
        let c = b[i];
        // Spaces (most of the bytes between words) change nothing here.
        if c == b' ' {
            i += 1;
            continue;
        }
        if c < 0x80 {
            if !c.is_ascii_alphabetic() {
                i += 1;
                match c {
                    b'\n' => {
                        close_line(&mut out, line_first, up && lo);
                        (up, lo, line_first) = (false, false, out.len());
                        line += 1;
                        sentence_start = true;
                    }
                    // "Dr." or "J." should not end a sentence, but we cannot
                    // know here; titles and initials are handled by the rules
                    // that look at them. A colon leaves it as it was.
                    b'.' | b'!' | b'?' | b';' | b'*' => sentence_start = true,
                    b'0'..=b'9' => sentence_start = false,
                    _ => {}
                }
                continue;
            }
        } else {
            let ch = text[i..].chars().next().expect("char boundary");
            up |= ch.is_uppercase();
            lo |= ch.is_lowercase();
            if !ch.is_alphabetic() {
                if ch == '•' {
                    sentence_start = true;
                }
                i += ch.len_utf8();
                continue;
            }
        }
        // A word starts at i. Count letters by case as we go (for the line
        // and for the word's shape when it is ASCII).
        let start = i;
        let mut ascii = true;
        let mut hyphen = false;
        let (mut letters, mut uppers) = (0usize, 0usize);
        let first_upper = b[i] < 0x80 && b[i].is_ascii_uppercase();
        loop {
            // A run of ASCII letters (most of every word) in a tight loop.
            let run = i;
            let mut run_uppers = 0;
            while i < n && b[i].is_ascii_alphabetic() {
                run_uppers += usize::from(b[i].is_ascii_uppercase());
                i += 1;
            }
            if i > run {
                up |= run_uppers > 0;
                lo |= run_uppers < i - run;
                letters += i - run;
                uppers += run_uppers;
            }
            if i >= n {
                break;
            }
            let c = b[i];
            if c < 0x80 {
                // Keep "O'Brien", "Smith-Jones" and "Parkinson's" together.
                if (c == b'\'' || c == b'-') && i + 1 < n && letter_at(text, i + 1).is_some() {
                    hyphen |= c == b'-';
                    i += 1;
                    continue;
                }
                break;
            }
            if text[i..].starts_with('’') && letter_at_checked(text, i + 3).is_some() {
                ascii = false;
                i += 3;
                continue;
            }
            let ch = text[i..].chars().next().expect("char boundary");
            if !ch.is_alphabetic() {
                break;
            }
            up |= ch.is_uppercase();
            lo |= ch.is_lowercase();
            ascii = false;
            i += ch.len_utf8();
        }
        let raw_end = i;
        // An ASCII word can only end in the ASCII possessive ("'s", "'S"):
        // tested on the bytes, as `strip_possessive` would decide it.
        let (end, possessive) = if ascii {
            let possessive = raw_end - start > 2
                && b[raw_end - 2] == b'\''
                && matches!(b[raw_end - 1], b's' | b'S');
            (raw_end - 2 * usize::from(possessive), possessive)
        } else {
            let (base, possessive) = strip_possessive(&text[start..raw_end]);
            (start + base.len(), possessive)
        };
        let key = if ascii {
            Key(std::borrow::Cow::Borrowed(&lower[start..end]))
        } else {
            Key(std::borrow::Cow::Owned(text[start..end].to_lowercase()))
        };
        let shape = if ascii {
            // The possessive "s" is not part of the word.
            let (letters, uppers) = if possessive {
                (letters - 1, uppers - usize::from(b[raw_end - 1] == b'S'))
            } else {
                (letters, uppers)
            };
            shape_from_counts(first_upper, letters - 1, uppers - usize::from(first_upper))
        } else {
            shape_of(&text[start..end])
        };
        let mut f = if filter.may_contain(&key) {
            flags.get(key.as_str()).copied().unwrap_or(0)
        } else {
            0
        };
        if is_role_word(&key) {
            f |= ROLE;
        }
        if let Some(t) = triggers.as_deref_mut() {
            if f & TRIGGER_BITS != 0 || possessive || hyphen {
                t.push(out.len() as u32);
            }
        }
        out.push(Word {
            start,
            end,
            shape,
            flags: f,
            lexicon: std::cell::Cell::new(NOT_LOOKED_UP),
            key,
            cased_line: false,
            sentence_start,
            line,
            possessive,
            glued_digit: (start > 0 && b[start - 1].is_ascii_digit())
                || (raw_end < n && b[raw_end].is_ascii_digit()),
        });
        sentence_start = false;
    }
    close_line(&mut out, line_first, up && lo);
    out
}

/// The shape of an ASCII word from its first letter's case, the number of
/// letters after it and how many of those are capitals (as [`shape_of`]).
fn shape_from_counts(first_upper: bool, rest: usize, upper: usize) -> Shape {
    if first_upper {
        if upper == rest {
            if rest == 0 {
                Shape::Title
            } else {
                Shape::Upper
            }
        } else if upper <= 2 {
            Shape::Title
        } else {
            Shape::Mixed
        }
    } else if upper == 0 {
        Shape::Lower
    } else {
        Shape::Mixed
    }
}

/// [`letter_at`] that answers `None` past the end of the text.
fn letter_at_checked(text: &str, i: usize) -> Option<usize> {
    (i < text.len()).then(|| letter_at(text, i)).flatten()
}

fn strip_possessive(raw: &str) -> (&str, bool) {
    // Every possessive ends in "s" or "S": test that byte before the suffixes.
    if !matches!(raw.as_bytes().last(), Some(b's' | b'S')) {
        return (raw, false);
    }
    for suffix in ["'s", "’s", "'S", "’S"] {
        if let Some(b) = raw.strip_suffix(suffix) {
            if !b.is_empty() {
                return (b, true);
            }
        }
    }
    (raw, false)
}

/// Capitals where names have them: first, then only inside a run of
/// lower-case letters ("McKay", "LaToya", "DeShawn"). Lab and clinical
/// shorthand breaks this ("QTc", "EtOH", "HbSS", "IgG", "UTIs", "METs").
fn name_like_capitals(w: &str) -> bool {
    // Bytes of non-ASCII letters ("Ñúñez", "Zoë") count as lower case.
    let lower = |c: u8| c.is_ascii_lowercase() || c >= 0x80;
    let b = w.as_bytes();
    if b.len() < 2 || !lower(b[1]) || !lower(b[b.len() - 1]) {
        return false;
    }
    b.windows(3)
        .all(|t| !t[1].is_ascii_uppercase() || (lower(t[0]) && lower(t[2])))
}

fn shape_of(w: &str) -> Shape {
    if w.is_ascii() {
        // Bytewise for the usual ASCII word; same rules as below.
        let (mut first, mut rest, mut upper) = (None, 0usize, 0usize);
        for c in w.bytes().filter(u8::is_ascii_alphabetic) {
            if first.is_none() {
                first = Some(c);
            } else {
                rest += 1;
                upper += usize::from(c.is_ascii_uppercase());
            }
        }
        let Some(first) = first else {
            return Shape::Mixed;
        };
        return if first.is_ascii_uppercase() {
            if upper == rest {
                if rest == 0 {
                    Shape::Title
                } else {
                    Shape::Upper
                }
            } else if upper <= 2 {
                Shape::Title
            } else {
                Shape::Mixed
            }
        } else if upper == 0 {
            Shape::Lower
        } else {
            Shape::Mixed
        };
    }
    let mut chars = w.chars().filter(|c| c.is_alphabetic());
    let Some(first) = chars.next() else {
        return Shape::Mixed;
    };
    // One pass, no allocation: count the letters after the first by case.
    let (mut rest, mut upper, mut lower) = (0usize, 0usize, 0usize);
    for c in chars {
        rest += 1;
        if c.is_uppercase() {
            upper += 1;
        } else if c.is_lowercase() {
            lower += 1;
        }
    }
    if first.is_uppercase() {
        if upper == rest {
            if rest == 0 {
                Shape::Title
            } else {
                Shape::Upper
            }
        } else if upper <= 2 {
            // "McDonald", "O'Neill", "MacLeod"
            Shape::Title
        } else {
            Shape::Mixed
        }
    } else if lower == rest {
        Shape::Lower
    } else {
        Shape::Mixed
    }
}

const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "doctor",
    "prof",
    "professor",
    "sister",
    "sr",
    "nurse",
    "rev",
    "revd",
    "reverend",
    "sir",
    "dame",
    "lady",
    "lord",
    "master",
    "father",
    "fr",
    "mister",
    "madam",
    "messrs",
    "capt",
    "captain",
    "col",
    "major",
    "judge",
    "cllr",
    "councillor",
    "matron",
    "midwife",
    // Police ranks: "PC Martin Shields", "Sgt Okafor", "Officer Diaz".
    "pc",
    "sgt",
    "sergeant",
    "inspector",
    "constable",
    "officer",
    "detective",
    "trooper",
    "deputy",
];

/// Labels after which the rest of the phrase is a person's name.
const NAME_LABELS: &[&[&str]] = &[
    &["name"],
    &["patient", "name"],
    &["pt", "name"],
    &["full", "name"],
    &["surname"],
    &["forename"],
    &["forenames"],
    &["first", "name"],
    &["last", "name"],
    &["family", "name"],
    &["given", "name"],
    &["nok"],
    &["next", "of", "kin"],
    &["consultant"],
    &["gp"],
    &["pcp"],
    &["seen", "by"],
    &["reviewed", "by"],
    &["signed", "by"],
    &["signed"],
    &["dictated", "by"],
    &["typed", "by"],
    &["transcribed", "by"],
    &["author"],
    &["referred", "by"],
    &["referrer"],
    &["attending"],
    &["surgeon"],
    &["anaesthetist"],
    &["anesthetist"],
    &["registrar"],
    &["sho"],
    &["fy1"],
    &["fy2"],
    &["resident"],
    &["physician"],
    &["contact"],
    &["cc"],
    &["dear"],
    &["discussed", "with"],
    &["spoke", "to"],
    &["spoke", "with"],
    &["d/w"],
    &["verified", "by"],
    &["electronically", "signed", "by"],
    &["approved", "by"],
    &["requested", "by"],
    &["reported", "by"],
    &["witnessed", "by"],
    &["care", "of"],
    &["informant"],
    &["interpreter"],
    &["carer"],
    &["keyworker"],
    &["key", "worker"],
    &["social", "worker"],
    &["named", "nurse"],
    &["midwife"],
    &["health", "visitor"],
    &["clinician"],
    &["provider"],
    &["pharmacist"],
    &["therapist"],
    &["from"],
    &["to"],
    &["patient"],
    &["mother"],
    &["father"],
    &["wife"],
    &["husband"],
    &["son"],
    &["daughter"],
    &["brother"],
    &["sister"],
    &["partner"],
    &["friend"],
    &["neighbour"],
    &["neighbor"],
    &["grandson"],
    &["granddaughter"],
    &["niece"],
    &["nephew"],
    &["aunt"],
    &["uncle"],
    &["guardian"],
    &["called"],
    &["named"],
    &["known", "as"],
    &["aka"],
    &["nee"],
    &["née"],
    &["baby"],
    &["re"],
    &["rn"],
    &["triaged", "by"],
    &["triage", "nurse"],
    &["operator"],
    &["assistant"],
    &["scrub", "nurse"],
    &["endoscopist"],
    &["radiologist"],
    &["sonographer"],
    &["reporter"],
    &["reporting", "radiologist"],
    &["primary", "nurse"],
    &["ordered", "by"],
    &["handed", "over", "to"],
    &["handed", "over", "by"],
    &["handed", "over", "from"],
    &["handover", "from"],
    // Staff lists and rotas: "Nurse in charge - X", "HCA - X", "OT: X".
    &["nurse", "in", "charge"],
    &["nic"],
    &["hca"],
    &["physio"],
    &["ot"],
    &["slt"],
    &["odp"],
    &["cns"],
    &["anp"],
    &["ward", "clerk"],
    &["ward", "manager"],
    &["matron"],
    &["dietitian"],
    &["triage", "rn"],
    &["mum"],
    &["mom"],
    &["dad"],
    &["stepson"],
    &["stepdaughter"],
    &["stepdad"],
    &["stepmum"],
    &["stepmom"],
    &["stepfather"],
    &["stepmother"],
    &["grandma"],
    &["grandpa"],
    &["nan"],
    &["nana"],
    &["granny"],
    &["auntie"],
    &["son-in-law"],
    &["daughter-in-law"],
    &["sister-in-law"],
    &["brother-in-law"],
    &["grandmother"],
    &["grandfather"],
    &["fiance"],
    &["fiancee"],
    &["boyfriend"],
    &["girlfriend"],
    // Headers of forms and registers ("Child: …", "Deceased: …").
    &["pt"],
    &["child"],
    &["client"],
    &["deceased"],
    &["prisoner"],
    &["employee"],
    &["printed", "by"],
    &["entered", "by"],
    &["completed", "by"],
    &["recorded", "by"],
    // Non-clinical staff named by role ("Sitter Amber", "Housing officer Jas").
    &["sitter"],
    &["housing", "officer"],
    &["support", "worker"],
    &["care", "coordinator"],
    &["link", "worker"],
    &["chaplain"],
    &["advocate"],
    &["cousin"],
    // People around the patient named by their role ("his probation
    // officer, Tom Hardy", "landlord Gary", "foster mum Jo").
    &["probation", "officer"],
    &["police", "officer"],
    &["case", "manager"],
    &["caseworker"],
    &["case", "worker"],
    &["care", "manager"],
    &["personal", "assistant"],
    &["befriender"],
    &["roommate"],
    &["flatmate"],
    &["housemate"],
    &["landlord"],
    &["landlady"],
    &["lodger"],
    &["foster", "carer"],
    &["foster", "mum"],
    &["foster", "mother"],
    &["foster", "dad"],
    &["foster", "father"],
    &["headteacher"],
    &["senco"],
    &["district", "nurse"],
    &["practice", "nurse"],
    &["community", "nurse"],
    &["solicitor"],
];

/// The word lists above as hash sets, built once (they are consulted for
/// every word of every note).
struct Sets {
    stop: WordSet,
    titles: WordSet,
    relations: WordSet,
    credentials: WordSet,
    eponym_nouns: WordSet,
    professions: WordSet,
    profession_modifiers: WordSet,
    place_prepositions: WordSet,
    weak_labels: WordSet,
    colon_only: WordSet,
    label_heads: WordSet,
    /// Label phrases by their first word, so a head word is compared only
    /// with the phrases it can start.
    labels_by_head: PhrasesByHead,
    profession_heads: WordSet,
    /// [`PROFESSION_TRIGGERS`] by first word ("is", "as" and "was" head
    /// some): a head word is compared only with its own triggers.
    profession_triggers_by_head: PhrasesByHead,
    org_heads: WordSet,
    /// [`ORG_TRIGGERS`] by first word.
    org_triggers_by_head: PhrasesByHead,
    trades: WordSet,
    trade_heads: WordSet,
    rule_cues: WordSet,
    loop_cues: WordSet,
    kind_tails: WordSet,
}

/// Word phrases by their first word, each list in the phrases' order.
type PhrasesByHead =
    std::collections::HashMap<&'static str, Vec<&'static [&'static str]>, WordHasherBuild>;

fn phrases_by_head(phrases: &[&'static [&'static str]]) -> PhrasesByHead {
    let mut by_head = PhrasesByHead::default();
    for phrase in phrases {
        by_head.entry(phrase[0]).or_default().push(*phrase);
    }
    by_head
}

/// Whether `key` (lower case) is a credential or grade written after a
/// name ("md", "st3", "registrar").
pub(crate) fn is_credential(key: &str) -> bool {
    sets().credentials.contains(key)
}

/// Whether a lower-case word is a job on the list ("technician", "teacher").
pub(crate) fn is_job_word(key: &str) -> bool {
    sets().professions.contains(key) || sets().trades.contains(key)
}

fn sets() -> &'static Sets {
    static SETS: std::sync::OnceLock<Sets> = std::sync::OnceLock::new();
    SETS.get_or_init(|| Sets {
        stop: STOP.iter().copied().collect(),
        titles: TITLES.iter().copied().collect(),
        relations: RELATIONS.iter().copied().collect(),
        credentials: CREDENTIALS.iter().copied().collect(),
        eponym_nouns: EPONYM_NOUNS.iter().copied().collect(),
        professions: PROFESSIONS.iter().copied().collect(),
        profession_modifiers: PROFESSION_MODIFIERS.iter().copied().collect(),
        place_prepositions: PLACE_PREPOSITIONS.iter().copied().collect(),
        weak_labels: WEAK_LABELS.iter().copied().collect(),
        colon_only: COLON_ONLY.iter().copied().collect(),
        label_heads: NAME_LABELS.iter().map(|p| p[0]).collect(),
        labels_by_head: phrases_by_head(NAME_LABELS),
        profession_heads: PROFESSION_TRIGGERS.iter().map(|p| p[0]).collect(),
        profession_triggers_by_head: phrases_by_head(PROFESSION_TRIGGERS),
        org_heads: ORG_TRIGGERS.iter().map(|p| p[0]).collect(),
        org_triggers_by_head: phrases_by_head(ORG_TRIGGERS),
        trades: TRADES.iter().copied().collect(),
        trade_heads: TRADE_HEADS.iter().copied().collect(),
        rule_cues: RULE_CUES.iter().copied().collect(),
        loop_cues: LOOP_CUES.iter().copied().collect(),
        kind_tails: KIND_TAILS.iter().copied().collect(),
    })
}

/// Whether `rest` (the text after a name) starts with a bare age: ", 31,",
/// ", 58.", "   79   ", " 33 G4P2", " 57 M".
fn bare_age_follows(rest: &str) -> bool {
    if let Some(r) = rest.strip_prefix(" | ") {
        // A table row: "| Beryl Hatch | 90 | …".
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        // "| oliver | 37M |": the sex may ride on the age.
        let tail = r[digits..].strip_prefix(['M', 'F']).unwrap_or(&r[digits..]);
        return (1..=3).contains(&digits)
            && r[..digits].parse::<u32>().is_ok_and(|v| v <= 120)
            && tail.starts_with(" |");
    }
    let (after, spaced) = if let Some(r) = rest.strip_prefix(", ") {
        (r, false)
    } else if rest.starts_with("  ") || rest.starts_with('\t') {
        (rest.trim_start_matches([' ', '\t']), true)
    } else if let Some(r) = rest.strip_prefix(' ') {
        (r, false)
    } else {
        return false;
    };
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) || after[..digits].parse::<u32>().map_or(true, |v| v > 120) {
        return false;
    }
    let tail = &after[digits..];
    let comma_form = rest.starts_with(", ");
    if comma_form {
        tail.starts_with([',', ';', '\n'])
            || tail.is_empty()
            || tail.starts_with(". ")
            || tail.starts_with(".\n")
            || tail == "."
            || tail.starts_with(" M")
            || tail.starts_with(" F")
            || tail.starts_with(" y")
    } else if spaced {
        tail.starts_with("  ")
            || tail.starts_with('\t')
            || tail.starts_with('\n')
            || tail.is_empty()
    } else {
        // " 57 M", " 33 G4P2", " 45yo"
        let t = tail.trim_start_matches(' ');
        (t.starts_with(['M', 'F']) && !t[1..].starts_with(char::is_alphabetic))
            || (t.starts_with('G') && t[1..].starts_with(|c: char| c.is_ascii_digit()))
            || t.starts_with("yo")
            || t.starts_with("y/o")
    }
}

/// First words the session-4 rules look for.
const RULE_CUES: &[&str] = &[
    "pt",
    "patient",
    "child",
    "client",
    "name",
    "resident",
    "deceased",
    "its",
    "it's",
    "im",
    "i'm",
    "this",
    "my",
    "dob",
    "d.o.b",
    "present",
    "attendees",
    "attending",
    "apologies",
    "in",
    // Employment after a job: "teacher, works …".
    "employed",
    "self-employed",
    "works",
    "working",
];

/// Trades and jobs that are almost never a role in the care team, so that
/// the word alone marks an occupation ("Deceased: …, 44, roofer"). Some
/// were checked against the head words of the job titles in the Faker
/// package's job provider (MIT licence, see data/LICENSES.md).
const TRADES: &[&str] = &[
    "groundsman",
    "doorman",
    "poet",
    "pastor",
    "detective",
    "cabbie",
    "gamekeeper",
    "dressmaker",
    "jeweller",
    "jeweler",
    "watchmaker",
    "greengrocer",
    "fishmonger",
    "newsagent",
    "innkeeper",
    "hotelier",
    "stockbroker",
    "bookkeeper",
    "realtor",
    "cricketer",
    "stylist",
    "tattooist",
    "sommelier",
    "quarryman",
    "draughtsman",
    "draftsman",
    "councillor",
    "politician",
    "diplomat",
    "clergyman",
    "animator",
    "arboriculturist",
    "archaeologist",
    "archivist",
    "astronomer",
    "bookseller",
    "cartographer",
    "conveyancer",
    "copywriter",
    "curator",
    "ecologist",
    "fundraiser",
    "geologist",
    "geoscientist",
    "geochemist",
    "horticulturist",
    "hydrologist",
    "hydrogeologist",
    "illustrator",
    "lexicographer",
    "lobbyist",
    "merchandiser",
    "metallurgist",
    "meteorologist",
    "oceanographer",
    "printmaker",
    "proofreader",
    "seismologist",
    "herpetologist",
    "mudlogger",
    "roofer",
    "firefighter",
    "fireman",
    "fisherman",
    "plasterer",
    "bricklayer",
    "electrician",
    "plumber",
    "carpenter",
    "joiner",
    "welder",
    "mechanic",
    "scaffolder",
    "labourer",
    "laborer",
    "miner",
    "trucker",
    "farmer",
    "postman",
    "postwoman",
    "hairdresser",
    "barber",
    "barista",
    "bartender",
    "waiter",
    "waitress",
    "chef",
    "accountant",
    "solicitor",
    "barrister",
    "lawyer",
    "attorney",
    "paralegal",
    "architect",
    "surveyor",
    "programmer",
    "journalist",
    "musician",
    "baker",
    "butcher",
    "headteacher",
    "glazier",
    "tiler",
    "stonemason",
    "locksmith",
    "upholsterer",
    "tailor",
    "seamstress",
    "florist",
    "beautician",
    "caretaker",
    "bailiff",
    "bouncer",
    "docker",
    "stevedore",
    "seafarer",
    "shepherd",
    "jockey",
    "lumberjack",
    "undertaker",
    "embalmer",
    "butler",
    "publican",
    "shopkeeper",
    "cashier",
    "soldier",
    "sailor",
    "fitter",
    "groundworker",
    "machinist",
    "courier",
    "janitor",
    "roughneck",
    "steelworker",
    "shipwright",
    "boilermaker",
    "decorator",
    "gardener",
    "landscaper",
    "croupier",
    "bookmaker",
    "dockworker",
    "milkman",
    "binman",
    "dustman",
    "handyman",
    "chauffeur",
    "schoolteacher",
    "framer",
    "milliner",
    "postmistress",
    "stagehand",
    "organist",
    "feller",
    "cobbler",
    "thatcher",
    "blacksmith",
    "farrier",
    "saddler",
    "cooper",
    "plasterboarder",
    "steeplejack",
    "linesman",
    "lineman",
    "signalman",
    "trawlerman",
];

/// Generic job heads that name an occupation only after a word saying
/// which ("taxi driver", "forklift operator", "QA tester"): alone, "driver"
/// is as often the one at the wheel in a collision.
const TRADE_HEADS: &[&str] = &[
    "driver",
    "operator",
    "tester",
    "advisor",
    "adviser",
    "worker",
    "cook",
    "hygienist",
    "engineer",
    "technician",
    "cleaner",
    "inspector",
    "trucker",
    "assistant",
    "agent",
    "hand",
    "layer",
    "maker",
    "director",
    "officer",
    "carrier",
    "guard",
    "processor",
    "instructor",
    "vendor",
    "dispatcher",
    "supervisor",
    "teacher",
    "fitter",
    "installer",
    "salesman",
    "saleswoman",
    "rep",
    "representative",
    "labourer",
    "laborer",
    "packer",
    "picker",
];

/// The words that make a generic head an occupation.
const TRADE_HEAD_MODIFIERS: &[&str] = &[
    "taxi",
    "cab",
    "bus",
    "coach",
    "lorry",
    "truck",
    "hgv",
    "delivery",
    "van",
    "forklift",
    "crane",
    "machine",
    "qa",
    "software",
    "service",
    "shop",
    "bar",
    "factory",
    "warehouse",
    "line",
    "prep",
    "retail",
    "sales",
    "call",
    "centre",
    "center",
    "dental",
    "site",
    "road",
    "rail",
    "railway",
    "train",
    "tram",
    "tube",
    "construction",
    "farm",
    "estate",
    "travel",
    "insurance",
    "kitchen",
    "office",
    "steel",
    "dock",
    "long-haul",
    "cdl",
    "uber",
    "courier",
    "plant",
    "telecoms",
    "gas",
    "heating",
    "lift",
    "plant",
    "telecoms",
    "gas",
    "heating",
    "lift",
    "maintenance",
    "ranch",
    "farm",
    "tarmac",
    "tool-and-die",
    "band",
    "loan",
    "letter",
    "mail",
    "security",
    "claims",
    "civil",
    "ski",
    "vegetable",
    "fruit",
    "market",
    "domestic",
    "mill",
    "headload",
    "secondary",
    "primary",
    "music",
    "maths",
    "science",
    "supply",
    "nursery",
    "kitchen",
    "window",
    "carpet",
    "double-glazing",
    "scaffold",
    "roofing",
    "cable",
    "sales",
    "pharmaceutical",
    "medical",
    "dock",
    "deck",
    "crew",
];

/// Words that make a trade more exact ("shipyard welder", "sheep farmer").
const TRADE_MODIFIERS: &[&str] = &[
    "shipyard",
    "offshore",
    "sheep",
    "dairy",
    "arable",
    "pig",
    "cattle",
    "long-haul",
    "apprentice",
    "master",
    "qualified",
    "self-employed",
    "agency",
    "line",
    "pastry",
    "head",
    "sous",
    "commercial",
    "criminal",
    "family",
    "property",
    "structural",
    "oil",
    "rig",
    "fishing",
    "trawler",
    "motor",
    "auto",
    "tree",
    "agricultural",
    "cdl",
    "qa",
];

/// Labels that only count when followed by ':' (otherwise they are prose).
const COLON_ONLY: &[&str] = &[
    "child",
    "client",
    "deceased",
    "prisoner",
    "employee",
    "from",
    "to",
    "patient",
    "contact",
    "provider",
    "clinician",
    "re",
    "rn",
];

/// Job titles written after a signer's name ("Consultant Neurologist").
pub(crate) fn is_role_word(k: &str) -> bool {
    // Every suffix below is at least five bytes and ends in one of these
    // letters: most words are ruled out without a suffix comparison.
    if k.len() < 5 || !matches!(k.as_bytes()[k.len() - 1], b't' | b'n' | b'r' | b'e') {
        return false;
    }
    [
        "ologist",
        "iatrist",
        "ician",
        "ographer",
        "therapist",
        "pharmacist",
        "dietitian",
        "nurse",
    ]
    .iter()
    .any(|suf| k.ends_with(suf))
}

/// Verbs and function words that are also on the surname list: in a line
/// without capitals they continue the sentence, not a name (sorted for
/// binary search).
const LOWER_CASE_NOT_NAMES: &[&str] = &[
    "back", "below", "better", "can", "early", "even", "felt", "fine", "good", "home", "just",
    "last", "late", "later", "less", "more", "much", "must", "needs", "never", "over", "rang",
    "rather", "said", "states", "still", "then", "well", "went", "while",
];

/// Words that end a name run even when capitalised.
const STOP: &[&str] = &[
    // Identifier labels written right after a name ("Jo Bloggs CHI 1234…").
    "chi",
    "nhs",
    "mrn",
    "dob",
    "npi",
    "ssn",
    "the",
    "a",
    "an",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "by",
    "from",
    "is",
    "was",
    "he",
    "she",
    "they",
    "his",
    "her",
    "their",
    "it",
    "this",
    "that",
    "as",
    "be",
    "has",
    "had",
    "have",
    "who",
    "which",
    "re",
    "not",
    "no",
    "yes",
    "team",
    "ward",
    "clinic",
    "hospital",
    "department",
    "dept",
    "unit",
    "said",
    "says",
    "today",
    "yesterday",
    "tomorrow",
    "will",
    "would",
    "please",
    "thanks",
    "thank",
    "you",
    "we",
    "i",
    "me",
    "my",
    "our",
    "your",
    "him",
    "them",
    "also",
    "then",
    "but",
    "if",
    "so",
    "all",
    "any",
    "patient",
    "pt",
    "consultant",
    "registrar",
    "nurse",
    "doctor",
    "gp",
    "mbbs",
    "mbchb",
    "frcp",
    "frcs",
    "mrcp",
    "mrcgp",
    "md",
    "phd",
    "rn",
    "rgn",
    "msc",
    "bsc",
    "ba",
    "ma",
    "do",
    "np",
    "pa",
    "fy",
    "sho",
    "spr",
    "cns",
    "specialist",
    "physician",
    "surgeon",
    "house",
    "officer",
    "junior",
    "senior",
    "staff",
    "charge",
    "student",
    "trainee",
    "locum",
    "on-call",
    "oncall",
    "via",
    "per",
    "about",
    "re",
    "today's",
    "discussed",
    "reviewed",
    "seen",
    "plan",
    "impression",
    "assessment",
    "diagnosis",
    "history",
    "examination",
    "mr",
    "mrs",
    "ms",
    "dr",
    "miss",
    "prof",
    "sister",
    "tel",
    "phone",
    "mobile",
    "email",
    "fax",
    "address",
    "dob",
    "nhs",
    "mrn",
    "no",
    "number",
    "ref",
    "date",
    "age",
    "sex",
    "gender",
    "male",
    "female",
    "unknown",
    "none",
    "nil",
    "n/a",
    "na",
    "nkda",
    "nka",
    "same",
    "above",
    "below",
    "who's",
    "colleague",
    "colleagues",
    "madam",
    "attending",
    "jobs",
    "job",
    "everyone",
    "whom",
    "concern",
    "gmc",
    "nmc",
    "general",
    "internal",
    "medicine",
    "triage",
    "smoking",
    "current",
    "never",
    "typed",
    "dictated",
    "transcribed",
];

/// Labels whose following word is a name only if it could not be anything else
/// ("CC:" is a carbon copy in a letter but the chief complaint in a US note).
const WEAK_LABELS: &[&str] = &["cc", "contact", "pt"];

/// Labels for a role held by a person, named right after it like a relative
/// ("Sitter Amber"): only a capitalised word that could be a name counts.
const ROLE_BEFORE_NAME: &[&str] = &[
    "sitter", "housing", "support", "care", "link", "chaplain", "advocate",
];

/// Credentials and roles written after a name ("Gonçalves, PGY-2", "Grant Staff Nurse").
const CREDENTIALS: &[&str] = &[
    "md",
    "do",
    "rn",
    "np",
    "pa",
    "pgy",
    "fy1",
    "fy2",
    "sho",
    "spr",
    "st1",
    "st2",
    "st3",
    "st4",
    "st5",
    "st6",
    "st7",
    "ct1",
    "ct2",
    "mbbs",
    "mbchb",
    "frcp",
    "frcs",
    "frcr",
    "mrcp",
    "mrcs",
    "mrcgp",
    "frca",
    "phd",
    "msc",
    "bsc",
    "rgn",
    "rmn",
    "cns",
    "anp",
    "acp",
    "registrar",
    "consultant",
    "staff",
    "charge",
    "sister",
    "matron",
    "physiotherapist",
    "pharmacist",
    "hca",
    "dietitian",
    "paramedic",
    "resident",
    "intern",
    "fellow",
    "attending",
    "lpn",
    "cna",
    "crna",
    "dpm",
    "od",
    "pharmd",
    "lcsw",
    // Contact details written after a name: "HECTOR HIGGINS bleep 9180".
    "bleep",
    "pager",
];

/// Trailing nouns that make a preceding capitalised word an eponym, not a person.
const EPONYM_NOUNS: &[&str] = &[
    // Instruments, drains and views named after people ("Blake drain",
    // "Simpson's biplane", "Ottawa ankle rules", "Modic changes").
    "drain",
    "drains",
    "biplane",
    "forceps",
    "retractor",
    "clamp",
    "speculum",
    "stockings",
    "collar",
    "nail",
    "rules",
    "changes",
    "nodules",
    "spots",
    "bodies",
    "cells",
    "grading",
    "staging",
    "questionnaire",
    "flap",
    "anastomosis",
    "hernia",
    "fistula",
    "ligament",
    "technique",
    "level",
    "grid",
    "valve",
    "formula",
    "shunt",
    "frame",
    "protocol",
    "disease",
    "syndrome",
    "palsy",
    "sign",
    "signs",
    "test",
    "score",
    "scale",
    "index",
    "stage",
    "grade",
    "criteria",
    "classification",
    "catheter",
    "procedure",
    "operation",
    "fundoplication",
    "paresis",
    "phenomenon",
    "lymphoma",
    "sarcoma",
    "tumour",
    "tumor",
    "fracture",
    "cyst",
    "ulcer",
    "node",
    "nodes",
    "triad",
    "reflex",
    "manoeuvre",
    "maneuver",
    "position",
    "solution",
    "repair",
    "contracture",
    "arthritis",
    "thyroiditis",
    "encephalopathy",
    "psychosis",
    "ataxia",
    "dementia",
    "chorea",
    "anaemia",
    "anemia",
    "oesophagus",
    "esophagus",
    "diverticulum",
    "line",
    "tube",
    "mask",
    "airway",
    "blade",
    "frame",
    "splint",
    "stain",
    "method",
    "rule",
    "law",
    "formula",
    "equation",
    "point",
    "incision",
    "triangle",
    "space",
    "pouch",
    "canal",
    "duct",
    "gland",
    "body",
    "bodies",
    "coma",
    "prognostic",
    "developmental",
    "cell",
    "cells",
    "sarcoidosis",
    "spots",
    "nodule",
    "nodules",
    "pearls",
    "lines",
    "murmur",
    "bundle",
    "block",
    "balloon",
    "syndromes",
    "diseases",
    "hernia",
    "neuralgia",
    "neuroma",
    "infection",
    "gangrene",
    "lesion",
    "lesions",
    "type",
    "phase",
    "curve",
    "chart",
    "tool",
    "questionnaire",
    "inventory",
    "class",
    "angle",
    "ratio",
    "sepsis",
    "regimen",
    "protocol",
    "pathway",
    "jaundice",
    "entry",
    "technique",
    "trocar",
    "port",
    "triage",
    "system",
    "flow",
    "grading",
    "approach",
    "needle",
    "forceps",
    "retractor",
];

/// Relation words whose following capitalised word is a relative's name.
/// What a named companion did next ("partner rice travelled with him"). A
/// name written in lower case needs one of the first ten, which no other
/// word is followed by.
const COMPANION_VERBS: &[&str] = &[
    "travelled",
    "traveled",
    "accompanied",
    "accompanies",
    "present",
    "attended",
    "visited",
    "phoned",
    "rang",
    "informed",
    "updated",
    "arrived",
    "came",
    "drove",
    "brought",
    "stayed",
    "aware",
    "says",
    "said",
    "reports",
    "reported",
    "is",
    "was",
    "has",
    "had",
    "at",
];

const RELATIONS: &[&str] = &[
    "wife",
    "husband",
    "son",
    "daughter",
    "mother",
    "father",
    "mum",
    "mom",
    "dad",
    "brother",
    "sister",
    "partner",
    "friend",
    "neighbour",
    "neighbor",
    "carer",
    "grandson",
    "granddaughter",
    "grandmother",
    "grandfather",
    "niece",
    "nephew",
    "aunt",
    "uncle",
    "cousin",
    "fiance",
    "fiancee",
    "boyfriend",
    "girlfriend",
    "stepson",
    "stepdaughter",
    "stepdad",
    "stepmum",
    "stepmom",
    "stepfather",
    "stepmother",
    "grandma",
    "grandpa",
    "nan",
    "nana",
    "granny",
    "auntie",
    "colleague",
    "landlord",
    "landlady",
    "son-in-law",
    "daughter-in-law",
    "sister-in-law",
    "brother-in-law",
    "mother-in-law",
    "father-in-law",
    "step-son",
    "step-daughter",
    "step-dad",
    "step-mum",
    "step-mom",
    "step-father",
    "step-mother",
    "stepbrother",
    "stepsister",
    "step-brother",
    "step-sister",
    "half-brother",
    "half-sister",
    "ex-wife",
    "ex-husband",
    "ex-partner",
    "ex-boyfriend",
    "ex-girlfriend",
    "foster-mother",
    "foster-father",
    "godmother",
    "godfather",
    "goddaughter",
    "godson",
];

const PROFESSIONS: &[&str] = &[
    "medic",
    "cna",
    "hygienist",
    "tester",
    "advisor",
    "adviser",
    "headteacher",
    "teacher",
    "nurse",
    "doctor",
    "engineer",
    "builder",
    "electrician",
    "plumber",
    "carpenter",
    "farmer",
    "driver",
    "lorry",
    "bus",
    "taxi",
    "pilot",
    "soldier",
    "police",
    "officer",
    "firefighter",
    "fireman",
    "postman",
    "postwoman",
    "accountant",
    "lawyer",
    "solicitor",
    "barrister",
    "banker",
    "cleaner",
    "cook",
    "chef",
    "waiter",
    "waitress",
    "barman",
    "barmaid",
    "shopkeeper",
    "cashier",
    "secretary",
    "receptionist",
    "labourer",
    "laborer",
    "miner",
    "welder",
    "mechanic",
    "painter",
    "decorator",
    "hairdresser",
    "barber",
    "student",
    "lecturer",
    "professor",
    "scientist",
    "programmer",
    "developer",
    "architect",
    "surveyor",
    "pharmacist",
    "dentist",
    "vet",
    "veterinarian",
    "paramedic",
    "midwife",
    "carer",
    "caregiver",
    "porter",
    "security",
    "guard",
    "manager",
    "director",
    "clerk",
    "salesman",
    "saleswoman",
    "journalist",
    "writer",
    "artist",
    "musician",
    "actor",
    "actress",
    "priest",
    "vicar",
    "minister",
    "imam",
    "rabbi",
    "librarian",
    "gardener",
    "fisherman",
    "sailor",
    "nanny",
    "childminder",
    "plasterer",
    "roofer",
    "bricklayer",
    "joiner",
    "machinist",
    "factory",
    "warehouse",
    "worker",
    "butcher",
    "baker",
    "publican",
    "housekeeper",
    "physiotherapist",
    "optician",
    "social",
    "consultant",
    "analyst",
    "administrator",
    "technician",
    "estate",
    "agent",
    "civil",
    "servant",
    "judge",
    "magistrate",
    "therapist",
    "psychologist",
    "counsellor",
    "counselor",
    "coach",
    "athlete",
    "footballer",
    "trucker",
    "courier",
    "janitor",
    "custodian",
    "attorney",
    "paralegal",
    "clergy",
    "assistant",
    "fitter",
    "tiler",
    "scaffolder",
    "groundworker",
    "stonemason",
    "mason",
    "glazier",
    "locksmith",
    "upholsterer",
    "tailor",
    "seamstress",
    "florist",
    "beautician",
    "dinnerlady",
    "caretaker",
    "bailiff",
    "bouncer",
    "steward",
    "stewardess",
    "hostess",
    "bartender",
    "barista",
    "storeman",
    "packer",
    "picker",
    "operative",
    "operator",
    "inspector",
    "auditor",
    "broker",
    "underwriter",
    "actuary",
    "economist",
    "statistician",
    "translator",
    "interpreter",
    "photographer",
    "designer",
    "editor",
    "publisher",
    "dancer",
    "singer",
    "chaplain",
    "missionary",
    "nun",
    "monk",
    "zookeeper",
    "groom",
    "jockey",
    "shepherd",
    "herdsman",
    "forester",
    "lumberjack",
    "fisherwoman",
    "docker",
    "stevedore",
    "seafarer",
    "crane",
    "dispatcher",
    "controller",
    "phlebotomist",
    "radiographer",
    "sonographer",
    "optometrist",
    "podiatrist",
    "chiropodist",
    "osteopath",
    "chiropractor",
    "dietician",
    "nutritionist",
    "sergeant",
    "constable",
    "marine",
    "airman",
    "warden",
    "undertaker",
    "embalmer",
    "butler",
    "valet",
];

/// Words that may precede a profession inside its name ("bar manager", "retired coal miner").
const PROFESSION_MODIFIERS: &[&str] = &[
    "retired",
    "bar",
    "coal",
    "school",
    "primary",
    "secondary",
    "senior",
    "head",
    "assistant",
    "shop",
    "care",
    "support",
    "site",
    "office",
    "sales",
    "farm",
    "hospital",
    "delivery",
    "construction",
    "car",
    "software",
    "part-time",
    "full-time",
    "self-employed",
    "trainee",
    "staff",
    "deputy",
    "general",
    "district",
    "community",
    "home",
    "call",
    "centre",
    "center",
    "truck",
    "van",
    "train",
    "fork",
    "lift",
    "forklift",
    "dental",
    "veterinary",
    "nursery",
    "kitchen",
    "catering",
    "cleaning",
    "building",
    "steel",
    "dock",
    "hgv",
    // Degrees and years of study before "student", "researcher".
    "phd",
    "msc",
    "postgraduate",
    "undergraduate",
    "graduate",
    "doctoral",
    "postdoctoral",
    "mature",
    "university",
    "college",
];

const PROFESSION_TRIGGERS: &[&[&str]] = &[
    &["works", "as"],
    &["work", "as"],
    &["worked", "as"],
    &["working", "as"],
    &["employed", "as"],
    &["occupation"],
    &["job"],
    &["retired"],
    &["former"],
    &["formerly"],
    &["self-employed"],
    &["semi-retired"],
    &["ex"],
    &["profession"],
    &["trained", "as"],
    &["as", "a"],
    &["as", "an"],
    &["is", "a"],
    &["was", "a"],
    &["is", "an"],
    &["was", "an"],
    &["previously", "a"],
    &["previously", "an"],
    &["part-time", "as"],
    &["full-time", "as"],
    &["shifts", "as"],
    &["im", "a"],
    &["i'm", "a"],
    // "She's a nurse", "he's an electrician": the possessive form only.
    &["she"],
    &["he"],
    &["am", "a"],
    &["nights", "as"],
    &["days", "as"],
    &["job", "as"],
    // "a 47 year old HGV driver"
    &["year", "old"],
    &["years", "old"],
    &["yr", "old"],
    &["yo"],
];

const ORG_TRIGGERS: &[&[&str]] = &[
    &["works", "at"],
    &["works", "for"],
    &["worked", "at"],
    &["worked", "for"],
    &["employed", "by"],
    &["employed", "at"],
    &["employer"],
];

const PLACE_PREPOSITIONS: &[&str] = &[
    "in", "from", "to", "at", "near", "lives", "living", "moved", "visiting", "born", "of",
    "outside", "around", "towards", "via", "resident",
];

/// "Kirkby-in-Ashfield", "Stratford-upon-Avon", "Newcastle-under-Lyme",
/// "Weston-super-Mare", "Chapel-en-le-Frith": capitalised parts joined by a
/// lower-case place connector.
/// Lower-case particles inside a name ("de la Cruz", "van der Merwe",
/// "bin Rashid").
fn is_particle(k: &str) -> bool {
    matches!(
        k,
        "de" | "la"
            | "del"
            | "della"
            | "van"
            | "von"
            | "der"
            | "den"
            | "da"
            | "di"
            | "dos"
            | "das"
            | "du"
            | "le"
            | "ter"
            | "ten"
            | "bin"
            | "ibn"
            | "al"
            | "el"
            | "ap"
            | "y"
    )
}

fn hyphenated_place(surface: &str) -> bool {
    let parts: Vec<&str> = surface.split('-').collect();
    parts.len() >= 3
        && parts[0].len() >= 3
        && parts[0].starts_with(char::is_uppercase)
        && !["mother", "father", "son", "daughter", "brother", "sister"]
            .iter()
            .any(|r| parts[0].eq_ignore_ascii_case(r))
        && parts
            .last()
            .is_some_and(|p| p.len() >= 3 && p.starts_with(char::is_uppercase))
        && parts[1..parts.len() - 1].iter().all(|p| {
            matches!(
                *p,
                "in" | "on"
                    | "upon"
                    | "under"
                    | "le"
                    | "la"
                    | "by"
                    | "cum"
                    | "en"
                    | "sur"
                    | "super"
                    | "next"
                    | "the"
                    | "de"
                    | "lès"
                    | "sous"
                    | "am"
                    | "an"
                    | "der"
            )
        })
}

/// Whether the text between two words parts table columns or form fields:
/// a run of spaces or a tab ("Tucker   Ward: 7B", "Mbeki   Grade 7").
fn column_gap(gap: &str) -> bool {
    gap.contains("  ") || gap.contains('\t')
}

/// Words kept when a place-dictionary hit is in fact the start of an eponym
/// or a common clinical phrase ("Down syndrome", "Reading glasses").
fn eponym_follows(text: &str, words: &[Word], i: usize) -> bool {
    let w = &words[i];
    if let Some(next) = words.get(i + 1) {
        if next.line == w.line && next.has(EPONYM_NOUN) {
            let between = text[w.end..next.start]
                .trim_start_matches("'s")
                .trim_start_matches("’s")
                .trim_start_matches(['\'', '’']);
            // "Mbeki-Carter   Grade 7": the noun is in the next column.
            if !column_gap(between) && (between.trim().is_empty() || between.trim() == "-") {
                return true;
            }
        }
    }
    let before = &text[..w.start];
    before.ends_with("non-") || before.ends_with("Non-")
}

struct Ctx<'a> {
    text: &'a str,
    words: Vec<Word<'a>>,
    /// Indices of the words that can open a rule (in a trigger list,
    /// possessive or hyphenated), in order: most rules start only from
    /// one of these, so they walk this short list, not every word.
    triggers: Vec<u32>,
    lex: &'static Lexicon,
    /// Per word: a category already assigned and its confidence.
    tag: Vec<Option<(Category, &'static str, f32)>>,
    /// Spans that do not align with whole words.
    extra: Vec<Span>,
}

impl Ctx<'_> {
    fn looks_capitalised(&self, i: usize) -> bool {
        let w = &self.words[i];
        matches!(w.shape, Shape::Title | Shape::Upper) || !w.cased_line
    }

    fn is_stop(&self, i: usize) -> bool {
        self.words[i].has(STOP_WORD | TITLE)
    }

    fn in_names(&self, i: usize) -> bool {
        self.words[i].has(FIRST | SURNAME)
    }

    fn ambiguous(&self, i: usize) -> bool {
        self.words[i].has(COMMON | CLINICAL)
    }

    /// Whether exactly one space separates word `a` from the next word `b`
    /// (a byte test: no string slice for a check that runs per word).
    fn one_space_between(&self, a: usize, b: usize) -> bool {
        let (end, start) = (self.words[a].end, self.words[b].start);
        start == end + 1 && self.text.as_bytes()[end] == b' '
    }

    /// Whether nothing but spaces (and at most one '.', ',' or '-') separates two words on one line.
    fn adjacent(&self, a: usize, b: usize, allow_comma: bool) -> bool {
        let (wa, wb) = (&self.words[a], &self.words[b]);
        if wa.line != wb.line {
            return false;
        }
        // The usual gap, one space, answers as the general path below would.
        if self.one_space_between(a, b) {
            return true;
        }
        let gap = &self.text[wa.end..wb.start];
        let gap = gap
            .trim_start_matches(['\'', '’'])
            .trim_start_matches(['s', 'S']);
        let gap = if gap.len() < self.text[wa.end..wb.start].len() && !wa.possessive {
            &self.text[wa.end..wb.start]
        } else {
            gap
        };
        // "Tucker   Ward: 7B": a run of spaces or a tab parts table columns
        // and form fields, never the words of one name.
        if gap.len() > 4 || column_gap(gap) {
            return false;
        }
        // At most one separator among the spaces (no allocation: this runs per word pair).
        let mut marks = gap.chars().filter(|c| !c.is_whitespace());
        match (marks.next(), marks.next()) {
            (None, _) => true,
            (Some('.' | '-'), None) => true,
            (Some(','), None) => allow_comma,
            _ => false,
        }
    }

    /// A word that may be part of a name once context says a name is here.
    /// Whether word `i` is a letter of a dotted credential after a name
    /// ("KIRK, JANE M.D.", "NIXON, M.D.", "R.N."): its letters, read
    /// together, are a credential, so none of them is an initial.
    fn in_dotted_credential(&self, i: usize) -> bool {
        let b = self.text.as_bytes();
        let w = &self.words[i];
        let dotted = b.get(w.end) == Some(&b'.') || b[..w.start].ends_with(b".");
        if w.end - w.start > 2 || !dotted {
            return false;
        }
        // The run of letters joined by full stops around the word.
        let mut from = w.start;
        while from >= 2 && b[from - 1] == b'.' && b[from - 2].is_ascii_alphabetic() {
            let mut k = from - 2;
            while k > 0 && b[k - 1].is_ascii_alphabetic() {
                k -= 1;
            }
            if from - 1 - k > 2 {
                break;
            }
            from = k;
        }
        let mut to = w.end;
        while to + 1 < b.len() && b[to] == b'.' && b[to + 1].is_ascii_alphabetic() {
            let mut k = to + 1;
            while k < b.len() && b[k].is_ascii_alphabetic() {
                k += 1;
            }
            if k - to - 1 > 2 {
                break;
            }
            to = k;
        }
        if from == w.start && to == w.end {
            return false;
        }
        let mut letters = [0u8; 8];
        let mut n = 0;
        for &c in &b[from..to] {
            if c.is_ascii_alphabetic() {
                if n == letters.len() {
                    return false;
                }
                letters[n] = c.to_ascii_lowercase();
                n += 1;
            }
        }
        std::str::from_utf8(&letters[..n]).is_ok_and(is_credential)
    }

    fn name_candidate(&self, i: usize) -> bool {
        let w = &self.words[i];
        // "son gary", "husband pat": a kin word is never part of the name
        // it introduces (even "Son", also a surname).
        if self.is_stop(i)
            || w.glued_digit
            || w.has(ROLE | RELATION)
            || self.in_dotted_credential(i)
        {
            return false;
        }
        // Specialties and clinical words end a name run unless they are names too.
        if w.has(CLINICAL) && !self.in_names(i) {
            return false;
        }
        if w.cased_line {
            matches!(w.shape, Shape::Title | Shape::Upper)
                || (w.shape == Shape::Lower && self.in_names(i) && !w.has(COMMON))
        } else {
            // Caseless line: anything alphabetic that is not an everyday or clinical word,
            // or that is a name even if it is also a word. In a line
            // written all in lower case ("spoke to betty needs more
            // help"), not a verb or function word that the surname list
            // also holds: there it is the sentence going on, unless a
            // title says otherwise ("dr good").
            if w.shape == Shape::Lower
                && LOWER_CASE_NOT_NAMES.binary_search(&w.key.as_str()).is_ok()
                && !(i > 0 && self.words[i - 1].has(TITLE))
            {
                return false;
            }
            !w.has(CLINICAL) && (self.in_names(i) || !w.has(COMMON)) && w.key.len() >= 2
        }
    }

    fn set(&mut self, i: usize, c: Category, det: &'static str, conf: f32) {
        match self.tag[i] {
            Some((_, _, old)) if old >= conf => {}
            _ => self.tag[i] = Some((c, det, conf)),
        }
    }

    /// Tags up to `max` name words starting at `i`; returns how many were tagged.
    fn take_name_run(&mut self, i: usize, max: usize, det: &'static str, conf: f32) -> usize {
        let mut n = 0;
        let mut j = i;
        while j < self.words.len() && n < max {
            if j > i && !self.adjacent(j - 1, j, n == 1) {
                break;
            }
            // "with Dr Jones. Letrozole to start": a full stop after a
            // whole word ends the sentence, and the name with it.
            if n > 0 && !single_char(&self.words[j - 1].key) {
                let gap = &self.text[self.words[j - 1].end..self.words[j].start];
                if gap.contains('.') {
                    break;
                }
            }
            // Skip a title in "Dear Dr Smith" / "Name: Mrs Jane Smith".
            if self.words[j].has(TITLE) && n == 0 {
                j += 1;
                continue;
            }
            let w = &self.words[j];
            let initial = single_char(&w.key)
                && w.shape != Shape::Lower
                && self.words.get(j + 1).is_some_and(|n| n.line == w.line)
                && !self.in_dotted_credential(j);
            if !initial && (!self.name_candidate(j) || w.has(CREDENTIAL)) {
                break;
            }
            if eponym_follows(self.text, &self.words, j) {
                break;
            }
            self.set(j, Category::Name, det, conf);
            n += 1;
            if self.words[j].possessive {
                break;
            }
            j += 1;
        }
        n
    }

    /// After "Name:" anything name-like is the name, whatever its case ("Name: duke").
    /// `named`: the label asks for a name ("Name:", "Patient:"), so even an
    /// everyday word after it is taken.
    fn take_field_run(&mut self, i: usize, max: usize, named: bool) {
        let mut n = 0;
        let mut j = i;
        while j < self.words.len() && n < max {
            let w = &self.words[j];
            if j > i && !self.adjacent(j - 1, j, n == 1) {
                break;
            }
            // "Name: Ahmed Al-Farouk Dob: 1/1/50": a word before a colon is
            // the next field's label. (A run of spaces or a tab between
            // fields, "HORNE   Forename:", already fails `adjacent`.)
            if n > 0
                && self.text[w.end..]
                    .trim_start_matches(['.', ' '])
                    .starts_with(':')
            {
                break;
            }
            if n == 0 && (w.has(TITLE) || w.has(RELATION)) {
                j += 1;
                continue;
            }
            let k = w.key.as_str();
            // "U&E": a letter joined to "&" or "/" is an abbreviation.
            if single_char(k) && self.text[w.end..].starts_with(['&', '/']) {
                break;
            }
            // "KIRK, JANE M.D.": the credential ends the name.
            if self.in_dotted_credential(j) {
                break;
            }
            let initial = single_char(k) && w.shape != Shape::Lower;
            // "Baby: weight 3,890 g", "Risk to baby - low": a lower-case
            // everyday word in mixed-case text is prose, not a name.
            let prose = n == 0
                && !named
                && w.cased_line
                && w.shape == Shape::Lower
                && w.has(COMMON)
                && !w.has(FIRST);
            if !initial
                && (self.is_stop(j)
                    || prose
                    || w.glued_digit
                    || w.has(ROLE | CREDENTIAL)
                    || (w.has(CLINICAL) && !self.in_names(j)))
            {
                break;
            }
            let possessive = w.possessive;
            self.set(j, Category::Name, "name_field", 0.9);
            n += 1;
            // "Dr. Ng's care team": what follows a possessive is hers.
            if possessive {
                break;
            }
            j += 1;
        }
    }

    /// Cues that follow a name: "Gonçalves, PGY-2", "Grant Staff Nurse",
    /// "gabriel graham (son)", and patient initials on handover beds ("Bed 14: LK 58F").
    fn cues_after(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            let cue_credential = self.words[i].has(CREDENTIAL)
                && i > 0
                && self.words[i - 1].line == self.words[i].line
                && {
                    let gap = &self.text[self.words[i - 1].end..self.words[i].start];
                    gap == ", " || gap == " "
                }
                && (self.words[i].shape != Shape::Lower || !self.words[i].cased_line);
            let cue_relation = self.words[i].has(RELATION)
                && i > 0
                && self.text[..self.words[i].start].ends_with('(')
                && self.text[self.words[i].end..].starts_with(')');
            if !(cue_credential || cue_relation) {
                continue;
            }
            // Walk back over the name.
            let mut j = i;
            let mut taken = 0;
            while j > 0 && taken < 3 {
                let p = j - 1;
                if self.words[p].line != self.words[i].line {
                    break;
                }
                let gap_ok = if p + 1 == i {
                    true
                } else {
                    self.adjacent(p, p + 1, false)
                };
                let w = &self.words[p];
                let lower_name = w.shape == Shape::Lower
                    && self.in_names(p)
                    && (!w.cased_line || !w.has(COMMON));
                let ok = gap_ok
                    && !self.is_stop(p)
                    && !w.glued_digit
                    && !w.has(ROLE)
                    && !w.has(CREDENTIAL)
                    && (!w.has(CLINICAL) || self.in_names(p))
                    && (self.name_candidate(p) || lower_name);
                if !ok {
                    break;
                }
                self.set(p, Category::Name, "name_before_role", 0.8);
                taken += 1;
                j = p;
            }
        }
        // Handover beds: "Bed 14: LK 58F".
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            let w = &self.words[i];
            if !w.has(LOOP_CUE) || w.key != "bed" {
                continue;
            }
            let rest = &self.text[w.end..];
            let digits = rest
                .trim_start()
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                continue;
            }
            if let Some(n) = self.words.get(i + 1) {
                let initials =
                    n.shape == Shape::Upper && (2..=3).contains(&n.key.len()) && n.line == w.line;
                let gap = &self.text[w.end..n.start];
                if initials && gap.len() <= digits + 4 && gap.contains(':') {
                    self.set(i + 1, Category::Name, "bed_initials", 0.8);
                }
            }
        }
        // Surname first at the start of a line: "KEMP, Penny".
        for i in 1..self.words.len() {
            let (a, b) = (&self.words[i - 1], &self.words[i]);
            let line_start = i == 1 || self.words[i - 2].line != a.line;
            if line_start
                && a.shape == Shape::Upper
                && b.shape == Shape::Title
                && self.text[a.end..b.start].trim() == ","
                && a.has(SURNAME)
                && b.has(FIRST)
            {
                self.set(i - 1, Category::Name, "surname_first", 0.85);
                self.set(i, Category::Name, "surname_first", 0.85);
            }
        }
        // Handover tables: "17 | Mason | 76 | segmental PE".
        let mut line_start = 0;
        let has_pipe = memchr::memchr(b'|', self.text.as_bytes()).is_some();
        for line in self
            .text
            .split('\n')
            .take(if has_pipe { usize::MAX } else { 0 })
        {
            if !line.contains('|') {
                line_start += line.len() + 1;
                continue;
            }
            let cells: Vec<&str> = line.split('|').collect();
            if cells.len() >= 3
                && cells[0].trim().chars().all(|c| c.is_ascii_alphanumeric())
                && cells[0].trim().chars().any(|c| c.is_ascii_digit())
            {
                let cell_start = line_start + cells[0].len() + 1;
                let cell_end = cell_start + cells[1].len();
                let looks_like_name = cells[1].split_whitespace().count() <= 3
                    && cells[1]
                        .split_whitespace()
                        .all(|w| w.starts_with(char::is_uppercase));
                if looks_like_name {
                    for k in 0..self.words.len() {
                        let w = &self.words[k];
                        if w.start >= cell_start && w.end <= cell_end && !self.is_stop(k) {
                            self.set(k, Category::Name, "table_name", 0.8);
                        }
                    }
                }
            }
            line_start += line.len() + 1;
        }
        // An initial before a surname: "A. Duke", "R Moody".
        for i in 1..self.words.len() {
            let (a, b) = (&self.words[i - 1], &self.words[i]);
            let initial = a.shape == Shape::Title
                && single_char(&a.key)
                && !a.glued_digit
                && !self.text[..a.start].ends_with(']');
            if !initial {
                continue;
            }
            // With its full stop an initial vouches for any unknown word: "M. Delacroix".
            let dotted_unknown = self.text[a.end..].starts_with('.')
                && !b.has(COMMON | CLINICAL | STOP_WORD | TITLE)
                && b.key.chars().nth(2).is_some();
            if initial
                && b.shape == Shape::Title
                && self.adjacent(i - 1, i, false)
                && (b.has(SURNAME) || dotted_unknown)
                && !b.has(CLINICAL)
                && !eponym_follows(self.text, &self.words, i)
                && (!matches!(a.key.as_str(), "a" | "i") || self.text[a.end..].starts_with('.'))
                && !self.text[..a.start]
                    .trim_end()
                    .ends_with(|c: char| c.is_ascii_digit())
            {
                self.set(i - 1, Category::Name, "initial_surname", 0.75);
                self.set(i, Category::Name, "initial_surname", 0.75);
            }
        }
    }

    fn matches_phrase(&self, i: usize, phrase: &[&str]) -> bool {
        phrase.iter().enumerate().all(|(k, p)| {
            self.words
                .get(i + k)
                .is_some_and(|w| w.key == *p && (k == 0 || w.line == self.words[i].line))
        })
    }

    fn colon_after(&self, last: usize) -> bool {
        let w = &self.words[last];
        let rest = self.text[w.end..].trim_start_matches([' ', '\t']);
        rest.starts_with(':') || rest.starts_with('-') || rest.starts_with('=')
    }

    fn titles(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(TITLE) {
                continue;
            }
            let k = self.words[i].key.as_str();
            // "nurse" and "sister" in prose are nouns; need a capital or a caseless line.
            let w = &self.words[i];
            if w.shape == Shape::Lower && w.cased_line && !matches!(k, "mr" | "mrs" | "ms" | "dr") {
                continue;
            }
            if i + 1 < self.words.len() && self.adjacent(i, i + 1, false) {
                // "Dr van den Berg", "Mr de la Cruz": lower-case particles
                // between the title and a capitalised surname are the
                // surname's, though "van" and "den" are also words.
                let mut j = i + 1;
                while j < self.words.len()
                    && j < i + 4
                    && self.words[j].shape == Shape::Lower
                    && self.words[j].cased_line
                    && is_particle(&self.words[j].key)
                    && self.adjacent(j - 1, j, false)
                {
                    j += 1;
                }
                let surname = j > i + 1
                    && j < self.words.len()
                    && self.words[j].shape == Shape::Title
                    && self.adjacent(j - 1, j, false)
                    && self.name_candidate(j);
                if surname {
                    if self.take_name_run(j, 2, "title", 0.95) > 0 {
                        for p in i + 1..j {
                            self.set(p, Category::Name, "title", 0.95);
                        }
                    }
                } else {
                    self.take_name_run(i + 1, 3, "title", 0.95);
                }
            }
        }
    }

    fn labels(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(LABEL_HEAD) {
                continue;
            }
            let Some(candidates) = sets().labels_by_head.get(self.words[i].key.as_str()) else {
                continue;
            };
            for &label in candidates {
                if !self.matches_phrase(i, label) {
                    continue;
                }
                let last = i + label.len() - 1;
                let colon = self.colon_after(last);
                if sets().colon_only.contains(&label[0]) && !colon {
                    continue;
                }
                let next = last + 1;
                if next >= self.words.len() || self.words[next].line != self.words[last].line {
                    continue;
                }
                let is_relation =
                    sets().relations.contains(&label[0]) || ROLE_BEFORE_NAME.contains(&label[0]);
                // A relation word followed by a lower-case word is prose ("son is well").
                let gap = &self.text[self.words[last].end..self.words[next].start];
                // Only separators a field or a phrase uses: not a sentence end.
                // A table cell ("| Name | Jo Bloggs |") is a field like "Name:".
                if gap.len() > 6
                    || !gap.chars().all(|c| {
                        matches!(
                            c,
                            ' ' | '\t' | ':' | '-' | '=' | '#' | '(' | ',' | '|' | '"' | '“'
                        )
                    })
                {
                    continue;
                }
                let colon = colon || gap.trim() == "|";
                let conf = if colon { 0.9 } else { 0.8 };
                // "re: appt 2morrow", "confused re: name of gp": in lower-case
                // writing "re:" is "about", and only a known name after it is one.
                if label[0] == "re"
                    && self.words[next].shape == Shape::Lower
                    && !self.in_names(next)
                {
                    continue;
                }
                if sets().weak_labels.contains(&label[0]) {
                    let n = next;
                    let strong = self.words[n].has(TITLE)
                        || (self.in_names(n) && !self.ambiguous(n) && self.looks_capitalised(n));
                    if !strong {
                        continue;
                    }
                }
                // A staff role's colon starts a note as often as a name ("OT: kitchen
                // assessment"), so only name-like words count after it.
                let staff_role = matches!(
                    label[0],
                    "nurse"
                        | "nic"
                        | "hca"
                        | "physio"
                        | "ot"
                        | "slt"
                        | "odp"
                        | "cns"
                        | "anp"
                        | "ward"
                        | "matron"
                        | "dietitian"
                        | "triage"
                );
                // "HEALTH VISITOR - NEW BIRTH VISIT": a dash in a line of
                // capitals is a heading's, unless a listed name follows.
                let named = matches!(
                    label[0],
                    "name" | "patient" | "pt" | "surname" | "forename" | "forenames"
                );
                let heading = gap.trim() == "-" && !self.words[next].cased_line && !named;
                if colon && !is_relation && !staff_role && !heading {
                    self.take_field_run(next, 4, named);
                    continue;
                }
                if is_relation && !colon {
                    // "her daughter Jane": only a capitalised word that could be a name.
                    if self.words[next].shape == Shape::Title
                        && self.words[next].cased_line
                        && !self.is_stop(next)
                        || (!self.words[next].cased_line && self.in_names(next))
                        || (self.words[next].shape == Shape::Lower
                            && self.words[next].has(FIRST)
                            && !self.ambiguous(next))
                    {
                        self.take_name_run(next, 3, "relation", 0.8);
                    }
                    continue;
                }
                self.take_name_run(next, 4, "label", conf);
            }
        }
    }

    fn signatures(&mut self) {
        const CUES: &[&[&str]] = &[
            &["yours", "sincerely"],
            &["yours", "faithfully"],
            &["yours", "truly"],
            &["kind", "regards"],
            &["best", "wishes"],
            &["many", "thanks"],
            &["regards"],
        ];
        for t in 0..self.triggers.len() {
            let c = self.triggers[t] as usize;
            // Every sign-off starts with one of these words: skip the rest cheaply.
            if !self.words[c].has(LOOP_CUE)
                || !matches!(
                    self.words[c].key.as_str(),
                    "yours" | "kind" | "best" | "many" | "regards"
                )
            {
                continue;
            }
            let Some(cue) = CUES.iter().find(|cue| self.matches_phrase(c, cue)) else {
                continue;
            };
            let last = &self.words[c + cue.len() - 1];
            // A bare "regards" is a sign-off only with its comma ("Regards,").
            if cue.len() == 1 && !self.text[last.end..].starts_with(',') {
                continue;
            }
            // The next one or two non-empty lines hold the signer.
            let first = c + cue.len();
            let Some(line0) = self.words.get(first).map(|w| w.line) else {
                continue;
            };
            for i in first..self.words.len() {
                if self.words[i].line > line0 + 1 {
                    break;
                }
                let line_start = i == 0 || self.words[i - 1].line != self.words[i].line;
                // "Many thanks, Rutger": the signer may follow on the cue's line.
                let after_cue_comma = i == first
                    && self.text[self.words[i - 1].end..self.words[i].start].trim() == ",";
                if (line_start || after_cue_comma) && self.name_candidate(i) {
                    self.take_name_run(i, 4, "signature", 0.85);
                }
            }
        }
    }

    /// Surname shapes that ordinary words do not have: "O'Sullivan", "D'Souza",
    /// "McTavish", "MacLeod", and double-barrelled names with a known half
    /// ("Adebayo-Smith", "Smith-Jones").
    fn name_shaped(&self, i: usize) -> bool {
        let w = &self.words[i];
        let surface = &self.text[w.start..w.end];
        let b = surface.as_bytes();
        let apostrophe_prefix = b.len() >= 4
            && matches!(b[0], b'O' | b'D')
            && (b[1] == b'\'' || surface[1..].starts_with('’'));
        let mac = (surface.starts_with("Mc") && b.len() > 3 && b[2].is_ascii_uppercase())
            || (surface.starts_with("Mac") && b.len() > 4 && b[3].is_ascii_uppercase());
        if apostrophe_prefix || mac {
            return true;
        }
        if !surface.contains('-') {
            return false;
        }
        let parts: Vec<&str> = surface.split('-').collect();
        let part_flags: Vec<u32> = parts
            .iter()
            .map(|p| {
                let lower = p.to_lowercase();
                flags_of(&lower) | lexicon_flag_map().get(lower.as_str()).copied().unwrap_or(0)
            })
            .collect();
        parts.len() == 2
            && parts
                .iter()
                .all(|p| p.starts_with(char::is_uppercase) && p.len() >= 2)
            && part_flags.iter().any(|f| f & (FIRST | SURNAME) != 0)
            && part_flags
                .iter()
                .all(|f| f & (CLINICAL | STOP_WORD | TITLE) == 0)
    }

    /// For a capitalised word no list knows, mid-sentence: not a header
    /// value ("Exam: Bibasal"), not hyphenated ("Contrast-enhanced"), not a
    /// medical or drug word by its ending ("Laparotomy", "Ischaemic",
    /// "Ticagrelor"), not a common abbreviation ("Hosp").
    fn unknown_word_could_be_a_name(&self, i: usize) -> bool {
        let w = &self.words[i];
        let k = w.key.as_str();
        let before = self.text[..w.start].trim_end_matches([' ', '\t']);
        if before.is_empty()
            || before.ends_with([':', '-', '\n', '•', '*', '>', '#', '=', '|', '/', '"', '['])
        {
            return false;
        }
        if self.text[w.start..w.end].contains(['-', '\'', '’']) {
            return false;
        }
        if !name_like_capitals(&self.text[w.start..w.end]) {
            return false;
        }
        const MEDICAL_ENDINGS: &[&str] = &[
            "otomy",
            "ectomy",
            "ostomy",
            "scopy",
            "graphy",
            "gram",
            "plasty",
            "itis",
            "osis",
            "aemia",
            "emia",
            "uria",
            "algia",
            "pathy",
            "ology",
            "ologist",
            "iatric",
            "ician",
            "ism",
            "ous",
            "oid",
            "ular",
            "ary",
            "ive",
            "ical",
            "atic",
            "etic",
            "otic",
            "itic",
            "emic",
            "ytic",
            "ior",
            "eal",
            "ial",
            "inal",
            "onal",
            "asal",
            "ural",
            "atal",
            "ment",
            "ness",
            "ity",
            "ance",
            "ence",
            "ing",
            "ed",
            "ly",
            "ist",
            "mab",
            "nib",
            "pril",
            "sartan",
            "olol",
            "azole",
            "mycin",
            "cillin",
            "statin",
            "pine",
            "pam",
            "lam",
            "tide",
            "gliptin",
            "floxacin",
            "vir",
            "parin",
            "xaban",
            "gatran",
            "relor",
            "phylline",
            "sone",
            "olone",
            "semide",
            "thiazide",
            "dronate",
            "prazole",
            "tidine",
            "triptan",
            "setron",
            "afil",
            "zosin",
            "terol",
            "tropium",
            "sonide",
            "caine",
            "profen",
            "fenac",
            "codone",
            "morphone",
            "dipine",
            "formin",
            "glitazone",
            "gliflozin",
            "lutide",
            "tecan",
            "platin",
            "taxel",
            "rubicin",
            "trexate",
            "umab",
            "ximab",
            "zumab",
            "cept",
            "kinase",
            "ase",
            "cyte",
            "blast",
            "coccus",
            "bacter",
            "virus",
            "ae",
            "um",
        ];
        if MEDICAL_ENDINGS
            .iter()
            .any(|e| k.len() > e.len() + 2 && k.ends_with(e))
        {
            return false;
        }
        !matches!(
            k,
            "hosp"
                | "dept"
                | "appt"
                | "approx"
                | "amb"
                | "tel"
                | "mob"
                | "ref"
                | "pls"
                | "thx"
                | "obs"
                | "meds"
                | "hgb"
                | "plt"
                | "fhx"
                | "shx"
                | "pmhx"
                | "dhx"
                | "hpi"
                | "ros"
                | "bmi"
                | "callback"
                | "covid"
                | "mrsa"
                | "cdiff"
                | "mon"
                | "tue"
                | "tues"
                | "wed"
                | "thu"
                | "thur"
                | "thurs"
                | "fri"
                | "sat"
                | "sun"
        )
    }

    fn dictionary(&mut self) {
        for i in 0..self.words.len() {
            if self.tag[i].is_some() || !self.looks_capitalised(i) || self.is_stop(i) {
                continue;
            }
            let w = &self.words[i];
            let k = w.key.as_str();
            if k.len() < 2
                || w.glued_digit
                || w.has(ROLE)
                || self.ambiguous(i)
                || eponym_follows(self.text, &self.words, i)
            {
                continue;
            }
            // A lone upper-case word in mixed text is more often an acronym.
            if w.shape == Shape::Upper && w.cased_line && k.len() <= 3 {
                continue;
            }
            if !w.cased_line && k.len() < 3 {
                continue;
            }
            if w.has(FIRST) {
                self.set(i, Category::Name, "first_name", 0.75);
            } else if w.shape == Shape::Title && w.cased_line && self.name_shaped(i) {
                self.set(i, Category::Name, "name_shape", 0.7);
            } else if w.shape == Shape::Upper && w.cased_line {
                // "TIMI", "NSTEMI": capitals inside prose are acronyms more often than surnames.
            } else if w.has(SURNAME) {
                self.set(i, Category::Name, "surname", 0.65);
            } else if w.shape == Shape::Title && hyphenated_place(&self.text[w.start..w.end]) {
                self.set(i, Category::Location, "hyphenated_place", 0.7);
            } else if w.shape == Shape::Title
                && w.cased_line
                && !w.sentence_start
                && k.len() >= 3
                && !w.has(UNKNOWN_WORD_EXCLUDES)
                && self.unknown_word_could_be_a_name(i)
            {
                // A capitalised word mid-sentence that no list knows
                // ("Message left for Thandiwe"): more often a name than
                // anything else in a note; a missed name costs more. After
                // "in" or "near" ("holiday in Tenerife", "lives in the
                // Bronx") it is a place.
                let mut p = i;
                if p > 0 && self.words[p - 1].key.as_str() == "the" {
                    p -= 1;
                }
                let place = p > 0
                    && matches!(self.words[p - 1].key.as_str(), "in" | "near")
                    && self.words[p - 1].shape == Shape::Lower
                    && (p - 1..i).all(|k| self.one_space_between(k, k + 1))
                    && !w.possessive;
                if place {
                    self.set(i, Category::Location, "unknown_place", 0.5);
                } else {
                    self.set(i, Category::Name, "unknown_capitalised", 0.5);
                }
            }
        }
    }

    /// Grows every name to neighbouring name-like words: "Amelia Rose", "J. Smith".
    fn extend(&mut self) {
        let n = self.words.len();
        for _ in 0..2 {
            for i in 0..n {
                let Some((Category::Name, from, _)) = self.tag[i] else {
                    continue;
                };
                // A name only guessed from its shape grows only to words
                // that are names and not also words ("Later Okonkwo").
                let guessed = from == "unknown_capitalised";
                for j in [i.wrapping_sub(1), i + 1] {
                    if j >= n || self.tag[j].is_some() {
                        continue;
                    }
                    let (a, b) = if j < i { (j, i) } else { (i, j) };
                    if !self.adjacent(a, b, false) || !self.name_candidate(j) {
                        continue;
                    }
                    if eponym_follows(self.text, &self.words, j) {
                        continue;
                    }
                    // "Dear Simon": the label that found the name is not
                    // part of it, even where a surname list holds it.
                    if j < i && self.words[j].has(LABEL_HEAD) && !self.words[j].has(FIRST) {
                        continue;
                    }
                    // Not past a full stop after a whole word ("… Liverpool.
                    // Letrozole to start"), nor from "Easpaig's" to what is
                    // hers ("Easpaig's OGTT").
                    let gap = &self.text[self.words[a].end..self.words[b].start];
                    let abbreviation = single_char(&self.words[a].key)
                        || matches!(self.words[a].key.as_str(), "st" | "mt" | "ft");
                    if (gap.contains('.') && !abbreviation) || self.words[a].possessive {
                        continue;
                    }
                    let w = &self.words[j];
                    // "ED", "SLNB": short capitals in mixed-case text are
                    // acronyms unless a name list knows them.
                    let acronym = w.has(CLINICAL) || w.key.len() >= 3;
                    if w.shape == Shape::Upper
                        && w.cased_line
                        && w.key.len() <= 4
                        && acronym
                        && !self.in_names(j)
                    {
                        continue;
                    }
                    let initial = single_char(&w.key) && w.shape != Shape::Lower;
                    let namey = self.in_names(j) || !w.has(COMMON);
                    // "Jane Smith" and "Smith, Jane" both; sentence starts only when namey.
                    // A first name that is also a word may still open a
                    // guessed surname mid-sentence ("Witnesses: Hope
                    // Oyelaran (HCA)"): forename then surname is a name's
                    // own order.
                    let forename = || {
                        j < i
                            && w.shape == Shape::Title
                            && w.cased_line
                            && !w.sentence_start
                            && w.has(FIRST)
                            && !w.has(CLINICAL)
                    };
                    if guessed && !initial && w.has(COMMON | CLINICAL) && !forename() {
                        continue;
                    }
                    if initial || (namey && !w.has(CLINICAL)) || self.in_names(j) {
                        self.set(j, Category::Name, "name_extension", 0.7);
                    }
                }
            }
        }
    }

    /// "Nneka Chukwuemeka, 31, G2P1", "Ahmed Farouk   79   Dx": two or three
    /// capitalised words that could be names, opening a line (or after a
    /// short label), followed by a bare age, are the patient's name.
    fn names_before_ages(&mut self) {
        let n = self.words.len();
        for i in 0..n {
            // Byte and line tests first: this runs for every word.
            let same_line = i > 0 && self.words[i - 1].line == self.words[i].line;
            // A table cell opens like a line: "23 | oliver | 37M |".
            let starts_cell =
                same_line && self.text.as_bytes()[..self.words[i].start].ends_with(b"| ");
            let starts_line = !same_line || starts_cell;
            let after_label = same_line
                && self.words[i - 1].has(RULE_CUE)
                && matches!(
                    self.words[i - 1].key.as_str(),
                    "pt" | "patient" | "child" | "client" | "name" | "resident" | "deceased"
                )
                && (i == 1 || self.words[i - 2].line != self.words[i].line);
            if !(starts_line || after_label) || self.tag[i].is_some() {
                continue;
            }
            let mut last = i;
            while last + 1 < n
                && last + 1 < i + 3
                && self.words[last + 1].line == self.words[i].line
                && (self.one_space_between(last, last + 1)
                    || (single_char(&self.words[last].key)
                        && &self.text[self.words[last].end..self.words[last + 1].start] == ". "))
            {
                last += 1;
            }
            // Try the longest run first: "Ahmed Farouk", then "Ahmed".
            for end in (i + 1..=last).rev() {
                let rest = &self.text[self.words[end].end..];
                if !bare_age_follows(rest) {
                    continue;
                }
                let all_namey = (i..=end).all(|j| {
                    let w = &self.words[j];
                    // "G. Wolf 69M": an initial before the surname.
                    if j < end && single_char(&w.key) && w.shape == Shape::Title {
                        return true;
                    }
                    self.looks_capitalised(j)
                        && self.name_candidate(j)
                        && !w.has(ROLE | CREDENTIAL | TITLE)
                        && (self.in_names(j) || !w.has(COMMON))
                });
                // Two unlisted words will do when both are written as names
                // ("Nneka Chukwuemeka, 31,"); one word must be in a list.
                let listed = (i..=end).any(|j| self.in_names(j));
                let titled = end > i
                    && (i..=end).all(|j| {
                        self.words[j].shape == Shape::Title
                            && self.words[j].cased_line
                            && !self.words[j].has(COMMON | CLINICAL)
                    });
                if all_namey && (listed || titled) {
                    for j in i..=end {
                        self.set(j, Category::Name, "name_before_age", 0.75);
                    }
                }
                break;
            }
        }
    }

    /// Messages from patients: "hiya its gemma", "this is darnell": a first
    /// name (from the census list, not an everyday word) after a greeting.
    fn self_introductions(&mut self) {
        let n = self.words.len();
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if i >= n.saturating_sub(1) {
                continue;
            }
            if !self.words[i].has(RULE_CUE) {
                continue;
            }
            let k = self.words[i].key.as_str();
            let lead = match k {
                "its" | "it's" | "im" | "i'm" => 1,
                "this" if self.words[i + 1].key == "is" => 2,
                "name"
                    if i > 0 && self.words[i - 1].key == "my" && self.words[i + 1].key == "is" =>
                {
                    2
                }
                _ => 0,
            };
            let j = i + lead;
            if lead == 0
                || j >= n
                || self.words[j].line != self.words[i].line
                || self.tag[j].is_some()
            {
                continue;
            }
            let w = &self.words[j];
            if !w.has(FIRST) || w.has(COMMON | CLINICAL) || !self.adjacent(j - 1, j, false) {
                continue;
            }
            self.set(j, Category::Name, "self_introduction", 0.75);
            if j + 1 < n
                && self.adjacent(j, j + 1, false)
                && self.words[j + 1].has(SURNAME)
                && !self.words[j + 1].has(COMMON | CLINICAL)
            {
                self.set(j + 1, Category::Name, "self_introduction", 0.75);
            }
        }
    }

    /// "(gemma pryce dob 3/8/88)", "Jo Bloggs DOB 1.2.45": the words just
    /// before a date-of-birth label, at the start of a line or bracket.
    fn names_before_dob(&mut self) {
        for t in 0..self.triggers.len() {
            let d = self.triggers[t] as usize;
            if d < 1 {
                continue;
            }
            if !self.words[d].has(RULE_CUE)
                || !matches!(self.words[d].key.as_str(), "dob" | "d.o.b")
            {
                continue;
            }
            let mut first = d;
            while first > 0
                && d - first < 3
                && self.words[first - 1].line == self.words[d].line
                && self.adjacent(first - 1, first, false)
            {
                first -= 1;
            }
            if first == d {
                continue;
            }
            // The run must open its line or a bracket, or follow a colon.
            let before = self.text[..self.words[first].start].trim_end_matches([' ', '\t']);
            if !(before.is_empty() || before.ends_with(['\n', '(', ':', ','])) {
                continue;
            }
            let ok = (first..d).all(|j| {
                let w = &self.words[j];
                self.name_candidate(j)
                    && !w.has(ROLE | CREDENTIAL | TITLE | CLINICAL)
                    && (self.in_names(j) || !w.has(COMMON))
                    && !matches!(w.key.as_str(), "pt" | "patient" | "name" | "re")
            });
            if ok && (first..d).any(|j| self.in_names(j)) {
                for j in first..d {
                    self.set(j, Category::Name, "name_before_dob", 0.8);
                }
            }
        }
    }

    /// "partner rice travelled with him", "sister SUE CANTRELL travelled
    /// with her", "wife Mary at bedside": one or two name words between a
    /// word for a relative and a verb of coming, calling or being there,
    /// whatever their case.
    fn companions(&mut self) {
        let n = self.words.len();
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(RELATION) {
                continue;
            }
            for k in [2, 1] {
                let v = i + k + 1;
                if v >= n || !(i..v).all(|j| self.one_space_between(j, j + 1)) {
                    continue;
                }
                let Some(pos) = COMPANION_VERBS
                    .iter()
                    .position(|w| *w == self.words[v].key.as_str())
                else {
                    continue;
                };
                let names = &self.text[self.words[i + 1].start..self.words[i + k].end];
                let lower = !names.chars().any(char::is_uppercase);
                let named = (i + 1..=i + k).all(|j| {
                    let w = &self.words[j];
                    !w.has(RELATION) && crate::layout::name_word(&self.text[w.start..w.end])
                });
                if named && !(lower && pos >= 10) {
                    for j in i + 1..=i + k {
                        self.set(j, Category::Name, "companion_name", 0.7);
                    }
                    break;
                }
            }
        }
    }

    /// "Present: AF, GO, LMcK, RD (radiology)": initials and names listed
    /// after an attendance label, each item a person.
    fn attendance_lists(&mut self) {
        let n = self.words.len();
        let mut i = 0;
        while i < n {
            if !self.words[i].has(RULE_CUE) {
                i += 1;
                continue;
            }
            let k = self.words[i].key.as_str();
            let label_end = match k {
                "present" | "attendees" | "attending" | "apologies" => Some(i),
                "in" if self.words.get(i + 1).is_some_and(|w| w.key == "attendance") => Some(i + 1),
                _ => None,
            };
            let Some(le) = label_end else {
                i += 1;
                continue;
            };
            // The label opens its line and ends in a colon.
            if (i > 0 && self.words[i - 1].line == self.words[i].line) || !self.colon_after(le) {
                i += 1;
                continue;
            }
            let line = self.words[le].line;
            let mut j = le + 1;
            let mut in_brackets = false;
            while j < n && self.words[j].line == line {
                let gap = &self.text[self.words[j - 1].end..self.words[j].start];
                if gap.contains('(') {
                    in_brackets = true;
                }
                if gap.contains(')') {
                    in_brackets = false;
                }
                let w = &self.words[j];
                let initials = (2..=5).contains(&w.key.len())
                    && w.key.chars().all(|c| c.is_alphabetic())
                    && self.text[w.start..w.end]
                        .chars()
                        .filter(|c| c.is_uppercase())
                        .count()
                        >= 2
                    && w.shape != Shape::Lower;
                if !in_brackets
                    && self.tag[j].is_none()
                    && (initials || (self.name_candidate(j) && self.looks_capitalised(j)))
                    && !w.has(ROLE | CREDENTIAL | TITLE | STOP_WORD)
                    && !self.in_dotted_credential(j)
                {
                    self.set(j, Category::Name, "attendance", 0.75);
                }
                j += 1;
            }
            i = j;
        }
    }

    /// Particles inside a name ("Yesenia de la Cruz", "Pieter van der Berg")
    /// and a nickname in quotes ('Clarence "Buddy" Odom').
    fn particles_and_nicknames(&mut self) {
        let n = self.words.len();
        let is_name =
            |t: &Option<(Category, &'static str, f32)>| matches!(t, Some((Category::Name, _, _)));
        for i in 0..n {
            if !is_name(&self.tag[i]) {
                continue;
            }
            // "Dr van der Merwe": particles between a title and the name.
            let mut k = i;
            while k > 0
                && k + 2 > i
                && self.tag[k - 1].is_none()
                && self.words[k - 1].shape == Shape::Lower
                && self.words[k - 1].cased_line
                && is_particle(&self.words[k - 1].key)
                && self.adjacent(k - 1, k, false)
            {
                k -= 1;
            }
            if k < i && k > 0 && self.adjacent(k - 1, k, false) && self.words[k - 1].has(TITLE) {
                for p in k..i {
                    self.set(p, Category::Name, "name_particle", 0.75);
                }
            }
            // Particles: one or two lower-case words, then a capitalised one.
            let mut j = i + 1;
            while j < n
                && j < i + 3
                && self.words[j].line == self.words[i].line
                && self.words[j].cased_line
                && is_particle(&self.words[j].key)
                && self.words[j].shape == Shape::Lower
                && self.adjacent(j - 1, j, false)
            {
                j += 1;
            }
            if j > i + 1
                && j < n
                && self.adjacent(j - 1, j, false)
                && self.words[j].shape == Shape::Title
                && self.name_candidate(j)
            {
                for k in i + 1..=j {
                    self.set(k, Category::Name, "name_particle", 0.75);
                }
            }
            // Irish patronymics written with a capital: "Siobhán Ní Bhriain",
            // "Cathal Mac Giolla", "Bríd Ó Súilleabháin".
            if i + 2 < n
                && self.words[i + 1].line == self.words[i].line
                && matches!(
                    self.words[i + 1].key.as_str(),
                    "ní" | "nic" | "ó" | "ua" | "mac" | "mhic" | "uí"
                )
                && self.adjacent(i, i + 1, false)
                && self.adjacent(i + 1, i + 2, false)
                && self.words[i + 2].shape == Shape::Title
            {
                self.set(i + 1, Category::Name, "name_particle", 0.75);
                self.set(i + 2, Category::Name, "name_particle", 0.75);
            }
            // Nickname: Name "Nick" [Surname]
            if i + 1 < n && self.words[i + 1].line == self.words[i].line {
                let gap = &self.text[self.words[i].end..self.words[i + 1].start];
                let after = &self.text[self.words[i + 1].end..];
                if matches!(gap, " \"" | " “" | " '")
                    && after.starts_with(['"', '”', '\''])
                    && self.looks_capitalised(i + 1)
                {
                    self.set(i + 1, Category::Name, "nickname", 0.75);
                    if i + 2 < n && self.words[i + 2].line == self.words[i].line {
                        let gap2 = &self.text[self.words[i + 1].end..self.words[i + 2].start];
                        if matches!(gap2, "\" " | "” " | "' ")
                            && self.words[i + 2].shape == Shape::Title
                            && self.name_candidate(i + 2)
                        {
                            self.set(i + 2, Category::Name, "nickname", 0.75);
                        }
                    }
                }
            }
        }
    }

    /// Jobs that name a trade and little else ("44, roofer", "(plasterer)",
    /// "former shipyard welder"): found without a cue, with a modifier
    /// before them. Clinical and office roles are left to the cued rules,
    /// because staff are named by role all through a note.
    fn standalone_professions(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(TRADE | TRADE_HEAD) {
                continue;
            }
            if self.tag[i].is_some() || self.words[i].shape == Shape::Mixed {
                continue;
            }
            // "Lasting power of attorney" is a document, not a job.
            if i > 0 && self.words[i - 1].key == "of" {
                continue;
            }
            let head_needs_modifier = self.words[i].has(TRADE_HEAD);
            if head_needs_modifier {
                let modified = i > 0
                    && self.words[i - 1].line == self.words[i].line
                    && self.one_space_between(i - 1, i)
                    && TRADE_HEAD_MODIFIERS.contains(&self.words[i - 1].key.as_str());
                if !modified {
                    continue;
                }
            }
            let mut first = i;
            // One or two modifiers: "shipyard", "sheep", "long-haul", "taxi".
            while first > 0
                && i - first < 2
                && self.words[first - 1].line == self.words[i].line
                && self.one_space_between(first - 1, first)
                && self.tag[first - 1].is_none()
            {
                let m = &self.words[first - 1];
                let mk = m.key.as_str();
                let modifier = sets().profession_modifiers.contains(&mk)
                    || TRADE_MODIFIERS.contains(&mk)
                    || TRADE_HEAD_MODIFIERS.contains(&mk)
                    || (mk == "customer" && first < i);
                if !modifier
                    || matches!(
                        mk,
                        "retired" | "former" | "part-time" | "full-time" | "self-employed"
                    )
                {
                    break;
                }
                first -= 1;
            }
            for w in first..=i {
                self.set(w, Category::Profession, "profession_trade", 0.7);
            }
        }
    }

    /// Every other mention of a name already found in this document.
    fn propagate(&mut self) {
        // One bit per name found, by its length and first byte: most
        // capitalised words match no bit and are ruled out without a
        // comparison with each name.
        let signature = |k: &str| 1u64 << ((k.len() * 31 + usize::from(k.as_bytes()[0])) & 63);
        let mut found: Vec<Key<'_>> = Vec::new();
        let mut signatures = 0u64;
        for i in 0..self.words.len() {
            if let Some((Category::Name, _, conf)) = self.tag[i] {
                let k = &self.words[i].key;
                if conf >= 0.7 && k.chars().nth(1).is_some() && !found.contains(k) {
                    signatures |= signature(k);
                    found.push(k.clone());
                }
            }
        }
        if found.is_empty() {
            return;
        }
        for i in 0..self.words.len() {
            // Cheap tests first: most words are lower case or already tagged.
            if self.tag[i].is_some()
                || !self.looks_capitalised(i)
                || signatures & signature(&self.words[i].key) == 0
                || !found.contains(&self.words[i].key)
            {
                continue;
            }
            if eponym_follows(self.text, &self.words, i) {
                continue;
            }
            // A name that is also a word ("Rose") propagates only mid-sentence.
            if self.ambiguous(i) && self.words[i].sentence_start {
                continue;
            }
            self.set(i, Category::Name, "propagated", 0.7);
        }
    }

    fn professions(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            // "Ex-miner", "ex-teacher"
            if let Some(rest) = self.words[i].key.strip_prefix("ex-") {
                if sets().professions.contains(&rest) || sets().trades.contains(&rest) {
                    let w = &self.words[i];
                    let (start, end) = (w.start + 3, w.end);
                    self.extra.push(Span {
                        start,
                        end,
                        category: Category::Profession,
                        detector: "profession",
                        confidence: 0.75,
                    });
                }
            }
            // "a 37-year-old teacher": the hyphenated age is one word.
            let year_old = {
                let k = self.words[i].key.as_str();
                k.ends_with("year-old") || k.ends_with("yr-old") || k.ends_with("years-old")
            };
            if !year_old && !self.words[i].has(PROF_HEAD) {
                continue;
            }
            let triggers: &[&[&str]] = sets()
                .profession_triggers_by_head
                .get(self.words[i].key.as_str())
                .map_or(&[], |t| t.as_slice());
            let after_trigger = triggers
                .iter()
                .filter(|trig| !matches!(trig[0], "she" | "he") || self.words[i].possessive)
                .filter(|trig| self.matches_phrase(i, trig))
                .map(|trig| i + trig.len())
                .chain(year_old.then_some(i + 1))
                .collect::<Vec<_>>();
            for mut j in after_trigger {
                // skip "a", "an"
                while j < self.words.len() && matches!(self.words[j].key.as_str(), "a" | "an") {
                    j += 1;
                }
                let mut k = j;
                while k < self.words.len()
                    && k < j + 4
                    && self.words[k].line == self.words[i].line
                    && (k == j || self.adjacent(k - 1, k, false))
                    && (self.words[k].has(PROFESSION)
                        || sets()
                            .profession_modifiers
                            .contains(&self.words[k].key.as_str()))
                {
                    k += 1;
                }
                // Only a run that ends in a profession is one ("retired" alone is not).
                while k > j && !self.words[k - 1].has(PROFESSION) {
                    k -= 1;
                }
                if k == j {
                    k = self.job_with_plain_modifiers(j, i);
                }
                // "retired", "part-time" describe the job; they are not the job.
                let mut first = j;
                while first < k
                    && matches!(
                        self.words[first].key.as_str(),
                        "retired" | "former" | "part-time" | "full-time" | "self-employed"
                    )
                {
                    first += 1;
                }
                for w in first..k {
                    self.set(w, Category::Profession, "profession", 0.75);
                }
                if k > j {
                    self.employer_after(k);
                }
            }
        }
    }

    /// After a job cue, a listed job word preceded by up to two plain
    /// lower-case words that say what kind ("retired electrical engineer",
    /// "works as a teaching assistant", "primary school teacher",
    /// "pharmacy technician"): the end of the run, or `j` when there is none.
    fn job_with_plain_modifiers(&self, j: usize, cue: usize) -> usize {
        /// Words that describe the person, not the job ("a keen cyclist").
        const DESCRIBES_THE_PERSON: &[&str] = &[
            "very",
            "pleasant",
            "known",
            "keen",
            "heavy",
            "lovely",
            "nice",
            "good",
            "busy",
            "fit",
            "healthy",
            "independent",
            "single",
            "married",
            "divorced",
            "widowed",
            "young",
            "old",
            "elderly",
            "frail",
            "new",
            "current",
            "regular",
            "occasional",
            "previous",
            "usual",
            "local",
            "chronic",
            "social",
            "ex",
            "non",
            // Labels: "Job title - quantity surveyor".
            "title",
            "role",
            "description",
            "type",
            "status",
        ];
        let line = self.words[cue].line;
        for h in j + 1..(j + 3).min(self.words.len()) {
            let w = &self.words[h - 1];
            // "HGV driver", "IT consultant", "ICU nurse": a short acronym
            // says what kind as well as a plain word does.
            let acronym = w.shape == Shape::Upper
                && (2..=4).contains(&w.key.len())
                && w.key.bytes().all(|b| b.is_ascii_lowercase());
            let plain = w.line == line
                && (acronym
                    || (w.shape == Shape::Lower
                        && w.key.len() >= 3
                        && w.key.bytes().all(|b| b.is_ascii_lowercase())))
                && !w.has(STOP_WORD | TITLE)
                && !DESCRIBES_THE_PERSON.contains(&w.key.as_str())
                && self.adjacent(h - 1, h, false);
            if !plain {
                return j;
            }
            let head = &self.words[h];
            if head.has(PROFESSION)
                && head.shape == Shape::Lower
                && !DESCRIBES_THE_PERSON.contains(&head.key.as_str())
            {
                return h + 1;
            }
        }
        j
    }

    /// A job named after an unambiguous cue ("works as a sommelier",
    /// "Occupation: glazier", "Job title: quantity surveyor") is a
    /// profession even when it is in no list: up to three plain words, up
    /// to the first punctuation, preposition or clause word.
    fn open_professions(&mut self) {
        const CUES: &[(&[&str], bool)] = &[
            (&["works", "as"], false),
            (&["work", "as"], false),
            (&["worked", "as"], false),
            (&["working", "as"], false),
            (&["employed", "as"], false),
            (&["trained", "as"], false),
            (&["job", "as"], false),
            (&["occupation"], true),
            (&["profession"], true),
            (&["job", "title"], true),
            (&["former"], false),
            (&["formerly"], false),
            (&["self-employed"], false),
            (&["semi-retired"], false),
        ];
        // Words after "works as" that say how, not what.
        const NOT_A_JOB: &[&str] = &[
            "usual",
            "normal",
            "normally",
            "before",
            "previously",
            "expected",
            "needed",
            "required",
            "directed",
            "prescribed",
            "advised",
            "instructed",
            "intended",
            "described",
            "planned",
            "possible",
            "above",
            "below",
            "such",
            "well",
            "much",
            "long",
            "soon",
            "none",
            "nil",
            "unemployed",
            "unknown",
            "retired",
            "not",
            "never",
            "no",
            "na",
            "housebound",
            "disabled",
            "sick",
            "off",
            "yet",
            "intermittent",
            "agency",
            "locum",
            "see",
            "hard",
            "ever",
            "always",
            "again",
            "both",
            "part",
            "full",
            "self",
            "same",
            "smoker",
            "smokers",
            "drinker",
            "user",
            "abuser",
            "sufferer",
            "survivor",
            "partner",
            "member",
            "resident",
            "attender",
            "patient",
            "inpatient",
            "outpatient",
            "donor",
            "volunteer",
            "husband",
            "wife",
            "boyfriend",
            "girlfriend",
        ];
        const ENDS_RUN: &[&str] = &[
            "at",
            "in",
            "for",
            "with",
            "and",
            "or",
            "but",
            "since",
            "until",
            "from",
            "on",
            "by",
            "to",
            "the",
            "who",
            "which",
            "that",
            "when",
            "while",
            "of",
            "so",
            "then",
            "now",
            "currently",
            "last",
            "x",
            "years",
            "yrs",
            "months",
        ];
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(PROF_HEAD)
                || !matches!(
                    self.words[i].key.as_str(),
                    "works"
                        | "work"
                        | "worked"
                        | "working"
                        | "employed"
                        | "trained"
                        | "job"
                        | "occupation"
                        | "profession"
                        | "former"
                        | "formerly"
                        | "self-employed"
                        | "semi-retired"
                )
            {
                continue;
            }
            let Some(&(cue, needs_colon)) =
                CUES.iter().find(|(cue, _)| self.matches_phrase(i, cue))
            else {
                continue;
            };
            let last = i + cue.len() - 1;
            if needs_colon && !self.colon_after(last) {
                continue;
            }
            let mut j = last + 1;
            while j < self.words.len()
                && self.words[j].line == self.words[i].line
                && matches!(
                    self.words[j].key.as_str(),
                    "a" | "an"
                        | "is"
                        | "was"
                        | "retired"
                        | "former"
                        | "part-time"
                        | "full-time"
                        | "self-employed"
                )
            {
                j += 1;
            }
            let mut k = j;
            while k < self.words.len()
                && k < j + 3
                && self.words[k].line == self.words[i].line
                && (k == j || self.adjacent(k - 1, k, false))
                && self.words[k].shape != Shape::Mixed
                && !self.words[k].has(STOP_WORD | TITLE | CLINICAL)
                && self.words[k].key.len() >= 3
                && !ENDS_RUN.contains(&self.words[k].key.as_str())
                && matches!(self.tag[k], None | Some((Category::Profession, _, _)))
            {
                k += 1;
            }
            if k == j || (j..k).any(|w| NOT_A_JOB.contains(&self.words[w].key.as_str())) {
                continue;
            }
            if !needs_colon {
                // "Bisoprolol works as a beta blocker": after a verb the
                // subject must not be a thing, and the last word must name
                // an agent ("-er", "-ist", "-ian" …).
                let thing = i > 0
                    && self.words[i - 1].line == self.words[i].line
                    && (self.words[i - 1].has(CLINICAL)
                        || matches!(
                            self.words[i - 1].key.as_str(),
                            "it" | "this"
                                | "that"
                                | "which"
                                | "drug"
                                | "medication"
                                | "medicine"
                                | "tablet"
                                | "treatment"
                                | "therapy"
                                | "dose"
                                | "device"
                                | "inhaler"
                                | "plan"
                                | "system"
                                | "what"
                        ));
                let agent = [
                    "er", "or", "ist", "ian", "ant", "ent", "man", "woman", "person", "smith",
                    "wright", "eur", "euse", "ier", "ee", "ary", "ard", "ive", "lady", "maid",
                    "hand", "keeper", "monger", "cook", "chef", "nanny", "guard", "pilot", "clerk",
                    "porter", "model", "artist", "vet", "medic", "tutor",
                ];
                let last = self.words[k - 1].key.as_str();
                if thing || !agent.iter().any(|e| last.ends_with(e)) {
                    continue;
                }
            }
            // "works as a nurse" is found by the lists already; only add
            // what they did not.
            if (j..k).all(|w| self.tag[w].is_some()) {
                continue;
            }
            for w in j..k {
                self.set(w, Category::Profession, "profession_open", 0.7);
            }
        }
    }

    /// "Carpenter, employed by …", "bricklayer, self-employed": a job named
    /// first and its employment after a comma.
    fn professions_before_employment(&mut self) {
        for t in 0..self.triggers.len() {
            let e = self.triggers[t] as usize;
            if e == 0 {
                continue;
            }
            // The comma first: it rules out almost every word cheaply.
            let gap = &self.text.as_bytes()[self.words[e - 1].end..self.words[e].start];
            if gap != b", " {
                continue;
            }
            let key = self.words[e].key.as_str();
            let employment = matches!(key, "employed" | "self-employed" | "works" | "working");
            if !employment {
                continue;
            }
            let mut j = e;
            while j > 0
                && e - j < 4
                && self.words[j - 1].line == self.words[e].line
                && self.words[j - 1].has(PROFESSION | PROF_MODIFIER)
                && (j == e || self.adjacent(j - 1, j, false))
            {
                j -= 1;
            }
            if j < e && self.words[e - 1].has(PROFESSION) {
                for w in j..e {
                    self.set(w, Category::Profession, "profession", 0.75);
                }
            }
        }
    }

    /// "bar manager at Maple Leaf Bakery", "librarian (Granite Quarry Products)".
    fn employer_after(&mut self, k: usize) {
        let Some(w) = self.words.get(k) else { return };
        let line = w.line;
        let prev_end = self.words[k - 1].end;
        let gap = self.text[prev_end..w.start].trim();
        let mut j = k;
        if gap == "(" {
            // the employer follows directly
        } else if gap.is_empty() && matches!(w.key.as_str(), "at" | "for" | "with") {
            j += 1;
        } else {
            return;
        }
        let first = j;
        while j < self.words.len()
            && j < first + 4
            && self.words[j].line == line
            && matches!(self.words[j].shape, Shape::Title | Shape::Upper)
            && (j == first
                || self.text[self.words[j - 1].end..self.words[j].start]
                    .chars()
                    .all(|c| c == ' ' || c == '&'))
            && !self.is_stop(j)
        {
            self.set(j, Category::Organization, "employer", 0.75);
            j += 1;
        }
    }

    /// "dean's dad", "Amy's mum called": the person whose relative is named
    /// by a kin word after a possessive is named by the word before it,
    /// when a forename list knows it (or, in mixed case, when it is
    /// capitalised and no everyday word).
    fn possessors_of_kin(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if i >= self.words.len().saturating_sub(1) {
                continue;
            }
            let w = &self.words[i];
            if !w.possessive
                || self.tag[i].is_some()
                || w.flags & (STOP_WORD | TITLE | ROLE | RELATION) != 0
            {
                continue;
            }
            let kin = &self.words[i + 1];
            if kin.flags & RELATION == 0 || kin.line != w.line || !self.adjacent(i, i + 1, false) {
                continue;
            }
            let named = if w.cased_line {
                w.shape == Shape::Title
                    && !w.has(CLINICAL)
                    && (w.has(FIRST | SURNAME) || (!w.sentence_start && !w.has(COMMON)))
            } else {
                w.has(FIRST) && !w.has(CLINICAL)
            };
            if named && w.key.len() >= 2 {
                self.set(i, Category::Name, "possessor_of_kin", 0.7);
            }
        }
    }

    /// "Attends Little Sprouts Daycare", "staying at Union Gospel Mission":
    /// one to three capitalised words on one line before a word for a kind
    /// of organisation ([`KIND_TAILS`]), adjacent on one line ("St Mary's
    /// Chapel"), are its name.
    /// Words that open a sentence as a verb, and function words, are not
    /// part of it.
    fn organisations_by_kind(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if i < 1 {
                continue;
            }
            let w = &self.words[i];
            if w.flags & KIND_TAIL == 0 || w.shape != Shape::Title || !w.cased_line {
                continue;
            }
            let mut from = i;
            while from > 0 && from + 3 > i {
                let p = &self.words[from - 1];
                let function =
                    p.has(STOP_WORD) || crate::OPENING_VERBS.binary_search(&p.key.as_str()).is_ok();
                if p.shape != Shape::Title
                    || p.line != w.line
                    || function
                    || !self.adjacent(from - 1, from, false)
                {
                    break;
                }
                from -= 1;
            }
            if from < i {
                self.extra.push(Span {
                    start: self.words[from].start,
                    end: w.end,
                    category: Category::Organization,
                    detector: "organisation_kind",
                    confidence: 0.7,
                });
            }
        }
    }

    fn organisations(&mut self) {
        for t in 0..self.triggers.len() {
            let i = self.triggers[t] as usize;
            if !self.words[i].has(ORG_HEAD) {
                continue;
            }
            let Some(triggers) = sets().org_triggers_by_head.get(self.words[i].key.as_str()) else {
                continue;
            };
            for trig in triggers {
                if !self.matches_phrase(i, trig) {
                    continue;
                }
                let mut j = i + trig.len();
                if j < self.words.len() && self.words[j].key == "the" {
                    j += 1;
                }
                let mut k = j;
                while k < self.words.len()
                    && k < j + 4
                    && self.words[k].line == self.words[i].line
                    && matches!(self.words[k].shape, Shape::Title | Shape::Upper)
                    // Only spaces or "&" inside a name: a full stop ends it.
                    && (k == j
                        || self.text[self.words[k - 1].end..self.words[k].start]
                            .chars()
                            .all(|c| c == ' ' || c == '&'))
                {
                    self.set(k, Category::Organization, "employer", 0.75);
                    k += 1;
                }
            }
        }
    }
}

/// Runs the word-level layers and appends their spans.
pub(crate) fn scan(text: &str, out: &mut Vec<Span>) {
    let lex = Lexicon::get();
    let lower = lowered(text);
    let mut triggers = Vec::new();
    let words = words_and_triggers(text, &lower, Some(&mut triggers));
    let n = words.len();
    let mut ctx = Ctx {
        text,
        words,
        triggers,
        lex,
        tag: vec![None; n],
        extra: Vec::new(),
    };
    skip_tags(&mut ctx);
    ctx.titles();
    ctx.labels();
    ctx.signatures();
    ctx.cues_after();
    ctx.dictionary();
    ctx.names_before_ages();
    ctx.self_introductions();
    ctx.names_before_dob();
    ctx.companions();
    ctx.possessors_of_kin();
    ctx.attendance_lists();
    ctx.extend();
    ctx.particles_and_nicknames();
    ctx.propagate();
    ctx.professions();
    ctx.open_professions();
    ctx.standalone_professions();
    ctx.professions_before_employment();
    ctx.organisations();
    ctx.organisations_by_kind();
    for (i, t) in ctx.tag.iter().enumerate() {
        if let Some((category, detector, confidence)) = *t {
            if category == Category::Other {
                continue;
            }
            out.push(Span {
                start: ctx.words[i].start,
                end: ctx.words[i].end,
                category,
                detector,
                confidence,
            });
        }
    }
    out.append(&mut ctx.extra);
    let lex = ctx.lex;
    gazetteer(
        text,
        &ctx,
        (&lex.places, &lex.place_heads, PLACE_START),
        Category::Location,
        "place",
        out,
    );
    gazetteer(
        text,
        &ctx,
        (&lex.organisations, &lex.organisation_heads, ORG_LIST_START),
        Category::Organization,
        "organisation_list",
        out,
    );
}

/// Tag-mode output ("[NAME]") must not be detected again: mark those words as done.
fn skip_tags(ctx: &mut Ctx<'_>) {
    let bytes = ctx.text.as_bytes();
    // Most notes have no tag at all: one byte search rules them out.
    if memchr::memchr(b'[', bytes).is_none() {
        return;
    }
    for i in 0..ctx.words.len() {
        let w = &ctx.words[i];
        // Bytes, not string slices: this runs for every word.
        let after = bytes.get(w.end) == Some(&b']');
        let before = w.start > 0 && bytes[w.start - 1] == b'[';
        if after && before && Category::parse(&ctx.text[w.start..w.end]).is_some() {
            ctx.tag[i] = Some((Category::Other, "tag", 1.0));
        }
    }
}

/// Looks up word n-grams (up to four words) in a list of names (places or
/// organisations); a name that is also a word needs a preposition before it,
/// an address comma or a postcode after it.
fn gazetteer(
    text: &str,
    ctx: &Ctx<'_>,
    (names, heads, start_bit): (&WordSet, &crate::lexicon::HeadMap, u32),
    category: Category,
    detector: &'static str,
    out: &mut Vec<Span>,
) {
    let lex = ctx.lex;
    let mut wi = 0;
    let mut key = String::new();
    while wi < ctx.words.len() {
        // Longest place name (up to four words) starting at this word.
        let longest = if ctx.looks_capitalised(wi) && ctx.words[wi].has(start_bit) {
            heads
                .get(ctx.words[wi].key.as_str())
                .map_or(0, |&n| n.min(4))
        } else {
            0
        };
        let found = if longest > 0 {
            (1..=longest).rev().find_map(|n| {
                let last = wi + n - 1;
                if last >= ctx.words.len() || ctx.words[last].line != ctx.words[wi].line {
                    return None;
                }
                if (wi..last).any(|k| !ctx.one_space_between(k, k + 1)) {
                    return None;
                }
                key.clear();
                for k in wi..=last {
                    if k > wi {
                        key.push(' ');
                    }
                    key.push_str(&ctx.words[k].key);
                }
                names.get(key.as_str()).map(|p| (last, *p))
            })
        } else {
            None
        };
        let Some((last, place)) = found else {
            wi += 1;
            continue;
        };
        let (s, e) = (ctx.words[wi].start, ctx.words[last].end);
        let this = wi;
        wi = last + 1;
        let wi = this;
        if ctx.tag[wi].is_some_and(|t| t.0 == Category::Other) {
            continue;
        }
        let surface = &text[s..e];
        // Every word of the place must look capitalised (or the line be
        // caseless), but for the joining words inside a name ("Kingston
        // upon Hull", "Isle of Wight", "Stoke-on-Trent").
        let parts = surface.split([' ', '-']).filter(|p| !p.is_empty());
        let last = parts.clone().count().saturating_sub(1);
        let all_cap = parts.enumerate().all(|(k, p)| {
            p.starts_with(char::is_uppercase)
                || (k > 0
                    && k < last
                    && matches!(
                        p,
                        "upon"
                            | "on"
                            | "under"
                            | "in"
                            | "the"
                            | "of"
                            | "by"
                            | "le"
                            | "next"
                            | "cum"
                            | "and"
                    ))
        }) || !ctx.words[wi].cased_line;
        if !all_cap {
            continue;
        }
        let single = !place.contains(' ');
        let ambiguous = single
            && (lex.common.contains(place)
                || lex.clinical.contains(place)
                || lex.first.contains(place)
                || sets().stop.contains(&place));
        let prev = wi.checked_sub(1).map(|p| ctx.words[p].key.as_str());
        let by_preposition = prev.is_some_and(|p| sets().place_prepositions.contains(&p));
        let next_is_code = {
            let t = text[e..].trim_start_matches(' ');
            let letters = t.bytes().take_while(u8::is_ascii_uppercase).count();
            (1..=2).contains(&letters)
                && t.as_bytes().get(letters).is_some_and(u8::is_ascii_digit)
                && e < text.len()
                && text.as_bytes()[e] == b' '
        };
        let in_address = text[e..].starts_with(',') || next_is_code || text[..s].ends_with(", ");
        if ambiguous && (!by_preposition || ctx.words[wi].sentence_start) && !in_address {
            continue;
        }
        if ambiguous && lex.clinical.contains(place) && !by_preposition {
            continue;
        }
        if eponym_follows(text, &ctx.words, wi) {
            continue;
        }
        // A title before it makes it a person ("Dr Lincoln"): the name layer has it.
        if matches!(ctx.tag[wi], Some((Category::Name, _, c)) if c >= 0.9) {
            continue;
        }
        let conf = if ambiguous { 0.6 } else { 0.75 };
        out.push(Span {
            start: s,
            end: e,
            category,
            detector,
            confidence: conf,
        });
    }
}

/// Validator for the institution pattern ("St Mary's Hospital", "Riverside Surgery").
pub(crate) fn institution(
    text: &str,
    start: usize,
    end: usize,
) -> Option<(Category, &'static str, f32)> {
    let lex = Lexicon::get();
    let span = &text[start..end];
    let lower = lowered(span);
    let ws = words(span, &lower);
    if ws.len() < 2 {
        return None;
    }
    // Named by a prefix: "HMP Ashgrove", "Ysbyty Cwm Tawe", "Meddygfa'r Llan".
    match ws[0].key.as_str() {
        "hmp" | "hmyoi" | "ysbyty" | "canolfan" => {
            return Some((Category::Location, "institution", 0.85));
        }
        "meddygfa" | "ysgol" | "cartref" => {
            return Some((Category::Organization, "institution", 0.85));
        }
        _ => {}
    }
    let suffix = ws.last().expect("two words").key.as_str().to_string();
    // Suffixes that are everyday words ("Main Unit", "Open House", "Harbor
    // Drug"): the name needs a word that is neither English nor clinical.
    const PLAIN_SUFFIXES: &[&str] = &[
        "primary",
        "high",
        "unit",
        "team",
        "service",
        "centre",
        "center",
        "drug",
        "drugs",
        "labs",
        "institute",
        "project",
        "hall",
        "house",
        "court",
        "farm",
        "farmhouse",
        "barn",
        "villa",
        "cottage",
        "bungalow",
        "grange",
        "plan",
        "living",
        "mutual",
        "insurance",
        "studio",
        "studios",
        "engineering",
        "hotel",
        "cafe",
        "restaurant",
        "bistro",
        "optical",
        "elementary",
        "pavilion",
        "elementary",
        "pavilion",
        "rehabilitation",
        "direct",
        "support",
        "resource",
        "transport",
        "supply",
        "supplies",
        "builders",
        "pantry",
    ];
    let compound = matches!(
        ws[ws.len() - 2].key.as_str(),
        "medical" | "health" | "ambulance"
    );
    let last = ws.last().expect("two words");
    // On an all-capitals line, or written in lower case ("FRAX high"), an
    // everyday suffix is only a word.
    let plain_suffix_ok = last.shape == Shape::Title && last.cased_line;
    if PLAIN_SUFFIXES.contains(&suffix.as_str()) && !compound && !plain_suffix_ok {
        return None;
    }
    // "lives at Foxglove House", "admitted from Rose Cottage": after a
    // cue for where someone lives, a house name is an address even when
    // all its words are English.
    let residence = || {
        let head = &text[..start];
        let tail = &head[head.floor_char_boundary(head.len().saturating_sub(24))..];
        let tail = tail.to_ascii_lowercase();
        [
            "lives at ",
            "living at ",
            "resides at ",
            "resident at ",
            "moved into ",
            "moved to ",
            "admitted from ",
            "discharged to ",
            "placed at ",
            "placement at ",
        ]
        .iter()
        .any(|c| tail.ends_with(c))
    };
    if PLAIN_SUFFIXES.contains(&suffix.as_str())
        && !compound
        && !residence()
        && !ws[..ws.len() - 1].iter().any(|w| {
            let k = w.key.as_str();
            k.len() > 2
                && !lex.common.contains(k)
                && !lex.clinical.contains(k)
                && !sets().stop.contains(&k)
        })
    {
        return None;
    }
    // Words before the suffix: at least one must be a proper name, not a
    // specialty ("University Hospital of Sheffield": the name comes after
    // "of", so every word counts).
    let named_after = ws
        .iter()
        .skip(1)
        .any(|w| matches!(w.key.as_str(), "of" | "for"));
    let judged = if named_after {
        &ws[..]
    } else {
        &ws[..ws.len() - 1]
    };
    let distinctive = judged.iter().any(|w| {
        let k = w.key.as_str();
        !lex.clinical.contains(k)
            && !sets().stop.contains(&k)
            && !matches!(
                k,
                "royal"
                    | "new"
                    | "old"
                    | "city"
                    | "county"
                    | "national"
                    | "regional"
                    | "local"
                    | "medical"
                    | "health"
                    | "nhs"
                    | "foundation"
                    | "st"
                    | "saint"
                    | "children"
                    | "women"
                    | "university"
                    | "memorial"
                    | "this"
                    | "that"
                    | "our"
                    | "your"
                    | "their"
                    | "his"
                    | "her"
                    | "seen"
                    | "attended"
                    | "admitted"
                    | "discharged"
                    | "transferred"
                    | "referred"
                    | "back"
                    | "home"
                    | "same"
                    | "other"
                    | "another"
                    | "next"
                    | "last"
                    | "first"
                    | "follow"
                    | "up"
                    | "nurse"
                    | "led"
                    | "walk"
                    | "urgent"
                    | "treatment"
                    | "centre"
                    | "center"
                    | "out"
                    | "hours"
                    | "gp"
                    | "fracture"
                    | "minor"
                    | "injuries"
                    | "injury"
            )
    });
    if !distinctive {
        return None;
    }
    let org = matches!(
        suffix.as_str(),
        "surgery"
            | "practice"
            | "group"
            | "healthcare"
            | "trust"
            | "university"
            | "college"
            | "school"
            | "academy"
            | "board"
            | "partners"
            | "pharmacy"
            | "chemist"
            | "chemists"
            | "homecare"
            | "care"
            | "services"
            | "colliery"
            | "council"
            | "logistics"
            | "systems"
            | "solutions"
            | "associates"
            | "partnership"
            | "rovers"
            | "united"
            | "athletic"
            | "club"
            | "nursery"
            | "preschool"
            | "pre-school"
            | "form"
            | "centre"
            | "living"
            | "health"
            | "diagnostics"
            | "genomics"
            | "laboratory"
            | "laboratories"
            | "labs"
            | "endodontics"
            | "orthodontics"
            | "dentistry"
            | "optical"
            | "opticians"
            | "optometry"
            | "insurance"
            | "mutual"
            | "studio"
            | "studios"
            | "engineering"
            | "plan"
            | "team"
            | "service"
            | "pediatrics"
            | "paediatrics"
            | "rehabilitation"
            | "elementary"
            | "primary"
            | "high"
            | "drug"
            | "drugs"
            | "trattoria"
            | "restaurant"
            | "bistro"
            | "pizzeria"
            | "cafe"
            | "hotel"
            | "project"
            | "rescue"
            | "hscp"
            | "ccg"
            | "icb"
            | "directors"
            | "direct"
            | "support"
            | "resource"
            | "transport"
            | "supply"
            | "supplies"
            | "builders"
            | "pantry"
            | "union"
            | "airlines"
            | "airways"
            | "ymca"
            | "ywca"
            | "mission"
            | "start"
            | "program"
            | "programme"
            | "nursing"
            | "police"
            | "lifeline"
            | "grill"
            | "diner"
            | "tavern"
            | "bakery"
            | "brewery"
            | "radiology"
            | "imaging"
            | "rehab"
            | "transit"
            | "motors"
            | "construction"
            | "landscaping"
            | "roofing"
            | "plumbing"
            | "trucking"
            | "realty"
            | "supermarket"
            | "inc"
            | "llc"
            | "ltd"
            | "limited"
            | "corp"
            | "corporation"
            | "company"
    ) || span.contains("Medical Cent")
        || span.contains("Health Cent");
    let category = if org {
        Category::Organization
    } else {
        Category::Location
    };
    Some((category, "institution", 0.8))
}

/// Capitalised mid-sentence words that no span covers and no word list
/// explains: the words most likely to be missed names or places.
pub(crate) fn unexplained_capitalised(text: &str, spans: &[Span]) -> usize {
    let lex = Lexicon::get();
    let lower = lowered(text);
    words(text, &lower)
        .iter()
        .filter(|w| w.cased_line && w.shape == Shape::Title && !w.sentence_start && !w.glued_digit)
        .filter(|w| w.key.chars().nth(2).is_some())
        .filter(|w| {
            let k = w.key.as_str();
            !lex.common.contains(k)
                && !lex.clinical.contains(k)
                && !sets().stop.contains(&k)
                && !sets().titles.contains(&k)
                && !sets().eponym_nouns.contains(&k)
        })
        .filter(|w| !spans.iter().any(|s| s.start < w.end && w.start < s.end))
        .count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_case_not_names_is_sorted() {
        assert!(super::LOWER_CASE_NOT_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    use super::*;

    fn names(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.into_iter()
            .filter(|s| s.category == Category::Name)
            .map(|s| text[s.start..s.end].to_string())
            .collect()
    }

    #[test]
    fn form_fields_end_at_a_column_gap_or_the_next_label() {
        assert_eq!(names("Surname: HORNE   Forename: Gina"), ["HORNE", "Gina"]);
        assert_eq!(
            names("Name: Ahmed Al-Farouk Dob: 1/1/50"),
            ["Ahmed", "Al-Farouk"]
        );
    }

    #[test]
    fn relatives_named_before_what_they_did() {
        assert_eq!(
            names("Brought in by ambulance; partner rice travelled with him."),
            ["rice"]
        );
        assert_eq!(
            names("ambulance; sister SUE CANTRELL travelled with her."),
            ["SUE", "CANTRELL"]
        );
        assert_eq!(names("Wife Mary at bedside."), ["Mary"]);
        // Everyday words between are not names; a lower-case word needs a
        // strong verb.
        assert!(names("His son also travelled with him").is_empty());
        assert!(names("her son will was there").is_empty());
        assert!(names("Daughter has been informed").is_empty());
    }

    #[test]
    fn tokenizer_handles_joiners_possessives_and_other_scripts() {
        let text = "• O’Brien’s son. Mr ŻÓŁW-Kowalski's 3x review; Parkinson's-type\nDR X";
        let lower = lowered(text);
        let ws = words(text, &lower);
        let got: Vec<(&str, &str, bool, bool)> = ws
            .iter()
            .map(|w| {
                (
                    &text[w.start..w.end],
                    w.key.as_str(),
                    w.possessive,
                    w.sentence_start,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("O’Brien", "o’brien", true, true),
                ("son", "son", false, false),
                ("Mr", "mr", false, true),
                ("ŻÓŁW-Kowalski", "żółw-kowalski", true, false),
                ("x", "x", false, false),
                ("review", "review", false, false),
                ("Parkinson's-type", "parkinson's-type", false, true),
                ("DR", "dr", false, true),
                ("X", "x", false, false),
            ]
        );
        assert!(ws[4].glued_digit, "3x: a digit touches the word");
        assert_eq!(ws[3].shape, Shape::Mixed);
        assert!(ws[0].cased_line && !ws[7].cased_line);
    }

    #[test]
    fn titles_and_labels_find_names_that_are_also_words() {
        assert_eq!(
            names("Seen by Dr Amelia Rose today."),
            vec!["Amelia", "Rose"]
        );
        assert_eq!(names("Dear Dr Hope,"), vec!["Hope"]);
        assert_eq!(names("NOK: daughter May Brown"), vec!["May", "Brown"]);
        // Nor is the label that found it.
        assert_eq!(names("Dear Simon,\nThank you."), vec!["Simon"]);
        // The person whose relative is named.
        assert_eq!(
            names("kev here (dean's dad), he is poorly"),
            vec!["kev", "dean"]
        );
        assert_eq!(names("Smith's daughter rang."), vec!["Smith"]);
        assert!(names("The patient's son attended.").is_empty());
        // A kin word is not part of the name after it.
        assert_eq!(names("nocte: pt settled, son gary phoned x2"), vec!["gary"]);
        assert_eq!(names("Step-son Liam, 14, lives with them."), vec!["Liam"]);
        // A dotted credential after a name is no initial.
        assert_eq!(
            names("Attending: IRVING L. NIXON, M.D."),
            vec!["IRVING", "L", "NIXON"]
        );
        assert_eq!(names("Name: J.D. Salinger"), vec!["J", "D", "Salinger"]);
        // In lower-case writing "re:" is "about".
        assert!(names("re: appt 2morrow, pt confused re: name of gp").is_empty());
        assert_eq!(names("re: john smith"), vec!["john", "smith"]);
        // Particles between a title and the surname.
        assert_eq!(
            names("Referred by Dr van der Merwe."),
            vec!["van", "der", "Merwe"]
        );
        // Even when the surname is also a word or in no list.
        assert_eq!(
            names("Reviewed by Dr van den Berg."),
            vec!["van", "den", "Berg"]
        );
        assert_eq!(
            names("Seen by Mr de la Cruz today."),
            vec!["de", "la", "Cruz"]
        );
        // A forename that is a word, before a surname no list knows.
        assert_eq!(
            names("Witnesses: Hope Oyelaran (HCA)"),
            vec!["Hope", "Oyelaran"]
        );
        // Not from the sentence's first word, nor from a word alone.
        assert_eq!(names("Will Oyelaran attend?"), vec!["Oyelaran"]);
    }

    #[test]
    fn eponyms_are_not_names() {
        assert!(names("History of Parkinson's disease and Crohn's.").is_empty());
        assert!(names("Bell's palsy on the left, Babinski negative").is_empty());
        assert!(names("Gleason grade 2, Fisher - grade 3").is_empty());
        // A noun across a column gap belongs to the next column: the name
        // before it is a name ("Student: Elijah Mbeki   Grade 7").
        assert_eq!(
            names("Student: Elijah Mbeki   Grade 7"),
            vec!["Elijah", "Mbeki"]
        );
    }

    #[test]
    fn caseless_lines_use_the_dictionaries() {
        assert_eq!(names("PT SEEN BY DR JONES RE CHEST PAIN"), vec!["JONES"]);
        assert_eq!(
            names("pt seen by john smith, obs stable"),
            vec!["john", "smith"]
        );
    }

    #[test]
    fn hyphenated_towns_are_places() {
        for town in [
            "Kirkby-in-Ashfield",
            "Stratford-upon-Avon",
            "Chapel-en-le-Frith",
        ] {
            assert!(hyphenated_place(town), "{town}");
        }
        for word in [
            "Wolff-Parkinson-White",
            "Adeyemi-Jones",
            "Follow-up",
            "Mother-in-Law",
        ] {
            assert!(!hyphenated_place(word), "{word}");
        }
    }

    #[test]
    fn unknown_capitalised_words_mid_sentence_are_names() {
        assert_eq!(
            names("Message left for Thandiwe to call back."),
            vec!["Thandiwe"]
        );
        assert_eq!(
            names("Seen with student nurse Ruairi today."),
            vec!["Ruairi"]
        );
        // Header values, hyphenated words, medical and drug words by their
        // ending, brands, nationalities and sentence starts are not.
        for text in [
            "Exam: Bibasal crackles. Started Ticagrelor and Entresto.",
            "Underwent Laparotomy with Contrast-enhanced CT; Ischaemic changes.",
            "Ukrainian-speaking family, Samoan interpreter booked.",
            "Thandiwe called.",
        ] {
            let got = names(text);
            assert!(
                got.iter().all(|n| n == "Thandiwe" && text.starts_with(n)),
                "{text}: {got:?}"
            );
        }
    }

    #[test]
    fn a_line_opening_with_a_name_and_an_age() {
        assert_eq!(
            names("ED triage\nG. Wolf 69M MRN 70127487"),
            vec!["G", "Wolf"]
        );
    }

    #[test]
    fn labels_followed_by_prose_or_headings_are_not_names() {
        assert!(names("Baby: weight 3,890 g; Apgar 9 at 1 min").is_empty());
        assert!(names("Risk to baby - low; risk to self - low.").is_empty());
        assert!(names("Actions for GP: U&E in 1 week").is_empty());
        assert_eq!(names("To: Dr. Ng's care team"), vec!["Ng"]);
        assert_eq!(names("Name: duke ellington"), vec!["duke", "ellington"]);
        assert_eq!(
            names("Next appointment with Dr Jones. Letrozole to start after RT."),
            vec!["Jones"]
        );
    }

    #[test]
    fn names_found_once_are_found_everywhere() {
        let got = names("Mrs Okonkwo attended. Later Okonkwo was tearful.");
        assert_eq!(got, vec!["Okonkwo", "Okonkwo"]);
    }

    fn jobs(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.sort_by_key(|s| s.start);
        out.into_iter()
            .filter(|s| s.category == Category::Profession)
            .map(|s| text[s.start..s.end].to_string())
            .collect()
    }

    #[test]
    fn jobs_after_a_clear_cue_need_no_list() {
        assert_eq!(
            jobs("Occupation: sommelier at a wine bar."),
            vec!["sommelier"]
        );
        assert_eq!(
            jobs("Job title - quantity surveyor"),
            vec!["quantity", "surveyor"]
        );
        assert_eq!(
            jobs("He works as a croupier, drinks socially."),
            vec!["croupier"]
        );
        // Not a job: a thing that "works as", how someone works, no occupation.
        assert!(jobs("Bisoprolol works as a beta blocker.").is_empty());
        assert!(jobs("The drug works as a diuretic.").is_empty());
        assert!(jobs("He works as hard as he can; worked as expected.").is_empty());
        assert!(jobs("Occupation: N/A. Occupation: unemployed").is_empty());
        assert!(jobs("Occupation: see social history").is_empty());
        // A listed job with plain words saying what kind, after a cue.
        assert_eq!(
            jobs("He is a retired electrical engineer."),
            vec!["electrical", "engineer"]
        );
        assert_eq!(
            jobs("Daughter works as a teaching assistant; visits daily."),
            vec!["teaching", "assistant"]
        );
        assert_eq!(
            jobs("Mrs Jones, a 37-year-old primary school teacher, attended."),
            vec!["primary", "school", "teacher"]
        );
        assert!(jobs("He is a very pleasant man and a heavy smoker.").is_empty());
        assert_eq!(
            jobs("Former professional footballer."),
            vec!["professional", "footballer"]
        );
        assert!(jobs("Former smoker, drinks 10 units a week.").is_empty());
    }
}
