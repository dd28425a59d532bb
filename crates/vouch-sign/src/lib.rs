//! Sigstore signing client.
