//! NHS number check digits (modulus 11, as specified by NHS Digital's data
//! dictionary): weights 10..2 over the first nine digits; check = 11 − (sum mod 11),
//! 11 becomes 0 and 10 means the nine digits can never form a valid number.

/// The check digit for the first nine digits of an NHS number, or `None`
/// when those nine digits cannot be completed into a valid number.
pub fn nhs_check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Whether `s` is a valid NHS number: ten digits, optionally grouped 3-3-4 by
/// single spaces or hyphens, whose last digit is the modulus-11 check digit.
pub fn is_valid_nhs_number(s: &str) -> bool {
    let compact: Vec<u8> = match s.len() {
        10 => s.bytes().collect(),
        12 => {
            let b = s.as_bytes();
            let sep = b[3];
            if !(sep == b' ' || sep == b'-') || b[7] != sep {
                return false;
            }
            b.iter()
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 7)
                .map(|(_, &c)| c)
                .collect()
        }
        _ => return false,
    };
    if !compact.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digits: Vec<u8> = compact.iter().map(|c| c - b'0').collect();
    let first_nine: [u8; 9] = digits[..9].try_into().expect("ten digits");
    nhs_check_digit(&first_nine) == Some(digits[9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_numbers_pass() {
        // 943 476 5919 is the worked example in NHS Digital's documentation.
        assert!(is_valid_nhs_number("9434765919"));
        assert!(is_valid_nhs_number("943 476 5919"));
        assert!(is_valid_nhs_number("943-476-5919"));
        assert_eq!(nhs_check_digit(&[9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
    }

    #[test]
    fn wrong_check_digit_and_bad_shapes_fail() {
        assert!(!is_valid_nhs_number("9434765918"));
        assert!(!is_valid_nhs_number("943 4765919"));
        assert!(!is_valid_nhs_number("943-476 5919"));
        assert!(!is_valid_nhs_number("94347659190"));
        assert!(!is_valid_nhs_number("94347659a9"));
        assert!(!is_valid_nhs_number(""));
    }

    #[test]
    fn remainder_ten_has_no_check_digit() {
        // Search the first prefix whose weighted sum leaves remainder 1 (check 10).
        let prefix = (0..1_000u32)
            .map(|n| {
                let mut d = [4, 0, 0, 0, 0, 0, 0, 0, 0];
                d[6] = (n / 100) as u8;
                d[7] = (n / 10 % 10) as u8;
                d[8] = (n % 10) as u8;
                d
            })
            .find(|d| {
                let sum: u32 = d
                    .iter()
                    .zip((2..=10u32).rev())
                    .map(|(&x, w)| u32::from(x) * w)
                    .sum();
                sum % 11 == 1
            })
            .expect("some prefix has remainder 1");
        assert_eq!(nhs_check_digit(&prefix), None);
    }
}
