//! `vouch generate-key-pair` and `vouch public-key`, compatible with cosign's commands and
//! key files (`cosign.key`: scrypt + NaCl secretbox encrypted PKCS#8; `cosign.pub`: PEM SPKI).
//!
//! The password comes, as in cosign, from `COSIGN_PASSWORD` when it is set (even empty), else
//! from a prompt on the terminal when stdin is one, else from all of stdin (piped).

use crate::tlog::hinted;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use vouch_core::cosign_key::{self, CosignKeyError, SigningAlgorithm, SigningKey, Zeroizing};

/// Environment variable holding the key password (cosign's name).
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Key algorithms `generate-key-pair` can create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 (cosign's default).
    #[default]
    EcdsaP256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384,
    /// ECDSA P-521 with SHA-512.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl From<KeyAlgorithm> for SigningAlgorithm {
    fn from(a: KeyAlgorithm) -> Self {
        match a {
            KeyAlgorithm::EcdsaP256 => SigningAlgorithm::EcdsaP256Sha256,
            KeyAlgorithm::EcdsaP384 => SigningAlgorithm::EcdsaP384Sha384,
            KeyAlgorithm::EcdsaP521 => SigningAlgorithm::EcdsaP521Sha512,
            KeyAlgorithm::Ed25519 => SigningAlgorithm::Ed25519,
        }
    }
}

/// `vouch generate-key-pair`: write an encrypted `cosign.key` (mode 0600) and `cosign.pub`.
#[derive(Args, Debug)]
pub struct GenerateKeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub instead of cosign.key and cosign.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: String,
    /// Key algorithm (cosign generates ecdsa-p256).
    #[arg(long, value_enum, value_name = "ALG", default_value_t = KeyAlgorithm::EcdsaP256)]
    pub key_algorithm: KeyAlgorithm,
    /// Overwrite existing key files without asking.
    #[arg(long)]
    pub force: bool,
    /// Never ask for confirmation: existing key files are then only replaced with --force.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// `vouch import-key-pair --key k.pem`: re-encrypt a PEM private key as a cosign key pair.
#[derive(Args, Debug)]
pub struct ImportKeyPairArgs {
    /// The PEM private key to import (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
    #[arg(short = 'k', long, value_name = "FILE")]
    pub key: String,
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(
        short = 'o',
        long,
        value_name = "PREFIX",
        default_value = "import-cosign"
    )]
    pub output_key_prefix: String,
    /// Skip confirmation prompts: existing files are overwritten.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Import a key pair as `cosign import-key-pair` does: the key is written encrypted with
/// the password (`COSIGN_PASSWORD`, or asked twice), with its public key beside it.
pub fn import_key_pair(a: &ImportKeyPairArgs) -> Result<()> {
    import_with(a, interactive(), || read_password(true))
}

fn import_with(
    a: &ImportKeyPairArgs,
    can_prompt: bool,
    password: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>,
) -> Result<()> {
    // An encrypted cosign key is already in cosign's format: only plain PEM keys import.
    let key = load_key_file(&a.key, || {
        Err(hinted(
            format!("{} is already an encrypted cosign key", a.key),
            "use it as is with --key, or import the unencrypted PEM key",
        ))
    })?;
    let key_path = PathBuf::from(format!("{}.key", a.output_key_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", a.output_key_prefix));
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() && !a.yes && !confirm_overwrite(path, can_prompt)? {
            return Err(hinted(
                format!("{} already exists: not overwritten", path.display()),
                "pass -y to replace it, or --output-key-prefix to write elsewhere",
            ));
        }
    }
    let password = password()?;
    let encrypted = key
        .to_encrypted_pem(&password)
        .map_err(|e| hinted(format!("encrypting the private key failed: {e}"), "retry"))?;
    write_new(&key_path, encrypted.as_bytes(), true)?;
    write_new(&pub_path, key.public_key_pem().as_bytes(), false)?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(())
}

/// `vouch public-key`: print the public key of a private key file.
#[derive(Args, Debug)]
pub struct PublicKeyArgs {
    /// The private key: a cosign.key, or an unencrypted PEM `PRIVATE KEY` / `EC PRIVATE KEY`.
    #[arg(long, value_name = "FILE")]
    pub key: String,
    /// Write the PEM public key to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub outfile: Option<PathBuf>,
}

/// Generate a key pair as `cosign generate-key-pair` does.
pub fn generate_key_pair(a: &GenerateKeyPairArgs) -> Result<()> {
    generate_with(a, interactive() && !a.yes, || read_password(true))
}

/// Print (or write to `--outfile`) the PEM public key of `--key`.
pub fn public_key(a: &PublicKeyArgs) -> Result<()> {
    let key = load_key_file(&a.key, || read_password(false))?;
    let pem = key.public_key_pem();
    match &a.outfile {
        Some(path) => {
            std::fs::write(path, &pem).map_err(|e| {
                hinted(
                    format!("cannot write {}: {e}", path.display()),
                    "check that the directory exists and is writable",
                )
            })?;
            eprintln!("Public key written to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(pem.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| hinted(format!("cannot write to stdout: {e}"), "use --outfile"))?;
        }
    }
    Ok(())
}

/// Read and decrypt a private key file (asking for the password only when it is encrypted).
pub fn load_key_file(
    path: &str,
    password: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>,
) -> Result<SigningKey> {
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(hinted(
            format!("key reference {scheme}:// is not supported"),
            "pass a key file (cosign.key); KMS and hardware keys are not supported yet",
        ));
    }
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| {
        hinted(
            format!("cannot read key file {path}: {e}"),
            "create one with `vouch generate-key-pair`",
        )
    })?;
    if meta.len() > cosign_key::MAX_KEY_FILE_LEN as u64 {
        return Err(hinted(
            format!("{path} is {} bytes: not a key file", meta.len()),
            "pass the private key (cosign.key), not another file",
        ));
    }
    let text = std::fs::read_to_string(p).map_err(|e| {
        hinted(
            format!("cannot read key file {path}: {e}"),
            "pass a PEM private key such as cosign.key",
        )
    })?;
    let pw = if cosign_key::is_encrypted(&text) {
        Some(password()?)
    } else {
        None
    };
    cosign_key::load_private_key(&text, pw.as_ref().map(|p| p.as_slice()))
        .map_err(|e| key_error(path, e))
}

