//! One synthetic patient: identity, contacts, history, medicines and a
//! timeline of encounters. Everything a note may mention is decided here, once,
//! so that every note about the patient agrees with every other.

use crate::clinical::{
    Acute, Chronic, Drug, FamilyCondition, ACUTE, ALLERGIES, CHRONIC, FAMILY, RELATIVES,
};
use crate::surface::{self, PersonName, Rng8};
use crate::words::words;
use crate::Style;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::Rng;

/// A clinician who writes or is named in notes.
pub(crate) struct Clinician {
    pub name: PersonName,
    /// Title written before the name ("Dr", "Mr", "Sister"…), outside the span.
    pub title: &'static str,
    /// Grade or job ("Consultant Physician", "FY1", "RN"…), not identifying.
    pub role: &'static str,
    /// Registration number (GMC, NMC PIN or NPI).
    pub registration: String,
    pub email: String,
    pub bleep: String,
}

/// A postal address, each part a separate gold span.
pub(crate) struct Address {
    pub street: String,
    pub town: String,
    /// US state (not identifying on its own, written as plain text).
    pub state: Option<&'static str>,
    pub postcode: String,
    /// Dialling code (UK) or area code (US) used for phones near here.
    pub phone_code: &'static str,
}

/// A condition in the past medical history, with the year it began.
pub(crate) struct PmhItem {
    pub name: String,
    pub abbrev: Option<String>,
    pub icd10: Option<&'static str>,
    pub year: i32,
    /// A past event (MI, stroke, an earlier admission) rather than an ongoing
    /// condition: labelled historical, where ongoing conditions are present.
    pub past_event: bool,
}

/// One admission and what follows it.
pub(crate) struct Encounter {
    pub id: String,
    pub acute: &'static Acute,
    pub arrival: NaiveDateTime,
    pub imaging_at: NaiveDateTime,
    pub op_at: Option<NaiveDateTime>,
    pub handover_at: NaiveDateTime,
    pub discharge: NaiveDateTime,
    pub clinic: Option<NaiveDateTime>,
    pub ward: String,
    pub bed: u32,
    pub triage: u8,
    pub by_ambulance: bool,
    pub accession: String,
    pub consultant: Clinician,
    pub junior: Clinician,
    pub nurse: Clinician,
    pub radiologist: Clinician,
    pub surgeon: Clinician,
    pub anaesthetist: Clinician,
    /// PMH at this admission (earlier admissions appear as past events).
    pub pmh: Vec<PmhItem>,
    /// Medicines on arrival (copied forward, sometimes edited).
    pub meds: Vec<Drug>,
}

/// Everything about one patient.
pub(crate) struct PatientRecord {
    pub index: usize,
    pub style: Style,
    pub name: PersonName,
    pub dob: NaiveDate,
    /// Ten NHS-number digits (NHS style), also the `patient_id`.
    pub nhs_digits: String,
    pub hospital_n: u64,
    pub mrn_n: u64,
    pub ni: String,
    pub ssn: String,
    pub address: Address,
    pub home_phone: String,
    pub mobile: String,
    pub email: String,
    pub profession: &'static str,
    pub employer: &'static str,
    pub nok: PersonName,
    pub nok_relation: &'static str,
    pub nok_phone: String,
    pub gp: Clinician,
    pub practice: String,
    pub practice_address: Address,
    pub practice_phone: String,
    pub practice_url: String,
    pub hospital: String,
    pub hospital_address: Address,
    pub hospital_phone: String,
    pub family: Vec<(&'static str, &'static FamilyCondition)>,
    pub allergy: Option<(&'static str, &'static str)>,
    pub smoking: &'static str,
    pub alcohol_units: u32,
    pub lives_with: &'static str,
    pub portal_url: String,
    /// Seed for copy-forward paragraphs: rendering them with the same seed
    /// reproduces the same words in every note that copies them.
    pub copy_seed: u64,
    pub encounters: Vec<Encounter>,
}

impl PatientRecord {
    /// The identifier a hospital export carries: NHS number or MRN.
    pub fn patient_id(&self) -> String {
        match self.style {
            Style::Nhs => self.nhs_digits.clone(),
            Style::Us => surface::mrn_canonical(self.mrn_n),
        }
    }

