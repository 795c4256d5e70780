//! The clinical catalogue: conditions with real ICD-10 (WHO) codes, the drugs
//! and doses used for them, and the words notes use about them. Only plain
//! clinical facts live here; nothing here identifies anyone.

/// How often a drug is taken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Freq {
    Od,
    Bd,
    Tds,
    Qds,
    On,
    Prn,
    Weekly,
    Stat,
}

impl Freq {
    /// The abbreviation a UK prescriber writes, or the US form.
    pub fn abbrev(self, us: bool) -> &'static str {
        match (self, us) {
            (Freq::Od, false) => "OD",
            (Freq::Od, true) => "daily",
            (Freq::Bd, false) => "BD",
            (Freq::Bd, true) => "BID",
            (Freq::Tds, false) => "TDS",
            (Freq::Tds, true) => "TID",
            (Freq::Qds, false) => "QDS",
            (Freq::Qds, true) => "QID",
            (Freq::On, false) => "ON",
            (Freq::On, true) => "qHS",
            (Freq::Prn, _) => "PRN",
            (Freq::Weekly, false) => "once weekly",
            (Freq::Weekly, true) => "weekly",
            (Freq::Stat, _) => "STAT",
        }
    }

    /// The same frequency spelt out.
    pub fn words(self) -> &'static str {
        match self {
            Freq::Od => "once daily",
            Freq::Bd => "twice daily",
            Freq::Tds => "three times daily",
            Freq::Qds => "four times daily",
            Freq::On => "at night",
            Freq::Prn => "as required",
            Freq::Weekly => "once a week",
            Freq::Stat => "once",
        }
    }
}

/// A drug with a real dose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Drug {
    pub name: &'static str,
    pub dose: &'static str,
    pub freq: Freq,
    /// A different dose used when the prescription is "lightly edited" later.
    pub alt_dose: &'static str,
}

const fn d(name: &'static str, dose: &'static str, freq: Freq, alt_dose: &'static str) -> Drug {
    Drug {
        name,
        dose,
        freq,
        alt_dose,
    }
}

/// A long-term condition that appears in past medical history.
pub(crate) struct Chronic {
    pub name: &'static str,
    /// The abbreviation clinicians write (T2DM, HTN, AF…), if any.
    pub abbrev: Option<&'static str>,
    pub icd10: &'static str,
    pub description: &'static str,
    pub drugs: &'static [Drug],
}

