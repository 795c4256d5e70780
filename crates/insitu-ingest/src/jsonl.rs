//! JSONL: one object per line, `{id, patient_id, kind?, written_at?, text,
//! …}`; every other field is kept in `meta`. Blank lines are skipped.

use crate::reader::{open_file, SharedTally, TallyingReader};
use crate::{strip_bom, utf8, BadRecord, Error, Note, Place, Position, UTF8_FIX};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};

const NEEDS: &str = "every line needs {id, patient_id, text} (kind and written_at are optional)";

pub(crate) struct JsonlNotes {
    lines: std::io::BufReader<TallyingReader<std::fs::File>>,
    buf: Vec<u8>,
    line_no: u64,
    path: PathBuf,
}

impl JsonlNotes {
    pub fn open(path: &Path, tally: SharedTally) -> Result<Self, Error> {
        let file = open_file(path)?;
        Ok(JsonlNotes {
            lines: std::io::BufReader::with_capacity(1 << 20, TallyingReader::new(file, tally)),
            buf: Vec::with_capacity(1 << 16),
            line_no: 0,
            path: path.to_path_buf(),
        })
    }

    pub fn next(&mut self) -> Option<Result<Note, Error>> {
        loop {
            self.buf.clear();
            match self.lines.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        source,
                    }))
                }
            }
            self.line_no += 1;
            let mut line = self.buf.as_slice();
            if self.line_no == 1 {
                line = strip_bom(line);
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let at = Position {
                file: self.path.clone(),
                place: Place::Line(self.line_no),
            };
            return Some(parse_line(line, at).map_err(Error::BadRecord));
        }
    }
}

fn parse_line(line: &[u8], at: Position) -> Result<Note, BadRecord> {
    let bad = |problem: String, fix: &str| BadRecord {
        at: at.clone(),
        problem,
        fix: fix.to_string(),
    };
    let text = utf8(line).map_err(|p| bad(format!("the line {p}"), UTF8_FIX))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})"), NEEDS))?;
    let Value::Object(mut fields) = value else {
        return Err(bad(
            format!("expected a JSON object, found {}", json_type(&value)),
            NEEDS,
        ));
    };
    let id = take_id(&mut fields, "id").map_err(|p| bad(p, NEEDS))?;
    let patient_id = take_id(&mut fields, "patient_id").map_err(|p| bad(p, NEEDS))?;
    let text = take_text(&mut fields).map_err(|p| bad(p, NEEDS))?;
    let kind = take_optional_string(&mut fields, "kind").map_err(|p| bad(p, NEEDS))?;
    let written_at = take_optional_string(&mut fields, "written_at").map_err(|p| bad(p, NEEDS))?;
    Ok(Note {
        id,
        patient_id: Some(patient_id),
        kind,
        written_at,
        text,
        meta: fields,
        at,
    })
}

/// An identifier: a non-empty string, or an integer (hospital exports often
/// write numeric ids), returned as a string.
fn take_id(fields: &mut Map<String, Value>, name: &str) -> Result<String, String> {
    match fields.remove(name) {
        None | Some(Value::Null) => Err(format!("field {name:?} is missing")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("field {name:?} is empty")),
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => Err(format!(
            "field {name:?} must be a string or integer, found {}",
            json_type(&other)
        )),
    }
}

fn take_text(fields: &mut Map<String, Value>) -> Result<String, String> {
    match fields.remove("text") {
        None | Some(Value::Null) => Err("field \"text\" is missing".into()),
        Some(Value::String(s)) if s.trim().is_empty() => Err("field \"text\" is empty".into()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "field \"text\" must be a string, found {}",
            json_type(&other)
        )),
    }
}

fn take_optional_string(
    fields: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "field {name:?} must be a string, found {}",
            json_type(&other)
        )),
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Note, String> {
        let at = Position {
            file: "notes.jsonl".into(),
            place: Place::Line(17),
        };
        parse_line(line.as_bytes(), at).map_err(|e| e.to_string())
    }

    #[test]
    fn fields_are_split_from_meta() {
        let n = parse(r#"{"id":"n1","patient_id":42,"kind":"letter","text":"SOB","encounter":"E9","codes":["I10"]}"#)
            .unwrap();
        assert_eq!(n.id, "n1");
        assert_eq!(n.patient_id.as_deref(), Some("42"));
        assert_eq!(n.kind.as_deref(), Some("letter"));
        assert_eq!(n.written_at, None);
        assert_eq!(n.text, "SOB");
        assert_eq!(n.meta.len(), 2);
        assert_eq!(n.meta["codes"][0], "I10");
    }

    #[test]
    fn bad_lines_say_where_and_what_to_do() {
        assert_eq!(
            parse(r#"{"id":"n1","patient_id":"p"}"#).unwrap_err(),
            "notes.jsonl:17: field \"text\" is missing — every line needs {id, patient_id, text} (kind and written_at are optional)"
        );
        assert!(parse(r#"{"id":"n1","text":"x"}"#)
            .unwrap_err()
            .contains("field \"patient_id\" is missing"));
        assert!(parse(r#"{"id":1.5,"patient_id":"p","text":"x"}"#)
            .unwrap_err()
            .contains("must be a string or integer, found a number"));
        assert!(parse(r#"[1,2]"#)
            .unwrap_err()
            .contains("expected a JSON object, found an array"));
        assert!(parse(r#"{"id": "#).unwrap_err().contains("not valid JSON"));
        assert!(parse(r#"{"id":"a","patient_id":"p","text":"  "}"#)
            .unwrap_err()
            .contains("\"text\" is empty"));
    }

    #[test]
    fn non_utf8_is_rejected_with_offset() {
        let at = Position {
            file: "notes.jsonl".into(),
            place: Place::Line(2),
        };
        let err = parse_line(b"{\"id\":\"a\",\"text\":\"caf\xe9\"}", at)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "notes.jsonl:2: the line is not valid UTF-8 (first bad byte at offset 21)"
            ),
            "{err}"
        );
        assert!(err.contains("iconv"), "{err}");
    }
}
