//! Decimal numbers in the node's hand-written records (log segments,
//! segment keys, the snapshot record and the applied ids' text). They are
//! written for every `Ready` and every applied command, so they go through
//! `itoa`, which skips `core::fmt` (whose `write!` costs several times as
//! much as the digits).

/// The most digits of a `u64`.
pub(super) const DIGITS_MAX: usize = 20;

/// Appends `n` in decimal to `out`, zero-padded to at least `width` digits.
pub(super) fn push_decimal(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n).as_bytes();
    out.extend(std::iter::repeat_n(
        b'0',
        width.saturating_sub(digits.len()),
    ));
    out.extend_from_slice(digits);
}

/// Appends `n` and a space to `out`.
pub(super) fn push_number(out: &mut Vec<u8>, n: u64) {
    push_decimal(out, n, 0);
    out.push(b' ');
}

/// Reads a decimal number and the space after it off the front of `bytes`.
pub(super) fn take_number(bytes: &mut &[u8]) -> Option<u64> {
    let space = bytes.iter().position(|b| *b == b' ')?;
    let n = std::str::from_utf8(&bytes[..space]).ok()?.parse().ok()?;
    *bytes = &bytes[space + 1..];
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_format_padded_or_not_and_reads_back() {
        for n in [0, 7, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let written = |width| {
                let mut out = Vec::new();
                push_decimal(&mut out, n, width);
                String::from_utf8(out).unwrap()
            };
            assert_eq!(written(0), n.to_string());
            assert_eq!(written(DIGITS_MAX), format!("{n:020}"));
            assert_eq!(written(3), format!("{n:03}"));
            let mut out = Vec::new();
            push_number(&mut out, n);
            let mut rest = out.as_slice();
            assert_eq!(take_number(&mut rest), Some(n));
            assert!(rest.is_empty());
        }
        assert_eq!(take_number(&mut b"12".as_slice()), None, "no space");
        assert_eq!(take_number(&mut b"1x ".as_slice()), None);
    }
}
