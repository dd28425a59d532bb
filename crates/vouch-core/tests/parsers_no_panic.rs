#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! A cheap, deterministic stand-in for the cargo-fuzz targets in `fuzz/`: every seed input from
//! `../shared/testdata` (bundles, the certificates, Rekor bodies, checkpoints and RFC 3161 tokens
//! inside them, trusted roots and their certificates), plus truncations and single-byte flips of
//! each, goes through every vouch-core parser of untrusted input. The only assertion is that
//! nothing panics; every offender is reported with the seed and mutation that reproduce it (and
//! written under `CARGO_TARGET_TMPDIR/parsers_no_panic/`).
//! Skips with a message when the test data is absent.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use vouch_core::bundle::{Bundle, Content, Material};
use vouch_core::intoto::Statement;
use vouch_core::note::{Checkpoint, SignedNote};
use vouch_core::rekor::EntryBody;
use vouch_core::trust::{TrustRoot, TrustedRootJson};
use vouch_core::tsa::{self, TsaVerifier};
use vouch_core::x509::Certificate;
use vouch_core::{sct, trust};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

/// Truncation points per seed.
const TRUNCATIONS: u64 = 16;
/// Single-byte flips per seed.
const FLIPS: usize = 64;

const BODY_KINDS: [(&str, &str); 4] = [
    ("hashedrekord", "0.0.1"),
    ("hashedrekord", "0.0.2"),
    ("dsse", "0.0.1"),
    ("intoto", "0.0.2"),
];

/// One input to mutate.
struct Seed {
    /// Where it came from (file, and path inside it).
    name: String,
    data: Vec<u8>,
    /// What an RFC 3161 token in `data` timestamps (the bundle signature), else empty.
    signed: Vec<u8>,
}

#[derive(Default)]
struct Corpus {
    seeds: Vec<Seed>,
    seen: BTreeSet<Vec<u8>>,
    tsas: Vec<TsaVerifier>,
    tsa_keys: BTreeSet<String>,
}

impl Corpus {
    fn add(&mut self, name: String, data: Vec<u8>, signed: &[u8]) {
        let mut key = data.clone();
        key.extend_from_slice(signed);
        if self.seen.insert(key) {
            self.seeds.push(Seed {
                name,
                data,
                signed: signed.to_vec(),
            });
        }
    }

    fn add_trusted_root(&mut self, file: &str, raw: Vec<u8>) {
        if let Ok(tr) = serde_json::from_slice::<TrustedRootJson>(&raw) {
            for (what, cas) in [
                ("certificateAuthorities", &tr.certificate_authorities),
                ("timestampAuthorities", &tr.timestamp_authorities),
            ] {
                for (i, ca) in cas.iter().enumerate() {
                    for (j, c) in ca.cert_chain.certificates.iter().enumerate() {
                        let name = format!("{file}#{what}[{i}].certificates[{j}]");
                        self.add(name, c.raw_bytes.0.clone(), &[]);
                    }
                }
            }
        }
        if let Ok(root) = TrustRoot::from_json(&raw) {
            for t in root.tsas {
                if self.tsa_keys.insert(format!("{:?}", t.verifier)) {
                    self.tsas.push(t.verifier);
                }
            }
        }
        self.add(file.to_string(), raw, &[]);
    }

