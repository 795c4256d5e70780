//! The note writer: a tiny template language over [`NoteBuilder`]. A template
//! is plain text with `{key}` slots; each slot is filled from the patient
//! record and recorded as a gold PHI span or a labelled finding. Plain text of
//! US-style notes is respelt (haem → hem) before it is appended, never the
//! identifiers, so offsets stay exact.

use crate::builder::NoteBuilder;
use crate::clinical::{Drug, US_SPELLINGS};
use crate::patient::{Address, Clinician, Encounter, PatientRecord};
use crate::surface::{self, Rng8};
use crate::Style;
use chrono::{Duration, NaiveDateTime};
use insitu_types::{Assertion, Category};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::borrow::Cow;

/// Findings a template's `{F}` (joined with "and"), `{Fo}` ("or") or `{Fc}`
/// ("and", first one capitalised) slot lists.
pub(crate) struct FindingSlot<'s> {
    pub concepts: &'s [&'s str],
    pub assertion: Assertion,
    pub icd10: Option<&'static str>,
}

/// Writes one note about one patient and encounter.
pub(crate) struct Writer<'a> {
    pub b: NoteBuilder,
    pub rng: Rng8,
    pub p: &'a PatientRecord,
    pub e: &'a Encounter,
    /// When the note is written (ages are computed on this date).
    pub at: NaiveDateTime,
}

/// Concepts and the abbreviations UK clinicians write for them.
const CLINICAL_ABBREVIATIONS: &[(&str, &str)] = &[
    ("shortness of breath", "SOB"),
    ("shortness of breath on exertion", "SOBOE"),
    ("increased breathlessness", "incr SOB"),
    ("pulmonary embolism", "PE"),
    ("deep vein thrombosis", "DVT"),
    ("loss of consciousness", "LOC"),
    ("right iliac fossa pain", "RIF pain"),
    ("right upper quadrant pain", "RUQ pain"),
    ("paroxysmal nocturnal dyspnoea", "PND"),
    ("acute coronary syndrome", "ACS"),
    ("intracranial haemorrhage", "ICH"),
    ("urinary tract infection", "UTI"),
    ("chest pain", "CP"),
    ("abdominal pain", "abdo pain"),
    ("fever", "pyrexia"),
    ("type 2 diabetes mellitus", "T2DM"),
];

/// Respells British forms for US-style notes.
pub(crate) fn localise(style: Style, s: &str) -> Cow<'_, str> {
    if style == Style::Nhs {
        return Cow::Borrowed(s);
    }
    let mut out = Cow::Borrowed(s);
    for (uk, us) in US_SPELLINGS {
        if out.contains(uk) {
            out = Cow::Owned(out.replace(uk, us));
        }
    }
    out
}

impl<'a> Writer<'a> {
    pub fn new(seed: u64, p: &'a PatientRecord, e: &'a Encounter, at: NaiveDateTime) -> Self {
        Writer {
            b: NoteBuilder::default(),
            rng: Rng8::seed_from_u64(seed),
            p,
            e,
            at,
        }
    }

    pub fn us(&self) -> bool {
        self.p.style == Style::Us
    }

    /// Appends plain text (respelt for US notes).
    pub fn text(&mut self, s: &str) {
        let s = localise(self.p.style, s);
        self.b.push(&s);
    }

    /// Appends an identifier with its category.
    pub fn phi(&mut self, c: Category, s: &str) {
        self.b.phi(c, s);
    }

    /// Appends a finding with its assertion.
    /// NHS-style notes often abbreviate (`SOB`, `RIF pain`, `PE`); the
    /// concept is labelled as written.
    pub fn finding(&mut self, concept: &str, a: Assertion, icd10: Option<&'static str>) {
        let short = CLINICAL_ABBREVIATIONS
            .iter()
            .find(|(long, _)| *long == concept)
            .map(|(_, short)| *short);
        let c = match short {
            Some(s) if self.p.style == Style::Nhs && self.rng.gen_bool(0.4) => s.to_string(),
            _ => localise(self.p.style, concept).into_owned(),
        };
        self.b.finding(&c, a, icd10);
    }

