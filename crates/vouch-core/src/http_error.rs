//! The JSON error body of the go-swagger style APIs (Rekor v1, timestamp-authority) and of
//! vouch's own JSON endpoints: `{"code": <HTTP status>, "message": "…"}`.
//!
//! The gRPC-gateway form (Fulcio, Rekor v2), with a gRPC code and `details`, is
//! [`crate::fulcio::ErrorBody`].

use serde::{Deserialize, Serialize};

/// An error answer: the HTTP status and what went wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBody {
    /// The HTTP status code.
    #[serde(default)]
    pub code: u16,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}
