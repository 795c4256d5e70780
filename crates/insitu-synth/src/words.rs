//! Word lists compiled into the binary (sources and licences in
//! `data/LICENSES.md`). Parsed once, on first use.

use std::sync::OnceLock;

/// A UK town with what is needed to give it a plausible postcode and phone.
pub(crate) struct UkTown {
    pub name: &'static str,
    pub area: &'static str,
    pub districts: (u32, u32),
    pub dialling_code: &'static str,
}

/// A US city with its state, ZIP prefix and area code.
pub(crate) struct UsCity {
    pub name: &'static str,
    pub state: &'static str,
    pub zip3: &'static str,
    pub area_code: &'static str,
}

/// Every list, parsed.
pub(crate) struct Words {
    pub female: Vec<&'static str>,
    pub male: Vec<&'static str>,
    pub surnames: Vec<&'static str>,
    pub word_female: Vec<&'static str>,
    pub word_male: Vec<&'static str>,
    pub word_surnames: Vec<&'static str>,
    pub accented_female: Vec<&'static str>,
    pub accented_male: Vec<&'static str>,
    pub accented_surnames: Vec<&'static str>,
    pub uk_towns: Vec<UkTown>,
    pub london_outward: Vec<&'static str>,
    pub us_cities: Vec<UsCity>,
    pub streets: Vec<&'static str>,
    pub uk_suffixes: Vec<&'static str>,
    pub us_suffixes: Vec<&'static str>,
    pub professions: Vec<&'static str>,
    pub employers: Vec<&'static str>,
    pub hospitals: Vec<&'static str>,
    pub gp_practices_uk: Vec<&'static str>,
    pub gp_practices_us: Vec<&'static str>,
}

/// Non-empty, non-comment lines of a list file.
fn lines(src: &'static str) -> impl Iterator<Item = &'static str> {
    src.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn list(src: &'static str) -> Vec<&'static str> {
    lines(src).collect()
}

fn fields<const N: usize>(line: &'static str) -> [&'static str; N] {
    let mut out = [""; N];
    let mut parts = line.split('|');
    for slot in out.iter_mut() {
        *slot = parts
            .next()
            .unwrap_or_else(|| panic!("word list line {line:?} needs {N} |-separated fields"));
    }
    out
}

/// The parsed lists.
pub(crate) fn words() -> &'static Words {
    static WORDS: OnceLock<Words> = OnceLock::new();
    WORDS.get_or_init(|| {
        let word_names: Vec<(&str, &str)> = lines(include_str!("../data/word_names.txt"))
            .map(|l| {
                l.split_once(' ')
                    .expect("word_names.txt: `F|M|S Name` per line")
            })
            .collect();
        let pick = |tag: &str| -> Vec<&'static str> {
            word_names
                .iter()
                .filter(|(t, _)| *t == tag)
                .map(|(_, n)| *n)
                .collect()
        };
        let accented: Vec<(&str, &str)> = lines(include_str!("../data/accented_names.txt"))
            .map(|l| {
                l.split_once(' ')
                    .expect("accented_names.txt: `F|M|S Name` per line")
            })
            .collect();
        let pick_accented = |tag: &str| -> Vec<&'static str> {
            accented
                .iter()
                .filter(|(t, _)| *t == tag)
                .map(|(_, n)| *n)
                .collect()
        };
        let suffixes: Vec<[&str; 2]> = lines(include_str!("../data/street_suffixes.txt"))
            .map(fields::<2>)
            .collect();
        let practices: Vec<[&str; 2]> = lines(include_str!("../data/gp_practices.txt"))
            .map(fields::<2>)
            .collect();
        let practices_for = |style: &str| -> Vec<&'static str> {
            practices
                .iter()
                .filter(|[_, s]| *s == style)
                .map(|[p, _]| *p)
                .collect()
        };
        Words {
            female: list(include_str!("../data/first_names_female.txt")),
            male: list(include_str!("../data/first_names_male.txt")),
            surnames: list(include_str!("../data/surnames.txt")),
            word_female: pick("F"),
            word_male: pick("M"),
            word_surnames: pick("S"),
            accented_female: pick_accented("F"),
            accented_male: pick_accented("M"),
            accented_surnames: pick_accented("S"),
            uk_towns: lines(include_str!("../data/uk_towns.txt"))
                .map(|l| {
                    let [name, area, lo, hi, dialling_code] = fields::<5>(l);
                    UkTown {
                        name,
                        area,
                        districts: (
                            lo.parse().expect("uk_towns.txt: district"),
                            hi.parse().expect("uk_towns.txt: district"),
                        ),
                        dialling_code,
                    }
                })
                .collect(),
            london_outward: list(include_str!("../data/london_outward.txt")),
            us_cities: lines(include_str!("../data/us_cities.txt"))
                .map(|l| {
                    let [name, state, zip3, area_code] = fields::<4>(l);
                    UsCity {
                        name,
                        state,
                        zip3,
                        area_code,
                    }
                })
                .collect(),
            streets: list(include_str!("../data/street_names.txt")),
            uk_suffixes: suffixes
                .iter()
                .filter(|[_, s]| *s != "us")
                .map(|[n, _]| *n)
                .collect(),
            us_suffixes: suffixes
                .iter()
                .filter(|[_, s]| *s != "uk")
                .map(|[n, _]| *n)
                .collect(),
            professions: list(include_str!("../data/professions.txt")),
            employers: list(include_str!("../data/employers.txt")),
            hospitals: list(include_str!("../data/hospital_names.txt")),
            gp_practices_uk: practices_for("uk"),
            gp_practices_us: practices_for("us"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_parses_and_is_non_empty() {
        let w = words();
        for (name, len) in [
            ("female", w.female.len()),
            ("male", w.male.len()),
            ("surnames", w.surnames.len()),
            ("word_female", w.word_female.len()),
            ("word_male", w.word_male.len()),
            ("word_surnames", w.word_surnames.len()),
            ("accented_female", w.accented_female.len()),
            ("accented_male", w.accented_male.len()),
            ("accented_surnames", w.accented_surnames.len()),
            ("uk_towns", w.uk_towns.len()),
            ("london_outward", w.london_outward.len()),
            ("us_cities", w.us_cities.len()),
            ("streets", w.streets.len()),
            ("uk_suffixes", w.uk_suffixes.len()),
            ("us_suffixes", w.us_suffixes.len()),
            ("professions", w.professions.len()),
            ("employers", w.employers.len()),
            ("hospitals", w.hospitals.len()),
            ("gp_practices_uk", w.gp_practices_uk.len()),
            ("gp_practices_us", w.gp_practices_us.len()),
        ] {
            assert!(len > 0, "{name} is empty");
        }
        assert!(w.word_female.contains(&"Rose") && w.word_surnames.contains(&"Brown"));
        assert!(w.uk_towns.iter().all(|t| t.districts.0 <= t.districts.1));
    }
}