    /// Appends several findings joined by commas and a final conjunction.
    /// With `sentence_start`, the first concept is capitalised.
    pub fn finding_list(
        &mut self,
        concepts: &[&str],
        a: Assertion,
        icd10: Option<&'static str>,
        conj: &str,
        sentence_start: bool,
    ) {
        for (i, c) in concepts.iter().enumerate() {
            if i > 0 {
                self.b
                    .push(if i + 1 == concepts.len() { conj } else { ", " });
            }
            if i == 0 && sentence_start {
                self.finding(&capitalise(c), a, icd10);
            } else {
                self.finding(c, a, icd10);
            }
        }
    }

    /// Picks one of `alts` and renders it.
    pub fn say(&mut self, alts: &[&str]) {
        let t = *alts.choose(&mut self.rng).expect("template alternatives");
        self.render(t, None);
    }

    /// Picks one of `alts` and renders it with a findings slot.
    pub fn say_f(&mut self, alts: &[&str], slot: FindingSlot<'_>) {
        let t = *alts.choose(&mut self.rng).expect("template alternatives");
        self.render(t, Some(&slot));
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).expect("non-empty")
    }

    /// Starts a section: a newline if needed, the heading, then a separator.
    pub fn section(&mut self, headings: &[&str], separator: &str) {
        if self.b.len() > 0 && !self.b.ends_with("\n") {
            self.b.push("\n");
        }
        let h = self.pick(headings);
        let h = localise(self.p.style, h).into_owned();
        self.b.section(&h);
        self.b.push(separator);
    }

    fn render(&mut self, t: &str, slot: Option<&FindingSlot<'_>>) {
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            self.text(&rest[..open]);
            let close = open
                + rest[open..]
                    .find('}')
                    .unwrap_or_else(|| panic!("unclosed slot in template {t:?}"));
            let key = &rest[open + 1..close];
            match (key, slot) {
                ("F", Some(s)) => {
                    self.finding_list(s.concepts, s.assertion, s.icd10, " and ", false)
                }
                ("Fo", Some(s)) => {
                    self.finding_list(s.concepts, s.assertion, s.icd10, " or ", false)
                }
                ("Fc", Some(s)) => {
                    self.finding_list(s.concepts, s.assertion, s.icd10, " and ", true)
                }
                _ => self.fill(key),
            }
            rest = &rest[close + 1..];
        }
        self.text(rest);
    }

    fn when(&self, which: &str) -> NaiveDateTime {
        let e = self.e;
        match which {
            "arr" => e.arrival,
            "img" => e.imaging_at,
            "op" => e.op_at.unwrap_or(e.imaging_at),
            "dis" => e.discharge,
            "clinic" => e.clinic.unwrap_or(e.discharge),
            "handover" => e.handover_at,
            "note" => self.at,
            "prior" => e.arrival - Duration::days(400 + (self.p.index as i64 % 700)),
            "prev" => self.previous_encounter().map_or(e.arrival, |p| p.arrival),
            "dob" => self.p.dob.and_hms_opt(0, 0, 0).expect("midnight"),
            other => panic!("unknown date slot {other:?}"),
        }
    }

    /// The patient's admission before this one, if any.
    pub fn previous_encounter(&self) -> Option<&'a Encounter> {
        let p = self.p;
        let i = p.encounters.iter().position(|x| x.id == self.e.id)?;
        i.checked_sub(1).map(|j| &p.encounters[j])
    }

    fn who(&self, which: &str) -> &'a Clinician {
        let e = self.e;
        match which {
            "cons" => &e.consultant,
            "jr" => &e.junior,
            "nurse" => &e.nurse,
            "rad" => &e.radiologist,
            "surg" => &e.surgeon,
            "anaes" => &e.anaesthetist,
            "gp" => &self.p.gp,
            other => panic!("unknown clinician slot {other:?}"),
        }
    }

    /// Writes an address: street, town, (state,) postcode as separate spans.
    pub fn address(&mut self, a: &Address, sep: &str) {
        self.phi(Category::Location, &a.street);
        self.b.push(sep);
        self.phi(Category::Location, &a.town);
        if let Some(state) = a.state {
            self.b.push(", ");
            self.b.push(state);
        }
        self.b.push(if sep == "\n" { "\n" } else { " " });
        self.phi(Category::Location, &a.postcode);
    }

    /// A clinician with title: the title stays outside the span.
    pub fn clinician_titled(&mut self, c: &Clinician) {
        if !c.title.is_empty() {
            self.b.push(c.title);
            self.b.push(" ");
        }
        let n = surface::name_after_title(&mut self.rng, &c.name);
        self.phi(Category::Name, &n);
    }

    fn fill(&mut self, key: &str) {
        let p = self.p;
        let style = p.style;
        let (key, arg) = key.split_once(':').unwrap_or((key, ""));
        match key {
            "pt" => {
                let n = surface::name(&mut self.rng, &p.name);
                self.phi(Category::Name, &n);
            }
            "pt_t" => {
                let t = surface::courtesy_title(&mut self.rng, style, p.name.female);
                self.b.push(t);
                self.b.push(" ");
                let n = surface::name_after_title(&mut self.rng, &p.name);
                self.phi(Category::Name, &n);
            }
            "pt_first" => self.phi(Category::Name, &p.name.first.clone()),
            "pt_last" => {
                let last = if self.rng.gen_bool(0.5) {
                    p.name.last.to_uppercase()
                } else {
                    p.name.last.clone()
                };
                self.phi(Category::Name, &last);
            }
            "pt_init" => self.phi(Category::Name, &surface::initials(&p.name)),
            "pt_ref" => match self.rng.gen_range(0..10) {
                0..=4 => self.fill("pt_t"),
                5..=6 => self.fill("pt"),
                7 => self.fill("pt_first"),
                _ => self.text(if p.name.female { "she" } else { "he" }),
            },
            "he" => self.b.push(if p.name.female { "she" } else { "he" }),
            "He" => self.b.push(if p.name.female { "She" } else { "He" }),
            "his" => self.b.push(if p.name.female { "her" } else { "his" }),
            "him" => self.b.push(if p.name.female { "her" } else { "him" }),
            "sex" => self.b.push(if p.name.female { "F" } else { "M" }),
            "man" => self
                .b
                .push(match (p.name.female, self.rng.gen_range(0..3)) {
                    (true, 0) => "lady",
                    (true, _) => "woman",
                    (false, 0) => "gentleman",
                    (false, _) => "man",
                }),
            "age" => {
                let a = p.age_on(self.at.date());
                self.phi(Category::Age, &a.to_string());
            }
            "dob" => {
                let d = surface::date_with_year(&mut self.rng, style, p.dob);
                self.phi(Category::Date, &d);
            }
            "nhs" => {
                let n = surface::nhs_number(&mut self.rng, &p.nhs_digits);
                self.phi(Category::Id, &n);
            }
            "hosp" => {
                let n = surface::hospital_number(&mut self.rng, p.hospital_n);
                self.phi(Category::Id, &n);
            }
            "mrn" => {
                let n = surface::mrn(&mut self.rng, p.mrn_n);
                self.phi(Category::Id, &n);
            }
            "ni" => self.phi(Category::Id, &p.ni.clone()),
            "ssn" => self.phi(Category::Id, &p.ssn.clone()),
            "acc" => self.phi(Category::Id, &self.e.accession.clone()),
            "addr" => self.address(&p.address, ", "),
            "street" => self.phi(Category::Location, &p.address.street.clone()),
            "town" => self.phi(Category::Location, &p.address.town.clone()),
            "postcode" => self.phi(Category::Location, &p.address.postcode.clone()),
            "phone" => {
                let n = if self.rng.gen_bool(0.5) {
                    &p.home_phone
                } else {
                    &p.mobile
                };
                self.phi(Category::Phone, n);
            }
            "mobile" => self.phi(Category::Phone, &p.mobile.clone()),
            "email" => self.phi(Category::Email, &p.email.clone()),
            "nok" => {
                let n = surface::name(&mut self.rng, &p.nok);
                self.phi(Category::Name, &n);
            }
            "nok_first" => self.phi(Category::Name, &p.nok.first.clone()),
            "nok_rel" => self.b.push(p.nok_relation),
            "nok_phone" => self.phi(Category::Phone, &p.nok_phone.clone()),
            "practice" => self.phi(Category::Organization, &p.practice.clone()),
            "practice_addr" => self.address(&p.practice_address, ", "),
            "practice_phone" => self.phi(Category::Phone, &p.practice_phone.clone()),
            "practice_url" => self.phi(Category::Url, &p.practice_url.clone()),
            "portal" => self.phi(Category::Url, &p.portal_url.clone()),
            "hospital" => self.phi(Category::Location, &p.hospital.clone()),
            "hospital_addr" => self.address(&p.hospital_address, ", "),
            "hospital_phone" => self.phi(Category::Phone, &p.hospital_phone.clone()),
            "ward" => self.phi(Category::Location, &self.e.ward.clone()),
            "profession" => self.phi(Category::Profession, p.profession),
            "employer" => self.phi(Category::Organization, p.employer),
            "ip" => {
                let ip = surface::ip_address(&mut self.rng);
                self.phi(Category::Ip, &ip);
            }
            "reg" => {
                let r = surface::vehicle_registration(&mut self.rng, style);
                self.phi(Category::Other, &r);
            }
            "keysafe" => {
                let code = format!("{:04}", self.rng.gen_range(0..10_000));
                self.phi(Category::Other, &code);
            }
            "date" => {
                let when = self.when(arg);
                let d = surface::date(&mut self.rng, style, when.date());
                self.phi(Category::Date, &d);
            }
            "hdate" => self.phi(
                Category::Date,
                &surface::header_date(style, self.when(arg).date()),
            ),
            "dt" => {
                let when = self.when(arg);
                let d = surface::date_time(&mut self.rng, style, when);
                self.phi(Category::Date, &d);
            }
            "time" => {
                let when = self.when(arg);
                let t = surface::time(&mut self.rng, style, when);
                self.phi(Category::Date, &t);
            }
            "c" => {
                let c = self.who(arg);
                let n = surface::name(&mut self.rng, &c.name);
                self.phi(Category::Name, &n);
            }
            "ct" => {
                let c = self.who(arg);
                self.clinician_titled(c);
            }
            "role" => {
                let c = self.who(arg);
                self.text(c.role);
            }
            "regno" => {
                let c = self.who(arg);
                self.phi(Category::Id, &c.registration);
            }
            "cemail" => {
                let c = self.who(arg);
                self.phi(Category::Email, &c.email);
            }
            "bleep" => {
                let c = self.who(arg);
                self.phi(Category::Phone, &c.bleep);
            }
            "cfull" => {
                // Signature block: full name, sometimes with the middle initial.
                let c = self.who(arg);
                let n = match &c.name.middle {
                    Some(m) if self.rng.gen_bool(0.3) => {
                        format!(
                            "{} {}. {}",
                            c.name.first,
                            m.chars().next().unwrap_or('A'),
                            c.name.last
                        )
                    }
                    _ => format!("{} {}", c.name.first, c.name.last),
                };
                self.phi(Category::Name, &n);
            }
            other => panic!("unknown template slot {other:?}"),
        }
    }

    /// One prescription line in a style chosen by the caller (stable within a list).
    pub fn drug_line(&mut self, d: &Drug, form: u8) {
        let us = self.us();
        let name = localise(self.p.style, d.name).into_owned();
        let dose = if form % 2 == 1 {
            d.dose.replace(" mg", "mg")
        } else {
            d.dose.to_string()
        };
        let line = match form {
            0 | 1 => format!("{} {} {}", capitalise(&name), dose, d.freq.abbrev(us)),
            2 | 3 => format!("{} {} {}", name, dose, d.freq.abbrev(us).to_lowercase()),
            4 => format!(
                "{} {} {}",
                name.to_uppercase(),
                dose.to_uppercase(),
                d.freq.words().to_uppercase()
            ),
            _ => format!("{} {}, {}", capitalise(&name), dose, d.freq.words()),
        };
        self.b.push(&line);
    }
}

/// Upper-cases the first letter.
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