    /// Whole years of age on a date.
    pub fn age_on(&self, d: NaiveDate) -> i32 {
        let mut age = d.year() - self.dob.year();
        if (d.month(), d.day()) < (self.dob.month(), self.dob.day()) {
            age -= 1;
        }
        age
    }
}

fn pick<T: Copy>(rng: &mut Rng8, items: &[T]) -> T {
    *items.choose(rng).expect("word lists are never empty")
}

/// A first name, sometimes one that is also an English word.
fn first_name(rng: &mut Rng8, female: bool) -> String {
    let w = words();
    // A few names carry non-ASCII letters, so byte offsets are tested on them.
    if rng.gen_bool(0.03) {
        return pick(
            rng,
            if female {
                &w.accented_female
            } else {
                &w.accented_male
            },
        )
        .to_string();
    }
    let word_name = rng.gen_bool(0.15);
    match (female, word_name) {
        (true, true) => pick(rng, &w.word_female),
        (true, false) => pick(rng, &w.female),
        (false, true) => pick(rng, &w.word_male),
        (false, false) => pick(rng, &w.male),
    }
    .to_string()
}

fn surname(rng: &mut Rng8) -> String {
    let w = words();
    if rng.gen_bool(0.03) {
        return pick(rng, &w.accented_surnames).to_string();
    }
    if rng.gen_bool(0.2) {
        pick(rng, &w.word_surnames)
    } else {
        pick(rng, &w.surnames)
    }
    .to_string()
}

pub(crate) fn person(rng: &mut Rng8, female: bool) -> PersonName {
    let first = first_name(rng, female);
    let middle = rng.gen_bool(0.4).then(|| first_name(rng, female));
    PersonName {
        first,
        middle,
        last: surname(rng),
        female,
    }
}

/// Where someone lives: a UK town, London, or a US city.
#[derive(Clone, Copy)]
enum Place {
    UkTown(usize),
    London,
    UsCity(usize),
}

fn place(rng: &mut Rng8, style: Style) -> Place {
    let w = words();
    match style {
        // One address in eight is in London, whose outward codes cover the
        // letter-digit-letter forms (W1A, SW1A) that other towns lack.
        Style::Nhs if rng.gen_bool(0.125) => Place::London,
        Style::Nhs => Place::UkTown(rng.gen_range(0..w.uk_towns.len())),
        Style::Us => Place::UsCity(rng.gen_range(0..w.us_cities.len())),
    }
}

fn address(rng: &mut Rng8, place: Place) -> Address {
    let w = words();
    let number = rng.gen_range(1..240);
    let stem = pick(rng, &w.streets);
    if let Place::UsCity(i) = place {
        let suffix = pick(rng, &w.us_suffixes);
        let street = match rng.gen_range(0..5) {
            0 => format!(
                "{number}{} {stem} {suffix}, Apt {}",
                rng.gen_range(0..10),
                rng.gen_range(1..40)
            ),
            _ => format!("{number}{} {stem} {suffix}", rng.gen_range(0..100)),
        };
        let city = &w.us_cities[i];
        return Address {
            street,
            town: city.name.into(),
            state: Some(city.state),
            postcode: surface::us_zip(rng, city.zip3),
            phone_code: city.area_code,
        };
    }
    let suffix = pick(rng, &w.uk_suffixes);
    let street = match rng.gen_range(0..6) {
        0 => format!("Flat {}, {number} {stem} {suffix}", rng.gen_range(1..30)),
        1 => format!(
            "{number}{} {stem} {suffix}",
            ['a', 'b'][rng.gen_range(0..2)]
        ),
        _ => format!("{number} {stem} {suffix}"),
    };
    match place {
        Place::UkTown(i) => {
            let town = &w.uk_towns[i];
            let district = rng.gen_range(town.districts.0..=town.districts.1);
            Address {
                street,
                town: town.name.into(),
                state: None,
                postcode: surface::uk_postcode(rng, &format!("{}{district}", town.area)),
                phone_code: town.dialling_code,
            }
        }
        _ => {
            let outward = pick(rng, &w.london_outward);
            Address {
                street,
                town: "London".into(),
                state: None,
                postcode: surface::uk_postcode(rng, outward),
                phone_code: "020",
            }
        }
    }
}

