//! Surface forms: the many ways one date, time, name, identifier, phone
//! number or address is written. Each function returns the exact text of the
//! identifier (what the gold span covers); titles and labels stay outside.

use crate::nhs::nhs_check_digit;
use crate::Style;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) type Rng8 = ChaCha8Rng;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn ordinal(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// A calendar date written one of many ways (day-first for NHS notes,
/// month-first for US notes, ISO in both).
pub(crate) fn date(rng: &mut Rng8, style: Style, d: NaiveDate) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let mon = MONTHS[m as usize - 1];
    let mon3 = &mon[..3];
    let yy = y % 100;
    match style {
        Style::Nhs => match rng.gen_range(0..21) {
            0..=4 => format!("{day:02}/{m:02}/{y}"),
            5 => format!("{day}/{m}/{y}"),
            6 => format!("{day:02}/{m:02}/{yy:02}"),
            7 => format!("{day:02}.{m:02}.{y}"),
            8..=9 => format!("{day:02}-{mon3}-{yy:02}"),
            10..=11 => format!("{day} {mon3} {y}"),
            12 => format!("{day}{} {mon} {y}", ordinal(day)),
            13 => format!("{day} {mon} {y}"),
            14 => format!("{y}-{m:02}-{day:02}"),
            15 => format!("{day:02}{}{y}", mon3.to_uppercase()),
            16 => format!("{day} {mon3} '{yy:02}"),
            17 => format!(
                "{}, {day} {mon} {y}",
                WEEKDAYS[d.weekday().num_days_from_monday() as usize]
            ),
            18 => format!("{day:02}-{m:02}-{y}"),
            19 => format!("{day}/{m}"),
            _ => format!("{day}{} {mon3}", ordinal(day)),
        },
        Style::Us => match rng.gen_range(0..16) {
            0..=4 => format!("{m:02}/{day:02}/{y}"),
            5..=6 => format!("{m}/{day}/{y}"),
            7 => format!("{m}/{day}/{yy:02}"),
            8..=9 => format!("{mon} {day}, {y}"),
            10 => format!("{mon3} {day}, {y}"),
            11 => format!("{y}-{m:02}-{day:02}"),
            12 => format!("{m}/{day}"),
            13 => format!(
                "{}, {mon} {day}, {y}",
                WEEKDAYS[d.weekday().num_days_from_monday() as usize]
            ),
            14 => format!("{m:02}-{day:02}-{y}"),
            _ => format!("{day}-{}-{y}", mon3.to_uppercase()),
        },
    }
}

/// A date written with its year (dates of birth are never written "12th Mar").
pub(crate) fn date_with_year(rng: &mut Rng8, style: Style, d: NaiveDate) -> String {
    let full = format!("{}", d.year());
    let short = format!("{:02}", d.year() % 100);
    loop {
        let s = date(rng, style, d);
        if s.contains(&full) || s.ends_with(&short) {
            return s;
        }
    }
}

/// A date in the form a structured header uses (stable within one note).
pub(crate) fn header_date(style: Style, d: NaiveDate) -> String {
    match style {
        Style::Nhs => d.format("%d/%m/%Y").to_string(),
        Style::Us => d.format("%m/%d/%Y").to_string(),
    }
}

/// A clock time: 14:05, 1405, 14.05 or 2:05 pm.
pub(crate) fn time(rng: &mut Rng8, style: Style, t: NaiveDateTime) -> String {
    let (h, m) = (t.hour(), t.minute());
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let ampm = if h < 12 { "am" } else { "pm" };
    match (style, rng.gen_range(0..6)) {
        (Style::Nhs, 0..=2) => format!("{h:02}:{m:02}"),
        (Style::Nhs, 3) => format!("{h:02}{m:02}"),
        (Style::Nhs, 4) => format!("{h:02}.{m:02}"),
        (Style::Nhs, _) => format!("{h12}:{m:02}{ampm}"),
        (Style::Us, 0..=2) => format!("{h12}:{m:02} {}", ampm.to_uppercase()),
        (Style::Us, 3) => format!("{h:02}{m:02}"),
        (Style::Us, 4) => format!("{h:02}:{m:02}"),
        (Style::Us, _) => format!("{h12}:{m:02}{ampm}"),
    }
}