fn key_error(path: &str, e: CosignKeyError) -> anyhow::Error {
    let hint = match &e {
        CosignKeyError::WrongPassword => {
            "check the password (COSIGN_PASSWORD, if set, is used without asking)"
        }
        CosignKeyError::UnsupportedKey(_) => {
            "vouch signs with ECDSA P-256/P-384/P-521 and Ed25519 keys; create one with `vouch generate-key-pair`"
        }
        CosignKeyError::UnsupportedScryptParams { .. }
        | CosignKeyError::UnsupportedKdf(_)
        | CosignKeyError::UnsupportedCipher(_) => {
            "the key file was not written by cosign or vouch; re-encrypt it with `cosign import-key-pair`"
        }
        CosignKeyError::Pem(_)
        | CosignKeyError::NoPrivateKey { .. }
        | CosignKeyError::TooLarge(_)
        | CosignKeyError::Envelope(_)
        | CosignKeyError::Base64 { .. }
        | CosignKeyError::Malformed(_) => {
            "pass the private key (cosign.key), not the public key or another file"
        }
        _ => "the key file may be damaged; generate a new one with `vouch generate-key-pair`",
    };
    hinted(format!("{path}: {}", vouch_core::error_chain(&e)), hint)
}

/// True when prompts can be shown (stdin is a terminal).
fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// The key password, as cosign reads it: `COSIGN_PASSWORD` if set (empty allowed); else a
/// prompt on the terminal (twice when `confirm`); else everything on stdin.
pub fn read_password(confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(pw) = std::env::var_os(PASSWORD_ENV) {
        let pw = pw.into_string().map_err(|_| {
            hinted(
                format!("{PASSWORD_ENV} is not valid UTF-8"),
                "set it to the password as text",
            )
        })?;
        return Ok(Zeroizing::new(pw.into_bytes()));
    }
    if interactive() {
        let no_tty = |e: std::io::Error| {
            hinted(
                format!("cannot read the password from the terminal: {e}"),
                format!("set {PASSWORD_ENV} instead"),
            )
        };
        let first = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key: ").map_err(no_tty)?,
        );
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password("Enter password for private key again: ")
                    .map_err(no_tty)?,
            );
            if *first != *again {
                return Err(hinted(
                    "passwords do not match",
                    "type the same password twice",
                ));
            }
        }
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| {
            hinted(
                format!("cannot read the password from stdin: {e}"),
                format!("set {PASSWORD_ENV}"),
            )
        })?;
    Ok(buf)
}