pub(crate) const CHRONIC: &[Chronic] = &[
    Chronic {
        name: "type 2 diabetes mellitus",
        abbrev: Some("T2DM"),
        icd10: "E11.9",
        description: "Type 2 diabetes mellitus without complications",
        drugs: &[
            d("metformin", "500 mg", Freq::Bd, "1 g"),
            d("gliclazide", "80 mg", Freq::Bd, "40 mg"),
        ],
    },
    Chronic {
        name: "hypertension",
        abbrev: Some("HTN"),
        icd10: "I10",
        description: "Essential (primary) hypertension",
        drugs: &[
            d("ramipril", "5 mg", Freq::Od, "10 mg"),
            d("amlodipine", "5 mg", Freq::Od, "10 mg"),
        ],
    },
    Chronic {
        name: "atrial fibrillation",
        abbrev: Some("AF"),
        icd10: "I48.9",
        description: "Atrial fibrillation and atrial flutter, unspecified",
        drugs: &[
            d("apixaban", "5 mg", Freq::Bd, "2.5 mg"),
            d("bisoprolol", "2.5 mg", Freq::Od, "5 mg"),
        ],
    },
    Chronic {
        name: "asthma",
        abbrev: None,
        icd10: "J45.9",
        description: "Asthma, unspecified",
        drugs: &[
            d(
                "salbutamol inhaler",
                "100 micrograms 2 puffs",
                Freq::Prn,
                "100 micrograms 4 puffs",
            ),
            d(
                "beclometasone inhaler",
                "200 micrograms",
                Freq::Bd,
                "400 micrograms",
            ),
        ],
    },
    Chronic {
        name: "chronic obstructive pulmonary disease",
        abbrev: Some("COPD"),
        icd10: "J44.9",
        description: "Chronic obstructive pulmonary disease, unspecified",
        drugs: &[
            d("tiotropium", "18 micrograms", Freq::Od, "10 micrograms"),
            d(
                "salbutamol inhaler",
                "100 micrograms 2 puffs",
                Freq::Prn,
                "100 micrograms 4 puffs",
            ),
        ],
    },
    Chronic {
        name: "chronic kidney disease stage 3",
        abbrev: Some("CKD 3"),
        icd10: "N18.3",
        description: "Chronic kidney disease, stage 3",
        drugs: &[],
    },
    Chronic {
        name: "hypothyroidism",
        abbrev: None,
        icd10: "E03.9",
        description: "Hypothyroidism, unspecified",
        drugs: &[d(
            "levothyroxine",
            "100 micrograms",
            Freq::Od,
            "125 micrograms",
        )],
    },
    Chronic {
        name: "ischaemic heart disease",
        abbrev: Some("IHD"),
        icd10: "I25.9",
        description: "Chronic ischaemic heart disease, unspecified",
        drugs: &[
            d("aspirin", "75 mg", Freq::Od, "75 mg"),
            d("atorvastatin", "40 mg", Freq::On, "80 mg"),
            d("GTN spray", "400 micrograms", Freq::Prn, "400 micrograms"),
        ],
    },
    Chronic {
        name: "hypercholesterolaemia",
        abbrev: None,
        icd10: "E78.0",
        description: "Pure hypercholesterolaemia",
        drugs: &[d("simvastatin", "40 mg", Freq::On, "20 mg")],
    },
    Chronic {
        name: "depression",
        abbrev: None,
        icd10: "F32.9",
        description: "Depressive episode, unspecified",
        drugs: &[d("sertraline", "50 mg", Freq::Od, "100 mg")],
    },
    Chronic {
        name: "gastro-oesophageal reflux disease",
        abbrev: Some("GORD"),
        icd10: "K21.9",
        description: "Gastro-oesophageal reflux disease without oesophagitis",
        drugs: &[d("omeprazole", "20 mg", Freq::Od, "40 mg")],
    },
    Chronic {
        name: "osteoarthritis",
        abbrev: Some("OA"),
        icd10: "M19.9",
        description: "Arthrosis, unspecified",
        drugs: &[
            d("paracetamol", "1 g", Freq::Qds, "500 mg"),
            d(
                "co-codamol",
                "30/500 two tablets",
                Freq::Prn,
                "8/500 two tablets",
            ),
        ],
    },
    Chronic {
        name: "heart failure",
        abbrev: Some("HF"),
        icd10: "I50.9",
        description: "Heart failure, unspecified",
        drugs: &[
            d("furosemide", "40 mg", Freq::Od, "80 mg"),
            d("spironolactone", "25 mg", Freq::Od, "50 mg"),
        ],
    },
    Chronic {
        name: "epilepsy",
        abbrev: None,
        icd10: "G40.9",
        description: "Epilepsy, unspecified",
        drugs: &[d("levetiracetam", "500 mg", Freq::Bd, "750 mg")],
    },
    Chronic {
        name: "gout",
        abbrev: None,
        icd10: "M10.9",
        description: "Gout, unspecified",
        drugs: &[d("allopurinol", "100 mg", Freq::Od, "300 mg")],
    },
    Chronic {
        name: "osteoporosis",
        abbrev: None,
        icd10: "M81.9",
        description: "Osteoporosis, unspecified",
        drugs: &[
            d("alendronic acid", "70 mg", Freq::Weekly, "70 mg"),
            d("Adcal-D3", "one tablet", Freq::Bd, "one tablet"),
        ],
    },
    Chronic {
        name: "myocardial infarction",
        abbrev: Some("MI"),
        icd10: "I25.2",
        description: "Old myocardial infarction",
        drugs: &[d("clopidogrel", "75 mg", Freq::Od, "75 mg")],
    },
    Chronic {
        name: "stroke",
        abbrev: Some("CVA"),
        icd10: "I69.3",
        description: "Sequelae of cerebral infarction",
        drugs: &[d("clopidogrel", "75 mg", Freq::Od, "75 mg")],
    },
    Chronic {
        name: "deep vein thrombosis",
        abbrev: Some("DVT"),
        icd10: "Z86.7",
        description: "Personal history of diseases of the circulatory system",
        drugs: &[],
    },
];

/// A condition a relative had.
pub(crate) struct FamilyCondition {
    pub name: &'static str,
    pub icd10: &'static str,
}

pub(crate) const FAMILY: &[FamilyCondition] = &[
    FamilyCondition {
        name: "breast cancer",
        icd10: "Z80.3",
    },
    FamilyCondition {
        name: "bowel cancer",
        icd10: "Z80.0",
    },
    FamilyCondition {
        name: "lung cancer",
        icd10: "Z80.1",
    },
    FamilyCondition {
        name: "prostate cancer",
        icd10: "Z80.4",
    },
    FamilyCondition {
        name: "ischaemic heart disease",
        icd10: "Z82.4",
    },
    FamilyCondition {
        name: "stroke",
        icd10: "Z82.3",
    },
    FamilyCondition {
        name: "diabetes",
        icd10: "Z83.3",
    },
];