/// A date and time together ("12/03/2024 14:05", "March 12, 2024 at 2:05 PM").
pub(crate) fn date_time(rng: &mut Rng8, style: Style, t: NaiveDateTime) -> String {
    let d = date(rng, style, t.date());
    let tm = time(rng, style, t);
    match rng.gen_range(0..3) {
        0 => format!("{d} at {tm}"),
        1 => format!("{d}, {tm}"),
        _ => format!("{d} {tm}"),
    }
}

/// A person's name parts.
#[derive(Clone, Debug)]
pub(crate) struct PersonName {
    pub first: String,
    pub middle: Option<String>,
    pub last: String,
    pub female: bool,
}

/// How a name is written. The title is returned separately because gold
/// name spans exclude titles.
pub(crate) fn name(rng: &mut Rng8, p: &PersonName) -> String {
    let initial = p.first.chars().next().unwrap_or('X');
    match rng.gen_range(0..22) {
        0..=6 => format!("{} {}", p.first, p.last),
        7 => format!("{} {}", p.first.to_lowercase(), p.last.to_lowercase()),
        8..=9 => format!("{} {}", p.first.to_uppercase(), p.last.to_uppercase()),
        10..=11 => format!("{}, {}", p.last.to_uppercase(), p.first),
        12 => format!("{}, {}", p.last, p.first),
        13..=14 => format!("{initial}. {}", p.last),
        15 => format!("{initial} {}", p.last),
        16..=17 => match &p.middle {
            Some(mid) => format!("{} {} {}", p.first, mid, p.last),
            None => format!("{} {}", p.first, p.last),
        },
        18 => match &p.middle {
            Some(mid) => format!(
                "{} {}. {}",
                p.first,
                mid.chars().next().unwrap_or('A'),
                p.last
            ),
            None => format!("{initial}. {}", p.last),
        },
        19 => p.last.to_lowercase(),
        _ => p.last.clone(),
    }
}

/// A name that follows a title: "Brown", "Rose Brown" or "R. Brown".
pub(crate) fn name_after_title(rng: &mut Rng8, p: &PersonName) -> String {
    let initial = p.first.chars().next().unwrap_or('X');
    match rng.gen_range(0..8) {
        0..=3 => p.last.clone(),
        4..=5 => format!("{} {}", p.first, p.last),
        6 => format!("{initial}. {}", p.last),
        _ => format!("{initial} {}", p.last),
    }
}

/// Initials only ("RB"), as handover sheets write them.
pub(crate) fn initials(p: &PersonName) -> String {
    let f = p.first.chars().next().unwrap_or('X');
    let l = p.last.chars().find(|c| c.is_alphabetic()).unwrap_or('X');
    format!("{f}{l}")
}

/// The courtesy title for a patient or relative.
pub(crate) fn courtesy_title(rng: &mut Rng8, style: Style, female: bool) -> &'static str {
    let t = if female {
        *["Mrs", "Ms", "Miss", "Mrs", "Ms"]
            .choose(rng)
            .expect("non-empty")
    } else {
        "Mr"
    };
    match (style, t) {
        (Style::Us, "Mrs") => "Mrs.",
        (Style::Us, "Ms") => "Ms.",
        (Style::Us, "Mr") => "Mr.",
        _ => t,
    }
}

/// Ten digits whose last is the modulus-11 check digit, unique per `index`
/// and `seed`: the first nine digits are an invertible function of
/// (index, attempt), so two patients never share a number.
pub(crate) fn nhs_number_digits(seed: u64, index: usize) -> String {
    const SPACE: u64 = 600_000_000; // first nine digits in 400000000..=999999999
    let offset = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % SPACE;
    for attempt in 0..64u64 {
        let key = (index as u64) * 64 + attempt;
        // The multiplier is coprime with SPACE (= 2^9·3·5^8), so this is a
        // permutation of 0..SPACE; being large, it scatters neighbouring keys.
        let nine = 400_000_000 + (key.wrapping_mul(370_248_451) % SPACE + offset) % SPACE;
        let digits: Vec<u8> = nine.to_string().bytes().map(|b| b - b'0').collect();
        let arr: [u8; 9] = digits.clone().try_into().expect("nine digits");
        if let Some(check) = nhs_check_digit(&arr) {
            return format!("{nine}{check}");
        }
    }
    unreachable!("64 consecutive prefixes cannot all have remainder 10")
}

