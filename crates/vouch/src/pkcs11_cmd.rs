//! `vouch pkcs11`: provision and inspect signing keys on a PKCS#11 token (HSM, SoftHSM2), used
//! as `vouch sign-blob --key 'pkcs11:token=…;object=…?module-path=…&pin-value=…'`.

use crate::tlog::hinted;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;
use vouch_core::keys::pem_encode;

/// Curves for token keys.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CurveArg {
    /// NIST P-256 (Sigstore's default).
    P256,
    /// NIST P-384.
    P384,
}

/// `vouch pkcs11 …`.
#[derive(Subcommand, Debug)]
pub enum Pkcs11Command {
    /// Generate an EC key pair on the token (label/id from the URI; the private key never leaves it).
    GenerateKey {
        /// `pkcs11:token=…;object=…?module-path=…&pin-value=…`
        uri: String,
        /// Curve.
        #[arg(long, value_enum, default_value_t = CurveArg::P256)]
        curve: CurveArg,
    },
    /// Print the public key (PEM) of a token key, e.g. to give verifiers as cosign.pub.
    PublicKey {
        /// `pkcs11:` URI of the private key.
        uri: String,
        /// Write it to this file instead of stdout.
        #[arg(long)]
        outfile: Option<PathBuf>,
    },
}

fn token_err(e: vouch_pkcs11::Pkcs11Error) -> anyhow::Error {
    hinted(
        e.to_string(),
        "check the URI: token= (label), object= or id=, module-path= (the PKCS#11 library) and pin-value= (or $VOUCH_PKCS11_PIN)",
    )
}

/// Run `vouch pkcs11 …`.
pub fn run(cmd: Pkcs11Command) -> Result<()> {
    match cmd {
        Pkcs11Command::GenerateKey { uri, curve } => {
            let c = match curve {
                CurveArg::P256 => vouch_pkcs11::Curve::P256,
                CurveArg::P384 => vouch_pkcs11::Curve::P384,
            };
            vouch_pkcs11::generate_key(&uri, c).map_err(token_err)?;
            let key = vouch_pkcs11::Pkcs11Key::open(&uri).map_err(token_err)?;
            eprintln!("Generated a {c:?} key on the token");
            print!("{}", pem_encode("PUBLIC KEY", key.spki_der()));
            Ok(())
        }
        Pkcs11Command::PublicKey { uri, outfile } => {
            let key = vouch_pkcs11::Pkcs11Key::open(&uri).map_err(token_err)?;
            let pem = pem_encode("PUBLIC KEY", key.spki_der());
            match outfile {
                Some(p) => std::fs::write(&p, pem)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
                None => print!("{pem}"),
            }
            Ok(())
        }
    }
}
