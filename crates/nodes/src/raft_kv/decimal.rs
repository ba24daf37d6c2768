//! Decimal numbers in the node's hand-written records (log segments,
//! segment keys, the snapshot record and the applied ids' text). They are
//! written for every `Ready` and every applied command, so they skip
//! `core::fmt`, whose `write!` costs several times as much as the digits.

/// The most digits of a `u64`.
pub(super) const DIGITS_MAX: usize = 20;

/// `n` in decimal, with at least `width` digits (zero-padded), in the end
/// of `buf`.
pub(super) fn decimal(n: u64, width: usize, buf: &mut [u8; DIGITS_MAX]) -> &[u8] {
    assert!(width <= DIGITS_MAX, "a u64 has at most 20 digits");
    let mut at = DIGITS_MAX;
    let mut rest = n;
    while rest > 0 || at == DIGITS_MAX || DIGITS_MAX - at < width {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    &buf[at..]
}

/// Appends `n` and a space to `out`.
pub(super) fn push_number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, 0, &mut [0; DIGITS_MAX]));
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
        let mut buf = [0; DIGITS_MAX];
        for n in [0, 7, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(decimal(n, 0, &mut buf), n.to_string().as_bytes());
            assert_eq!(decimal(n, 20, &mut buf), format!("{n:020}").as_bytes());
            assert_eq!(decimal(n, 3, &mut buf), format!("{n:03}").as_bytes());
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
