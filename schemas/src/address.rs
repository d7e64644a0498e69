//! EIP-55 checksummed EVM addresses: the manifest accepts only the checksummed form, so a
//! typo in one hex digit is caught before a rule silently checks the wrong contract.

use tiny_keccak::{Hasher, Keccak};

/// The EIP-55 checksummed form of a 20-byte address given as 40 hex digits (any case).
pub fn checksum_address(hex40: &str) -> Option<String> {
    if hex40.len() != 40 || !hex40.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let lower = hex40.to_ascii_lowercase();
    let mut hash = [0u8; 32];
    let mut keccak = Keccak::v256();
    keccak.update(lower.as_bytes());
    keccak.finalize(&mut hash);
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 { c.to_ascii_uppercase() } else { c });
    }
    Some(out)
}

/// Checks that `address` is `0x` + 40 hex digits in its EIP-55 checksummed form.
pub fn validate_checksum_address(address: &str) -> Result<(), String> {
    let Some(hex40) = address.strip_prefix("0x") else {
        return Err("must start with 0x".into());
    };
    match checksum_address(hex40) {
        None => Err("must be 0x followed by 40 hex digits".into()),
        Some(expected) if expected == address => Ok(()),
        Some(expected) => Err(format!("must be EIP-55 checksummed ({expected})")),
    }
}

/// What an operator typed, as the manifest stores it: an address written in one case (all
/// lowercase, as block explorers and wallets often copy it, or all uppercase) carries no
/// checksum, so its checksummed form is taken; a mixed-case one is kept as typed, for
/// [`validate_checksum_address`] to catch a mistyped digit.
pub fn normalize_address(typed: &str) -> String {
    let Some(hex40) = typed.strip_prefix("0x").or_else(|| typed.strip_prefix("0X")) else { return typed.to_string() };
    let letters = || hex40.chars().filter(char::is_ascii_alphabetic);
    let one_case = letters().all(|c| c.is_ascii_lowercase()) || letters().all(|c| c.is_ascii_uppercase());
    match checksum_address(hex40) {
        Some(checksummed) if one_case => checksummed,
        _ => typed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_in_one_case_takes_its_checksum_and_a_mixed_case_typo_is_still_caught() {
        let right = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(normalize_address(&right.to_lowercase()), right);
        assert_eq!(normalize_address(&format!("0x{}", right[2..].to_uppercase())), right);
        assert_eq!(normalize_address(right), right);
        let typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert_eq!(normalize_address(typo), typo, "kept as typed");
        assert!(validate_checksum_address(&normalize_address(typo)).is_err());
        assert_eq!(normalize_address("0x1234"), "0x1234", "not an address: left to the validator");
    }

    #[test]
    fn matches_the_eip55_test_vectors() {
        for addr in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            assert_eq!(validate_checksum_address(addr), Ok(()));
        }
    }

    #[test]
    fn rejects_wrong_case_and_wrong_length() {
        let err = validate_checksum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").expect_err("lowercase");
        assert!(err.contains("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), "{err}");
        assert!(validate_checksum_address("0x1234").is_err());
        assert!(validate_checksum_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").is_err());
    }
}