fn phone(rng: &mut Rng8, style: Style, code: &str, mobile: bool) -> String {
    match (style, mobile) {
        (Style::Nhs, true) => surface::uk_mobile(rng),
        (Style::Nhs, false) => surface::uk_landline(rng, code),
        (Style::Us, _) => surface::us_phone(rng, code),
    }
}

/// A clinician of a given kind.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Gp,
    Physician,
    Surgeon,
    Junior,
    Nurse,
    Radiologist,
    Anaesthetist,
}

pub(crate) fn clinician(rng: &mut Rng8, style: Style, role: Role) -> Clinician {
    let female = rng.gen_bool(0.5);
    let name = person(rng, female);
    let us = style == Style::Us;
    let (title, job): (&'static str, &'static str) = match (role, us) {
        (Role::Gp, false) => ("Dr", "General Practitioner"),
        (Role::Gp, true) => ("Dr.", "Primary Care Physician"),
        (Role::Physician, false) => (
            "Dr",
            pick(
                rng,
                &[
                    "Consultant Physician",
                    "Consultant in Acute Medicine",
                    "Consultant Cardiologist",
                    "Consultant Respiratory Physician",
                ],
            ),
        ),
        (Role::Physician, true) => (
            "Dr.",
            pick(
                rng,
                &[
                    "Attending Physician",
                    "Hospitalist",
                    "Attending, Internal Medicine",
                ],
            ),
        ),
        (Role::Surgeon, false) => (
            if female {
                pick(rng, &["Ms", "Miss"])
            } else {
                "Mr"
            },
            pick(
                rng,
                &[
                    "Consultant Surgeon",
                    "Consultant General Surgeon",
                    "Consultant Orthopaedic Surgeon",
                ],
            ),
        ),
        (Role::Surgeon, true) => ("Dr.", pick(rng, &["Attending Surgeon", "Surgeon"])),
        (Role::Junior, false) => (
            "Dr",
            pick(rng, &["FY1", "FY2", "CT1", "ST3", "SHO", "Registrar"]),
        ),
        (Role::Junior, true) => ("Dr.", pick(rng, &["PGY-1", "PGY-2", "Resident", "Fellow"])),
        (Role::Nurse, false) => (
            if female {
                pick(rng, &["Sister", "Staff Nurse"])
            } else {
                pick(rng, &["Charge Nurse", "Staff Nurse"])
            },
            "Staff Nurse",
        ),
        (Role::Nurse, true) => ("", "RN"),
        (Role::Radiologist, false) => ("Dr", "Consultant Radiologist"),
        (Role::Radiologist, true) => ("Dr.", "Attending Radiologist"),
        (Role::Anaesthetist, false) => ("Dr", "Consultant Anaesthetist"),
        (Role::Anaesthetist, true) => ("Dr.", "Anesthesiologist"),
    };
    let registration = match (role, us) {
        (Role::Nurse, false) => format!(
            "{:02}{}{:04}{}",
            rng.gen_range(0..100),
            (b'A' + rng.gen_range(0..26)) as char,
            rng.gen_range(0..10_000),
            (b'A' + rng.gen_range(0..26)) as char
        ),
        (_, false) => format!("{}", rng.gen_range(3_000_000..7_999_999)),
        (_, true) => format!("1{:09}", rng.gen_range(0..1_000_000_000u64)),
    };
    let local = surface::email_local(rng, &name);
    let domain = match us {
        false => pick(rng, &["nhs.net", "nhs.net", "example-trust.nhs.uk"]),
        true => pick(rng, &["example-health.org", "mercy.example.org"]),
    };
    Clinician {
        title,
        role: job,
        registration,
        email: format!("{local}@{domain}"),
        bleep: format!("{}", rng.gen_range(1000..9999)),
        name,
    }
}

