//! Builds a note by appending fragments and recording, at the moment each
//! fragment is appended, the byte range it occupies. Offsets are therefore
//! exact by construction; nothing is searched for after the fact.

use crate::{FindingLabel, SectionLabel};
use insitu_types::{Assertion, Category};

/// A note under construction plus its gold annotations.
#[derive(Default)]
pub(crate) struct NoteBuilder {
    text: String,
    phi: Vec<(usize, usize, Category)>,
    findings: Vec<FindingLabel>,
    sections: Vec<SectionLabel>,
    /// Index in `sections` of the section still being written.
    open_section: Option<usize>,
}

/// What a finished builder hands back.
pub(crate) struct BuiltNote {
    pub text: String,
    pub phi: Vec<(usize, usize, Category)>,
    pub findings: Vec<FindingLabel>,
    pub sections: Vec<SectionLabel>,
}

impl NoteBuilder {
    /// Appends plain (non-identifying) text.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends an identifier and records its span. Empty strings are not
    /// recorded: a gold span is never empty.
    pub fn phi(&mut self, category: Category, s: &str) {
        if s.is_empty() {
            return;
        }
        let start = self.text.len();
        self.text.push_str(s);
        self.phi.push((start, self.text.len(), category));
    }

    /// Appends a clinical concept and records it with its assertion status.
    pub fn finding(&mut self, concept: &str, assertion: Assertion, icd10: Option<&'static str>) {
        let start = self.text.len();
        self.text.push_str(concept);
        self.findings.push(FindingLabel {
            start,
            end: self.text.len(),
            concept: concept.to_string(),
            assertion,
            icd10: icd10.map(str::to_string),
        });
    }

    /// Closes the open section (if any) and starts a new one whose heading is
    /// appended now; its range runs to the start of the next section's heading
    /// minus trailing whitespace, or to the end of the note.
    pub fn section(&mut self, heading: &str) {
        self.close_section();
        let start = self.text.len();
        self.text.push_str(heading);
        self.sections.push(SectionLabel {
            heading: heading.to_string(),
            start,
            end: self.text.len(),
        });
        self.open_section = Some(self.sections.len() - 1);
    }

    /// Ends the open section here, so that text that follows (a signature, a
    /// footer) belongs to no section.
    pub fn close_section(&mut self) {
        if let Some(i) = self.open_section.take() {
            let end = self.text.trim_end().len();
            self.sections[i].end = end.max(self.sections[i].start + self.sections[i].heading.len());
        }
    }

    /// Current length in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the text ends with `s`.
    pub fn ends_with(&self, s: &str) -> bool {
        self.text.ends_with(s)
    }

    /// Finishes the note.
    pub fn finish(mut self) -> BuiltNote {
        self.close_section();
        BuiltNote {
            text: self.text,
            phi: self.phi,
            findings: self.findings,
            sections: self.sections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_at_what_was_appended() {
        let mut b = NoteBuilder::default();
        b.section("HISTORY:");
        b.push(" Mrs ");
        b.phi(Category::Name, "Zoë Brown");
        b.push(" denies ");
        b.finding("chest pain", Assertion::Absent, Some("R07.4"));
        b.push(".\n\n");
        b.section("PLAN:");
        b.push(" home\n");
        b.close_section();
        b.push("Dr X\n");
        b.phi(Category::Id, "");
        let n = b.finish();
        let (s, e, c) = n.phi[0];
        assert_eq!(&n.text[s..e], "Zoë Brown");
        assert_eq!(c, Category::Name);
        assert_eq!(n.phi.len(), 1, "empty identifiers are not recorded");
        let f = &n.findings[0];
        assert_eq!(&n.text[f.start..f.end], "chest pain");
        assert_eq!(
            &n.text[n.sections[0].start..n.sections[0].end],
            "HISTORY: Mrs Zoë Brown denies chest pain."
        );
        assert_eq!(
            &n.text[n.sections[1].start..n.sections[1].end],
            "PLAN: home"
        );
    }
}
