//! Word lists compiled into the binary: census names, places, the words that
//! collide with them, and the clinical allow-list. See `data/LICENSES.md`.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

const FIRST_NAMES: &str = include_str!("../data/first_names.txt");
const FIRST_NAMES_EXTRA: &str = include_str!("../data/first_names_extra.txt");
const SURNAMES: &str = include_str!("../data/surnames.txt");
const PLACES: &str = include_str!("../data/places.txt");
const PLACES_WORLD: &str = include_str!("../data/places_world.txt");
const REGIONS: &str = include_str!("../data/regions.txt");
const COMMON_WORDS: &str = include_str!("../data/english_words.txt");
const DEMONYMS: &str = include_str!("../data/demonyms.txt");
const CLINICAL: &str = include_str!("../data/clinical_terms.txt");
const ORGANISATIONS: &str = include_str!("../data/organisations.txt");

/// A fast multiply-rotate hash (the Fx hash of rustc) for the static word
/// sets. SipHash's flooding resistance buys nothing here: the sets are fixed
/// at build time and untrusted text only looks words up.
#[derive(Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

/// The Fx multiplier.
const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for WordHasher {
    // Inlined into the look-ups: a word's hash is a few instructions, less
    // than the call.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let word = |at: usize| {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(buf)
        };
        let half = |at: usize| {
            let mut buf = [0u8; 4];
            buf.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(buf))
        };
        // Words are short: one or two (overlapping) loads cover every byte,
        // so a look-up costs one multiply instead of a loop.
        let v = match n {
            0 => 0,
            1..=3 => {
                u64::from(bytes[0])
                    | u64::from(bytes[n / 2]) << 8
                    | u64::from(bytes[n - 1]) << 16
                    | (n as u64) << 24
            }
            4..=7 => (half(0) << 32 | half(n - 4)) ^ n as u64,
            8..=16 => word(0) ^ word(n - 8).rotate_left(29) ^ n as u64,
            _ => {
                for chunk in bytes.chunks(8) {
                    let mut buf = [0u8; 8];
                    buf[..chunk.len()].copy_from_slice(chunk);
                    self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
                }
                return;
            }
        };
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
    }
    /// `write(&[i])` without the slice and length dispatch: every `str`
    /// key ends with one (the 0xff terminator), so each look-up pays it.
    #[inline]
    fn write_u8(&mut self, i: u8) {
        let b = u64::from(i);
        let v = b | b << 8 | b << 16 | 1 << 24;
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
    }
    fn write_usize(&mut self, i: usize) {
        self.write(&i.to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of static words hashed with [`WordHasher`].
/// `word` with its ASCII letters lower-cased into `buf`, for a look-up in a
/// lower-case list without allocating; None when it is longer than `buf`.
pub(crate) fn ascii_lowercase_in<'b>(word: &str, buf: &'b mut [u8; 16]) -> Option<&'b str> {
    let lower = buf.get_mut(..word.len())?;
    for (d, c) in lower.iter_mut().zip(word.bytes()) {
        *d = c.to_ascii_lowercase();
    }
    // Lower-casing ASCII bytes leaves every other byte, so this is UTF-8.
    std::str::from_utf8(lower).ok()
}

pub(crate) type WordSet = std::collections::HashSet<&'static str, BuildHasherDefault<WordHasher>>;

/// All the compiled word lists. Built once per process.
pub(crate) struct Lexicon {
    pub first: WordSet,
    pub surnames: WordSet,
    pub common: WordSet,
    pub clinical: WordSet,
    /// Lower-case place names (one to four words), looked up by word n-gram.
    pub places: WordSet,
    /// First word of every place name → the most words a place starting
    /// with it has, so most words skip the n-gram look-ups entirely.
    pub place_heads: HeadMap,
    /// Lower-case names of well-known employers, chains and charities.
    pub organisations: WordSet,
    /// First word of every organisation name → its most words.
    pub organisation_heads: HeadMap,
}

/// First word of a multi-word name → the most words a name starting with it has.
pub(crate) type HeadMap =
    std::collections::HashMap<&'static str, usize, BuildHasherDefault<WordHasher>>;

