//! Plain data shared by every insitu crate: identifiers, PHI categories, span
//! records. No I/O and no heavy dependencies live here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Category of a protected-health-information span (DESIGN.md contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// Person names: patients, relatives, clinicians.
    Name,
    /// Dates and times more specific than a year alone, and years tied to a person.
    Date,
    /// Ages (ages over 89 always; younger ages where a policy asks).
    Age,
    /// Identifiers: NHS, CHI, MRN/hospital number, NI, GMC/NMC, SSN, …
    Id,
    /// Telephone and fax numbers.
    Phone,
    /// E-mail addresses.
    Email,
    /// Web addresses.
    Url,
    /// IP addresses.
    Ip,
    /// Addresses, postcodes, hospitals, wards, cities.
    Location,
    /// Organisations: employers, GP practices, companies.
    Organization,
    /// Occupations.
    Profession,
    /// Anything else identifying.
    Other,
}

impl Category {
    /// Every category, in a stable order (reports list them this way).
    pub const ALL: [Category; 12] = [
        Category::Name,
        Category::Date,
        Category::Age,
        Category::Id,
        Category::Phone,
        Category::Email,
        Category::Url,
        Category::Ip,
        Category::Location,
        Category::Organization,
        Category::Profession,
        Category::Other,
    ];

    /// The upper-case label used in JSON and tag mode (`NAME`, `DATE`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Name => "NAME",
            Category::Date => "DATE",
            Category::Age => "AGE",
            Category::Id => "ID",
            Category::Phone => "PHONE",
            Category::Email => "EMAIL",
            Category::Url => "URL",
            Category::Ip => "IP",
            Category::Location => "LOCATION",
            Category::Organization => "ORGANIZATION",
            Category::Profession => "PROFESSION",
            Category::Other => "OTHER",
        }
    }

    /// Parses an upper- or lower-case label.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One PHI span: UTF-8 byte offsets `[start, end)` into a document's text.
/// This is the line format of `phi.jsonl` and of `insitu deid --spans`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SpanRecord {
    /// Document id (JSONL `id`, or file stem for `.txt` inputs).
    pub doc: String,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// What kind of identifier it is.
    pub category: Category,
}

/// Assertion status of a clinical finding (the `insitu assert` contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assertion {
    /// The finding is asserted for the patient now.
    Present,
    /// The finding is negated.
    Absent,
    /// Uncertain, queried, or possible.
    Possible,
    /// Conditional or future ("return if chest pain develops").
    Hypothetical,
    /// In the patient's past history.
    Historical,
    /// About a family member, not the patient.
    Family,
}

impl Assertion {
    /// Lower-case label used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Assertion::Present => "present",
            Assertion::Absent => "absent",
            Assertion::Possible => "possible",
            Assertion::Hypothetical => "hypothetical",
            Assertion::Historical => "historical",
            Assertion::Family => "family",
        }
    }
}

/// A patient pseudonym: hex HMAC-SHA256 of the source identifier under the
/// appliance's secret. The raw identifier is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatientKey(pub String);

impl fmt::Display for PatientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_labels_round_trip_through_json() {
        for c in Category::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), c);
            assert_eq!(Category::parse(&c.as_str().to_lowercase()), Some(c));
        }
    }

    #[test]
    fn assertion_labels_are_lower_case() {
        let a: Assertion = serde_json::from_str("\"hypothetical\"").unwrap();
        assert_eq!(a, Assertion::Hypothetical);
        assert_eq!(
            serde_json::to_string(&Assertion::Family).unwrap(),
            "\"family\""
        );
    }
}
