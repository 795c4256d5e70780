//! Word lists compiled into the binary: census names, places, the words that
//! collide with them, and the clinical allow-list. See `data/LICENSES.md`.

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
    /// Lower-case place names (one to four words), looked up by word n-gram.
    pub places: HashSet<&'static str>,
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
            let places = PLACES.lines().filter(|l| !l.is_empty()).collect();
            Lexicon {
                first: words(FIRST_NAMES).chain(words(FIRST_NAMES_EXTRA)).collect(),
                surnames: words(SURNAMES).collect(),
                common: words(COMMON_WORDS).collect(),
                clinical: words(CLINICAL).collect(),
                places,
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
