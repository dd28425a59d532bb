//! Settings kept in the data directory across restarts: the witness's name.

use crate::error::WitnessError;
use std::path::Path;
use vouch_fs::{Access, write_durably};

/// File of the settings.
pub const SETTINGS_FILE: &str = "witness.json";

/// What the data directory remembers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Settings {
    /// The witness's key name (the name in its cosignature lines and vkeys).
    pub name: String,
}

/// The name a new witness gets without `--name`: `vouch-witness/<8 random hex digits>`.
fn default_name() -> Result<String, WitnessError> {
    let mut b = [0u8; 4];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| WitnessError::KeyGeneration { kind: "name" })?;
    Ok(format!("vouch-witness/{}", hex::encode(b)))
}

impl Settings {
    /// Load the settings of `data`, creating them on first start (with `name`, or a generated
    /// one). A `name` that differs from the stored one is refused: the keys' IDs commit to it.
    pub fn load_or_create(data: &Path, name: Option<&str>) -> Result<Self, NameConflict> {
        let path = data.join(SETTINGS_FILE);
        match vouch_fs::read_optional(&path).map_err(WitnessError::from)? {
            Some(bytes) => {
                let s: Settings = serde_json::from_slice(&bytes).map_err(|source| {
                    WitnessError::CorruptSettings {
                        path: path.clone(),
                        source,
                    }
                })?;
                if let Some(n) = name
                    && n != s.name
                {
                    return Err(NameConflict::Differs {
                        stored: s.name,
                        given: n.to_string(),
                    });
                }
                Ok(s)
            }
            None => {
                let s = Settings {
                    name: match name {
                        Some(n) => n.to_string(),
                        None => default_name()?,
                    },
                };
                vouch_core::cosignature::CosignerKey::new(
                    &s.name,
                    vouch_core::cosignature::CosignatureKind::Ed25519,
                    &[0; 32],
                )
                .map_err(|source| WitnessError::Name { source })?;
                let json = serde_json::to_vec_pretty(&s).map_err(|source| {
                    WitnessError::CorruptSettings {
                        path: path.clone(),
                        source,
                    }
                })?;
                write_durably(&path, &json, Access::Public).map_err(WitnessError::from)?;
                Ok(s)
            }
        }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NameConflict {
    /// The directory belongs to a witness of another name.
    #[error("this data directory holds the witness {stored:?}, not {given:?}")]
    Differs {
        /// Stored name.
        stored: String,
        /// Name given.
        given: String,
    },
    /// Another failure.
    #[error(transparent)]
    Witness(#[from] WitnessError),
}
