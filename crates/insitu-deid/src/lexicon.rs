//! Word lists compiled into the binary: census names, places, the words that
//! collide with them, and the clinical allow-list. See `data/LICENSES.md`.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::HashSet;
use std::sync::OnceLock;

const FIRST_NAMES: &str = include_str!("../data/first_names.txt");
const FIRST_NAMES_EXTRA: &str = include_str!("../data/first_names_extra.txt");
const SURNAMES: &str = include_str!("../data/surnames.txt");
const PLACES: &str = include_str!("../data/places.txt");
const COMMON_WORDS: &str = include_str!("../data/english_words.txt");
const CLINICAL: &str = include_str!("../data/clinical_terms.txt");

/// All the compiled word lists. Built once per process.
pub(crate) struct Lexicon {
    pub first: HashSet<&'static str>,
    pub surnames: HashSet<&'static str>,
    pub common: HashSet<&'static str>,
    pub clinical: HashSet<&'static str>,
    /// Lower-case place names, in the same order as the automaton's patterns.
    pub places: Vec<&'static str>,
    pub place_automaton: AhoCorasick,
}

fn words(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
}

impl Lexicon {
    pub(crate) fn get() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(|| {
            let places: Vec<&'static str> = PLACES.lines().filter(|l| !l.is_empty()).collect();
            let place_automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&places)
                .expect("the place list compiles");
            Lexicon {
                first: words(FIRST_NAMES).chain(words(FIRST_NAMES_EXTRA)).collect(),
                surnames: words(SURNAMES).collect(),
                common: words(COMMON_WORDS).collect(),
                clinical: words(CLINICAL).collect(),
                places,
                place_automaton,
            }
        })
    }

    /// Census first-name and surname lists, for surrogates.
    pub(crate) fn first_list() -> Vec<&'static str> {
        words(FIRST_NAMES).chain(words(FIRST_NAMES_EXTRA)).collect()
    }

    /// Census surname list, most frequent first (the file is alphabetical, so
    /// this is only used for surrogate picks where order does not matter).
    pub(crate) fn surname_list() -> Vec<&'static str> {
        words(SURNAMES).filter(|s| s.len() >= 3).collect()
    }
}
