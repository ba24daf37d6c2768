//! Flag values the command line parses itself: seconds as exact
//! nanoseconds (so that a printed replay command parses back to the same
//! run), and bounded excerpts of bad input for error messages.

use lightcone_core::{DURATION_NS_MAX, NANOS_PER_MS, NANOS_PER_SEC};

pub use lightcone_core::excerpt;

/// Words of an error message longer than this are cut to an excerpt.
const WORD_BYTES_MAX: usize = 100;
/// Error messages longer than this are cut in the middle.
const MESSAGE_BYTES_MAX: usize = 2000;
/// Significant digits a number of seconds may have (more cannot be exact
/// in nanoseconds below the maximum).
const SECONDS_DIGITS_MAX: usize = 30;

/// An error message as it is printed: every word (a run without spaces)
/// longer than 100 bytes cut to an excerpt, and a message still longer
/// than 2000 bytes cut in the middle (the fix is at its end). The bound
/// on what messages from elsewhere (clap, the history readers, Elle's
/// model names) echo of the input.
pub fn bound_message(message: &str) -> String {
    let bounded = bound_words(message);
    if bounded.len() <= MESSAGE_BYTES_MAX {
        return bounded;
    }
    let head_end = floor_char(&bounded, MESSAGE_BYTES_MAX * 2 / 3);
    let tail_start = floor_char(&bounded, bounded.len() - MESSAGE_BYTES_MAX / 4);
    format!(
        "{} ... ({} bytes not shown) ... {}",
        &bounded[..head_end],
        tail_start - head_end,
        &bounded[tail_start..]
    )
}

/// Prints `message` as an error on stderr, bounded.
pub fn print_error(message: &dyn std::fmt::Display) {
    eprintln!("error: {}", bound_message(&message.to_string()));
}

/// The largest character boundary of `s` at or before `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn bound_words(message: &str) -> String {
    if !message
        .split_whitespace()
        .any(|word| word.len() > WORD_BYTES_MAX)
    {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if word.len() > WORD_BYTES_MAX {
            // Punctuation that ends the word ends the sentence around it.
            let core = word.trim_end_matches(|c: char| ";:,.)`'\"".contains(c));
            out.push_str(&excerpt(core));
            out.push_str(&word[core.len()..]);
        } else {
            out.push_str(word);
        }
        rest = &rest[word_end..];
        let space_end = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..space_end]);
        rest = &rest[space_end..];
    }
    out
}

/// A positive number of seconds (`10`, `0.5`, `2.5e-3`), as exact
/// nanoseconds, at most [`DURATION_NS_MAX`]. Read as a decimal, not a
/// float, so that every value [`format_seconds`] prints reads back the
/// same. For clap's `value_parser`.
pub fn seconds(text: &str) -> Result<u64, String> {
    let ns = seconds_ns(text)?;
    if ns == 0 {
        return Err("it must be positive; use at least 0.000000001 (1 ns)".into());
    }
    Ok(ns)
}

/// A whole number of milliseconds from 0 to a year (`--latency`,
/// `--clock-skew-ms`), so that it cannot overflow in nanoseconds. For
/// clap's `value_parser`.
pub fn millis(text: &str) -> Result<u64, String> {
    let max = DURATION_NS_MAX / NANOS_PER_MS;
    let range = format!("use a whole number of milliseconds from 0 to {max} (a year)");
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("it is negative; {range}"));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(range);
    }
    match text.parse::<u64>() {
        Ok(ms) if ms <= max => Ok(ms),
        _ => Err(format!("it is more than the maximum; {range}")),
    }
}