/// Relatives, as notes name them.
pub(crate) const RELATIVES: &[&str] = &[
    "mother",
    "father",
    "sister",
    "brother",
    "maternal aunt",
    "paternal grandfather",
    "maternal grandmother",
];

/// Imaging done for an acute presentation.
pub(crate) struct Imaging {
    pub modality: &'static str,
    pub short: &'static str,
    /// Findings reported as present.
    pub positive: &'static [&'static str],
    /// Findings the radiologist explicitly excludes.
    pub negative: &'static [&'static str],
    /// The impression line's diagnosis wording.
    pub impression: &'static str,
}

/// An operation or procedure with the words an operative note uses.
pub(crate) struct Operation {
    pub name: &'static str,
    pub anaesthetic: &'static str,
    pub findings: &'static [&'static str],
    pub steps: &'static [&'static str],
    pub blood_loss_ml: (u32, u32),
    pub specimen: Option<&'static str>,
}

/// An acute presentation that drives one encounter.
pub(crate) struct Acute {
    pub name: &'static str,
    /// Other ways notes write the diagnosis (abbreviations, lay terms).
    pub synonyms: &'static [&'static str],
    pub icd10: &'static str,
    pub description: &'static str,
    pub complaint: &'static str,
    pub symptoms: &'static [&'static str],
    pub negatives: &'static [&'static str],
    pub differentials: &'static [&'static str],
    pub imaging: Option<Imaging>,
    pub operation: Option<Operation>,
    pub inpatient_drugs: &'static [Drug],
    pub discharge_drugs: &'static [Drug],
    pub specialty: &'static str,
    pub warning_signs: &'static [&'static str],
    pub triage: (u8, u8),
    pub stay_days: (i64, i64),
}

