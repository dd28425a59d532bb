//! `vouch bench … --server-pid PID`: the server's CPU time per operation over a run, next to
//! the single-core cost of the signature primitives that operation cannot avoid, measured in
//! this process before the load starts. Their ratio is the efficiency line: 1.0 means the
//! server spends nothing beyond the cryptography.

use anyhow::{Context, Result, anyhow};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1,
    ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm,
    EcdsaVerificationAlgorithm, KeyPair, UnparsedPublicKey,
};
use std::time::Duration;

/// `/proc/PID/stat` counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second for
/// every userspace interface.
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds of process `pid` so far.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| {
        format!("--server-pid {pid}: cannot read {path} (is the server running here?)")
    })?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("{path}: no ')' after the command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5), counted from field 3 (the state).
    let tick = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|t| t as f64 / USER_HZ)
            .ok_or_else(|| anyhow!("{path}: field {} is not a tick count", i + 3))
    };
    Ok(tick(11)? + tick(12)?)
}

/// The server's CPU time from [`ServerCpu::start`] to [`ServerCpu::seconds`].
#[derive(Debug)]
pub(crate) struct ServerCpu {
    pid: u32,
    start: f64,
}

impl ServerCpu {
    /// Start counting `pid`'s CPU time.
    pub(crate) fn start(pid: u32) -> Result<Self> {
        Ok(ServerCpu {
            pid,
            start: cpu_seconds(pid)?,
        })
    }

    /// CPU seconds used since the start.
    pub(crate) fn seconds(&self) -> Result<f64> {
        Ok(cpu_seconds(self.pid)? - self.start)
    }
}

/// Single-core microseconds of one ECDSA verification and one signing on P-256 and P-384
/// (aws-lc-rs, the implementation the servers use; a Fulcio-style CA signs with P-384), each
/// timed over about 300 ms of this thread's CPU time.
#[derive(Clone, Debug)]
pub(crate) struct Calibration {
    /// One ECDSA P-256 SHA-256 verification.
    pub(crate) p256_verify_us: f64,
    /// One ECDSA P-256 SHA-256 signature.
    pub(crate) p256_sign_us: f64,
    /// One ECDSA P-384 SHA-384 verification.
    pub(crate) p384_verify_us: f64,
    /// One ECDSA P-384 SHA-384 signature.
    pub(crate) p384_sign_us: f64,
    /// Further primitives a benchmark's floor needs (e.g. the witness's Ed25519 and ML-DSA
    /// cosignatures), as `(name printed, µs)`, timed with [`time_per_op`].
    pub(crate) extra: Vec<(&'static str, f64)>,
}

/// CPU time this thread has used: the calibration must count the work, not the wall clock,
/// or a loaded machine (other processes, or the server under test) would inflate it.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Microseconds of this thread's CPU time per `op` (`what` names it in the error if it
/// fails), over about 300 ms of CPU time.
pub(crate) fn time_per_op(what: &str, mut op: impl FnMut() -> bool) -> Result<f64> {
    let budget = Duration::from_millis(300);
    let start = thread_cpu();
    let mut n = 0u64;
    while thread_cpu().saturating_sub(start) < budget || n < 16 {
        // Batches of 16 keep the clock reads out of the measured cost.
        for _ in 0..16 {
            if !op() {
                return Err(anyhow!("calibration: a {what} operation failed"));
            }
        }
        n += 16;
    }
    Ok(thread_cpu().saturating_sub(start).as_secs_f64() * 1e6 / n as f64)
}

/// (verify µs, sign µs) of one ECDSA curve.
fn ecdsa_costs(
    signing: &'static EcdsaSigningAlgorithm,
    verifying: &'static EcdsaVerificationAlgorithm,
) -> Result<(f64, f64)> {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(signing)
        .map_err(|_| anyhow!("calibration: cannot generate an ECDSA key"))?;
    let msg = [0x5au8; 64];
    let sig = key
        .sign(&rng, &msg)
        .map_err(|_| anyhow!("calibration: cannot sign"))?;
    let public = UnparsedPublicKey::new(verifying, key.public_key().as_ref().to_vec());
    let verify_us = time_per_op("ECDSA", || public.verify(&msg, sig.as_ref()).is_ok())?;
    let sign_us = time_per_op("ECDSA", || key.sign(&rng, &msg).is_ok())?;
    Ok((verify_us, sign_us))
}

/// Measure [`Calibration`] in this process.
pub(crate) fn calibrate() -> Result<Calibration> {
    let (p256_verify_us, p256_sign_us) =
        ecdsa_costs(&ECDSA_P256_SHA256_ASN1_SIGNING, &ECDSA_P256_SHA256_ASN1)?;
    let (p384_verify_us, p384_sign_us) =
        ecdsa_costs(&ECDSA_P384_SHA384_ASN1_SIGNING, &ECDSA_P384_SHA384_ASN1)?;
    Ok(Calibration {
        p256_verify_us,
        p256_sign_us,
        p384_verify_us,
        p384_sign_us,
        extra: Vec::new(),
    })
}

/// Print the calibration and the efficiency line for `ops` operations whose unavoidable
/// cryptography costs `floor_us` (described by `floor`).
pub(crate) fn print_efficiency(
    cal: &Calibration,
    cpu: &ServerCpu,
    ops: u64,
    floor_us: f64,
    floor: &str,
) -> Result<()> {
    let secs = cpu.seconds()?;
    let extra: String = cal
        .extra
        .iter()
        .map(|(name, us)| format!(" {name}={us:.1}"))
        .collect();
    println!(
        "calibration: p256_verify_us={:.1} p256_sign_us={:.1} p384_verify_us={:.1} p384_sign_us={:.1}{extra} (thread CPU time, this process)",
        cal.p256_verify_us, cal.p256_sign_us, cal.p384_verify_us, cal.p384_sign_us
    );
    if ops == 0 {
        println!("server_cpu_s={secs:.2} (no operation completed: no efficiency)");
        return Ok(());
    }
    let per_op = secs * 1e6 / ops as f64;
    println!(
        "server_cpu_s={secs:.2} server_cpu_per_op_us={per_op:.1} crypto_floor_us={floor_us:.1} ({floor}) efficiency={:.2}",
        floor_us / per_op
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let cpu = ServerCpu::start(pid).unwrap_or_else(|e| panic!("{e}"));
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu.seconds().unwrap_or(-1.0) >= 0.0);
        assert!(ServerCpu::start(u32::MAX).is_err());
    }

    #[test]
    fn calibrates() {
        let c = calibrate().unwrap_or_else(|e| panic!("{e}"));
        assert!(c.p256_verify_us > 0.0 && c.p256_sign_us > 0.0);
        assert!(c.p384_verify_us > 0.0 && c.p384_sign_us > 0.0);
    }
}