/// Nanoseconds as the shortest decimal number of seconds that
/// [`seconds`] reads back exactly (`1.5`, `0.000000001`).
pub fn format_seconds(ns: u64) -> String {
    let whole = ns / NANOS_PER_SEC;
    let fraction = ns % NANOS_PER_SEC;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The largest number of seconds a duration flag takes, as text.
pub fn seconds_max() -> String {
    format!("{} s (a year)", format_seconds(DURATION_NS_MAX))
}

/// `text` read as seconds into nanoseconds, rounded to the nearest one;
/// zero allowed.
fn seconds_ns(text: &str) -> Result<u64, String> {
    let bad = || "use a number of seconds such as 10, 0.5 or 2.5e-3".to_string();
    let text = text.trim();
    if text.starts_with('-') {
        return Err("it is negative; use a positive number of seconds".into());
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    // The value is digits x 10^shift nanoseconds.
    let fraction = fraction.trim_end_matches('0');
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    let too_big = || format!("it is more than the maximum, {}", seconds_max());
    let shift = i64::from(exponent) + 9 - fraction.len() as i64;
    // Digits of the whole nanoseconds: past 20 the value exceeds u64.
    if digits.len() as i64 + shift > 20 {
        return Err(too_big());
    }
    if digits.len() > SECONDS_DIGITS_MAX {
        return Err(format!(
            "it has more than {SECONDS_DIGITS_MAX} significant digits; nanoseconds are the finest unit"
        ));
    }
    let mantissa: u128 = digits.parse().map_err(|_| bad())?;
    let ns = if shift >= 0 {
        mantissa * 10u128.pow(shift as u32)
    } else if -shift > SECONDS_DIGITS_MAX as i64 {
        // Far below a nanosecond: rounds to zero.
        0
    } else {
        let divisor = 10u128.pow((-shift) as u32);
        (mantissa + divisor / 2) / divisor
    };
    if ns > u128::from(DURATION_NS_MAX) {
        return Err(too_big());
    }
    Ok(ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_read_exactly() {
        assert_eq!(seconds("10"), Ok(10 * NANOS_PER_SEC));
        assert_eq!(seconds("0.5"), Ok(500_000_000));
        assert_eq!(seconds(".25"), Ok(250_000_000));
        assert_eq!(seconds("3."), Ok(3 * NANOS_PER_SEC));
        assert_eq!(seconds("2.5e-3"), Ok(2_500_000));
        assert_eq!(seconds("1E2"), Ok(100 * NANOS_PER_SEC));
        assert_eq!(seconds("0.000000003"), Ok(3));
        assert_eq!(seconds("0.0000000015"), Ok(2), "rounded to the nearest ns");
        assert_eq!(seconds("00010.5000"), Ok(10_500_000_000));
    }

    #[test]
    fn bad_seconds_say_what_to_use() {
        for text in ["", ".", "abc", "1.2.3", "NaN", "inf", "1e", "0x10", "1 s"] {
            let e = seconds(text).unwrap_err();
            assert!(e.contains("use a number of seconds"), "{text:?}: {e}");
        }
        assert!(seconds("-1").unwrap_err().contains("negative"));
        let precise = format!("1.{}", "1".repeat(40));
        assert!(seconds(&precise)
            .unwrap_err()
            .contains("significant digits"));
        for zero in ["0", "0.0", "0e5", "0.0000000001", "1e-300"] {
            assert!(seconds(zero).unwrap_err().contains("positive"), "{zero}");
        }
        for big in [
            "1e100",
            "31536000.000000001",
            "99999999999999999999999",
            "1e9",
        ] {
            let e = seconds(big).unwrap_err();
            assert!(e.contains("maximum, 31536000 s (a year)"), "{big}: {e}");
        }
        assert_eq!(seconds("31536000"), Ok(DURATION_NS_MAX));
    }

    #[test]
    fn millis_are_bounded_by_a_year() {
        assert_eq!(millis("0"), Ok(0));
        assert_eq!(millis("31536000000"), Ok(31_536_000_000));
        for big in [
            "31536000001",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            let e = millis(big).unwrap_err();
            assert!(e.contains("more than the maximum"), "{big}: {e}");
            assert!(e.contains("from 0 to 31536000000 (a year)"), "{e}");
        }
        assert!(millis("-1").unwrap_err().contains("negative"));
        assert!(millis("1.5").unwrap_err().contains("whole number"));
    }

    #[test]
    fn printed_seconds_read_back_the_same() {
        for ns in [
            1,
            3,
            999,
            100_000,
            123_456_789,
            NANOS_PER_SEC,
            1_500_000_000,
            10_000_000_001,
            DURATION_NS_MAX,
        ] {
            let text = format_seconds(ns);
            assert_eq!(seconds(&text), Ok(ns), "{text}");
        }
        assert_eq!(format_seconds(1_500_000_000), "1.5");
        assert_eq!(format_seconds(1), "0.000000001");
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short"), "short");
        let long = "x".repeat(100_000);
        assert_eq!(
            excerpt(&long),
            format!("{}... (100000 bytes)", "x".repeat(80))
        );
        let message = format!("found `{long}`; here  see\tthis");
        let bounded = bound_message(&message);
        assert_eq!(
            bounded,
            format!(
                "found `{}... (100001 bytes)`; here  see\tthis",
                "x".repeat(79)
            )
        );
        assert_eq!(bound_message("a b"), "a b");
        // Many short words: cut in the middle, the end (the fix) kept.
        let many = format!("{} use this instead", "ab ".repeat(10_000));
        let bounded = bound_message(&many);
        assert!(bounded.len() < 2100, "{}", bounded.len());
        assert!(bounded.contains(" bytes not shown) ... "), "{bounded}");
        assert!(bounded.ends_with("ab ab  use this instead"), "{bounded}");
        // Multi-byte characters are cut on a character boundary.
        let wide = "é".repeat(200);
        assert!(excerpt(&wide).starts_with(&"é".repeat(80)));
    }
}
