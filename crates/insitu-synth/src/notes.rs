//! The six note kinds. Each function writes one note with a [`Writer`]; the
//! shared paragraphs (history, medicines, family and social history) are
//! written by the functions at the bottom so every kind words them alike,
//! and the copy-forward ones re-use the patient's copy seed so later notes
//! repeat earlier wording.

use crate::clinical::{Drug, Imaging};
use crate::writer::{FindingSlot, Writer};
use insitu_types::{Assertion, Category};
use rand::{Rng, SeedableRng};

const GENERIC_CXR: Imaging = Imaging {
    modality: "Chest X-ray (PA)",
    short: "CXR",
    positive: &[],
    negative: &["focal consolidation", "pneumothorax", "pleural effusion"],
    impression: "no acute cardiopulmonary abnormality",
};

fn imaging_of(w: &Writer<'_>) -> &'static Imaging {
    w.e.acute.imaging.as_ref().unwrap_or(&GENERIC_CXR)
}

/// Picks `n` distinct items (n clamped to the list length), order kept.
fn some<'s>(w: &mut Writer<'_>, items: &'s [&'s str], lo: usize, hi: usize) -> Vec<&'s str> {
    let n = w.rng.gen_range(lo..=hi).min(items.len());
    let mut idx: Vec<usize> = rand::seq::index::sample(&mut w.rng, items.len(), n).into_vec();
    idx.sort_unstable();
    idx.into_iter().map(|i| items[i]).collect()
}

/// Examination signs of each acute condition (by ICD-10 code).
fn exam_signs(icd10: &str) -> &'static [&'static str] {
    match icd10 {
        "J18.9" => &[
            "crackles at the right base",
            "bronchial breathing at the right base",
            "dull percussion note at the right base",
        ],
        "K35.8" => &[
            "RIF tenderness",
            "guarding in the RIF",
            "positive Rovsing's sign",
        ],
        "I21.4" => &["clammy", "pale and sweaty"],
        "S72.0" => &[
            "shortened, externally rotated left leg",
            "pain on log roll of the left hip",
        ],
        "K81.0" => &["RUQ tenderness", "positive Murphy's sign"],
        "J44.1" => &[
            "widespread expiratory wheeze",
            "reduced air entry bilaterally",
            "use of accessory muscles",
        ],
        "I50.0" => &[
            "bibasal crackles",
            "pitting oedema to the knees",
            "raised JVP",
        ],
        "L03.1" => &[
            "erythema and warmth over the left shin",
            "tender swollen left lower leg",
        ],
        "I26.9" => &["tachycardia", "pleural rub"],
        "I63.9" => &[
            "left facial droop",
            "left arm weakness (power 3/5)",
            "dysarthria",
        ],
        "N39.0" => &["suprapubic tenderness", "confusion (AMT 6/10)"],
        "K40.9" => &["reducible right groin swelling with a cough impulse"],
        "K92.2" => &["melaena on PR examination", "pallor"],
        "K56.6" => &[
            "distended abdomen",
            "tinkling bowel sounds",
            "generalised tenderness",
        ],
        "E10.1" => &[
            "dry mucous membranes",
            "ketotic breath",
            "deep sighing respirations",
        ],
        _ => &["no focal signs"],
    }
}

/// Signs looked for and not found, in any presentation.
const EXAM_NEGATIVES: &[&str] = &[
    "calf tenderness",
    "peripheral oedema",
    "peritonism",
    "focal neurology",
    "rash",
    "lymphadenopathy",
    "murmurs",
];