fn ward(rng: &mut Rng8, style: Style) -> String {
    match style {
        Style::Nhs => match rng.gen_range(0..4) {
            0 => format!(
                "Ward {}{}",
                rng.gen_range(1..40),
                ['A', 'B', 'C'][rng.gen_range(0..3)]
            ),
            1 => format!("Ward {}", rng.gen_range(1..50)),
            2 => format!(
                "{} Ward",
                pick(
                    rng,
                    &[
                        "Ash",
                        "Beech",
                        "Rowan",
                        "Holly",
                        "Oak",
                        "Larch",
                        "Nightingale",
                        "Florence",
                        "Cavell"
                    ]
                )
            ),
            _ => format!(
                "Ward {}{}",
                ['F', 'J', 'L', 'M'][rng.gen_range(0..4)],
                rng.gen_range(1..9)
            ),
        },
        Style::Us => match rng.gen_range(0..3) {
            0 => format!(
                "{} {}",
                rng.gen_range(2..9),
                pick(rng, &["West", "East", "North", "South"])
            ),
            1 => format!(
                "Unit {}{}",
                rng.gen_range(2..9),
                ['A', 'B', 'C'][rng.gen_range(0..3)]
            ),
            _ => format!(
                "{} Tower {}",
                pick(rng, &["Heritage", "Founders", "Pavilion"]),
                rng.gen_range(3..12)
            ),
        },
    }
}

fn fill_pattern(pattern: &str, street: &str, surname: &str, town: &str) -> String {
    pattern
        .replace("{street}", street)
        .replace("{surname}", surname)
        .replace("{town}", town)
}

fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// Uniformly random date-time between two dates, at a plausible hour.
fn datetime_between(rng: &mut Rng8, from: NaiveDate, days: i64) -> NaiveDateTime {
    let d = from + Duration::days(rng.gen_range(0..days.max(1)));
    d.and_hms_opt(rng.gen_range(0..24), rng.gen_range(0..60), 0)
        .expect("valid time")
}

fn at_hour(d: NaiveDate, rng: &mut Rng8, lo: u32, hi: u32) -> NaiveDateTime {
    d.and_hms_opt(rng.gen_range(lo..hi), rng.gen_range(0..60), 0)
        .expect("valid time")
}

fn chronic_item(c: &'static Chronic, year: i32) -> PmhItem {
    PmhItem {
        name: c.name.into(),
        abbrev: c.abbrev.map(Into::into),
        icd10: Some(c.icd10),
        year,
        past_event: matches!(c.abbrev, Some("MI" | "CVA" | "DVT")),
    }
}

