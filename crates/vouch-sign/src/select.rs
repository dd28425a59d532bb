//! Service selection from a `SigningConfig` v0.2, following sigstore-go's rules: keep services
//! whose API version we speak and whose `validFor` contains now; prefer the highest version,
//! then the newest `validFor.start`; for logs and TSAs keep one service per operator and apply
//! the `ALL` / `ANY` / `EXACT` selector. API versions are never mixed.

use crate::SignError;
use jiff::Timestamp;
use vouch_core::trust::{Service, ServiceConfiguration, SigningConfig};

/// The services one signature uses.
#[derive(Clone, Debug, Default)]
pub struct SelectedServices {
    /// Fulcio base URL (keyless only).
    pub ca: Option<String>,
    /// OIDC issuer base URL for interactive login.
    pub oidc: Option<String>,
    /// Rekor base URLs with their major API version (1 or 2).
    pub tlogs: Vec<(String, u32)>,
    /// Full RFC 3161 POST URLs.
    pub tsas: Vec<String>,
}

fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

fn valid_now(s: &Service, now: Timestamp) -> bool {
    let Some(v) = &s.valid_for else {
        return true;
    };
    if let Some(start) = v.start.as_deref().and_then(parse_time)
        && now < start
    {
        return false;
    }
    if let Some(end) = v.end.as_deref().and_then(parse_time)
        && now > end
    {
        return false;
    }
    true
}

fn start_of(s: &Service) -> Timestamp {
    s.valid_for
        .as_ref()
        .and_then(|v| v.start.as_deref())
        .and_then(parse_time)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Candidates of the highest supported version, newest first.
fn candidates<'a>(services: &'a [Service], versions: &[u32], now: Timestamp) -> Vec<&'a Service> {
    for v in versions {
        let mut c: Vec<&Service> = services
            .iter()
            .filter(|s| s.major_api_version == *v && valid_now(s, now))
            .collect();
        if !c.is_empty() {
            c.sort_by_key(|s| std::cmp::Reverse(start_of(s)));
            return c;
        }
    }
    Vec::new()
}

fn apply_selector<'a>(
    what: &str,
    mut c: Vec<&'a Service>,
    cfg: Option<&ServiceConfiguration>,
) -> Result<Vec<&'a Service>, SignError> {
    // One per operator (the newest, since `c` is sorted newest first).
    let mut seen = std::collections::HashSet::new();
    c.retain(|s| s.operator.is_empty() || seen.insert(s.operator.clone()));
    let selector = cfg.map(|c| c.selector.as_str()).unwrap_or("ANY");
    match selector {
        "ALL" => Ok(c),
        "ANY" | "" => Ok(c.into_iter().take(1).collect()),
        "EXACT" => {
            let n = cfg.map(|c| c.count as usize).unwrap_or(1);
            if c.len() < n {
                return Err(SignError::Config(format!(
                    "{what}: EXACT selector needs {n} services, {} available",
                    c.len()
                )));
            }
            Ok(c.into_iter().take(n).collect())
        }
        other => Err(SignError::Config(format!(
            "{what}: unknown selector {other:?}"
        ))),
    }
}

/// Pick the services to use now. `rekor_version` forces a Rekor major version.
pub fn select_services(
    sc: &SigningConfig,
    rekor_version: Option<u32>,
    now: Timestamp,
) -> Result<SelectedServices, SignError> {
    let ca = candidates(&sc.ca_urls, &[1], now)
        .first()
        .map(|s| s.url.trim_end_matches('/').to_string());
    let oidc = candidates(&sc.oidc_urls, &[1], now)
        .first()
        .map(|s| s.url.trim_end_matches('/').to_string());
    let versions: Vec<u32> = match rekor_version {
        Some(v) => vec![v],
        None => vec![2, 1],
    };
    let tl = candidates(&sc.rekor_tlog_urls, &versions, now);
    if tl.is_empty() && !sc.rekor_tlog_urls.is_empty() {
        return Err(SignError::Config(match rekor_version {
            Some(v) => format!("no Rekor v{v} log in the signing config is valid now"),
            None => "no Rekor log in the signing config is valid now".into(),
        }));
    }
    let tlogs = apply_selector("rekorTlogUrls", tl, sc.rekor_tlog_config.as_ref())?
        .into_iter()
        .map(|s| (s.url.trim_end_matches('/').to_string(), s.major_api_version))
        .collect();
    let ts = candidates(&sc.tsa_urls, &[1], now);
    let tsas = apply_selector("tsaUrls", ts, sc.tsa_config.as_ref())?
        .into_iter()
        .map(|s| s.url.clone())
        .collect();
    Ok(SelectedServices {
        ca,
        oidc,
        tlogs,
        tsas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_selection() {
        let sc = SigningConfig::from_json(vouch_core::trust::PUBLIC_GOOD_SIGNING_CONFIG.as_bytes())
            .unwrap();
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().unwrap();
        let s = select_services(&sc, None, now).unwrap();
        assert_eq!(s.ca.as_deref(), Some("https://fulcio.sigstore.dev"));
        assert_eq!(s.tlogs.len(), 1);
        assert_eq!(s.tsas.len(), 1);
        let s1 = select_services(&sc, Some(1), now).unwrap();
        assert_eq!(s1.tlogs[0].1, 1);
        assert!(select_services(&sc, Some(3), now).is_err());
    }
}