/// Review of systems (US style): positives present, negatives absent.
fn review_of_systems(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    w.section(&["ROS:", "Review of systems:"], " ");
    let pos = some(w, acute.symptoms, 1, 2);
    w.say_f(
        &["Positive for {F}. ", "(+) {F}. "],
        FindingSlot {
            concepts: &pos,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    let generic: Vec<&str> = [
        "chills",
        "headache",
        "rash",
        "diarrhea",
        "weight loss",
        "night sweats",
        "palpitations",
    ]
    .into_iter()
    .filter(|c| !acute.symptoms.contains(c))
    .collect();
    let neg = some(w, &generic, 2, 4);
    w.say_f(
        &["Negative for {Fo}. ", "(-) {F}. ", "Denies {Fo}. "],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    w.say(&[
        "All other systems reviewed and negative.",
        "Otherwise negative.",
        "",
    ]);
}

/// Examination: the condition's signs (present) and a sign not found (absent).
fn examination(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    if w.us() {
        w.section(&["Exam:", "Physical exam:", "PE:"], " ");
    } else {
        w.section(&["O/E:", "Examination:", "On examination:"], " ");
    }
    let signs = some(w, exam_signs(acute.icd10), 1, 2);
    w.say_f(
        &["{Fc}. ", "{Fc} noted. ", "Found to have {F}. "],
        FindingSlot {
            concepts: &signs,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    let neg = some(w, EXAM_NEGATIVES, 1, 2);
    w.say_f(
        &["No {Fo}.", "Nil {F}.", "{Fc}: none."],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    if !w.us() && w.chance(0.3) {
        w.say(&[" Otherwise NAD.", " HS I+II+0.", " Abdo SNT."]);
    }
}

/// Mostly absent, sometimes still possible.
fn absent_or_possible(w: &mut Writer<'_>, p_absent: f64) -> Assertion {
    if w.rng.gen_bool(p_absent) {
        Assertion::Absent
    } else {
        Assertion::Possible
    }
}

/// The patient identity line(s) most notes open with.
fn identity_block(w: &mut Writer<'_>) {
    let us = w.us();
    match (us, w.rng.gen_range(0..4)) {
        (false, 0) => w.say(&["Name: {pt}\nDOB: {dob}\nNHS No: {nhs}\nHospital No: {hosp}\n", "Patient: {pt}\nD.O.B.: {dob}\nNHS number: {nhs}\nMRN: {hosp}\n"]),
        (false, 1) => w.say(&["{pt} | DOB {dob} | NHS {nhs} | {hosp}\n", "{pt}   DOB: {dob} ({age}y)   NHS: {nhs}\n"]),
        (false, 2) => w.say(&[
            "Patient name: {pt}\nDate of birth: {dob}   Age: {age}\nNHS Number: {nhs}   Unit No: {hosp}\nAddress: {addr}\n",
            "Surname: {pt_last}   Forename: {pt_first}\nDOB: {dob}   NHS: {nhs}   NI No: {ni}\nAddress: {addr}   Tel: {phone}\n",
        ]),
        (false, _) => w.say(&["{pt_t} ({dob}), NHS no. {nhs}, hospital no. {hosp}\n", "RE: {pt}, {age}{sex}, NHS {nhs}\n"]),
        (true, 0) => w.say(&["Patient: {pt}\nDOB: {dob}\nMRN: {mrn}\n", "Name: {pt}    MRN: {mrn}    DOB: {dob}\n"]),
        (true, 1) => w.say(&["{pt} | MRN {mrn} | DOB {dob} | Age {age}\n"]),
        (true, 2) => w.say(&["Patient Name: {pt}\nDate of Birth: {dob}  Age: {age}\nMRN: {mrn}   SSN: {ssn}\nAddress: {addr}\n"]),
        (true, _) => w.say(&["{pt_t}, MRN# {mrn}, DOB {dob}\n"]),
    }
}

/// Vital signs, sicker when the triage category is more urgent.
fn vitals(w: &mut Writer<'_>) {
    let sick = w.e.triage <= 2;
    let hr = if sick {
        w.rng.gen_range(100..135)
    } else {
        w.rng.gen_range(62..99)
    };
    let sys = if sick {
        w.rng.gen_range(88..112)
    } else {
        w.rng.gen_range(112..165)
    };
    let dia = w.rng.gen_range(52..92);
    let rr = if sick {
        w.rng.gen_range(22..32)
    } else {
        w.rng.gen_range(12..20)
    };
    let sats = if sick {
        w.rng.gen_range(86..95)
    } else {
        w.rng.gen_range(95..100)
    };
    let temp_c: f64 = if sick {
        w.rng.gen_range(37.8..39.6)
    } else {
        w.rng.gen_range(36.2..37.6)
    };
    let o2 = if sats < 92 {
        w.pick(&["on 2L NC", "on 4L O2", "on 28% venturi"])
    } else {
        w.pick(&["on air", "on RA", "RA"])
    };
    let us = w.us();
    let temp = match (us, w.rng.gen_range(0..10)) {
        (true, 0..=6) => format!("{:.1} F", temp_c * 9.0 / 5.0 + 32.0),
        (true, _) => format!("{:.1}°F", temp_c * 9.0 / 5.0 + 32.0),
        (false, 0..=5) => format!("{temp_c:.1}"),
        (false, _) => format!("{temp_c:.1}°C"),
    };
    let line = match w.rng.gen_range(0..4) {
        0 => format!("HR {hr}, BP {sys}/{dia}, RR {rr}, SpO2 {sats}% {o2}, T {temp}"),
        1 => format!("P {hr} BP {sys}/{dia} RR {rr} Sats {sats}% {o2} Temp {temp}"),
        2 => format!("T {temp} | HR {hr} | BP {sys}/{dia} | RR {rr} | SpO2 {sats}% ({o2})"),
        _ => format!("BP {sys}/{dia}  HR {hr} reg  RR {rr}  O2 sats {sats}% {o2}  T {temp}"),
    };
    w.b.push(&line);
    if !us {
        let news = if sick {
            w.rng.gen_range(5..10)
        } else {
            w.rng.gen_range(0..4)
        };
        w.b.push(&format!(", GCS 15, NEWS2 {news}"));
    } else {
        w.b.push(", GCS 15");
    }
}

/// A run of two or three observation sets through the evening, each with its
/// (DATE-labelled) clock time.
fn vitals_run(w: &mut Writer<'_>) {
    let n = w.rng.gen_range(2..=3);
    let us = w.p.style == crate::Style::Us;
    // One clock format for the whole run: each time is formatted from a
    // copy of the same generator state.
    let time_format = w.rng.clone();
    w.rng.gen::<u64>();
    for i in 0..n {
        let at = w.at
            - chrono::Duration::minutes(((n - 1 - i) * 4 * 60 + w.rng.gen_range(0..30)) as i64);
        let t = crate::surface::time(&mut time_format.clone(), w.p.style, at);
        if i > 0 {
            w.b.push("; ");
        }
        w.phi(Category::Date, &t);
        w.b.push(": ");
        let hr = w.rng.gen_range(70..125);
        let sys = w.rng.gen_range(92..150);
        let sats = w.rng.gen_range(90..99);
        let t_c: f64 = w.rng.gen_range(36.4..38.9);
        let temp = if us {
            format!("{:.1}F", t_c * 9.0 / 5.0 + 32.0)
        } else {
            format!("{t_c:.1}")
        };
        w.b.push(&format!(
            "HR {hr} BP {sys}/{} sats {sats}% T {temp}",
            w.rng.gen_range(50..90)
        ));
    }
    w.b.push(". ");
}

fn labs(w: &mut Writer<'_>) {
    let wcc: f64 = w.rng.gen_range(4.0..19.0);
    let hb = w.rng.gen_range(88..160);
    let crp = w.rng.gen_range(1..260);
    let na = w.rng.gen_range(129..145);
    let k: f64 = w.rng.gen_range(3.4..5.4);
    let cr = w.rng.gen_range(55..190);
    let line = if w.us() {
        format!(
            "WBC {wcc:.1}, Hgb {:.1}, Na {na}, K {k:.1}, BUN {}, Cr {:.2}, CRP {crp}",
            hb as f64 / 10.0,
            w.rng.gen_range(8..40),
            cr as f64 / 88.4
        )
    } else {
        match w.rng.gen_range(0..2) {
            0 => format!("Hb {hb}, WCC {wcc:.1}, CRP {crp}, Na {na}, K {k:.1}, Ur {:.1}, Cr {cr}", w.rng.gen_range(3.0..15.0)),
            _ => format!("Bloods: Hb {hb} WCC {wcc:.1} Plt {} CRP {crp} U&E Na {na} K {k:.1} Cr {cr} eGFR {}", w.rng.gen_range(150..420), w.rng.gen_range(35..90)),
        }
    };
    w.b.push(&line);
}

/// Past medical history, copied forward: rendered with the patient's copy
/// seed, so each note that includes it repeats the same words; a later
/// admission adds the earlier one as a past event (the "light edit").
fn pmh_block(w: &mut Writer<'_>) {
    let saved = std::mem::replace(
        &mut w.rng,
        crate::surface::Rng8::seed_from_u64(w.p.copy_seed),
    );
    let layout = w.rng.gen_range(0..3);
    let items = &w.e.pmh;
    if items.is_empty() {
        w.say(&[
            "Nil of note.",
            "No significant past medical history.",
            "Nil significant.",
        ]);
    }
    for (i, item) in items.iter().enumerate() {
        let a = if item.past_event {
            Assertion::Historical
        } else {
            Assertion::Present
        };
        let label = match (&item.abbrev, w.rng.gen_bool(0.6)) {
            (Some(ab), true) => ab.clone(),
            _ => item.name.clone(),
        };
        match layout {
            0 => {
                w.b.push("\n- ");
                if item.past_event && w.rng.gen_bool(0.5) {
                    w.say(&["Previous ", "Prev ", "Hx of ", "Old "]);
                }
                w.finding(&label, a, item.icd10);
                let year = item.year;
                let y = match w.rng.gen_range(0..3) {
                    0 => format!(" ({year})"),
                    1 => format!(" {year}"),
                    _ => format!(" - dx {year}"),
                };
                w.b.push(&y);
            }
            1 => {
                if i > 0 {
                    w.b.push(", ");
                }
                if item.past_event && w.rng.gen_bool(0.5) {
                    w.text("previous ");
                }
                w.finding(&label, a, item.icd10);
                if w.rng.gen_bool(0.5) || item.past_event {
                    w.b.push(&format!(" {}", item.year));
                }
            }
            _ => {
                w.b.push(&format!("\n{}. ", i + 1));
                let cap = crate::writer::capitalise(&label);
                w.finding(&cap, a, item.icd10);
                w.b.push(&format!(" (diagnosed {})", item.year));
            }
        }
    }
    if layout == 1 && !items.is_empty() {
        w.b.push(".");
    }
    w.rng = saved;
}

/// The medicine list (copied forward like the PMH), plus `extra` lines.
fn meds_block(w: &mut Writer<'_>, extra: &[(Drug, &str)]) {
    let saved = std::mem::replace(
        &mut w.rng,
        crate::surface::Rng8::seed_from_u64(w.p.copy_seed ^ 0x4D45_4453),
    );
    let form: u8 = w.rng.gen_range(0..6);
    let inline = w.rng.gen_bool(0.35);
    let meds = w.e.meds.clone();
    if meds.is_empty() && extra.is_empty() {
        w.say(&["Nil regular.", "None.", "No regular medications."]);
    }
    for (i, d) in meds.iter().enumerate() {
        if inline {
            w.b.push(if i > 0 { ", " } else { " " });
        } else {
            w.b.push("\n");
        }
        w.drug_line(d, form);
    }
    w.rng = saved;
    for (d, note) in extra {
        w.b.push(if inline && !meds.is_empty() {
            ", "
        } else {
            "\n"
        });
        w.drug_line(d, form);
        w.text(note);
    }
}

fn allergy_line(w: &mut Writer<'_>) {
    match w.p.allergy {
        Some((drug, reaction)) => {
            let s = match w.rng.gen_range(0..3) {
                0 => format!("{} ({reaction})", drug.to_uppercase()),
                1 => format!("{drug} - {reaction}"),
                _ => format!("{} allergy ({reaction})", crate::writer::capitalise(drug)),
            };
            w.text(&s);
        }
        None => w.say(&[
            "NKDA",
            "NKDA.",
            "No known drug allergies.",
            "nil known",
            "NKA",
        ]),
    }
}

fn family_block(w: &mut Writer<'_>) {
    let mut family = w.p.family.clone();
    family.dedup_by_key(|(_, c)| c.name);
    if family.is_empty() {
        w.say(&[
            "Nil relevant.",
            "No significant family history.",
            "Nil of note.",
            "FHx unremarkable.",
        ]);
        return;
    }
    for (i, (rel, cond)) in family.iter().enumerate() {
        if i > 0 {
            w.b.push(" ");
        }
        let slot = FindingSlot {
            concepts: &[cond.name],
            assertion: Assertion::Family,
            icd10: Some(cond.icd10),
        };
        let tpl: &[&str] = match *rel {
            "mother" | "father" => &[
                "{R} had {F}.",
                "{R} - {F}.",
                "{R}: {F} (deceased).",
                "{R} diagnosed with {F} in her 60s.",
                "Strong FHx of {F} ({R}).",
            ],
            _ => &["{R} with {F}.", "{R}: {F}.", "FHx of {F} in {R}."],
        };
        let t = w.pick(tpl);
        let t = if t.contains("her 60s") && *rel == "father" {
            "{R} diagnosed with {F} in his 60s."
        } else {
            t
        };
        let cap = crate::writer::capitalise(rel);
        let t = if t.starts_with("{R}") {
            t.replacen("{R}", &cap, 1)
        } else {
            t.replace("{R}", rel)
        };
        w.say_f(&[&t], slot);
    }
}

fn social_block(w: &mut Writer<'_>) {
    let lives = w.p.lives_with;
    if w.chance(0.35) {
        w.text(&format!("Lives {lives} in "));
        w.say(&["{town}. ", "{town} ({postcode}). ", "a flat on {street}. "]);
    } else {
        w.text(&format!("Lives {lives}. "));
    }
    w.say(&[
        "Works as a {profession} at {employer}. ",
        "Occupation: {profession} ({employer}). ",
        "{profession}, employed by {employer}. ",
        "Previously worked as a {profession}. ",
        "Job: {profession}. ",
    ]);
    if lives.contains("carers") || (lives == "alone" && w.chance(0.4)) {
        w.say(&[
            "Key safe code {keysafe}. ",
            "Key safe {keysafe} (carers aware). ",
        ]);
    }
    let smoking = w.p.smoking;
    let units = w.p.alcohol_units;
    let s = match w.rng.gen_range(0..3) {
        0 => format!("Smoking: {smoking}. Alcohol: {units} units/week."),
        1 => format!(
            "{}. Drinks ~{units} u/wk.",
            crate::writer::capitalise(smoking)
        ),
        _ => format!(
            "{}, {units} units alcohol per week.",
            crate::writer::capitalise(smoking)
        ),
    };
    w.text(&s);
}

/// History of presenting complaint: symptoms (present), pertinent
/// negatives (absent).
fn presenting_history(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    w.say(&[
        "{age} yo {sex} ",
        "{age}-year-old {man} ",
        "{pt_t}, {age}, ",
        "This {age} year old {man} ",
        "{age}{sex} ",
    ]);
    let sym = some(w, acute.symptoms, 2, 3);
    let days = w.rng.gen_range(1..6);
    let dur = match w.rng.gen_range(0..3) {
        0 if w.p.style == crate::Style::Nhs => format!("{days}/7"),
        0 => format!("{days}d"),
        1 if days == 1 => "1 day".to_string(),
        1 => format!("{days} days"),
        _ => format!("{} hours", days * 6),
    };
    let t = w.pick(&[
        "presenting with {F} for DUR.",
        "c/o {F} x DUR.",
        "presents with a DUR history of {F}.",
        "BIBA with {F} over the last DUR.",
        "self-presented with {F}, onset DUR ago.",
    ]);
    let t = t.replace("DUR", &dur);
    w.say_f(
        &[&t],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    w.b.push(" ");
    let neg = some(w, acute.negatives, 1, 3);
    w.say_f(
        &[
            "Denies {Fo}.",
            "No {Fo}.",
            "Nil {Fo}.",
            "{He} denies {Fo}.",
            "Specifically no {Fo}.",
            "Negative for {Fo}.",
        ],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    if w.e.by_ambulance && w.chance(0.5) {
        w.say(&[
            " Brought in by ambulance; {nok_rel} {nok} travelled with {him}.",
            " Ambulance called by {nok_rel} ({nok_first}).",
        ]);
    }
    if let Some(prev) = w.previous_encounter() {
        w.say_f(
            &[
                " Known to us: admitted {date:prev} with {F}.",
                " Previous admission ({date:prev}) with {F}.",
                " Of note, seen on {date:prev} with {F}.",
            ],
            FindingSlot {
                concepts: &[prev.acute.name],
                assertion: Assertion::Historical,
                icd10: Some(prev.acute.icd10),
            },
        );
    }
}

/// ED triage note: a structured form or a compact nurse's entry.
pub(crate) fn ed_triage(w: &mut Writer<'_>) {
    if w.chance(0.35) {
        ed_triage_compact(w);
    } else {
        ed_triage_structured(w);
    }
}

/// The triage category with its system's wording.
fn triage_words(w: &Writer<'_>) -> (&'static str, &'static str) {
    let us = w.us();
    match w.e.triage {
        1 => ("1", if us { "ESI 1" } else { "Immediate (red)" }),
        2 => ("2", if us { "ESI 2" } else { "Very urgent (orange)" }),
        3 => ("3", if us { "ESI 3" } else { "Urgent (yellow)" }),
        4 => ("4", if us { "ESI 4" } else { "Standard (green)" }),
        _ => ("5", if us { "ESI 5" } else { "Non-urgent (blue)" }),
    }
}

/// A compact triage entry as typed into an ED system in a hurry.
fn ed_triage_compact(w: &mut Writer<'_>) {
    let us = w.us();
    let acute = w.e.acute;
    let (cat, colour) = triage_words(w);
    w.say(&[
        "ED triage {date:arr} {time:arr}",
        "Triage @ {time:arr} ({date:arr})",
        "{dt:arr} - ED triage",
    ]);
    if us {
        w.text(&format!(" - {colour}\n"));
    } else {
        w.text(&format!(" - cat {cat} ({colour})\n"));
    }
    if us {
        w.say(&[
            "{pt} {age}{sex} MRN {mrn}\n",
            "{pt_t}, {age} y/o, MRN {mrn}\n",
        ]);
    } else {
        w.say(&[
            "{pt} {age}{sex} NHS {nhs}\n",
            "{pt_t} ({age}) {hosp}\n",
            "{pt}, {dob}, {nhs}\n",
        ]);
    }
    let mode = if w.e.by_ambulance {
        w.pick(&["BIBA", "Arrived by ambulance", "Ambulance"])
    } else {
        w.pick(&["Self-presented", "Walk-in", "Brought in by family"])
    };
    w.section(&["Triage:", "Hx:", "Complaint:"], " ");
    w.text(&format!("{mode}. "));
    let sym = some(w, acute.symptoms, 1, 3);
    w.say_f(
        &[
            "c/o {F}.",
            "Complaining of {F}.",
            "{Fc} since yesterday.",
            "{Fc} - worse today.",
        ],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    w.b.push(" ");
    let neg = some(w, acute.negatives, 1, 2);
    w.say_f(
        &["Denies {Fo}.", "No {Fo}.", "Nil {Fo}.", "{Fc}: nil."],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    w.section(&["Obs:", "Vitals:"], " ");
    vitals(w);
    w.section(&["PMH:", "Hx:"], " ");
    pmh_block(w);
    w.section(&["Meds:", "DHx:"], "");
    meds_block(w, &[]);
    w.section(&["Allergies:", "Allergy:"], " ");
    allergy_line(w);
    w.section(&["Plan:", "Action:"], " ");
    let syn = w.pick(acute.synonyms);
    w.say_f(
        &["?{F} - ", "Query {F}; ", "{F}? "],
        FindingSlot {
            concepts: &[syn],
            assertion: Assertion::Possible,
            icd10: Some(acute.icd10),
        },
    );
    let img = imaging_of(w);
    let dest = w.pick(&["majors", "resus", "minors", "ambulatory care", "SDEC"]);
    w.text(&format!("bloods, {} requested, to {dest}.", img.short));
    w.b.close_section();
    w.say(&[
        "\n{c:nurse} {role:nurse}\n",
        "\nTriage RN {c:nurse}\n",
        "\n-- {ct:nurse}\n",
    ]);
}

/// The structured triage form.
fn ed_triage_structured(w: &mut Writer<'_>) {
    let us = w.us();
    let acute = w.e.acute;
    let (cat, colour) = triage_words(w);
    w.say(&[
        "EMERGENCY DEPARTMENT - TRIAGE NOTE\n{hospital}\n",
        "{hospital} Emergency Department\nTriage assessment\n",
        "ED TRIAGE — {hospital}\n",
    ]);
    w.say(&[
        "Arrival: {dt:arr}\n",
        "Time of arrival: {time:arr} on {date:arr}\n",
        "Arrived {dt:arr} ",
    ]);
    if !w.b.ends_with("\n") {
        let mode = if w.e.by_ambulance {
            "(ambulance)\n"
        } else {
            "(walk-in)\n"
        };
        w.b.push(mode);
    }
    identity_block(w);
    if us {
        w.text(&format!("Triage acuity: {colour}\n"));
    } else {
        w.text(&format!(
            "Triage category: {cat} - {colour} (Manchester Triage System)\n"
        ));
    }
    w.say(&[
        "Triage nurse: {ct:nurse}\n",
        "Triaged by {c:nurse}, {role:nurse}\n",
        "RN: {c:nurse}\n",
    ]);
    w.section(
        if us {
            &["Chief complaint:", "CC:"]
        } else {
            &["PC:", "Presenting complaint:"]
        },
        " ",
    );
    let complaint = crate::writer::capitalise(acute.complaint);
    w.text(&complaint);
    w.section(
        if us {
            &["HPI:", "History of present illness:"]
        } else {
            &["HPC:", "History:"]
        },
        " ",
    );
    presenting_history(w);
    if acute.name.contains("femur") && w.chance(0.5) {
        w.say(&[
            " Fell at home at {time:arr}; found by {nok_rel}.",
            " Mechanical fall; long lie of ~4h.",
        ]);
    }
    if w.chance(0.08) {
        w.say(&[" Minor RTC earlier today as driver (vehicle {reg})."]);
    }
    if us && w.chance(0.7) {
        review_of_systems(w);
    }
    w.section(&["Obs:", "Observations:", "Vitals:"], " ");
    vitals(w);
    examination(w);
    w.section(
        if us {
            &["PMH:", "Past medical history:"]
        } else {
            &["PMH:", "PMHx:"]
        },
        " ",
    );
    pmh_block(w);
    w.section(
        if us {
            &["Medications:", "Home meds:"]
        } else {
            &["DHx:", "Medications:"]
        },
        " ",
    );
    meds_block(w, &[]);
    w.section(&["Allergies:"], " ");
    allergy_line(w);
    w.section(
        if us {
            &["Social history:", "SH:"]
        } else {
            &["SHx:", "Social:"]
        },
        " ",
    );
    social_block(w);
    w.section(
        if us {
            &["Family history:", "FH:"]
        } else {
            &["FHx:", "Family history:"]
        },
        " ",
    );
    family_block(w);
    w.section(&["Impression:", "Triage impression:", "Assessment:"], " ");
    let syn = w.pick(acute.synonyms);
    let imp = w.pick(&[
        "?{F}",
        "possible {F}",
        "query {F}",
        "likely {F}",
        "{F} suspected",
    ]);
    w.say_f(
        &[imp],
        FindingSlot {
            concepts: &[syn],
            assertion: Assertion::Possible,
            icd10: Some(acute.icd10),
        },
    );
    let diff = some(w, acute.differentials, 1, 1);
    w.say_f(
        &[
            " - r/o {F}.",
            " ({F} not excluded).",
            " DDx: {F}.",
            "; cannot exclude {F}.",
        ],
        FindingSlot {
            concepts: &diff,
            assertion: Assertion::Possible,
            icd10: None,
        },
    );
    w.section(&["Plan:"], " ");
    let img = imaging_of(w);
    let test = w.pick(&["cannula", "VBG", "ECG", "urine dip", "cultures"]);
    let team = w.pick(&["ED doctor", "medical SHO", "surgical reg", "majors team"]);
    w.text(&format!("{}, bloods, {test}; {team} to see.", img.short));
    w.b.close_section();
    w.say(&[
        "\n\nNOK: {nok} ({nok_rel}) {nok_phone}\n",
        "\n\nContact: {nok_rel} {nok}, tel {nok_phone}. Pt mobile {mobile}.\n",
        "\n",
    ]);
}

/// Radiology report with findings and impression.
pub(crate) fn radiology(w: &mut Writer<'_>) {
    let us = w.us();
    let acute = w.e.acute;
    let img = imaging_of(w);
    w.say(&[
        "{hospital} - Department of Radiology\n",
        "RADIOLOGY REPORT\n{hospital}\n",
        "Imaging Department, {hospital}\n",
        "{hospital}\nDiagnostic Imaging - Final Report\n",
        "IMAGING REPORT ({hospital})\n",
    ]);
    identity_block(w);
    w.text(&format!("Examination: {}\n", img.modality));
    w.say(&[
        "Accession: {acc}\n",
        "Accession no. {acc}\n",
        "Acc#: {acc}\n",
    ]);
    w.say(&[
        "Date of exam: {dt:img}\n",
        "Performed: {dt:img}\n",
        "Exam date: {date:img}\n",
    ]);
    w.say(&[
        "Referrer: {ct:jr} ({role:jr})\n",
        "Requested by: {c:jr}\n",
        "Referring clinician: {ct:cons}\n",
    ]);
    w.section(
        &["Clinical details:", "Clinical information:", "History:"],
        " ",
    );
    let syn = w.pick(acute.synonyms);
    let q = w.pick(&[
        "?{F}",
        "Query {F}.",
        "Suspected {F}.",
        "Clinical suspicion of {F}.",
        "r/o {F}",
    ]);
    w.text(&format!("{}. ", crate::writer::capitalise(acute.complaint)));
    w.say_f(
        &[q],
        FindingSlot {
            concepts: &[syn],
            assertion: Assertion::Possible,
            icd10: Some(acute.icd10),
        },
    );
    w.section(&["Technique:", "TECHNIQUE:", "Protocol:"], " ");
    // Technique wording that fits the modality.
    let m = img.modality;
    if m.starts_with("CT") {
        w.say(&[
            "Axial images with coronal reformats.",
            "Contrast-enhanced CT, portal venous phase; 2 mm axial reconstructions.",
            "Helical acquisition; multiplanar reformats reviewed.",
            "Non-contrast axial images from skull base to vertex.",
        ]);
    } else if m.starts_with("Ultrasound") {
        w.say(&[
            "Real-time grey-scale and colour Doppler imaging.",
            "Transabdominal ultrasound, curvilinear probe.",
            "Images acquired as per departmental protocol.",
        ]);
    } else {
        w.say(&[
            "Single projection.",
            "Single frontal view.",
            "AP and lateral views.",
            "Standard protocol.",
            "Images acquired as per departmental protocol.",
        ]);
    }
    if w.chance(0.3) {
        w.say(&[
            " Patient was able to cooperate.",
            " Limited by patient movement.",
            " Suboptimal inspiration.",
            " Dose: within local DRLs.",
        ]);
    }
    w.section(&["Comparison:", "COMPARISON:"], " ");
    w.say(&[
        "None available.",
        "Previous study dated {date:prior}.",
        "Prior imaging from {date:prior} reviewed.",
        "None.",
        "Compared with the examination of {date:prior}.",
        "No prior imaging on PACS.",
        "{date:prior} (outside hospital, report only).",
    ]);
    w.section(&["FINDINGS:", "Findings:", "Report:"], "\n");
    if img.positive.is_empty() {
        w.say(&[
            "The lungs are clear. ",
            "Heart size normal. Lungs clear. ",
            "No acute abnormality. ",
        ]);
    } else {
        let pos = some(w, img.positive, 1, img.positive.len());
        w.say_f(
            &[
                "There is {F}. ",
                "{Fc} noted. ",
                "Appearances show {F}. ",
                "Demonstrated: {F}. ",
            ],
            FindingSlot {
                concepts: &pos,
                assertion: Assertion::Present,
                icd10: None,
            },
        );
    }
    let neg = some(w, img.negative, 1, img.negative.len());
    w.say_f(
        &[
            "No {Fo}. ",
            "No evidence of {Fo}. ",
            "There is no {Fo}. ",
            "{Fc} not seen. ",
            "No convincing {Fo}. ",
            "{Fc}: none. ",
            "No radiological evidence of {Fo}. ",
            "{Fc} is not demonstrated. ",
            "Negative for {Fo}. ",
        ],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    if w.chance(0.3) {
        let maybe = w.pick(&[
            "small hiatus hernia",
            "minor atelectasis",
            "degenerative change",
            "a small simple renal cyst",
        ]);
        w.say_f(
            &[
                "Possible {F}, of doubtful significance. ",
                "Query {F}. ",
                "{Fc} cannot be excluded. ",
            ],
            FindingSlot {
                concepts: &[maybe],
                assertion: Assertion::Possible,
                icd10: None,
            },
        );
    }
    w.section(
        &["IMPRESSION:", "Impression:", "CONCLUSION:", "Opinion:"],
        "\n",
    );
    let (a, icd) = if img.positive.is_empty() {
        (Assertion::Absent, None)
    } else {
        (Assertion::Present, Some(acute.icd10))
    };
    if a == Assertion::Present {
        w.say_f(
            &[
                "1. {Fc}.",
                "{Fc}.",
                "Findings consistent with {F}.",
                "Appearances in keeping with {F}.",
            ],
            FindingSlot {
                concepts: &[img.impression],
                assertion: a,
                icd10: icd,
            },
        );
    } else {
        w.text(&format!("{}.", crate::writer::capitalise(img.impression)));
    }
    if w.chance(0.4) {
        w.say(&[
            " Suggest clinical correlation.",
            " Discussed with {c:jr} by phone at {time:img}.",
            " Follow-up imaging in 6 weeks is recommended.",
        ]);
    }
    w.b.close_section();
    w.say(&[
        "\n\nReported by: {ct:rad}, {role:rad} (GMC {regno:rad}) on {dt:img}\n",
        "\n\n{cfull:rad}\n{role:rad}\nVerified {dt:img}\n",
        "\n\nElectronically signed: {cfull:rad} {dt:img}. Workstation {ip}.\n",
    ]);
    if us {
        w.say(&["Images: {portal}\n", "\n"]);
    } else {
        w.say(&["PACS: images sent from modality {ip}\n", "\n", "\n"]);
    }
}

/// Operative (or procedure) note.
pub(crate) fn operative(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    let Some(op) = acute.operation.as_ref() else {
        return;
    };
    w.say(&[
        "OPERATION NOTE\n",
        "OPERATIVE NOTE\n{hospital}\n",
        "Procedure note - {hospital}\n",
        "Op note\n",
    ]);
    identity_block(w);
    w.say(&[
        "Date: {date:op}  Time: {time:op}\n",
        "Date of operation: {dt:op}\n",
        "{dt:op}, Theatre 3\n",
    ]);
    w.say(&[
        "Surgeon: {ct:surg}\nAssistant: {ct:jr}\nAnaesthetist: {ct:anaes}\n",
        "Operator: {c:surg} ({role:surg})\nAssistant: {c:jr}\nAnaesthetist: {c:anaes}\n",
        "Surgeon {ct:surg}; assisted by {ct:jr}; anaesthetic by {ct:anaes}.\n",
    ]);
    w.text(&format!("Anaesthetic: {}\n", op.anaesthetic));
    w.section(&["Procedure:", "Operation:", "Operation performed:"], " ");
    w.text(&crate::writer::capitalise(op.name));
    w.section(&["Indication:", "Indications:"], " ");
    w.say_f(
        &[
            "{Fc}.",
            "{Fc} confirmed on imaging.",
            "Clinical and radiological {F}.",
        ],
        FindingSlot {
            concepts: &[acute.name],
            assertion: Assertion::Present,
            icd10: Some(acute.icd10),
        },
    );
    w.section(&["Findings:", "FINDINGS:"], " ");
    let f = some(w, op.findings, 1, op.findings.len());
    w.say_f(
        &["{Fc}.", "{Fc} found.", "At operation: {F}."],
        FindingSlot {
            concepts: &f,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    if w.chance(0.5) {
        let neg = w.pick(&["perforation", "pus", "ischaemic bowel", "malignancy"]);
        w.say_f(
            &[" No {F}.", " No evidence of {F}.", " Nil {F}."],
            FindingSlot {
                concepts: &[neg],
                assertion: Assertion::Absent,
                icd10: None,
            },
        );
    }
    w.section(&["Procedure details:", "Description:", "Technique:"], "\n");
    for (i, step) in op.steps.iter().enumerate() {
        if w.chance(0.5) {
            w.text(&format!("{}. {step}\n", i + 1));
        } else {
            w.text(&format!("- {step}\n"));
        }
    }
    let (lo, hi) = op.blood_loss_ml;
    let ebl = w.rng.gen_range(lo..=hi);
    w.text(&format!("EBL: {ebl} mL. "));
    w.say(&[
        "Complications: nil.",
        "No intraoperative complications.",
        "Complications: none.",
    ]);
    if let Some(s) = op.specimen {
        w.text(&format!(" Specimen: {s}."));
    }
    if op.name.contains("hemiarthroplasty")
        || op.name.contains("mesh")
        || op.name.contains("percutaneous")
    {
        let lot = format!(
            "{}{:08}",
            w.pick(&["LOT", "SN", "REF"]),
            w.rng.gen_range(0..100_000_000)
        );
        w.text(" Implant: ");
        w.phi(Category::Id, &lot);
        w.b.push(".");
    }
    w.section(
        &["Post-op plan:", "Post-operative instructions:", "Plan:"],
        "\n",
    );
    w.say(&[
        "Routine obs. ",
        "Ward-based care. ",
        "Recovery then back to ward. ",
    ]);
    w.say(&[
        "VTE prophylaxis as per protocol. ",
        "Enoxaparin from 6 hours post-op. ",
        "TEDS and early mobilisation. ",
    ]);
    let warn = w.pick(acute.warning_signs);
    w.say_f(
        &[
            "If {F} develops, r/v by surgical team.",
            "Should {F} occur, inform the on-call registrar.",
            "Please call if {F}.",
        ],
        FindingSlot {
            concepts: &[warn],
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.b.close_section();
    w.say(&[
        "\n\n{cfull:surg}, {role:surg}\n",
        "\n\nSigned: {ct:surg} (GMC {regno:surg})\n",
        "\n\n{c:surg}\nbleep {bleep:surg}\n",
    ]);
}

/// Night or weekend handover: an SBAR entry or a row of a handover list.
pub(crate) fn handover(w: &mut Writer<'_>) {
    if w.chance(0.4) {
        handover_list(w);
    } else {
        handover_sbar(w);
    }
}

/// One patient's row on a printed handover list.
fn handover_list(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    let day = (w.at.date() - w.e.arrival.date()).num_days().max(0) + 1;
    w.say(&[
        "NIGHT HANDOVER - {ward} - {date:handover}\n",
        "{ward} | handover list | {dt:handover}\n",
        "Twilight handover {date:handover}, {ward}\n",
    ]);
    let bed = w.e.bed;
    w.text(&format!("{bed} | "));
    w.say(&["{pt_init} | ", "{pt} | ", "{pt_last} | "]);
    w.say(&["{age}{sex} | ", "{age} | "]);
    let syn = w.pick(acute.synonyms);
    let tpl = format!("{{F}} D{day}\n");
    w.say_f(
        &[&tpl],
        FindingSlot {
            concepts: &[syn],
            assertion: Assertion::Present,
            icd10: Some(acute.icd10),
        },
    );
    w.section(&["Issues:", "Problems:"], " ");
    let sym = some(w, acute.symptoms, 1, 2);
    w.say_f(
        &[
            "ongoing {F}.",
            "{Fc} - settling.",
            "{Fc} overnight, PRN analgesia given.",
        ],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    w.b.push(" ");
    let neg = some(w, acute.negatives, 1, 1);
    w.say_f(
        &["No {Fo} today.", "Nil {F}."],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    w.section(&["Obs:", "NEWS:"], " ");
    vitals_run(w);
    w.section(&["Jobs:", "Tasks:", "For night team:"], " ");
    w.say(&[
        "1) check K+ result 2) r/v fluid balance. ",
        "Bloods due 06:00. ",
        "Chase micro. ",
        "Nil specific. ",
        "IV abx due 22:00. ",
    ]);
    let warn = w.pick(acute.warning_signs);
    w.say_f(
        &[
            "If {F} - call reg.",
            "{Fc} → urgent r/v.",
            "?{F} overnight → discuss with SpR.",
        ],
        FindingSlot {
            concepts: &[warn],
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.b.close_section();
    w.say(&["\n{c:jr} bleep {bleep:jr}\n", "\nHanded over by {ct:jr}\n"]);
}

/// An SBAR handover entry.
fn handover_sbar(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    let day = (w.at.date() - w.e.arrival.date()).num_days().max(0) + 1;
    w.say(&[
        "{ward} handover {date:handover} {time:handover}\n",
        "HANDOVER - {ward} - {dt:handover}\n",
        "Evening handover ({ward}), {date:handover}\n",
    ]);
    let bed = w.e.bed;
    w.text(&format!("Bed {bed}: "));
    w.say(&["{pt_init} ", "{pt_t} ", "{pt} "]);
    w.say(&["{age}{sex}, ", "{age} yo, ", "({age}) "]);
    let syn = w.pick(acute.synonyms);
    let tpl = format!("day {day} {{F}}");
    w.say_f(
        &[&tpl],
        FindingSlot {
            concepts: &[syn],
            assertion: Assertion::Present,
            icd10: Some(acute.icd10),
        },
    );
    w.b.push("\n");
    w.section(&["S:", "Situation:"], " ");
    let sym = some(w, acute.symptoms, 1, 1);
    w.say_f(
        &[
            "Stable overnight; {F} improving.",
            "Settled. Still some {F}.",
            "{Fc} ongoing but better.",
            "Improving, less {F} today.",
            "Unsettled evening with {F}.",
        ],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    w.section(&["B:", "Background:"], " ");
    let pmh: Vec<String> =
        w.e.pmh
            .iter()
            .map(|p| p.abbrev.clone().unwrap_or_else(|| p.name.clone()))
            .collect();
    if pmh.is_empty() {
        w.text("Nil PMH.");
    } else {
        w.text("PMH ");
        let pmh_refs: Vec<&str> = pmh.iter().map(String::as_str).collect();
        // The background line names PMH items: ongoing conditions present,
        // past events historical, one finding span each.
        for (i, (c, item)) in pmh_refs.iter().zip(w.e.pmh.iter()).enumerate() {
            if i > 0 {
                w.b.push(", ");
            }
            let a = if item.past_event {
                Assertion::Historical
            } else {
                Assertion::Present
            };
            w.finding(c, a, item.icd10);
        }
        w.b.push(".");
    }
    w.section(&["A:", "Assessment:"], " ");
    w.b.push("Obs ");
    vitals_run(w);
    let diff = some(w, acute.differentials, 1, 1);
    w.say_f(
        &[
            "?{F} - not convinced.",
            "{F} unlikely.",
            "Team querying {F}.",
        ],
        FindingSlot {
            concepts: &diff,
            assertion: Assertion::Possible,
            icd10: None,
        },
    );
    w.section(&["R:", "Jobs:", "To do:"], " ");
    w.say(&[
        "Chase bloods; r/v in AM. ",
        "Please r/v if NEWS >5. ",
        "Needs repeat U&Es at 22:00. ",
        "Chase imaging report. ",
    ]);
    let warn = w.pick(acute.warning_signs);
    w.say_f(
        &[
            "If {F}, please escalate to reg.",
            "If {F} → r/v and consider senior input.",
            "Escalate if {F}.",
        ],
        FindingSlot {
            concepts: &[warn],
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.say(&[
        " For full escalation.",
        " DNACPR in place.",
        " Ceiling of care: ward-based.",
        "",
    ]);
    w.b.close_section();
    w.say(&[
        "\nNOK {nok_rel} ({nok_first}) aware, tel {nok_phone}.\n",
        "\nFamily updated - {nok} ({nok_rel}) {nok_phone}.\n",
        "\n",
    ]);
    w.say(&[
        "Handed over by {c:jr} (bleep {bleep:jr}) to night team.\n",
        "From: {ct:jr}\n",
        "{c:jr}, {role:jr}\n",
    ]);
}

/// Discharge summary: a structured summary, or (NHS) a letter to the GP.
pub(crate) fn discharge_summary(w: &mut Writer<'_>) {
    if !w.us() && w.chance(0.3) {
        discharge_letter(w);
    } else {
        discharge_structured(w);
    }
}

/// The discharge summary as a letter to the GP, in prose.
fn discharge_letter(w: &mut Writer<'_>) {
    let acute = w.e.acute;
    w.say(
        &[
            "{hospital}\n{ward}\n",
            "{hospital}\nDepartment of SPEC\n",
            "{hospital}, {hospital_addr}\n",
        ]
        .map(|t| t.replace("SPEC", acute.specialty))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    w.say(&["{date:dis}\n\n", "Date: {date:dis}\n\n"]);
    w.say(&["{ct:gp}\n{practice}\n{practice_addr}\n\n", "{practice}\n\n"]);
    w.say(&["Dear {ct:gp},\n\n", "Dear Colleague,\n\n"]);
    w.say(&[
        "Re: {pt_t}, DOB {dob}, NHS No {nhs}\n{addr}\n",
        "RE: {pt} ({dob}) - NHS {nhs} - Hosp no {hosp}\n",
    ]);
    w.section(&["\nDiagnosis:", "\nDischarge diagnosis:"], " ");
    w.say_f(
        &["{Fc}"],
        FindingSlot {
            concepts: &[acute.name],
            assertion: Assertion::Present,
            icd10: Some(acute.icd10),
        },
    );
    w.section(&["\nSummary:", "\nClinical summary:"], "\n");
    w.say(&[
        "Your patient was admitted on {date:arr} under the care of {ct:cons} ",
        "{pt_t} was admitted to {ward} on {date:arr} ",
        "Thank you for referring {pt_t}, who was admitted on {date:arr} ",
    ]);
    let sym = some(w, acute.symptoms, 1, 2);
    w.say_f(
        &[
            "with {F}. ",
            "having presented with {F}. ",
            "following a short history of {F}. ",
        ],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Present,
            icd10: None,
        },
    );
    let neg = some(w, acute.negatives, 1, 2);
    w.say_f(
        &["There was no {Fo}. ", "{He} denied {Fo}. "],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    if let Some(op) = acute.operation.as_ref() {
        w.text(&format!(
            "{} underwent {} on ",
            if w.p.name.female { "She" } else { "He" },
            op.name
        ));
        w.fill_slot("date:op");
        w.say(&[
            " without complication. ",
            ", which went well. ",
            "; recovery was uneventful. ",
        ]);
    } else {
        let drugs: Vec<&str> = acute.inpatient_drugs.iter().map(|d| d.name).collect();
        w.text(&format!(
            "{} was treated with {} and improved. ",
            if w.p.name.female { "She" } else { "He" },
            drugs.join(" and ")
        ));
    }
    let diff_assertion = absent_or_possible(w, 0.7);
    let diff = some(w, acute.differentials, 1, 1);
    w.say_f(
        if diff_assertion == Assertion::Absent {
            &["We found no evidence of {F}. ", "{Fc} was excluded. "]
        } else {
            &[
                "{Fc} remains possible and is for review in clinic. ",
                "We could not entirely exclude {F}. ",
            ]
        },
        FindingSlot {
            concepts: &diff,
            assertion: diff_assertion,
            icd10: None,
        },
    );
    w.section(&["\nPast medical history:", "\nPMH:"], " ");
    pmh_block(w);
    w.section(&["\nMedications on discharge:", "\nTTO:"], "");
    let new: Vec<(Drug, &str)> = acute
        .discharge_drugs
        .iter()
        .map(|d| (*d, " (new)"))
        .collect();
    meds_block(w, &new);
    w.section(&["\nActions for GP:", "\nGP actions:"], " ");
    w.say(&[
        "Please check U&Es in one week.",
        "Please review BP and titrate medication.",
        "No specific actions.",
        "Please arrange a medication review in 4/52.",
    ]);
    w.section(&["\nInformation given to patient:", "\nAdvice:"], " ");
    let warn = some(w, acute.warning_signs, 1, 2);
    w.say_f(
        &[
            "{He} has been advised to return if {Fo} develops.",
            "We have asked {him} to seek help urgently if {Fo}.",
        ],
        FindingSlot {
            concepts: &warn,
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.b.close_section();
    w.say(&[
        "\n\nYours sincerely,\n\n{cfull:jr}\n{role:jr} to {ct:cons}\n",
        "\n\nKind regards,\n{c:jr} ({role:jr}), bleep {bleep:jr}\n",
    ]);
}

/// The structured discharge summary.
fn discharge_structured(w: &mut Writer<'_>) {
    let us = w.us();
    let acute = w.e.acute;
    w.say(if us {
        &[
            "DISCHARGE SUMMARY\n{hospital}\n",
            "{hospital}\nHospital Discharge Summary\n",
        ]
    } else {
        &[
            "DISCHARGE SUMMARY\n{hospital}\n",
            "{hospital} - Inpatient Discharge Letter\n",
            "Immediate Discharge Summary (IDS)\n{hospital}, {ward}\n",
        ]
    });
    identity_block(w);
    if w.chance(0.5) {
        w.say(&["Address: {addr}\n", "Home address: {addr}\nTel: {phone}\n"]);
    }
    if us {
        w.say(&[
            "PCP: {ct:gp}, {practice}\n",
            "Primary care: {ct:gp} ({practice}), phone {practice_phone}\n",
        ]);
    } else {
        w.say(&[
            "GP: {ct:gp}, {practice}, {practice_addr}\n",
            "Registered GP: {ct:gp}\nPractice: {practice}\n",
            "GP practice: {practice} ({practice_phone})\n",
            "GP: {ct:gp}, {practice} - {practice_url}\n",
        ]);
    }
    w.say(&[
        "Admitted: {date:arr}   Discharged: {date:dis}\n",
        "Date of admission: {date:arr}\nDate of discharge: {date:dis}\n",
        "Admission {dt:arr} - discharge {dt:dis}\n",
    ]);
    let specialty_line = format!("Consultant: {{c:cons}}\nSpecialty: {}\n", acute.specialty);
    w.say(&[
        "Consultant: {ct:cons}   Ward: {ward}\n",
        "Under the care of {ct:cons} ({role:cons})\n",
        &specialty_line,
    ]);
    w.section(&["Diagnosis:", "Primary diagnosis:", "DIAGNOSES:"], " ");
    let with_code = w.chance(0.5);
    w.say_f(
        &["{F}"],
        FindingSlot {
            concepts: &[acute.name],
            assertion: Assertion::Present,
            icd10: Some(acute.icd10),
        },
    );
    if with_code {
        w.text(&format!(" ({})", acute.icd10));
    }
    w.section(
        &[
            "Presenting complaint:",
            "Reason for admission:",
            "Chief complaint:",
        ],
        " ",
    );
    presenting_history(w);
    w.section(&["Past medical history:", "PMH:"], " ");
    pmh_block(w);
    w.section(&["Investigations:", "Results:"], "\n");
    labs(w);
    w.b.push("\n");
    let img = imaging_of(w);
    w.text(&format!("{} ", img.short));
    w.say(&["({date:img}): ", "on {date:img}: ", "- "]);
    if img.positive.is_empty() {
        w.text(&format!("{}.", img.impression));
    } else {
        let pos = some(w, img.positive, 1, 1);
        w.say_f(
            &["{F}.", "showed {F}.", "{F} seen."],
            FindingSlot {
                concepts: &pos,
                assertion: Assertion::Present,
                icd10: None,
            },
        );
    }
    let neg = some(w, img.negative, 1, 2);
    w.say_f(
        &[" No {Fo}.", " No evidence of {Fo}.", " {Fc} excluded."],
        FindingSlot {
            concepts: &neg,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    if let Some(op) = acute.operation.as_ref() {
        w.section(&["Procedures:", "Operations/procedures:"], " ");
        w.text(&crate::writer::capitalise(op.name));
        w.say(&[" on {date:op}", " ({date:op})", " - {date:op}, {ct:surg}"]);
        w.b.push(".");
    }
    w.section(&["Progress:", "Clinical course:", "Hospital course:"], " ");
    let drugs: Vec<&str> = acute.inpatient_drugs.iter().map(|d| d.name).collect();
    let treat = w.pick(&["Treated with ", "Started on ", "Managed with "]);
    w.text(&format!("{treat}{}", drugs.join(" and ")));
    w.say(&[
        " with good response. ",
        ", improved steadily. ",
        " and made a good recovery. ",
    ]);
    let diff = some(w, acute.differentials, 1, 1);
    let diff_assertion = absent_or_possible(w, 0.75);
    w.say_f(
        if diff_assertion == Assertion::Absent {
            &[
                "{Fc} was considered but excluded. ",
                "No evidence of {F}. ",
                "{Fc} ruled out. ",
            ]
        } else {
            &[
                "{Fc} felt unlikely. ",
                "{Fc} not excluded; for OP review. ",
                "?{F} - for outpatient review. ",
            ]
        },
        FindingSlot {
            concepts: &diff,
            assertion: diff_assertion,
            icd10: None,
        },
    );
    w.say(&[
        "Mobilising independently at discharge.",
        "Seen by physio and OT; safe for discharge home.",
        "Back to baseline.",
        "Eating and drinking normally.",
    ]);
    w.section(
        if us {
            &["Discharge medications:", "Medications at discharge:"]
        } else {
            &[
                "Medications on discharge (TTO):",
                "TTO:",
                "Discharge medications:",
            ]
        },
        "",
    );
    let new: Vec<(Drug, &str)> = acute
        .discharge_drugs
        .iter()
        .map(|d| (*d, if us { " (new)" } else { " - NEW" }))
        .collect();
    meds_block(w, &new);
    w.section(&["Allergies:", "Allergies/ADRs:"], " ");
    allergy_line(w);
    w.section(&["Follow-up:", "Follow up:", "Plan:"], " ");
    match w.e.clinic {
        Some(_) => w.say(&[
            "Clinic review on {date:clinic}.",
            "OPA in 6/52 - appointment {date:clinic}.",
            "Outpatient review with {ct:cons} on {date:clinic}.",
        ]),
        None => w.say(&[
            "GP to review in 2 weeks.",
            "No hospital follow-up needed; GP r/v 1-2/52.",
            "Discharged to GP care.",
        ]),
    }
    if !us {
        w.say(&[" GP to check U&Es in 1/52.", " Please review BP.", ""]);
    }
    w.section(
        &["Advice given:", "Safety-netting:", "Patient advice:"],
        " ",
    );
    let warn = some(w, acute.warning_signs, 1, 2);
    w.say_f(
        if us {
            &[
                "Return if {Fo} develops.",
                "Advised to seek urgent care if {Fo}.",
                "Return to the ED or call 911 if {Fo}.",
            ]
        } else {
            &[
                "Return if {Fo} develops.",
                "Advised to seek urgent help if {Fo}.",
                "Re-attend ED if {Fo}.",
                "Should {he} develop {Fo}, {he} should call 111 or attend ED.",
            ]
        },
        FindingSlot {
            concepts: &warn,
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.b.close_section();
    w.say(&[
        "\n\nCompleted by {ct:jr} ({role:jr}), bleep {bleep:jr}, {dt:dis}\n",
        "\n\n{cfull:jr}, {role:jr}\nOn behalf of {ct:cons}\n",
        "\n\nSigned {c:jr} {date:dis}\nContact: {cemail:jr}\n",
    ]);
}

/// Outpatient clinic letter to the GP.
pub(crate) fn clinic_letter(w: &mut Writer<'_>) {
    let us = w.us();
    let acute = w.e.acute;
    if us {
        w.text(&format!("{} Clinic\n", acute.specialty));
    } else {
        w.text(&format!("{} Outpatients\n", acute.specialty));
    }
    w.say(&[
        "{hospital}\n{hospital_addr}\nTel: {hospital_phone}\n",
        "{hospital}, {hospital_addr}\nSecretary: {hospital_phone}  Email: {cemail:cons}\n",
    ]);
    w.say(&[
        "\nDate: {date:clinic}\n",
        "\nClinic date: {date:clinic}   Typed: {date:note}\n",
        "\nDictated {date:clinic}\n",
    ]);
    if us {
        w.say(&[
            "\n{ct:gp}\n{practice}\n{practice_addr}\n\nDear {ct:gp}:\n\n",
            "\nTo: {ct:gp}, {practice}\n\nDear Colleague:\n\n",
        ]);
    } else {
        w.say(&[
            "\n{ct:gp}\n{practice}\n{practice_addr}\n\nDear {ct:gp},\n\n",
            "\nPrivate and confidential\n{ct:gp}, {practice}\n\nDear Doctor,\n\n",
            "\n{practice}\n{practice_addr}\n\nDear {ct:gp},\n\n",
        ]);
    }
    if us {
        w.say(&[
            "Re: {pt}, DOB {dob}, MRN {mrn}\n",
            "RE: {pt_t} (DOB {dob})\n{addr}\n",
        ]);
    } else {
        w.say(&[
            "Re: {pt}, DOB {dob}, NHS No {nhs}\n{addr}\n",
            "RE: {pt_t}   D.O.B. {dob}   NHS number {nhs}   Hosp no {hosp}\n",
            "Patient: {pt} ({dob})\nNHS: {nhs}\n",
        ]);
    }
    w.section(&["\nDiagnoses:", "\nDiagnosis:", "\nProblem list:"], "\n");
    w.text("1. ");
    w.finding(
        &crate::writer::capitalise(acute.name),
        Assertion::Historical,
        Some(acute.icd10),
    );
    w.say(&[" ({date:arr})", " - admitted {date:arr}", ""]);
    for (i, item) in w.e.pmh.iter().enumerate().take(4) {
        w.text(&format!("\n{}. ", i + 2));
        let a = if item.past_event {
            Assertion::Historical
        } else {
            Assertion::Present
        };
        w.finding(&crate::writer::capitalise(&item.name), a, item.icd10);
    }
    w.section(&["\nMedication:", "\nCurrent medication:"], "");
    meds_block(w, &[]);
    w.b.close_section();
    w.b.push("\n\n");
    w.say(&[
        "I saw {pt_ref} in clinic today following {his} admission on {date:arr} with ",
        "Thank you for your continued care of this {age}-year-old {man}, whom I reviewed today after {his} recent admission with ",
        "I reviewed {pt_t} in the {spec} clinic on {date:clinic}. As you know {he} was admitted on {date:arr} with ",
    ]
    .map(|t| t.replace("{spec}", acute.specialty))
    .iter()
    .map(String::as_str)
    .collect::<Vec<_>>());
    w.say_f(
        &["{F}. "],
        FindingSlot {
            concepts: &[acute.name],
            assertion: Assertion::Historical,
            icd10: Some(acute.icd10),
        },
    );
    if let Some(op) = acute.operation.as_ref() {
        w.text(&format!(
            "{} underwent {} on ",
            crate::writer::capitalise(if w.p.name.female { "she" } else { "he" }),
            op.name
        ));
        w.fill_slot("date:op");
        w.text(". ");
        if let Some(specimen) = op.specimen.filter(|s| s.contains("histology")) {
            let tissue = specimen.trim_end_matches(" to histology");
            w.text(&format!("Histology of the {tissue} "));
            w.say_f(
                &["confirmed {F}", "was in keeping with {F}", "showed {F}"],
                FindingSlot {
                    concepts: &[acute.name],
                    assertion: Assertion::Present,
                    icd10: Some(acute.icd10),
                },
            );
            w.say_f(
                &[
                    ", with no evidence of {F}. ",
                    "; no {F} was seen. ",
                    " and was negative for {F}. ",
                ],
                FindingSlot {
                    concepts: &["malignancy"],
                    assertion: Assertion::Absent,
                    icd10: None,
                },
            );
        }
    }
    // The dose change the next admission's medication list carries (see
    // patient.rs), sometimes announced here.
    if let Some(d) = w.e.meds.iter().find(|d| d.alt_dose != d.dose).copied() {
        if w.chance(0.4) {
            let name = crate::writer::localise(w.p.style, d.name).into_owned();
            w.text(&format!(
                "I have changed {} {} from {} to {} {}. ",
                if w.p.name.female { "her" } else { "his" },
                name,
                d.dose,
                d.alt_dose,
                d.freq.abbrev(w.us())
            ));
        }
    }
    let sym = some(w, acute.symptoms, 1, 2);
    w.say_f(
        &[
            "{He} reports no further {Fo}. ",
            "{He} denies any {Fo} since discharge. ",
            "There has been no recurrence of {Fo}. ",
        ],
        FindingSlot {
            concepts: &sym,
            assertion: Assertion::Absent,
            icd10: None,
        },
    );
    w.say(
        &[
            "{He} is back at work as a {profession}. ",
            "{He} is keen to return to {his} job as a {profession}. ",
            "{He} lives {lives}. ",
        ]
        .map(|t| t.replace("{lives}", w.p.lives_with))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    w.text("\n\nOn examination: ");
    if acute.operation.is_some() {
        w.say(&[
            "Looked well. Wounds healed. ",
            "Wounds clean and dry. BP 128/74. ",
            "Scars well healed; no incisional hernia. ",
        ]);
    } else {
        w.say(&[
            "BP 132/78, pulse 72 regular. ",
            "NAD. Chest clear, abdomen soft. ",
            "Obs stable; O/E no abnormality detected. ",
            "Looked well; HS I+II+0, chest clear. ",
        ]);
    }
    if !w.p.family.is_empty() && w.chance(0.6) {
        w.text("Of note, ");
        family_block(w);
        w.b.push(" ");
    }
    w.text("\n\n");
    let diff = some(w, acute.differentials, 1, 1);
    let diff_assertion = absent_or_possible(w, 0.6);
    w.say_f(
        if diff_assertion == Assertion::Absent {
            &[
                "I do not think this represents {F}. ",
                "There is no suggestion of {F}. ",
                "Investigations showed no {F}. ",
            ]
        } else {
            &[
                "{Fc} remains a possibility and I have arranged further tests. ",
                "I wonder whether {F} may have contributed. ",
                "We cannot exclude {F}. ",
            ]
        },
        FindingSlot {
            concepts: &diff,
            assertion: diff_assertion,
            icd10: None,
        },
    );
    let warn = some(w, acute.warning_signs, 1, 1);
    w.say_f(
        &[
            "I have advised {him} to contact you if {F} recurs. ",
            "Should {he} develop {F}, please re-refer. ",
            "If there is any {F}, {he} knows to attend ED. ",
        ],
        FindingSlot {
            concepts: &warn,
            assertion: Assertion::Hypothetical,
            icd10: None,
        },
    );
    w.say(&[
        "I have not arranged further follow-up.",
        "I will see {him} again in 3 months.",
        "We will review {him} in clinic in 6 months with repeat imaging.",
        "{He} can contact my secretary on {hospital_phone} with any concerns.",
    ]);
    if us {
        w.say(&[
            "\n\nSincerely,\n\n{ct:cons}\n{role:cons}\n",
            "\n\nBest regards,\n{cfull:cons}, MD\n",
        ]);
    } else {
        w.say(&[
            "\n\nYours sincerely,\n\n{ct:cons}\n{role:cons}\n",
            "\n\nYours sincerely\n\n\n{cfull:cons}\n{role:cons}\nGMC {regno:cons}\n",
            "\n\nWith kind regards,\n\n{c:cons}\n{role:cons}\n",
        ]);
    }
    w.say(&[
        "cc: {pt_t}, {addr}\n",
        "cc: Patient\n",
        "Copy to patient: {email}\n",
        "",
        "Typed {hdate:note}\n",
    ]);
    if !us && w.chance(0.2) {
        w.say(&["This letter is also available to {pt_first} on the patient portal: {portal}\n"]);
    }
}

impl Writer<'_> {
    /// Fills one slot directly (for text assembled outside a template).
    pub(crate) fn fill_slot(&mut self, key: &str) {
        let t = format!("{{{key}}}");
        let saved: &[&str] = &[&t];
        self.say(saved);
    }
}
