//! TUF distribution of Sigstore trust material.
