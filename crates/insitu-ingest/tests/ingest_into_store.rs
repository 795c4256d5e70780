//! `ingest_path` against a real store: one transaction per input, rollback
//! on a bad record, `skip_bad`, deterministic input digests. Invented notes.

use insitu_ingest::{ingest_path, CsvColumns, Error, Format, IngestOptions, NoteReader, Place};
use insitu_store::{DocumentFilter, Store};
use std::path::Path;

fn options(skip_bad: bool) -> IngestOptions {
    IngestOptions {
        actor: "tester".into(),
        skip_bad,
        ..Default::default()
    }
}

fn ingest(
    store: &mut Store,
    path: &Path,
    skip_bad: bool,
) -> Result<insitu_ingest::FileReport, Error> {
    ingest_path(store, path, &options(skip_bad), &mut |_, _| {})
}

#[test]
fn a_bad_record_rolls_back_the_whole_file_and_its_audit_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = Store::init(&dir.path().join("home")).unwrap();
    let notes = dir.path().join("notes.jsonl");
    std::fs::write(
        &notes,
        "{\"id\":\"a\",\"patient_id\":\"p1\",\"text\":\"one\"}\nnot json\n{\"id\":\"b\",\"patient_id\":\"p1\",\"text\":\"two\"}\n",
    )
    .unwrap();
    let head_before = store.audit_head().unwrap();
    match ingest(&mut store, &notes, false) {
        Err(Error::BadRecord(bad)) => {
            assert_eq!(bad.at.place, Place::Line(2));
            assert!(bad.problem.starts_with("not valid JSON"), "{}", bad.problem);
        }
        other => panic!("expected a bad record, got {other:?}"),
    }
    assert_eq!(store.document_counts().unwrap().documents, 0);
    assert_eq!(store.audit_head().unwrap(), head_before);

    let report = ingest(&mut store, &notes, true).unwrap();
    assert_eq!(
        (report.records, report.inserted, report.rejected.len()),
        (2, 2, 1)
    );
    let rejects = std::fs::read_to_string(report.rejects_report.unwrap()).unwrap();
    assert!(
        !rejects.contains("not json"),
        "rejects never copy record text"
    );
    let docs = store.documents(&DocumentFilter::default()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].patient_key, docs[1].patient_key);
    assert_eq!(
        docs[0].patient_key.as_ref().unwrap(),
        &store.home().pseudonymiser().unwrap().key("p1")
    );
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn csv_records_spanning_lines_report_their_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("notes.csv");
    std::fs::write(
        &csv,
        "id,patient_id,text,written_at\nc1,p,\"line one\nline two\",2024-01-02\nc2,,text,\n",
    )
    .unwrap();
    let items: Vec<_> = NoteReader::open(&csv, Format::Csv, &CsvColumns::default())
        .unwrap()
        .collect();
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.text, "line one\nline two");
    assert_eq!(first.written_at.as_deref(), Some("2024-01-02"));
    assert_eq!(first.at.place, Place::Line(2));
    match &items[1] {
        Err(Error::BadRecord(bad)) => {
            assert_eq!(bad.at.place, Place::Line(4));
            assert_eq!(bad.problem, "column \"patient_id\" is empty");
        }
        other => panic!("expected a bad record, got {other:?}"),
    }
}

#[test]
fn input_digests_are_deterministic_and_cover_names() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    std::fs::write(letters.join("b.txt"), "second").unwrap();
    std::fs::write(letters.join("a.txt"), "\u{feff}first").unwrap();
    let digest = |dir: &Path| {
        let mut reader = NoteReader::open(dir, Format::Txt, &CsvColumns::default()).unwrap();
        let ids: Vec<String> = reader.by_ref().map(|n| n.unwrap().id).collect();
        (ids, reader.sha256_hex())
    };
    let (ids, first) = digest(&letters);
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(digest(&letters).1, first);
    std::fs::rename(letters.join("b.txt"), letters.join("c.txt")).unwrap();
    assert_ne!(
        digest(&letters).1,
        first,
        "renaming a note changes the digest"
    );

    let text = NoteReader::open(&letters.join("a.txt"), Format::Txt, &CsvColumns::default())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(text, "first", "a byte-order mark is not part of the note");
}

#[test]
fn fhir_single_document_reference_and_unsupported_resources() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("doc.json");
    std::fs::write(
        &one,
        r#"{"resourceType":"DocumentReference","id":"d1","subject":{"reference":"Patient/7"},
            "content":[{"attachment":{"contentType":"text/html","data":"PHA+QlAgd2VsbCBjb250cm9sbGVkPC9wPg=="}}]}"#,
    )
    .unwrap();
    let note = NoteReader::open(&one, Format::Fhir, &CsvColumns::default())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(note.text, "BP well controlled");
    assert_eq!(note.at.place, Place::File);

    let patient = dir.path().join("patient.json");
    std::fs::write(&patient, r#"{"resourceType":"Patient","id":"7"}"#).unwrap();
    let err = NoteReader::open(&patient, Format::Fhir, &CsvColumns::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("resourceType \"Patient\" is not supported"),
        "{err}"
    );
}