fn generate_with(
    a: &GenerateKeyPairArgs,
    can_prompt: bool,
    password: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>,
) -> Result<()> {
    let key_path = PathBuf::from(format!("{}.key", a.output_key_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", a.output_key_prefix));
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() && !a.force && !confirm_overwrite(path, can_prompt)? {
            return Err(hinted(
                format!("{} already exists: not overwritten", path.display()),
                "pass --force to replace it, or --output-key-prefix to write elsewhere",
            ));
        }
    }
    let password = password()?;
    let key = SigningKey::generate(a.key_algorithm.into())
        .map_err(|e| hinted(format!("key generation failed: {e}"), "retry"))?;
    let encrypted = key
        .to_encrypted_pem(&password)
        .map_err(|e| hinted(format!("encrypting the private key failed: {e}"), "retry"))?;
    write_new(&key_path, encrypted.as_bytes(), true)?;
    write_new(&pub_path, key.public_key_pem().as_bytes(), false)?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(())
}

/// Ask on the terminal whether to overwrite `path`; false without a terminal.
fn confirm_overwrite(path: &Path, can_prompt: bool) -> Result<bool> {
    if !can_prompt {
        return Ok(false);
    }
    eprint!(
        "File {} already exists. Overwrite (y/[N])? ",
        path.display()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(1024)
        .read_line(&mut answer)
        .map_err(|e| hinted(format!("cannot read the answer: {e}"), "pass --force"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Write `data` durably to `path` (replacing any existing one), mode 0600 when `private`.
fn write_new(path: &Path, data: &[u8], private: bool) -> Result<()> {
    let access = if private {
        vouch_fs::Access::Private
    } else {
        vouch_fs::Access::Public
    };
    vouch_fs::write_durably(path, data, access).map_err(|e| {
        hinted(
            format!("cannot write {}: {e}", path.display()),
            "check that the directory exists and is writable",
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn args(prefix: &Path) -> GenerateKeyPairArgs {
        GenerateKeyPairArgs {
            output_key_prefix: prefix.to_str().unwrap().to_string(),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            force: false,
            yes: true,
        }
    }

    fn pw(s: &'static str) -> impl FnOnce() -> Result<Zeroizing<Vec<u8>>> {
        move || Ok(Zeroizing::new(s.as_bytes().to_vec()))
    }

    #[test]
    fn generate_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("cosign");
        generate_with(&args(&prefix), false, pw("secret")).unwrap();
        let key_path = dir.path().join("cosign.key");
        let pem = std::fs::read_to_string(&key_path).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public = std::fs::read_to_string(dir.path().join("cosign.pub")).unwrap();
        let key = load_key_file(key_path.to_str().unwrap(), pw("secret")).unwrap();
        assert_eq!(key.public_key_pem(), public);
        let e = load_key_file(key_path.to_str().unwrap(), pw("wrong")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: wrong password or corrupted key", key_path.display())
        );
        assert!(e.downcast_ref::<crate::tlog::Hinted>().is_some());

        // No overwrite without --force (and no prompt without a terminal).
        let e = generate_with(&args(&prefix), false, pw("x")).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&key_path).unwrap(), pem);
        let mut forced = args(&prefix);
        forced.force = true;
        generate_with(&forced, false, pw("")).unwrap();
        assert_ne!(std::fs::read_to_string(&key_path).unwrap(), pem);
        assert!(load_key_file(key_path.to_str().unwrap(), pw("")).is_ok());
    }

    #[test]
    fn import_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("k.pem");
        let k = SigningKey::generate(SigningAlgorithm::EcdsaP256Sha256).unwrap();
        let der = k.to_pkcs8().unwrap();
        std::fs::write(&plain, vouch_core::keys::pem_encode("PRIVATE KEY", &der)).unwrap();
        let prefix = dir.path().join("import-cosign");
        let a = ImportKeyPairArgs {
            key: plain.to_str().unwrap().to_string(),
            output_key_prefix: prefix.to_str().unwrap().to_string(),
            yes: false,
        };
        import_with(&a, false, pw("pw")).unwrap();
        let key_path = dir.path().join("import-cosign.key");
        let pem = std::fs::read_to_string(&key_path).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
        let back = load_key_file(key_path.to_str().unwrap(), pw("pw")).unwrap();
        assert_eq!(back.public_key_pem(), k.public_key_pem());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("import-cosign.pub")).unwrap(),
            k.public_key_pem()
        );
        // Not overwritten without -y; an encrypted key is refused as input.
        assert!(import_with(&a, false, pw("pw")).is_err());
        let again = ImportKeyPairArgs {
            key: key_path.to_str().unwrap().to_string(),
            output_key_prefix: dir.path().join("x").to_str().unwrap().to_string(),
            yes: true,
        };
        let e = import_with(&again, false, pw("pw")).unwrap_err();
        assert!(
            e.to_string().contains("already an encrypted cosign key"),
            "{e}"
        );
    }

    #[test]
    fn load_errors_are_hinted() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_key_file("awskms://alias/x", pw("")).unwrap_err();
        assert!(e.downcast_ref::<crate::tlog::Hinted>().is_some());
        let missing = dir.path().join("nope.key");
        assert!(load_key_file(missing.to_str().unwrap(), pw("")).is_err());
        let pubf = dir.path().join("k.pub");
        let k = SigningKey::generate(SigningAlgorithm::Ed25519).unwrap();
        std::fs::write(&pubf, k.public_key_pem()).unwrap();
        let e = load_key_file(pubf.to_str().unwrap(), pw("")).unwrap_err();
        assert!(e.to_string().contains("not a private key file"), "{e}");
    }
}
