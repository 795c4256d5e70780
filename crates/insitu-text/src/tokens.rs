//! Word tokens with byte offsets, shared by assertion and abbreviation code.
//! Clinical shorthand stays whole: `c/o`, `b.d.`, `-ve`, `gram-negative`, `T2DM`.

use std::ops::Range;

/// One token: its byte range in the source and its lower-cased text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Byte range in the tokenised text.
    pub span: Range<usize>,
    /// Lower-cased text.
    pub lower: String,
}

impl Token {
    /// True for a punctuation token (`,` `;` `:` `?` `(` …).
    pub fn is_punct(&self) -> bool {
        !self.lower.chars().any(|c| c.is_alphanumeric())
    }
}

/// Splits `text` into word and punctuation tokens.
pub fn tokenise(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next_is_word = |j: usize| chars.get(j).is_some_and(|(_, c)| c.is_alphanumeric());
        // "+ve" / "-ve": sign shorthand for positive / negative.
        let signed = (c == '+' || c == '-') && next_is_word(i + 1);
        if c.is_alphanumeric() || signed {
            let mut j = i + 1;
            while j < chars.len() {
                let cj = chars[j].1;
                if cj.is_alphanumeric() {
                    j += 1;
                } else if matches!(cj, '/' | '-' | '\'' | '.' | '+' | '&' | '’')
                    && next_is_word(j + 1)
                {
                    j += 2;
                } else {
                    break;
                }
            }
            // Keep a final dot on dotted abbreviations ("b.d.", "e.g.").
            let end_idx =
                if j < chars.len() && chars[j].1 == '.' && text[start..chars[j].0].contains('.') {
                    j + 1
                } else {
                    j
                };
            let end = chars.get(end_idx).map_or(text.len(), |(b, _)| *b);
            out.push(Token {
                span: start..end,
                lower: text[start..end].to_lowercase(),
            });
            i = end_idx;
        } else {
            let end = start + c.len_utf8();
            out.push(Token {
                span: start..end,
                lower: c.to_string(),
            });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> Vec<String> {
        tokenise(t).into_iter().map(|t| t.lower).collect()
    }

    #[test]
    fn clinical_shorthand_stays_whole() {
        assert_eq!(
            words("Pt c/o CP, trop -ve. Metformin b.d. ?PE gram-negative T2DM"),
            [
                "pt",
                "c/o",
                "cp",
                ",",
                "trop",
                "-ve",
                ".",
                "metformin",
                "b.d.",
                "?",
                "pe",
                "gram-negative",
                "t2dm"
            ]
        );
    }

    #[test]
    fn offsets_point_into_the_source() {
        let text = "Café – BP 120/80.";
        for t in tokenise(text) {
            assert_eq!(text[t.span.clone()].to_lowercase(), t.lower);
        }
    }
}
