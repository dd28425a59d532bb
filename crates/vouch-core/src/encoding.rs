//! Encoding helpers for proto3 JSON: lenient base64 bytes and int64-as-string numbers.
//!
//! proto3 JSON writes `bytes` as standard base64 with padding and `int64` as decimal
//! strings; readers must also accept URL-safe or unpadded base64 and JSON numbers
//! (protocols.md §5.3). Also the one HTML text escape (IdP pages, audit reports).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Escape text for HTML element content and quoted attribute values (`& < > " '`).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Decode base64 leniently: standard or URL-safe alphabet, padded or not; line breaks
/// (`\r`, `\n`) are skipped, as Go's and Python's decoders do.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    // Fast path: canonical standard base64, what nearly every producer writes.
    if let Ok(v) = STANDARD.decode(s) {
        return Ok(v);
    }
    let unwrapped;
    let s = if s.contains(['\r', '\n']) {
        unwrapped = s.replace(['\r', '\n'], "");
        unwrapped.as_str()
    } else {
        s
    };
    let trimmed = s.trim_end_matches('=');
    if trimmed.contains(['+', '/']) && trimmed.contains(['-', '_']) {
        return Err(base64::DecodeError::InvalidByte(0, b'-'));
    }
    let normalized: String = trimmed
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normalized.as_bytes())
}

/// Encode as standard base64 with padding, the proto3 JSON form.
pub fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Serialize `value` compactly with every object's members in sorted (byte) order: the bytes a
/// `serde_json::Value` writes, whatever the type's field order or map type. For documents whose
/// bytes were always written that way (cosign payloads, OCI manifests whose digest is taken).
pub fn to_sorted_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::to_value(value)?)
}

/// Bytes that travel as base64 in JSON.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64Bytes(pub Vec<u8>);

impl Base64Bytes {
    /// The decoded bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// True when no bytes are present (proto3 default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b64:{}", b64_encode(&self.0))
    }
}

impl AsRef<[u8]> for Base64Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(v: Vec<u8>) -> Self {
        Base64Bytes(v)
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Hashes, keys and signatures (the common case, many per proof) encode on the stack.
        let mut buf = [0u8; 256];
        if let Ok(n) = STANDARD.encode_slice(&self.0, &mut buf)
            && let Some(Ok(text)) = buf.get(..n).map(std::str::from_utf8)
        {
            return s.serialize_str(text);
        }
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Base64Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Base64Bytes, E> {
                b64_decode(v)
                    .map(Base64Bytes)
                    .map_err(|e| E::custom(format_args!("invalid base64: {e}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Base64Bytes, E> {
                Ok(Base64Bytes::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A proto3 `int64`: decimal string on the wire, JSON numbers accepted on read.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Int64(pub i64);

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an int64 as a decimal string or a JSON integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::custom("integer out of int64 range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                v.parse::<i64>()
                    .map(Int64)
                    .map_err(|_| E::custom(format_args!("invalid int64 string {v:?}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Int64, E> {
                Ok(Int64(0))
            }
        }
        d.deserialize_any(V)
    }
}

impl Int64 {
    /// True for the proto3 default (0), which is omitted on the wire.
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

/// Deserialize `null` as the type's default (proto3: null means unset).
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_variants() {
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(b64_decode("aGk").unwrap(), b"hi");
        assert_eq!(b64_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_decode("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert!(b64_decode("+_8=").is_err());
        assert!(b64_decode("a!b").is_err());
    }

    #[test]
    fn int64_forms() {
        let v: Int64 = serde_json::from_str("\"42\"").unwrap();
        assert_eq!(v.0, 42);
        let v: Int64 = serde_json::from_str("-7").unwrap();
        assert_eq!(v.0, -7);
        assert!(serde_json::from_str::<Int64>("\"4x\"").is_err());
        assert_eq!(serde_json::to_string(&Int64(5)).unwrap(), "\"5\"");
    }
}