pub(crate) const ACUTE: &[Acute] = &[
    Acute {
        name: "community-acquired pneumonia", synonyms: &["CAP", "right lower lobe pneumonia", "chest infection"],
        icd10: "J18.9", description: "Pneumonia, unspecified",
        complaint: "cough and fever",
        symptoms: &["productive cough", "fever", "shortness of breath", "pleuritic chest pain", "rigors"],
        negatives: &["haemoptysis", "calf swelling", "recent travel", "weight loss"],
        differentials: &["pulmonary embolism", "sepsis", "lung malignancy"],
        imaging: Some(Imaging { modality: "Chest X-ray (PA)", short: "CXR", positive: &["right lower zone consolidation", "air bronchograms"], negative: &["pleural effusion", "pneumothorax"], impression: "right lower lobe pneumonia" }),
        operation: None,
        inpatient_drugs: &[d("co-amoxiclav", "1.2 g IV", Freq::Tds, "1.2 g IV"), d("clarithromycin", "500 mg", Freq::Bd, "500 mg")],
        discharge_drugs: &[d("co-amoxiclav", "625 mg", Freq::Tds, "625 mg"), d("clarithromycin", "500 mg", Freq::Bd, "500 mg")],
        specialty: "Respiratory Medicine", warning_signs: &["worsening breathlessness", "coughing up blood", "high fevers"],
        triage: (2, 3), stay_days: (2, 6),
    },
    Acute {
        name: "acute appendicitis", synonyms: &["appendicitis", "appy"],
        icd10: "K35.8", description: "Acute appendicitis, other and unspecified",
        complaint: "abdominal pain",
        symptoms: &["right iliac fossa pain", "anorexia", "nausea", "vomiting", "low-grade pyrexia"],
        negatives: &["diarrhoea", "dysuria", "haematuria", "rectal bleeding"],
        differentials: &["mesenteric adenitis", "renal colic", "Meckel's diverticulitis"],
        imaging: Some(Imaging { modality: "CT abdomen and pelvis with contrast", short: "CT AP", positive: &["dilated, thick-walled appendix", "periappendiceal fat stranding"], negative: &["free intraperitoneal air", "abscess", "hydronephrosis"], impression: "acute appendicitis" }),
        operation: Some(Operation { name: "laparoscopic appendicectomy", anaesthetic: "general anaesthetic", findings: &["inflamed, non-perforated appendix", "small amount of serous free fluid"], steps: &["Open Hasson entry at the umbilicus, pneumoperitoneum established.", "Two further 5 mm ports under vision.", "Mesoappendix divided with diathermy.", "Base of appendix secured with two Endoloops and divided.", "Appendix retrieved in a bag.", "Washout of the pelvis; haemostasis checked.", "Port sites closed with absorbable sutures and local anaesthetic infiltrated."], blood_loss_ml: (5, 50), specimen: Some("appendix to histology") }),
        inpatient_drugs: &[d("cefuroxime", "1.5 g IV", Freq::Tds, "1.5 g IV"), d("metronidazole", "500 mg IV", Freq::Tds, "500 mg IV")],
        discharge_drugs: &[d("paracetamol", "1 g", Freq::Qds, "1 g"), d("ibuprofen", "400 mg", Freq::Tds, "200 mg")],
        specialty: "General Surgery", warning_signs: &["fever", "worsening abdominal pain", "redness around the wounds"],
        triage: (3, 4), stay_days: (1, 3),
    },
    Acute {
        name: "non-ST-elevation myocardial infarction", synonyms: &["NSTEMI", "acute coronary syndrome"],
        icd10: "I21.4", description: "Acute subendocardial myocardial infarction",
        complaint: "central chest pain",
        symptoms: &["central chest pain radiating to the left arm", "sweating", "nausea", "shortness of breath"],
        negatives: &["syncope", "palpitations", "back pain"],
        differentials: &["aortic dissection", "pulmonary embolism", "pericarditis"],
        imaging: Some(Imaging { modality: "Chest X-ray (portable AP)", short: "CXR", positive: &["normal heart size"], negative: &["pulmonary oedema", "widened mediastinum", "pneumothorax"], impression: "no acute cardiopulmonary abnormality" }),
        operation: Some(Operation { name: "coronary angiography and percutaneous coronary intervention to the left anterior descending artery", anaesthetic: "local anaesthetic with light sedation", findings: &["90% stenosis of the proximal left anterior descending artery", "mild disease of the right coronary artery"], steps: &["Right radial access with a 6F sheath.", "Diagnostic views of both coronary systems.", "Lesion crossed with a workhorse wire and predilated.", "One drug-eluting stent deployed with TIMI 3 flow afterwards.", "TR band applied to the radial site."], blood_loss_ml: (5, 20), specimen: None }),
        inpatient_drugs: &[d("aspirin", "300 mg", Freq::Stat, "300 mg"), d("ticagrelor", "180 mg", Freq::Stat, "180 mg"), d("fondaparinux", "2.5 mg SC", Freq::Od, "2.5 mg SC")],
        discharge_drugs: &[d("aspirin", "75 mg", Freq::Od, "75 mg"), d("ticagrelor", "90 mg", Freq::Bd, "90 mg"), d("atorvastatin", "80 mg", Freq::On, "40 mg"), d("bisoprolol", "2.5 mg", Freq::Od, "5 mg"), d("ramipril", "2.5 mg", Freq::Od, "5 mg")],
        specialty: "Cardiology", warning_signs: &["chest pain at rest", "chest pain lasting more than 15 minutes", "collapse"],
        triage: (1, 2), stay_days: (2, 5),
    },
    Acute {
        name: "fractured neck of femur", synonyms: &["#NOF", "hip fracture", "NOF fracture"],
        icd10: "S72.0", description: "Fracture of neck of femur",
        complaint: "fall with hip pain",
        symptoms: &["left hip pain", "inability to weight bear", "shortened and externally rotated left leg"],
        negatives: &["head injury", "loss of consciousness", "chest pain before the fall"],
        differentials: &["pubic ramus fracture", "pathological fracture"],
        imaging: Some(Imaging { modality: "X-ray pelvis and left hip", short: "XR hip", positive: &["displaced intracapsular fracture of the left femoral neck"], negative: &["pubic ramus fracture", "lytic lesion"], impression: "displaced intracapsular left neck of femur fracture (Garden IV)" }),
        operation: Some(Operation { name: "left hip hemiarthroplasty", anaesthetic: "spinal anaesthetic", findings: &["displaced intracapsular fracture", "good quality bone stock"], steps: &["Lateral position, posterior approach.", "Short external rotators and capsule divided and tagged.", "Femoral head extracted and sized.", "Femoral canal prepared; cemented stem inserted.", "Trial reduction stable; definitive components reduced.", "Capsule and external rotators repaired; layered closure with clips to skin."], blood_loss_ml: (200, 450), specimen: Some("femoral head to histology") }),
        inpatient_drugs: &[d("enoxaparin", "40 mg SC", Freq::Od, "20 mg SC"), d("morphine sulfate oral solution", "2.5 mg", Freq::Prn, "5 mg")],
        discharge_drugs: &[d("enoxaparin", "40 mg SC", Freq::Od, "40 mg SC"), d("paracetamol", "1 g", Freq::Qds, "1 g"), d("Adcal-D3", "one tablet", Freq::Bd, "one tablet")],
        specialty: "Trauma and Orthopaedics", warning_signs: &["calf swelling", "wound discharge", "sudden breathlessness"],
        triage: (2, 3), stay_days: (5, 14),
    },
    Acute {
        name: "acute cholecystitis", synonyms: &["cholecystitis", "gallbladder inflammation"],
        icd10: "K81.0", description: "Acute cholecystitis",
        complaint: "right upper quadrant pain",
        symptoms: &["right upper quadrant pain", "fever", "vomiting", "pain after fatty meals"],
        negatives: &["jaundice", "pale stools", "dark urine"],
        differentials: &["ascending cholangitis", "acute pancreatitis", "peptic ulcer disease"],
        imaging: Some(Imaging { modality: "Ultrasound abdomen", short: "USS abdo", positive: &["thick-walled gallbladder", "multiple gallstones", "positive sonographic Murphy's sign"], negative: &["common bile duct dilatation", "liver lesion"], impression: "acute calculous cholecystitis" }),
        operation: Some(Operation { name: "laparoscopic cholecystectomy", anaesthetic: "general anaesthetic", findings: &["oedematous, inflamed gallbladder", "multiple small stones"], steps: &["Open umbilical entry; three further ports.", "Calot's triangle dissected; critical view of safety obtained.", "Cystic duct and artery clipped and divided.", "Gallbladder dissected off the liver bed with diathermy.", "Gallbladder removed in a retrieval bag.", "Haemostasis confirmed; ports closed."], blood_loss_ml: (10, 100), specimen: Some("gallbladder to histology") }),
        inpatient_drugs: &[d("co-amoxiclav", "1.2 g IV", Freq::Tds, "1.2 g IV")],
        discharge_drugs: &[d("co-amoxiclav", "625 mg", Freq::Tds, "625 mg"), d("paracetamol", "1 g", Freq::Qds, "1 g")],
        specialty: "General Surgery", warning_signs: &["yellowing of the skin", "fever", "worsening abdominal pain"],
        triage: (3, 3), stay_days: (2, 5),
    },
    Acute {
        name: "infective exacerbation of COPD", synonyms: &["IECOPD", "COPD exacerbation"],
        icd10: "J44.1", description: "Chronic obstructive pulmonary disease with acute exacerbation, unspecified",
        complaint: "increased breathlessness",
        symptoms: &["increased breathlessness", "wheeze", "purulent sputum", "cough"],
        negatives: &["chest pain", "haemoptysis", "ankle swelling"],
        differentials: &["pneumothorax", "pneumonia", "pulmonary embolism"],
        imaging: Some(Imaging { modality: "Chest X-ray (PA)", short: "CXR", positive: &["hyperexpanded lungs"], negative: &["focal consolidation", "pneumothorax"], impression: "hyperexpansion in keeping with COPD; no consolidation" }),
        operation: None,
        inpatient_drugs: &[d("salbutamol nebulisers", "5 mg", Freq::Qds, "2.5 mg"), d("ipratropium nebulisers", "500 micrograms", Freq::Qds, "250 micrograms"), d("prednisolone", "30 mg", Freq::Od, "30 mg")],
        discharge_drugs: &[d("prednisolone", "30 mg", Freq::Od, "30 mg"), d("doxycycline", "100 mg", Freq::Od, "100 mg")],
        specialty: "Respiratory Medicine", warning_signs: &["worsening breathlessness", "drowsiness", "chest pain"],
        triage: (2, 3), stay_days: (2, 7),
    },
    Acute {
        name: "acute decompensated heart failure", synonyms: &["decompensated HF", "fluid overload"],
        icd10: "I50.0", description: "Congestive heart failure",
        complaint: "breathlessness and leg swelling",
        symptoms: &["orthopnoea", "paroxysmal nocturnal dyspnoea", "bilateral ankle swelling", "shortness of breath on exertion"],
        negatives: &["chest pain", "fever", "cough"],
        differentials: &["pneumonia", "acute coronary syndrome"],
        imaging: Some(Imaging { modality: "Chest X-ray (PA)", short: "CXR", positive: &["cardiomegaly", "bilateral pleural effusions", "upper lobe venous diversion"], negative: &["focal consolidation"], impression: "pulmonary oedema with cardiomegaly" }),
        operation: None,
        inpatient_drugs: &[d("furosemide", "40 mg IV", Freq::Bd, "80 mg IV")],
        discharge_drugs: &[d("furosemide", "80 mg", Freq::Od, "40 mg"), d("bisoprolol", "2.5 mg", Freq::Od, "1.25 mg"), d("ramipril", "2.5 mg", Freq::Od, "1.25 mg")],
        specialty: "Cardiology", warning_signs: &["weight gain of more than 2 kg in three days", "worsening breathlessness", "chest pain"],
        triage: (2, 3), stay_days: (4, 10),
    },
    Acute {
        name: "cellulitis of the left lower leg", synonyms: &["cellulitis", "left leg cellulitis"],
        icd10: "L03.1", description: "Cellulitis of other parts of limb",
        complaint: "red swollen leg",
        symptoms: &["red, hot, swollen left lower leg", "fever", "pain in the left shin"],
        negatives: &["crepitus", "blistering", "recent leg trauma"],
        differentials: &["deep vein thrombosis", "necrotising fasciitis"],
        imaging: Some(Imaging { modality: "Ultrasound Doppler, left leg veins", short: "Doppler", positive: &["subcutaneous oedema"], negative: &["deep vein thrombosis", "collection"], impression: "no DVT; appearances in keeping with cellulitis" }),
        operation: None,
        inpatient_drugs: &[d("flucloxacillin", "1 g IV", Freq::Qds, "2 g IV")],
        discharge_drugs: &[d("flucloxacillin", "500 mg", Freq::Qds, "1 g")],
        specialty: "Acute Medicine", warning_signs: &["spreading redness", "fever", "severe pain"],
        triage: (3, 4), stay_days: (2, 5),
    },
    Acute {
        name: "pulmonary embolism", synonyms: &["PE", "segmental PE"],
        icd10: "I26.9", description: "Pulmonary embolism without mention of acute cor pulmonale",
        complaint: "pleuritic chest pain",
        symptoms: &["pleuritic chest pain", "shortness of breath", "tachycardia"],
        negatives: &["calf pain", "fever", "cough"],
        differentials: &["pneumonia", "pneumothorax", "pericarditis"],
        imaging: Some(Imaging { modality: "CT pulmonary angiogram", short: "CTPA", positive: &["filling defects in the right lower lobe segmental arteries"], negative: &["right heart strain", "consolidation"], impression: "acute right lower lobe segmental pulmonary emboli" }),
        operation: None,
        inpatient_drugs: &[d("apixaban", "10 mg", Freq::Bd, "10 mg")],
        discharge_drugs: &[d("apixaban", "5 mg", Freq::Bd, "2.5 mg")],
        specialty: "Acute Medicine", warning_signs: &["worsening breathlessness", "coughing up blood", "black stools"],
        triage: (2, 2), stay_days: (1, 4),
    },
    Acute {
        name: "ischaemic stroke", synonyms: &["right MCA infarct", "acute stroke", "CVA"],
        icd10: "I63.9", description: "Cerebral infarction, unspecified",
        complaint: "sudden left-sided weakness",
        symptoms: &["left-sided weakness", "left facial droop", "slurred speech"],
        negatives: &["headache", "seizure activity", "head injury"],
        differentials: &["intracranial haemorrhage", "hypoglycaemia", "Todd's paresis"],
        imaging: Some(Imaging { modality: "CT head (non-contrast)", short: "CT head", positive: &["early ischaemic change in the right MCA territory"], negative: &["intracranial haemorrhage", "mass lesion"], impression: "early right MCA territory infarct" }),
        operation: None,
        inpatient_drugs: &[d("aspirin", "300 mg", Freq::Od, "300 mg"), d("atorvastatin", "80 mg", Freq::On, "40 mg")],
        discharge_drugs: &[d("clopidogrel", "75 mg", Freq::Od, "75 mg"), d("atorvastatin", "80 mg", Freq::On, "40 mg")],
        specialty: "Stroke Medicine", warning_signs: &["new weakness", "difficulty speaking", "sudden severe headache"],
        triage: (1, 2), stay_days: (5, 14),
    },
    Acute {
        name: "urinary tract infection", synonyms: &["UTI", "urosepsis"],
        icd10: "N39.0", description: "Urinary tract infection, site not specified",
        complaint: "confusion and dysuria",
        symptoms: &["dysuria", "urinary frequency", "new confusion", "fever"],
        negatives: &["haematuria", "loin pain", "vomiting"],
        differentials: &["pyelonephritis", "delirium from another cause"],
        imaging: None,
        operation: None,
        inpatient_drugs: &[d("gentamicin", "5 mg/kg IV", Freq::Od, "3 mg/kg IV")],
        discharge_drugs: &[d("trimethoprim", "200 mg", Freq::Bd, "100 mg")],
        specialty: "Care of the Elderly", warning_signs: &["fever", "loin pain", "worsening confusion"],
        triage: (3, 4), stay_days: (2, 6),
    },
    Acute {
        name: "right inguinal hernia", synonyms: &["inguinal hernia", "RIH"],
        icd10: "K40.9", description: "Unilateral or unspecified inguinal hernia, without obstruction or gangrene",
        complaint: "groin lump",
        symptoms: &["right groin lump", "dragging discomfort in the groin"],
        negatives: &["vomiting", "irreducibility", "change in bowel habit"],
        differentials: &["femoral hernia", "lymphadenopathy"],
        imaging: Some(Imaging { modality: "Ultrasound right groin", short: "USS groin", positive: &["right indirect inguinal hernia containing fat"], negative: &["femoral hernia", "lymphadenopathy"], impression: "reducible right indirect inguinal hernia" }),
        operation: Some(Operation { name: "open right inguinal hernia repair with mesh (Lichtenstein)", anaesthetic: "general anaesthetic", findings: &["indirect inguinal hernia", "sac containing omentum"], steps: &["Right groin incision; external oblique opened.", "Cord mobilised and sac identified.", "Sac dissected to the deep ring and reduced.", "Polypropylene mesh sutured to the inguinal ligament and conjoint tendon.", "External oblique closed; subcuticular closure."], blood_loss_ml: (5, 30), specimen: None }),
        inpatient_drugs: &[d("paracetamol", "1 g IV", Freq::Qds, "1 g")],
        discharge_drugs: &[d("paracetamol", "1 g", Freq::Qds, "1 g"), d("codeine phosphate", "30 mg", Freq::Prn, "15 mg")],
        specialty: "General Surgery", warning_signs: &["swelling in the groin", "fever", "redness around the wound"],
        triage: (4, 5), stay_days: (0, 1),
    },
    Acute {
        name: "upper gastrointestinal bleed", synonyms: &["UGIB", "GI bleed", "bleeding duodenal ulcer"],
        icd10: "K92.2", description: "Gastrointestinal haemorrhage, unspecified",
        complaint: "black stools and dizziness",
        symptoms: &["melaena", "coffee-ground vomiting", "dizziness on standing"],
        negatives: &["abdominal pain", "fresh red blood per rectum", "chest pain"],
        differentials: &["variceal bleed", "oesophageal malignancy"],
        imaging: None,
        operation: Some(Operation { name: "oesophagogastroduodenoscopy (OGD) with endoscopic haemostasis", anaesthetic: "intravenous sedation (midazolam) and throat spray", findings: &["duodenal ulcer with a visible vessel", "no varices"], steps: &["Scope passed under direct vision.", "Oesophagus and stomach inspected.", "Ulcer on the anterior wall of the duodenal bulb with a visible vessel.", "Adrenaline 1:10,000 injected in four quadrants.", "Two haemoclips applied with good haemostasis.", "CLO test taken from the antrum."], blood_loss_ml: (0, 10), specimen: Some("CLO test") }),
        inpatient_drugs: &[d("omeprazole", "40 mg IV", Freq::Bd, "40 mg IV")],
        discharge_drugs: &[d("omeprazole", "40 mg", Freq::Bd, "20 mg")],
        specialty: "Gastroenterology", warning_signs: &["black stools", "vomiting blood", "fainting"],
        triage: (2, 2), stay_days: (2, 6),
    },
    Acute {
        name: "adhesional small bowel obstruction", synonyms: &["SBO", "small bowel obstruction"],
        icd10: "K56.6", description: "Other and unspecified intestinal obstruction",
        complaint: "abdominal pain and vomiting",
        symptoms: &["colicky abdominal pain", "bilious vomiting", "abdominal distension", "absolute constipation"],
        negatives: &["rectal bleeding", "fever"],
        differentials: &["strangulation", "large bowel obstruction", "ischaemic bowel"],
        imaging: Some(Imaging { modality: "CT abdomen and pelvis with contrast", short: "CT AP", positive: &["dilated small bowel loops", "transition point in the right lower quadrant"], negative: &["free air", "features of ischaemia"], impression: "adhesional small bowel obstruction" }),
        operation: Some(Operation { name: "laparotomy and adhesiolysis", anaesthetic: "general anaesthetic with rapid sequence induction", findings: &["single band adhesion causing obstruction", "viable small bowel"], steps: &["Midline laparotomy.", "Dilated small bowel followed to a single band adhesion.", "Band divided; bowel viable after warm packs.", "Small bowel run from the duodenojejunal flexure to the ileocaecal valve.", "Mass closure with loop PDS; clips to skin."], blood_loss_ml: (50, 200), specimen: None }),
        inpatient_drugs: &[d("ondansetron", "4 mg IV", Freq::Tds, "4 mg IV"), d("morphine", "2.5 mg IV", Freq::Prn, "5 mg IV")],
        discharge_drugs: &[d("paracetamol", "1 g", Freq::Qds, "1 g"), d("lactulose", "10 mL", Freq::Bd, "15 mL")],
        specialty: "General Surgery", warning_signs: &["vomiting", "worsening abdominal pain", "fever"],
        triage: (2, 3), stay_days: (4, 10),
    },
    Acute {
        name: "diabetic ketoacidosis", synonyms: &["DKA"],
        icd10: "E10.1", description: "Type 1 diabetes mellitus with ketoacidosis",
        complaint: "vomiting and feeling unwell",
        symptoms: &["vomiting", "polyuria", "excessive thirst", "abdominal pain", "Kussmaul breathing"],
        negatives: &["chest pain", "diarrhoea"],
        differentials: &["sepsis", "acute pancreatitis"],
        imaging: None,
        operation: None,
        inpatient_drugs: &[d("fixed-rate insulin infusion", "0.1 units/kg/hour", Freq::Stat, "0.1 units/kg/hour"), d("sodium chloride 0.9%", "1 L IV over 1 hour", Freq::Stat, "1 L IV over 2 hours")],
        discharge_drugs: &[d("insulin glargine", "20 units", Freq::On, "22 units"), d("insulin aspart", "6 units with meals", Freq::Tds, "8 units with meals")],
        specialty: "Diabetes and Endocrinology", warning_signs: &["vomiting", "blood ketones above 1.5", "drowsiness"],
        triage: (2, 2), stay_days: (2, 4),
    },
];