/// An NHS number written spaced (3-3-4) or unspaced.
pub(crate) fn nhs_number(rng: &mut Rng8, digits: &str) -> String {
    match rng.gen_range(0..5) {
        0..=2 => format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..]),
        _ => digits.to_string(),
    }
}

/// A unique number of `width` digits for `index` (MRNs and hospital numbers).
pub(crate) fn unique_number(seed: u64, salt: u64, index: usize, width: u32) -> u64 {
    let space = 10u64.pow(width) - 10u64.pow(width - 1);
    let offset = (seed ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) % space;
    // The multiplier is coprime with 2, 3 and 5, hence with `space`
    // (9·10^(width−1)): a permutation that scatters neighbouring indexes.
    10u64.pow(width - 1) + ((index as u64).wrapping_mul(55_623_617) % space + offset) % space
}

/// A UK hospital (trust) number in one of several local formats.
pub(crate) fn hospital_number(rng: &mut Rng8, n: u64) -> String {
    let letters = ["RXH", "RTH", "K", "H", "A", "M", "RJ"];
    let l = letters[(n % letters.len() as u64) as usize];
    match rng.gen_range(0..4) {
        0 => format!("{l}{:07}", n % 10_000_000),
        1 => format!("{l}{:06}", n % 1_000_000),
        2 => format!("{l}/{:07}", n % 10_000_000),
        _ => format!("{:08}", n % 100_000_000),
    }
}

/// A US medical record number in one of several formats.
pub(crate) fn mrn(rng: &mut Rng8, n: u64) -> String {
    let s = format!("{:08}", n % 100_000_000);
    match rng.gen_range(0..4) {
        0 => s,
        1 => format!("{}-{}-{}", &s[..2], &s[2..5], &s[5..]),
        2 => format!("E{s}"),
        _ => s.trim_start_matches('0').to_string(),
    }
}

/// The canonical (stable) form of a US MRN, used as `patient_id`.
pub(crate) fn mrn_canonical(n: u64) -> String {
    format!("{:08}", n % 100_000_000)
}

/// A National Insurance number with a valid prefix and suffix.
pub(crate) fn ni_number(rng: &mut Rng8) -> String {
    const FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    loop {
        let a = FIRST[rng.gen_range(0..FIRST.len())] as char;
        let b = SECOND[rng.gen_range(0..SECOND.len())] as char;
        let prefix = format!("{a}{b}");
        if ["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"].contains(&prefix.as_str()) {
            continue;
        }
        let n: u32 = rng.gen_range(0..1_000_000);
        let s = format!("{n:06}");
        let suffix = ['A', 'B', 'C', 'D'][rng.gen_range(0..4)];
        return if rng.gen_bool(0.5) {
            format!("{prefix} {} {} {} {suffix}", &s[..2], &s[2..4], &s[4..])
        } else {
            format!("{prefix}{s}{suffix}")
        };
    }
}

/// An SSN-shaped number in the never-issued 900–999 area range.
pub(crate) fn ssn(rng: &mut Rng8) -> String {
    format!(
        "{}-{:02}-{:04}",
        rng.gen_range(900..1000),
        rng.gen_range(1..100),
        rng.gen_range(1..10_000)
    )
}

/// A UK mobile number in Ofcom's drama range (07700 900000–900999).
pub(crate) fn uk_mobile(rng: &mut Rng8) -> String {
    let n: u32 = rng.gen_range(0..1000);
    match rng.gen_range(0..5) {
        0..=1 => format!("07700 900{n:03}"),
        2 => format!("07700900{n:03}"),
        3 => format!("+44 7700 900{n:03}"),
        _ => format!("07700 900 {n:03}"),
    }
}