fn heads_of(names: &WordSet) -> HeadMap {
    let mut heads = HeadMap::default();
    for p in names {
        let n = p.split(' ').count();
        let head = p.split(' ').next().unwrap_or(p);
        let longest = heads.entry(head).or_insert(0);
        *longest = n.max(*longest);
    }
    heads
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
            let places: WordSet = PLACES
                .lines()
                .chain(PLACES_WORLD.lines())
                .chain(REGIONS.lines())
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            let organisations: WordSet = ORGANISATIONS
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            Lexicon {
                place_heads: heads_of(&places),
                organisation_heads: heads_of(&organisations),
                organisations,
                first: words(FIRST_NAMES).chain(words(FIRST_NAMES_EXTRA)).collect(),
                surnames: words(SURNAMES).collect(),
                common: words(COMMON_WORDS).chain(words(DEMONYMS)).collect(),
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

/// Word → bits, for the look-ups made for (almost) every word of a note.
///
/// A `HashMap<&str, u32>` look-up of a word that is present reads three
/// places: the control bytes, the slot, and the word's text in the list to
/// compare it, each a cache miss in a table of 200,000 words. Here a word of
/// up to [`INLINE`] bytes is packed into its slot, so a look-up reads one
/// cache line (sixteen-byte slots, four to a line, probed linearly) and
/// never the list's text. Longer words, a few per cent, go to a `HashMap`.
pub(crate) struct FlagTable {
    slots: Vec<Slot>,
    mask: usize,
    long: std::collections::HashMap<&'static str, u32, BuildHasherDefault<WordHasher>>,
}

/// A 2 KB bit set over the length, first and last byte of every word of a
/// small list. Most words of a note are in no rule list, and a clear bit
/// says so from the L1 cache, without probing the table (larger than L1:
/// its look-up stalled the tokenizer more than anything else it does).
/// No false negatives: every listed word sets its own bit.
pub(crate) struct ShapeFilter {
    bits: Box<[u64; 256]>,
}

impl ShapeFilter {
    #[inline(always)]
    fn index(b: &[u8]) -> usize {
        (b.len().min(15) << 10) | (usize::from(b[0] & 31) << 5) | usize::from(b[b.len() - 1] & 31)
    }

    pub(crate) fn new<'w>(words: impl IntoIterator<Item = &'w str>) -> ShapeFilter {
        let mut bits = Box::new([0u64; 256]);
        for w in words.into_iter().filter(|w| !w.is_empty()) {
            let i = Self::index(w.as_bytes());
            bits[i >> 6] |= 1 << (i & 63);
        }
        ShapeFilter { bits }
    }

    /// False only when `key` is in none of the words the filter was built from.
    #[inline(always)]
    pub(crate) fn may_contain(&self, key: &str) -> bool {
        let b = key.as_bytes();
        if b.is_empty() {
            return true;
        }
        let i = Self::index(b);
        self.bits[i >> 6] >> (i & 63) & 1 != 0
    }
}

/// The most bytes a word packed into a [`Slot`] may have.
const INLINE: usize = 11;

/// A word's bytes 0..8 in `lo`, bytes 8..11 and its length in `hi` (so a
/// slot with `hi == 0` is empty: no stored word is empty).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    lo: u64,
    hi: u32,
    flags: u32,
}

/// `key` packed as a [`Slot`]'s `lo` and `hi`; the caller checks that it
/// has 1 to [`INLINE`] bytes. A few (overlapping) loads instead of a copy
/// into a zeroed buffer: where two loads overlap they put the same byte in
/// the same place, so the result is the zero-padded word either way.
#[inline]
fn pack(key: &[u8]) -> (u64, u32) {
    let n = key.len();
    // 1 to 8 bytes from `b`, little-endian, zero-padded.
    let small = |b: &[u8]| -> u64 {
        let m = b.len();
        if m >= 4 {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[..4]);
            let mut y = [0u8; 4];
            y.copy_from_slice(&b[m - 4..]);
            u64::from(u32::from_le_bytes(x)) | u64::from(u32::from_le_bytes(y)) << (8 * (m - 4))
        } else {
            u64::from(b[0])
                | u64::from(b[m / 2]) << (8 * (m / 2))
                | u64::from(b[m - 1]) << (8 * (m - 1))
        }
    };
    let len = (n as u32) << 24;
    if n <= 8 {
        (small(key), len)
    } else {
        let mut x = [0u8; 8];
        x.copy_from_slice(&key[..8]);
        (u64::from_le_bytes(x), small(&key[8..]) as u32 | len)
    }
}

impl FlagTable {
    pub(crate) fn new(words: impl IntoIterator<Item = (&'static str, u32)>) -> FlagTable {
        let words: Vec<(&'static str, u32)> = words.into_iter().collect();
        // At most half full, so that a probe rarely runs past its line.
        let size = (words.len() * 2).next_power_of_two().max(16);
        let mut table = FlagTable {
            slots: vec![Slot::default(); size],
            mask: size - 1,
            long: Default::default(),
        };
        for (w, flags) in words {
            let b = w.as_bytes();
            if b.is_empty() || b.len() > INLINE {
                *table.long.entry(w).or_insert(0) |= flags;
                continue;
            }
            let (lo, hi) = pack(b);
            let mut i = table.index(lo, hi);
            loop {
                let s = &mut table.slots[i];
                if s.hi == 0 {
                    *s = Slot { lo, hi, flags };
                    break;
                }
                if s.lo == lo && s.hi == hi {
                    s.flags |= flags;
                    break;
                }
                i = (i + 1) & table.mask;
            }
        }
        table
    }

    #[inline]
    fn index(&self, lo: u64, hi: u32) -> usize {
        let h = (lo.wrapping_mul(K) ^ u64::from(hi)).wrapping_mul(K);
        (h >> 32) as usize & self.mask
    }

    /// The bits of `key`, as `HashMap::get` would answer. Inlined: the
    /// call's register saves cost as much as the look-up itself.
    #[inline(always)]
    pub(crate) fn get(&self, key: &str) -> Option<&u32> {
        let b = key.as_bytes();
        // Empty (wraps around) or longer than a slot holds.
        if b.len().wrapping_sub(1) >= INLINE {
            return self.long.get(key);
        }
        let (lo, hi) = pack(b);
        let mut i = self.index(lo, hi);
        loop {
            let s = &self.slots[i];
            if s.lo == lo && s.hi == hi {
                return Some(&s.flags);
            }
            if s.hi == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}