/// Allergies and reactions.
pub(crate) const ALLERGIES: &[(&str, &str)] = &[
    ("penicillin", "rash"),
    ("penicillin", "anaphylaxis"),
    ("codeine", "vomiting"),
    ("trimethoprim", "rash"),
    ("latex", "contact dermatitis"),
    ("clarithromycin", "diarrhoea"),
    ("morphine", "itching"),
];

/// British spellings and their US forms, applied to every plain-text
/// fragment of a US-style note (never to identifiers, so offsets stay exact).
pub(crate) const US_SPELLINGS: &[(&str, &str)] = &[
    ("appendicectomy", "appendectomy"),
    ("haem", "hem"),
    ("Haem", "Hem"),
    ("oedema", "edema"),
    ("oesophag", "esophag"),
    ("Oesophag", "Esophag"),
    ("anaesth", "anesth"),
    ("Anaesth", "Anesth"),
    ("ischaem", "ischem"),
    ("dyspnoea", "dyspnea"),
    ("orthopnoea", "orthopnea"),
    ("diarrhoea", "diarrhea"),
    ("paediatric", "pediatric"),
    ("orthopaedic", "orthopedic"),
    ("Orthopaedic", "Orthopedic"),
    ("hypercholesterolaemia", "hypercholesterolemia"),
    ("hypoglycaemia", "hypoglycemia"),
    ("pyrexia", "fever"),
    ("colour", "color"),
    ("tumour", "tumor"),
    ("mobilis", "mobiliz"),
    ("stabilis", "stabiliz"),
    ("organis", "organiz"),
    ("nebulis", "nebuliz"),
    ("sulphate", "sulfate"),
    ("litre", "liter"),
    ("paracetamol", "acetaminophen"),
    ("Paracetamol", "Acetaminophen"),
    ("co-amoxiclav", "amoxicillin-clavulanate"),
    ("GTN spray", "nitroglycerin spray"),
    ("salbutamol", "albuterol"),
    ("beclometasone", "beclomethasone"),
    ("alendronic acid", "alendronate"),
    ("Adcal-D3", "calcium carbonate/vitamin D3"),
    // UK hospital vocabulary in shared templates.
    ("bleep", "pager"),
    ("medical SHO", "medicine resident"),
    ("surgical reg", "surgery resident"),
    ("majors team", "ED team"),
    ("Consultant:", "Attending:"),
    ("call reg", "call the senior resident"),
    ("escalate to reg", "escalate to the senior resident"),
    ("discuss with SpR", "discuss with the fellow"),
    ("OPA in 6/52 - appointment", "Clinic follow-up in 6 weeks -"),
    ("r/v", "review"),
];
