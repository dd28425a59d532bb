//! RFC 6962 §4.1 CT log JSON API messages (`add-chain`, `add-pre-chain`), declared once for
//! the CT log that answers them and the CA that submits to it.

use serde::{Deserialize, Serialize};

/// `POST /ct/v1/add-chain` and `/ct/v1/add-pre-chain` body: base64 DER certificates, the
/// leaf (or precertificate) first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddChainRequest {
    /// Base64 (standard alphabet) DER certificates.
    pub chain: Vec<String>,
}

/// The answer: the SCT's fields, base64 where binary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddChainResponse {
    /// 0 for a v1 SCT.
    pub sct_version: u8,
    /// Base64 of the log ID (SHA-256 of the log's public key).
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 of the SCT extensions (empty in v1).
    #[serde(default)]
    pub extensions: String,
    /// Base64 of the TLS `DigitallySigned` structure.
    pub signature: String,
}

/// `GET /ct/v1/get-sth` answer: the signed tree head.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSthResponse {
    /// Number of entries.
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 of the Merkle tree root.
    pub sha256_root_hash: String,
    /// Base64 of the TLS `DigitallySigned` `TreeHeadSignature`.
    pub tree_head_signature: String,
}

/// `GET /ct/v1/get-sth-consistency` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSthConsistencyResponse {
    /// Base64 node hashes of the consistency proof.
    pub consistency: Vec<String>,
}

/// `GET /ct/v1/get-proof-by-hash` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetProofByHashResponse {
    /// The entry's index.
    pub leaf_index: u64,
    /// Base64 node hashes of the inclusion proof.
    pub audit_path: Vec<String>,
}

/// One entry of a `get-entries` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafEntry {
    /// Base64 `MerkleTreeLeaf`.
    pub leaf_input: String,
    /// Base64 chain data (the certificate chain, or the precertificate and its chain).
    pub extra_data: String,
}

/// `GET /ct/v1/get-entries` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEntriesResponse {
    /// The entries, in index order.
    pub entries: Vec<LeafEntry>,
}

/// `GET /ct/v1/get-roots` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRootsResponse {
    /// Base64 DER root certificates the log accepts.
    pub certificates: Vec<String>,
}

/// `GET /ct/v1/get-entry-and-proof` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEntryAndProofResponse {
    /// Base64 `MerkleTreeLeaf`.
    pub leaf_input: String,
    /// Base64 chain data.
    pub extra_data: String,
    /// Base64 node hashes of the inclusion proof.
    pub audit_path: Vec<String>,
}

/// TLS hash algorithm byte for SHA-256 (RFC 5246 §7.4.1.4.1).
pub const HASH_SHA256: u8 = 4;
/// TLS signature algorithm byte for ECDSA.
pub const SIG_ECDSA: u8 = 3;

/// The TLS `DigitallySigned` structure (RFC 5246 §4.7, as RFC 6962 uses it): the hash and
/// signature algorithm bytes, then the u16-length-prefixed signature. `None` when the
/// signature is longer than 65,535 bytes.
pub fn digitally_signed(hash_alg: u8, sig_alg: u8, signature: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(signature.len()).ok()?;
    let mut out = Vec::with_capacity(signature.len() + 4);
    out.push(hash_alg);
    out.push(sig_alg);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(signature);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digitally_signed_header() {
        assert_eq!(
            digitally_signed(HASH_SHA256, SIG_ECDSA, &[9, 9]).unwrap(),
            vec![4, 3, 0, 2, 9, 9]
        );
    }

    #[test]
    fn response_round_trips_with_the_rfc_field_names() {
        let r = AddChainResponse {
            sct_version: 0,
            id: "aWQ=".into(),
            timestamp: 1,
            extensions: String::new(),
            signature: "c2ln".into(),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"sct_version":0,"id":"aWQ=","timestamp":1,"extensions":"","signature":"c2ln"}"#
        );
        assert_eq!(serde_json::from_str::<AddChainResponse>(&json).unwrap(), r);
    }
}
