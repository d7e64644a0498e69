//! Token quantities as exact integers in base units, kept as decimal strings so that schemas
//! (and workflow code) need no big-number crate and nothing is ever a float.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A non-negative integer number of base units (wei-like), as canonical decimal digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUnits(String);

/// Why a string is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AmountError(String);

impl BaseUnits {
    /// Zero units.
    pub fn zero() -> Self {
        BaseUnits("0".into())
    }

    /// Parses canonical or zero-padded decimal digits (at most 78, the width of a u256).
    pub fn parse(digits: &str) -> Result<Self, AmountError> {
        if digits.is_empty() || digits.len() > 78 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError(format!("'{digits}' is not a non-negative integer of at most 78 digits")));
        }
        let trimmed = digits.trim_start_matches('0');
        Ok(BaseUnits(if trimmed.is_empty() { "0".into() } else { trimmed.into() }))
    }

    /// Converts a display amount (`"1000.5"`) of a token with `decimals` into base units.
    pub fn from_display(amount: &str, decimals: u8) -> Result<Self, AmountError> {
        let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
        let decimals = usize::from(decimals);
        if int.is_empty() || frac.len() > decimals || !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) {
            return Err(AmountError(format!(
                "'{amount}' is not a non-negative decimal with at most {decimals} digits after the point"
            )));
        }
        Self::parse(&format!("{int}{frac}{}", "0".repeat(decimals - frac.len())))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// Exact sum (quantities held in several wallets of one member).
    pub fn add(&self, other: &BaseUnits) -> BaseUnits {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
        let (mut i, mut j, mut carry) = (a.len(), b.len(), 0u8);
        while i > 0 || j > 0 || carry > 0 {
            let mut d = carry;
            if i > 0 {
                i -= 1;
                d += a[i] - b'0';
            }
            if j > 0 {
                j -= 1;
                d += b[j] - b'0';
            }
            out.push(b'0' + d % 10);
            carry = d / 10;
        }
        out.reverse();
        BaseUnits(out.into_iter().map(char::from).collect())
    }
}

impl Ord for BaseUnits {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for BaseUnits {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for BaseUnits {
    type Error = AmountError;
    fn try_from(s: String) -> Result<Self, AmountError> {
        Self::parse(&s)
    }
}

impl From<BaseUnits> for String {
    fn from(b: BaseUnits) -> String {
        b.0
    }
}

impl std::fmt::Display for BaseUnits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> BaseUnits {
        BaseUnits::parse(s).expect("digits")
    }

    #[test]
    fn display_amounts_become_exact_base_units() {
        assert_eq!(BaseUnits::from_display("1000.5", 18).map(String::from), Ok(format!("10005{}", "0".repeat(17))));
        assert_eq!(BaseUnits::from_display("0.000001", 6), Ok(b("1")));
        assert_eq!(BaseUnits::from_display("7", 0), Ok(b("7")));
        assert!(BaseUnits::from_display("0.5", 0).is_err());
        assert!(BaseUnits::from_display("-1", 18).is_err());
        assert!(BaseUnits::from_display("1e3", 18).is_err());
        assert!(BaseUnits::from_display(".5", 18).is_err());
    }

    #[test]
    fn ordering_is_numeric_not_lexicographic() {
        assert!(b("9") < b("10"));
        assert!(b("0010") == b("10"));
        assert!(b("99999999999999999999") > b("10000000000000000000"));
        assert!(BaseUnits::zero().is_zero());
    }

    #[test]
    fn addition_carries() {
        assert_eq!(b("999").add(&b("1")), b("1000"));
        assert_eq!(b("0").add(&b("0")), b("0"));
        assert_eq!(b("123456789012345678901234567890").add(&b("9")), b("123456789012345678901234567899"));
    }

    #[test]
    fn rejects_non_digits_and_overlong() {
        assert!(BaseUnits::parse("").is_err());
        assert!(BaseUnits::parse("12a").is_err());
        assert!(BaseUnits::parse(&"1".repeat(79)).is_err());
        assert!(serde_json::from_str::<BaseUnits>("\"x\"").is_err());
    }
}
