//! FHIR R4 JSON: a Bundle whose entries include DocumentReference
//! resources, or a single DocumentReference. Text comes from the first
//! `content[].attachment.data` (base64) with a text content type, else from
//! the narrative `text.div` with its XHTML tags removed. The patient comes
//! from `subject.reference` (`Patient/123` → `123`) or
//! `subject.identifier.value`. Other resource types in a Bundle are skipped.

use crate::jsonl::json_type;
use crate::reader::SharedTally;
use crate::{strip_bom, utf8, BadRecord, Error, Note, Place, Position, UTF8_FIX};
use base64::Engine;
use serde_json::{Map, Value};
use sha2::Digest;
use std::path::{Path, PathBuf};

const TEXT_FIX: &str = "put the note in content[].attachment.data (base64, contentType \
                        text/plain) or in text.div";

pub(crate) struct FhirNotes {
    resources: std::vec::IntoIter<(Place, Value)>,
    path: PathBuf,
}

impl FhirNotes {
    pub fn open(path: &Path, tally: SharedTally) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        {
            let mut t = tally.borrow_mut();
            t.bytes += bytes.len() as u64;
            t.hasher.update(&bytes);
        }
        let bad_input = |problem: String, fix: &str| Error::BadInput {
            path: path.to_path_buf(),
            problem,
            fix: fix.into(),
        };
        let text =
            utf8(strip_bom(&bytes)).map_err(|p| bad_input(format!("the file {p}"), UTF8_FIX))?;
        let mut root: Value = serde_json::from_str(text).map_err(|e| {
            bad_input(
                format!("not valid JSON ({e})"),
                "pass a FHIR R4 Bundle or DocumentReference; for one JSON object per line, \
                 name the file .jsonl or pass --format jsonl",
            )
        })?;
        let kind = root
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let resources = match kind {
            "DocumentReference" => vec![(Place::File, root)],
            "Bundle" => {
                // Taken, not cloned: a Bundle can be large.
                let Some(Value::Array(entries)) = root.get_mut("entry").map(Value::take) else {
                    return Err(bad_input(
                        "the Bundle has no entry array".into(),
                        "export a Bundle whose entries hold DocumentReference resources",
                    ));
                };
                entries
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, mut e)| {
                        let r = e.get_mut("resource").map(Value::take)?;
                        (r.get("resourceType").and_then(Value::as_str) == Some("DocumentReference"))
                            .then_some((Place::Entry(i), r))
                    })
                    .collect()
            }
            "" => {
                return Err(bad_input(
                    "no resourceType".into(),
                    "pass a FHIR R4 Bundle or DocumentReference (.json); for JSON Lines use .jsonl",
                ))
            }
            other => {
                return Err(bad_input(
                    format!("resourceType {other:?} is not supported"),
                    "pass a Bundle of DocumentReference or a single DocumentReference",
                ))
            }
        };
        Ok(FhirNotes {
            resources: resources.into_iter(),
            path: path.to_path_buf(),
        })
    }

    pub fn next(&mut self) -> Option<Result<Note, Error>> {
        let (place, resource) = self.resources.next()?;
        let at = Position {
            file: self.path.clone(),
            place,
        };
        Some(document_reference(resource, at).map_err(Error::BadRecord))
    }
}

fn document_reference(r: Value, at: Position) -> Result<Note, BadRecord> {
    let bad = |problem: String, fix: &str| BadRecord {
        at: at.clone(),
        problem,
        fix: fix.to_string(),
    };
    let str_at = |pointer: &str| {
        r.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let id = str_at("/id")
        .or_else(|| str_at("/identifier/0/value"))
        .ok_or_else(|| {
            bad(
                "DocumentReference has no id".into(),
                "give each DocumentReference an id or identifier[0].value",
            )
        })?
        .to_string();
    let patient_id = str_at("/subject/reference")
        .map(|s| s.strip_prefix("Patient/").unwrap_or(s))
        .or_else(|| str_at("/subject/identifier/value"))
        .ok_or_else(|| {
            bad(
                format!("DocumentReference {id:?} has no subject"),
                "set subject.reference to Patient/<id> (or subject.identifier.value)",
            )
        })?
        .to_string();
    let text = note_text(&r).map_err(|problem| {
        bad(
            format!("DocumentReference {id:?}: {problem}"),
            if problem.contains("UTF-8") {
                UTF8_FIX
            } else {
                TEXT_FIX
            },
        )
    })?;
    let kind = str_at("/type/text")
        .or_else(|| str_at("/type/coding/0/display"))
        .or_else(|| str_at("/type/coding/0/code"))
        .map(str::to_string);
    let written_at = str_at("/date")
        .or_else(|| str_at("/context/period/start"))
        .map(str::to_string);
    let mut meta = Map::new();
    meta.insert("resource_id".into(), Value::String(id.clone()));
    for field in [
        "status",
        "docStatus",
        "type",
        "category",
        "context",
        "identifier",
    ] {
        if let Some(v) = r.get(field) {
            meta.insert(field.into(), v.clone());
        }
    }
    Ok(Note {
        id,
        patient_id: Some(patient_id),
        kind,
        written_at,
        text,
        meta,
        at,
    })
}

/// The note text from the first usable attachment, else the narrative.
fn note_text(r: &Value) -> Result<String, String> {
    let mut seen_url = false;
    if let Some(Value::Array(contents)) = r.get("content") {
        for c in contents {
            let Some(att) = c.get("attachment") else {
                continue;
            };
            let content_type = att
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("text/plain")
                .to_ascii_lowercase();
            let Some(data) = att.get("data") else {
                seen_url |= att.get("url").is_some();
                continue;
            };
            let Some(data) = data.as_str() else {
                return Err(format!(
                    "attachment.data must be a base64 string, found {}",
                    json_type(data)
                ));
            };
            let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|e| format!("attachment.data is not valid base64 ({e})"))?;
            let decoded =
                utf8(strip_bom(&bytes)).map_err(|p| format!("the decoded attachment {p}"))?;
            let text = if content_type.contains("html") {
                xhtml_to_text(decoded)
            } else if content_type.starts_with("text/") {
                decoded.to_string()
            } else {
                // PDFs and images carry no text we can read; try the next.
                continue;
            };
            if !text.trim().is_empty() {
                return Ok(text);
            }
        }
    }
    if let Some(div) = r.pointer("/text/div").and_then(Value::as_str) {
        let text = xhtml_to_text(div);
        if !text.trim().is_empty() {
            return Ok(text);
        }
    }
    Err(if seen_url {
        "the attachment is only a url, which insitu does not fetch".into()
    } else {
        "no note text".into()
    })
}