/// A UK landline in the drama block for the town's dialling code.
pub(crate) fn uk_landline(rng: &mut Rng8, dialling_code: &str) -> String {
    let n: u32 = rng.gen_range(0..1000);
    let (code, local) = match dialling_code {
        "0113" | "0114" | "0115" | "0116" | "0117" | "0118" | "0121" | "0131" | "0141" | "0151"
        | "0161" => (dialling_code, format!("496 0{n:03}")),
        "0191" => ("0191", format!("498 0{n:03}")),
        "020" => ("020", format!("7946 0{n:03}")),
        "028" => ("028", format!("9649 6{n:03}")),
        "029" => ("029", format!("2018 0{n:03}")),
        _ => ("01632", format!("960{n:03}")),
    };
    match rng.gen_range(0..4) {
        0..=1 => format!("{code} {local}"),
        2 => format!(
            "+44 ({}) {}{}",
            &code[..1],
            &code[1..],
            format_args!(" {local}")
        ),
        _ => format!("({code}) {local}"),
    }
}

/// A US number in the 555-0100–0199 fictional block.
pub(crate) fn us_phone(rng: &mut Rng8, area_code: &str) -> String {
    let n: u32 = rng.gen_range(100..200);
    match rng.gen_range(0..4) {
        0..=1 => format!("({area_code}) 555-0{n}"),
        2 => format!("{area_code}-555-0{n}"),
        _ => format!("{area_code}.555.0{n}"),
    }
}

/// A UK postcode for a town's area and a district number.
pub(crate) fn uk_postcode(rng: &mut Rng8, outward: &str) -> String {
    const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let l1 = INWARD_LETTERS[rng.gen_range(0..INWARD_LETTERS.len())] as char;
    let l2 = INWARD_LETTERS[rng.gen_range(0..INWARD_LETTERS.len())] as char;
    let digit = rng.gen_range(1..10);
    format!("{outward} {digit}{l1}{l2}")
}

/// A US ZIP code (5 digits, sometimes ZIP+4).
pub(crate) fn us_zip(rng: &mut Rng8, zip3: &str) -> String {
    let tail: u32 = rng.gen_range(1..100);
    if rng.gen_bool(0.25) {
        format!("{zip3}{tail:02}-{:04}", rng.gen_range(1..10_000))
    } else {
        format!("{zip3}{tail:02}")
    }
}

/// A private-range IP address (for PACS workstations and device logs).
pub(crate) fn ip_address(rng: &mut Rng8) -> String {
    match rng.gen_range(0..3) {
        0 => format!(
            "10.{}.{}.{}",
            rng.gen_range(0..256),
            rng.gen_range(0..256),
            rng.gen_range(1..255)
        ),
        1 => format!(
            "192.168.{}.{}",
            rng.gen_range(0..256),
            rng.gen_range(1..255)
        ),
        _ => format!(
            "172.{}.{}.{}",
            rng.gen_range(16..32),
            rng.gen_range(0..256),
            rng.gen_range(1..255)
        ),
    }
}

/// An e-mail local part derived from a name.
pub(crate) fn email_local(rng: &mut Rng8, p: &PersonName) -> String {
    // Mailbox names keep ASCII letters only ("Zoë Núñez" → "zo", "nez" parts
    // are fine for a mailbox, and slicing stays on character boundaries).
    let ascii = |s: &str| -> String {
        let a: String = s
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .collect();
        if a.is_empty() {
            "x".into()
        } else {
            a
        }
    };
    let f = ascii(&p.first);
    let l = ascii(&p.last);
    match rng.gen_range(0..5) {
        0 => format!("{f}.{l}"),
        1 => format!("{}.{l}", &f[..1]),
        2 => format!("{f}{l}{}", rng.gen_range(1..100)),
        3 => format!("{}{l}", &f[..1]),
        _ => format!("{l}.{f}{}", rng.gen_range(50..99)),
    }
}

/// A UK vehicle registration (current format), an OTHER identifier.
pub(crate) fn vehicle_registration(rng: &mut Rng8, style: Style) -> String {
    const L: &[u8] = b"ABCDEFGHJKLMNOPRSTUVWXY";
    let mut letter = || L[rng.gen_range(0..L.len())] as char;
    let (a, b, c, d, e) = (letter(), letter(), letter(), letter(), letter());
    match style {
        Style::Nhs => format!(
            "{a}{b}{} {c}{d}{e}",
            [19, 20, 21, 22, 23, 69, 70, 71, 72][(a as usize) % 9]
        ),
        Style::Us => format!("{a}{b}{c}-{}", 1000 + (d as u32 * 37 + e as u32) % 9000),
    }
}