    fn add_bundle(&mut self, file: &str, raw: Vec<u8>) {
        if let Ok(b) = Bundle::from_json(&raw) {
            let signed = b.signature_bytes().unwrap_or_default().to_vec();
            if let Some(Material::Certificate { leaf, rest }) = b.material() {
                self.add(format!("{file}#certificate[0]"), leaf.to_vec(), &[]);
                for (i, c) in rest.iter().enumerate() {
                    let name = format!("{file}#certificate[{}]", i + 1);
                    self.add(name, c.raw_bytes.0.clone(), &[]);
                }
            }
            if let Some(Content::Dsse(env)) = b.content() {
                self.add(format!("{file}#dssePayload"), env.payload.0.clone(), &[]);
            }
            for (i, e) in b.tlog_entries().iter().enumerate() {
                let body = e.canonicalized_body.0.clone();
                self.add(format!("{file}#tlogEntries[{i}].body"), body, &[]);
                if let Some(cp) = e
                    .inclusion_proof
                    .as_ref()
                    .and_then(|p| p.checkpoint.as_ref())
                {
                    let env = cp.envelope.clone().into_bytes();
                    self.add(format!("{file}#tlogEntries[{i}].checkpoint"), env, &[]);
                }
            }
            for (i, t) in b.rfc3161_timestamps().iter().enumerate() {
                let der = t.signed_timestamp.0.clone();
                self.add(format!("{file}#rfc3161Timestamps[{i}]"), der, &signed);
            }
        }
        self.add(file.to_string(), raw, &[]);
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn collect(root: &Path) -> Corpus {
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    let mut corpus = Corpus::default();
    for p in files {
        let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        let file_name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if file_name.ends_with("trusted_root.json") {
            corpus.add_trusted_root(&name, std::fs::read(&p).unwrap());
        } else if file_name == "bundle.sigstore.json" {
            corpus.add_bundle(&name, std::fs::read(&p).unwrap());
        } else if name.starts_with("roots") && file_name.ends_with(".json") {
            // TUF root and signing config: more JSON for the JSON parsers.
            corpus.add(name, std::fs::read(&p).unwrap(), &[]);
        }
    }
    corpus
}

/// SplitMix64: a tiny deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// FNV-1a, to seed the PRNG per input.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The seed itself, truncations, then single-byte flips: (description, bytes).
fn mutations(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("original".to_string(), data.to_vec())];
    let len = data.len() as u64;
    let mut cuts = BTreeSet::new();
    for i in 0..TRUNCATIONS {
        // Spread over the input, plus the very last byte.
        cuts.insert(usize::try_from(len * i / TRUNCATIONS).unwrap());
    }
    cuts.insert(data.len().saturating_sub(1));
    cuts.remove(&data.len());
    for c in cuts {
        out.push((format!("truncate to {c} bytes"), data[..c].to_vec()));
    }
    if !data.is_empty() {
        let mut rng = Rng(fnv(data));
        for _ in 0..FLIPS {
            let r = rng.next();
            let pos = usize::try_from(r % len).unwrap();
            let mask = match (r >> 32) as u8 {
                0 => 0xff,
                m => m,
            };
            let mut m = data.to_vec();
            m[pos] ^= mask;
            out.push((format!("byte {pos} ^= {mask:#04x}"), m));
        }
    }
    out
}

thread_local! {
    /// The message and location of the last panic on this thread.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Offender {
    parser: &'static str,
    seed: String,
    mutation: String,
    panic: String,
    input: Vec<u8>,
}

/// Run `f`, recording an offender if it panics.
fn guard(
    offenders: &mut Vec<Offender>,
    parser: &'static str,
    seed: &Seed,
    (mutation, input): &(String, Vec<u8>),
    f: impl FnOnce(),
) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        offenders.push(Offender {
            parser,
            seed: seed.name.clone(),
            mutation: mutation.clone(),
            panic: LAST_PANIC.with(|l| l.borrow().clone()),
            input: input.clone(),
        });
    }
}

/// Every parser of untrusted input in vouch-core, on one input.
fn run_all(
    offenders: &mut Vec<Offender>,
    tsas: &[TsaVerifier],
    seed: &Seed,
    m: &(String, Vec<u8>),
) {
    let d = m.1.as_slice();
    guard(offenders, "Bundle::from_json+validate", seed, m, || {
        if let Ok(b) = Bundle::from_json(d) {
            let _ = b.validate();
        }
    });
    guard(
        offenders,
        "Certificate::from_der+identity+scts",
        seed,
        m,
        || {
            if let Ok(c) = Certificate::from_der(d) {
                let _ = c.fulcio_identity();
                let _ = sct::embedded_scts(&c);
                let _ = sct::precert_tbs_der(&c);
            }
        },
    );
    guard(offenders, "sct::parse_sct_list", seed, m, || {
        let _ = sct::parse_sct_list(d);
    });
    let text = String::from_utf8_lossy(d);
    guard(
        offenders,
        "SignedNote::parse+Checkpoint::parse",
        seed,
        m,
        || {
            if let Ok(n) = SignedNote::parse(&text) {
                let _ = Checkpoint::parse(&n.text);
            }
        },
    );
    guard(offenders, "Checkpoint::parse", seed, m, || {
        let _ = Checkpoint::parse(&text);
    });
    guard(offenders, "tsa::parse_timestamp_response", seed, m, || {
        let _ = tsa::parse_timestamp_response(d);
    });
    guard(offenders, "TsaVerifier::verify", seed, m, || {
        for v in tsas {
            let _ = v.verify(d, &seed.signed);
        }
    });
    guard(offenders, "EntryBody::parse", seed, m, || {
        for (kind, version) in BODY_KINDS {
            let _ = EntryBody::parse(d, kind, version);
        }
    });
    guard(offenders, "TrustRoot::from_json", seed, m, || {
        let _ = TrustRoot::from_json(d);
    });
    guard(offenders, "SigningConfig::from_json", seed, m, || {
        let _ = trust::SigningConfig::from_json(d);
    });
    guard(offenders, "Statement::from_json", seed, m, || {
        let _ = Statement::from_json(d);
    });
}