/// Narrative XHTML to plain text: tags dropped, block ends and `<br>` become
/// line breaks, the common character references decoded.
fn xhtml_to_text(xhtml: &str) -> String {
    let mut out = String::with_capacity(xhtml.len());
    let mut rest = xhtml;
    while let Some(lt) = rest.find(['<', '&']) {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = rest[1..end.saturating_sub(1).max(1)]
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if matches!(
                tag.as_str(),
                "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4"
            ) && !out.ends_with('\n')
                && !out.is_empty()
            {
                out.push('\n');
            }
            rest = &rest[end..];
        } else {
            let end = rest.find(';').filter(|&i| i <= 10);
            let decoded = end.and_then(|i| match &rest[1..i] {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                num if num.starts_with("#x") || num.starts_with("#X") => {
                    u32::from_str_radix(&num[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                num if num.starts_with('#') => num[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            });
            match (decoded, end) {
                (Some(c), Some(i)) => {
                    out.push(c);
                    rest = &rest[i + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> Position {
        Position {
            file: "bundle.json".into(),
            place: Place::Entry(2),
        }
    }

    #[test]
    fn base64_attachment_and_subject_are_read() {
        let data = base64::engine::general_purpose::STANDARD.encode("Pt c/o SOB. NAD.");
        let r = json!({
            "resourceType": "DocumentReference", "id": "doc-1", "status": "current",
            "subject": {"reference": "Patient/p-9"},
            "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5", "display": "Discharge summary"}]},
            "date": "2024-03-01T10:00:00Z",
            "context": {"encounter": [{"reference": "Encounter/e-1"}]},
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}}]
        });
        let n = document_reference(r, at()).unwrap();
        assert_eq!(n.id, "doc-1");
        assert_eq!(n.patient_id.as_deref(), Some("p-9"));
        assert_eq!(n.kind.as_deref(), Some("Discharge summary"));
        assert_eq!(n.written_at.as_deref(), Some("2024-03-01T10:00:00Z"));
        assert_eq!(n.text, "Pt c/o SOB. NAD.");
        assert_eq!(
            n.meta["context"]["encounter"][0]["reference"],
            "Encounter/e-1"
        );
    }

    #[test]
    fn narrative_div_is_used_when_there_is_no_attachment() {
        let r = json!({
            "resourceType": "DocumentReference", "id": "d2",
            "subject": {"identifier": {"value": "MRN1"}},
            "text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>BP 120/80 &amp; HR 70</p><p>Plan: TTO&#46;</p></div>"}
        });
        let n = document_reference(r, at()).unwrap();
        assert_eq!(n.patient_id.as_deref(), Some("MRN1"));
        assert_eq!(n.text, "BP 120/80 & HR 70\nPlan: TTO.");
    }

    #[test]
    fn missing_text_and_subject_are_explained() {
        let r = json!({"resourceType": "DocumentReference", "id": "d3", "subject": {"reference": "Patient/1"},
                       "content": [{"attachment": {"url": "http://example.org/x"}}]});
        let err = document_reference(r, at()).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "bundle.json: entry[2]: DocumentReference \"d3\": the attachment is only a url"
            ),
            "{err}"
        );
        let r = json!({"resourceType": "DocumentReference", "id": "d4", "text": {"div": "<div>x</div>"}});
        let err = document_reference(r, at()).unwrap_err().to_string();
        assert!(err.contains("has no subject"), "{err}");
        let r = json!({"resourceType": "DocumentReference", "id": "d5", "subject": {"reference": "Patient/1"},
                       "content": [{"attachment": {"contentType": "text/plain", "data": "!!!"}}]});
        let err = document_reference(r, at()).unwrap_err().to_string();
        assert!(err.contains("not valid base64"), "{err}");
    }
}