/// Builds patient `index` of a corpus.
pub(crate) fn patient(rng: &mut Rng8, seed: u64, index: usize, us_share: f64) -> PatientRecord {
    let w = words();
    let style = if rng.gen_bool(us_share) {
        Style::Us
    } else {
        Style::Nhs
    };
    let female = rng.gen_bool(0.52);
    let name = person(rng, female);

    // First admission between 2019 and mid-2025.
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).expect("date");
    let first_arrival = datetime_between(rng, start, 365 * 6 + 180);
    // One patient in eight is over 89: ages over 89 are identifying on their own.
    let age = if rng.gen_bool(0.125) {
        rng.gen_range(90..=104)
    } else {
        rng.gen_range(18..=89)
    };
    let dob = first_arrival.date() - Duration::days(age * 365 + rng.gen_range(0..365));

    let home = place(rng, style);
    let address = address(rng, home);
    let home_phone = phone(rng, style, address.phone_code, false);
    let mobile = phone(rng, style, address.phone_code, true);
    let local = surface::email_local(rng, &name);
    let email = format!(
        "{local}@{}",
        pick(
            rng,
            &[
                "example.com",
                "example.org",
                "mail.example.net",
                "example.co.uk"
            ]
        )
    );
    let nok_female = rng.gen_bool(0.6);
    let nok_relation = match (nok_female, name.female) {
        (true, false) => pick(rng, &["wife", "daughter", "sister", "partner", "niece"]),
        (true, true) => pick(rng, &["daughter", "sister", "partner", "niece"]),
        (false, true) => pick(rng, &["husband", "son", "brother", "partner", "nephew"]),
        (false, false) => pick(rng, &["son", "brother", "partner", "nephew"]),
    };
    let mut nok = person(rng, nok_female);
    if matches!(nok_relation, "wife" | "husband" | "daughter" | "son") && rng.gen_bool(0.7) {
        nok.last = name.last.clone();
    }
    let nok_mobile = rng.gen_bool(0.7);
    let nok_phone = phone(rng, style, address.phone_code, nok_mobile);

    let gp = clinician(rng, style, Role::Gp);
    let practice_address = self::address(rng, home);
    let practice_patterns = match style {
        Style::Nhs => &w.gp_practices_uk,
        Style::Us => &w.gp_practices_us,
    };
    let practice = fill_pattern(
        pick(rng, practice_patterns),
        pick(rng, &w.streets),
        &surname(rng),
        &practice_address.town,
    );
    let practice_phone = phone(rng, style, practice_address.phone_code, false);
    let practice_url = match rng.gen_range(0..3) {
        0 if style == Style::Nhs => format!("https://www.{}.nhs.uk", slug(&practice)),
        0 => format!("https://www.{}.com", slug(&practice)),
        1 if style == Style::Nhs => format!("www.{}.co.uk", slug(&practice)),
        1 => format!("www.{}.org", slug(&practice)),
        _ => format!("http://{}.example.org/appointments", slug(&practice)),
    };
    let hospital_address = self::address(rng, home);
    let hospitals: Vec<&str> = w
        .hospitals
        .iter()
        .copied()
        .filter(|h| match style {
            Style::Nhs => !h.contains("Center"),
            Style::Us => {
                !(h.contains("Infirmary")
                    || h.contains("District General")
                    || h.starts_with("Royal"))
            }
        })
        .collect();
    let hospital = fill_pattern(pick(rng, &hospitals), "", "", &hospital_address.town);
    let hospital_phone = phone(rng, style, hospital_address.phone_code, false);

    let n_family = rng.gen_range(0..3);
    let family = (0..n_family)
        .map(|_| (pick(rng, RELATIVES), FAMILY.choose(rng).expect("family")))
        .collect();

    // Chronic conditions: more with age.
    let n_chronic = (rng.gen_range(0..3) + (age as usize) / 30).min(6);
    let mut chronic: Vec<&'static Chronic> = CHRONIC.choose_multiple(rng, n_chronic).collect();
    chronic.sort_by_key(|c| c.name);
    let first_year = first_arrival.year();
    let mut pmh: Vec<PmhItem> = chronic
        .iter()
        .map(|c| {
            chronic_item(
                c,
                rng.gen_range((dob.year() + 20).min(first_year - 1)..first_year),
            )
        })
        .collect();
    let mut meds: Vec<Drug> = chronic
        .iter()
        .flat_map(|c| c.drugs.iter().copied())
        .collect();
    meds.dedup_by_key(|d| d.name);

    let n_encounters = if rng.gen_bool(0.3) { 2 } else { 1 };
    let mut encounters = Vec::with_capacity(n_encounters);
    let mut arrival = first_arrival;
    for number in 1..=n_encounters {
        let mut acute = ACUTE.choose(rng).expect("acute");
        // Hip fractures are for the old and DKA mostly for the young: one re-draw
        // keeps the mix plausible without forbidding the odd exception.
        let age_now = (arrival.date() - dob).num_days() / 365;
        if (acute.icd10 == "S72.0" && age_now < 60) || (acute.icd10 == "E10.1" && age_now > 60) {
            acute = ACUTE.choose(rng).expect("acute");
        }
        let imaging_at = arrival + Duration::minutes(rng.gen_range(40..300));
        let op_at = acute.operation.as_ref().map(|_| {
            at_hour(
                (arrival + Duration::hours(rng.gen_range(6..40))).date(),
                rng,
                8,
                19,
            )
        });
        let stay = rng.gen_range(acute.stay_days.0..=acute.stay_days.1);
        let discharge_day = (op_at.unwrap_or(arrival) + Duration::days(stay)).date();
        let discharge = at_hour(discharge_day.max(arrival.date()), rng, 10, 18)
            .max(arrival + Duration::hours(4));
        let handover_at = at_hour((arrival + Duration::hours(12)).date(), rng, 19, 22);
        let clinic = rng.gen_bool(0.85).then(|| {
            at_hour(
                discharge.date() + Duration::days(rng.gen_range(21..70)),
                rng,
                9,
                17,
            )
        });
        let surgical = acute.operation.is_some();
        encounters.push(Encounter {
            id: format!("enc-{:06}-{}", index, number),
            acute,
            arrival,
            imaging_at,
            op_at,
            handover_at,
            discharge,
            clinic,
            ward: ward(rng, style),
            bed: rng.gen_range(1..32),
            triage: rng.gen_range(acute.triage.0..=acute.triage.1),
            by_ambulance: rng.gen_bool(0.5),
            accession: match style {
                Style::Nhs => format!("RAD{}{:06}", arrival.year(), rng.gen_range(0..1_000_000)),
                Style::Us => format!("ACC-{:08}", rng.gen_range(0..100_000_000)),
            },
            consultant: clinician(
                rng,
                style,
                if surgical {
                    Role::Surgeon
                } else {
                    Role::Physician
                },
            ),
            junior: clinician(rng, style, Role::Junior),
            nurse: clinician(rng, style, Role::Nurse),
            radiologist: clinician(rng, style, Role::Radiologist),
            surgeon: clinician(rng, style, Role::Surgeon),
            anaesthetist: clinician(rng, style, Role::Anaesthetist),
            pmh: pmh
                .iter()
                .map(|p| PmhItem {
                    name: p.name.clone(),
                    abbrev: p.abbrev.clone(),
                    icd10: p.icd10,
                    year: p.year,
                    past_event: p.past_event,
                })
                .collect(),
            meds: meds.clone(),
        });
        // What the next admission copies forward: this admission becomes a
        // past event and its longer-term discharge drugs join the list, with
        // one existing dose edited.
        pmh.push(PmhItem {
            name: acute
                .operation
                .as_ref()
                .map_or(acute.name, |o| o.name)
                .into(),
            abbrev: None,
            icd10: None,
            year: arrival.year(),
            past_event: true,
        });
        for d in acute.discharge_drugs.iter().filter(|d| {
            matches!(
                d.freq,
                crate::clinical::Freq::Od | crate::clinical::Freq::On
            )
        }) {
            if !meds.iter().any(|m| m.name == d.name) {
                meds.push(*d);
            }
        }
        // The first drug with an alternative dose is the one changed; the
        // clinic letter of this admission may say so.
        if let Some(m) = meds.iter_mut().find(|m| m.alt_dose != m.dose) {
            m.dose = m.alt_dose;
        }
        arrival = datetime_between(rng, discharge.date() + Duration::days(90), 450);
    }

    PatientRecord {
        index,
        style,
        nhs_digits: surface::nhs_number_digits(seed, index),
        hospital_n: surface::unique_number(seed, 0x4855, index, 7),
        mrn_n: surface::unique_number(seed, 0x4D52, index, 8),
        ni: surface::ni_number(rng),
        ssn: surface::ssn(rng),
        name,
        dob,
        address,
        home_phone,
        mobile,
        email,
        profession: pick(rng, &w.professions),
        employer: pick(rng, &w.employers),
        nok,
        nok_relation,
        nok_phone,
        gp,
        practice,
        practice_address,
        practice_phone,
        practice_url,
        hospital,
        hospital_address,
        hospital_phone,
        family,
        allergy: rng.gen_bool(0.3).then(|| pick(rng, ALLERGIES)),
        smoking: pick(
            rng,
            &[
                "never smoked",
                "ex-smoker",
                "current smoker",
                "ex-smoker, quit",
                "smokes 10/day",
            ],
        ),
        alcohol_units: rng.gen_range(0..30),
        lives_with: pick(
            rng,
            &[
                "alone",
                "with spouse",
                "with daughter",
                "in a care home",
                "with partner",
                "alone with carers QDS",
            ],
        ),
        portal_url: format!(
            "https://myrecord.example.org/p/{}",
            rng.gen_range(100_000..999_999)
        ),
        copy_seed: rng.gen(),
        encounters,
    }
}