#[test]
fn parsers_do_not_panic_on_seeds_and_mutations() {
    let root = Path::new(TESTDATA);
    if !root.is_dir() {
        vouch_testkit::skip(format_args!("{TESTDATA} not found (CI provides it)"));
        return;
    }
    let started = std::time::Instant::now();
    let mut corpus = collect(root);
    // The embedded public-good TSA chain is trusted too.
    if let Ok(pg) = TrustRoot::public_good() {
        for t in pg.tsas {
            if corpus.tsa_keys.insert(format!("{:?}", t.verifier)) {
                corpus.tsas.push(t.verifier);
            }
        }
    }
    assert!(
        corpus.seeds.len() >= 100,
        "expected at least 100 seeds, found {}",
        corpus.seeds.len()
    );
    assert!(!corpus.tsas.is_empty(), "no trusted TSA chain found");
    // The seeds must reach the deep end: some tokens verify against a real trusted chain.
    let verified = corpus
        .seeds
        .iter()
        .filter(|s| !s.signed.is_empty())
        .filter(|s| {
            corpus
                .tsas
                .iter()
                .any(|v| v.verify(&s.data, &s.signed).is_ok())
        })
        .count();
    assert!(
        verified > 0,
        "no RFC 3161 seed verifies against a trusted TSA chain"
    );

    // Silence the default panic output; keep the message for the report instead.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|l| *l.borrow_mut() = info.to_string());
    }));

    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let seeds = &corpus.seeds;
    let tsas = &corpus.tsas;
    let (inputs, mut offenders) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut offenders = Vec::new();
                    let mut inputs = 0usize;
                    for seed in seeds.iter().skip(t).step_by(threads) {
                        for m in mutations(&seed.data) {
                            inputs += 1;
                            run_all(&mut offenders, tsas, seed, &m);
                        }
                    }
                    (inputs, offenders)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).fold(
            (0, Vec::new()),
            |(n, mut all), (i, o)| {
                all.extend(o);
                (n + i, all)
            },
        )
    });
    std::panic::set_hook(previous_hook);

    eprintln!(
        "{} seeds, {} inputs, {} trusted TSA chains ({verified} tokens verify), {:.1?}",
        corpus.seeds.len(),
        inputs,
        corpus.tsas.len(),
        started.elapsed()
    );
    if offenders.is_empty() {
        return;
    }
    offenders
        .sort_by(|a, b| (a.parser, &a.seed, &a.mutation).cmp(&(b.parser, &b.seed, &b.mutation)));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parsers_no_panic");
    std::fs::create_dir_all(&dir).unwrap();
    let mut report = String::new();
    for (i, o) in offenders.iter().enumerate() {
        let file = dir.join(format!("crash-{i:03}"));
        std::fs::write(&file, &o.input).unwrap();
        report.push_str(&format!(
            "- {}: seed {} ({}) -> {}\n    input: {}\n",
            o.parser,
            o.seed,
            o.mutation,
            o.panic.replace('\n', " "),
            file.display()
        ));
    }
    let n = offenders.len();
    assert!(n == 0, "{n} parser panics on test-data inputs:\n{report}");
}
