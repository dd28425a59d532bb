// vouch log explorer. Everything here runs in the browser against this log's own APIs:
// /api/explorer/* (search, decoded certificates) and the Rekor v1 API (entry body, inclusion
// proof, checkpoint, log public key). The inclusion proof (RFC 6962/9162 hashing) and the
// checkpoint's signed-note signature (Ed25519 or ECDSA P-256) are verified with WebCrypto.
//
// Key pinning: the key the checkpoint is checked against comes from this same server unless
// the user pinned one (the "Log key" panel, or ?key= in the URL: a SHA-256 fingerprint of the
// DER public key, or the base64 DER key itself, i.e. a PEM's body). A pin is kept in this
// origin's localStorage. With a pin, a server serving any other key fails verification naming
// both fingerprints; without one the page says the key is trusted on first use.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function show(id, ...children) {
  const s = $(id);
  s.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  s.hidden = false;
}

function hideAll() {
  for (const id of ["status", "results", "entry", "help"]) $(id).hidden = true;
}

function status(msg, error) {
  show("status", msg);
  $("status").className = error ? "status error" : "status";
}

// ---- encodings

const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
function unhex(s) {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`not hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
function unb64(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const utf8 = (b) => new TextDecoder("utf-8", { fatal: true }).decode(b);
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));
const fmtTime = (t) => (t === null || t === undefined) ? "not recorded" :
  new Date(t * 1000).toISOString().replace(".000Z", "Z");

function pemToDer(pem) {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) throw new Error("the log's public key is not a PEM PUBLIC KEY");
  return unb64(m[1].replace(/\s+/g, ""));
}
const fmtNum = (n) => Number(n).toLocaleString("en-US");

// ---- fetching

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const text = await r.text();
  let v;
  try { v = JSON.parse(text); } catch { throw new Error(`${url}: HTTP ${r.status}, not JSON`); }
  if (!r.ok) throw new Error(v.message || `${url}: HTTP ${r.status}`);
  return v;
}

// ---- routing: #/search/<q>[/before/<index>|/after/<index>], #/entry/<index>; ?q= and ?index=
// on first load

function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [what, a, dir, at] = h.split("/");
  if (what === "entry" && /^\d+$/.test(a || "")) return openEntry(a);
  if (what === "search" && a) {
    const cursor = (dir === "before" || dir === "after") && /^\d+$/.test(at || "") ? { [dir]: at } : {};
    return runSearch(decodeURIComponent(a), cursor);
  }
  hideAll();
  $("help").hidden = false;
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- search (keyset pages, newest first: the API's next/prev links carry the cursors)

// The page hash for an API page link (its before= or after= cursor).
function pageHash(q, link) {
  const p = new URL(link, location.origin).searchParams;
  const base = `#/search/${encodeURIComponent(q)}`;
  if (p.get("before")) return `${base}/before/${p.get("before")}`;
  if (p.get("after")) return `${base}/after/${p.get("after")}`;
  return base;
}

async function runSearch(q, cursor) {
  $("q").value = q;
  hideAll();
  status(`Searching for ${q} …`);
  let res;
  try {
    const per = parseInt(new URLSearchParams(location.search).get("perPage") || "20", 10) || 20;
    const params = new URLSearchParams({ q, perPage: String(per), ...cursor });
    res = await getJSON(`/api/explorer/search?${params}`);
  } catch (e) {
    status(`Search failed: ${e.message}`, true);
    return;
  }
  const count = `${res.totalExact ? "" : "at least "}${fmtNum(res.total)} ${res.total === 1 && res.totalExact ? "entry" : "entries"}`;
  status(`Searched as ${res.searchedAs.join("; ")}: ${count}.`);
  if (res.total === 1 && res.totalExact && !res.prev && res.results.length === 1) {
    // One match: open it straight away (the URL stays shareable).
    history.replaceState(null, "", `#/entry/${res.results[0].index}`);
    return openEntry(String(res.results[0].index));
  }
  const rows = res.results.map((r) => el("tr", {},
    el("td", {}, el("a", { href: `#/entry/${r.index}`, class: "entry-link" }, r.index)),
    el("td", {}, el("span", { class: "tag" }, `${r.kind || "unknown"} ${r.version}`)),
    el("td", { class: "mono" }, r.uuid),
    el("td", {}, r.identity || ""),
    el("td", {}, fmtTime(r.integratedTime))));
  const n = res.results.length;
  const where = n === 0 ? "No entries on this page" :
    res.first ? `Entries ${fmtNum(res.first)}–${fmtNum(res.first + n - 1)} of ${count}` :
      `${fmtNum(n)} entries, more than ${fmtNum(res.total)} newer, of ${count}`;
  const nav = el("div", { class: "pager" },
    res.prev ? el("a", { href: pageHash(q, res.prev), id: "prev" }, "← Newer") : null,
    el("span", { id: "position" }, where),
    res.next ? el("a", { href: pageHash(q, res.next), id: "next" }, "Older →") : null);
  show("results",
    el("h2", {}, `Results for ${q}`),
    nav,
    el("table", { class: "results" },
      el("thead", {}, el("tr", {}, ["Index", "Kind", "UUID", "Identity", "Integrated"].map((t) => el("th", {}, t)))),
      el("tbody", {}, rows)));
}

// ---- the log key: pinned (localStorage, or ?key= for this page) or trusted on first use

const PIN_STORE = "vouch-explorer.pinned-log-key";
const knownSpki = (spki) => (spki.length === 44 && equal(spki.slice(0, 12), ED25519_SPKI)) ||
  (spki.length === 91 && equal(spki.slice(0, 26), P256_SPKI));

// A pin from what a user typed or put in ?key=: a PEM, the base64 DER key, or its SHA-256
// fingerprint (64 hex, optionally "sha256:"). { fingerprint, spki (base64 or null) }.
async function parsePin(text) {
  const t = (text || "").trim();
  const fp = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(t);
  if (fp) return { fingerprint: fp[1].toLowerCase(), spki: null };
  let der;
  try {
    der = t.includes("-----BEGIN") ? pemToDer(t) : unb64(t.replace(/\s+/g, ""));
  } catch {
    throw new Error("a pinned key must be a PEM public key, its base64 DER body, or its SHA-256 fingerprint (64 hex)");
  }
  if (!knownSpki(der)) throw new Error("the key to pin is not an Ed25519 or ECDSA P-256 public key (DER SubjectPublicKeyInfo)");
  return { fingerprint: hex(await sha256(der)), spki: btoa(String.fromCharCode(...der)) };
}

function storedPin() {
  try {
    const v = JSON.parse(localStorage.getItem(PIN_STORE) || "null");
    return v && /^[0-9a-f]{64}$/.test(v.fingerprint || "") ? v : null;
  } catch {
    return null;
  }
}

function savePin(pin) {
  try {
    if (pin) localStorage.setItem(PIN_STORE, JSON.stringify(pin)); else localStorage.removeItem(PIN_STORE);
  } catch (e) {
    throw new Error(`this browser does not let the page keep a pin (localStorage: ${e.message})`);
  }
}

// The pin in effect: { pin, source } or { error }. ?key= pins the key in this browser when it
// has none yet; it never replaces a different pin (that takes the Log key panel).
async function currentPin() {
  const stored = storedPin();
  // A base64 key's "+" arrives as a space in a query string.
  const param = new URLSearchParams(location.search).get("key")?.replace(/ /g, "+") ?? null;
  if (param === null) return stored ? { pin: stored, source: "pinned in this browser" } : { pin: null };
  let fromUrl;
  try {
    fromUrl = await parsePin(param);
  } catch (e) {
    return { error: `the URL's key= parameter: ${e.message}` };
  }
  if (stored && stored.fingerprint !== fromUrl.fingerprint) {
    return { error: `the URL pins key ${fromUrl.fingerprint}, pinned key ${stored.fingerprint} in this browser: change the pin in the Log key panel if the log's key really changed` };
  }
  if (!stored) {
    try { savePin(fromUrl); } catch { /* still pinned for this page */ }
  }
  return { pin: stored && stored.spki ? stored : fromUrl, source: "pinned by the URL's key=" };
}

async function servedKey() {
  const r = await fetch("/api/v1/log/publicKey");
  if (!r.ok) throw new Error(`log public key: HTTP ${r.status}`);
  const spki = pemToDer(await r.text());
  return { spki, fingerprint: hex(await sha256(spki)) };
}

async function renderKeyPanel() {
  const cur = await currentPin();
  let served = null;
  try { served = await servedKey(); } catch { served = null; }
  const state = $("key-state");
  if (cur.error) {
    state.textContent = `Log key: ${cur.error}`;
    state.className = "key-state error";
  } else if (cur.pin) {
    state.textContent = `Log key pinned (${cur.source}): sha256:${cur.pin.fingerprint}`;
    state.className = "key-state pinned";
  } else {
    state.textContent = "Log key not pinned: trusting the key this server serves (trust on first use)";
    state.className = "key-state tofu";
  }
  $("served-key").textContent = served ? `This server serves key sha256:${served.fingerprint}` :
    "This server's key could not be fetched";
  $("unpin").hidden = !storedPin();
}

async function pinFrom(text) {
  const msg = $("pin-message");
  try {
    const pin = await parsePin(text);
    savePin(pin);
    msg.textContent = `Pinned sha256:${pin.fingerprint} for ${location.origin}.`;
    msg.className = "pin-message";
  } catch (e) {
    msg.textContent = `Not pinned: ${e.message}`;
    msg.className = "pin-message error";
    return;
  }
  await renderKeyPanel();
  route();
}

// ---- entry view

function kv(pairs) {
  return el("table", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, v))));
}

function pemLabel(b64pem) {
  try {
    const m = /-----BEGIN ([A-Z ]+)-----/.exec(utf8(unb64(b64pem)));
    return m ? `${m[1]} (PEM)` : "key material";
  } catch { return "key material"; }
}

// Decode a body by kind: hashedrekord 0.0.1/0.0.2, dsse 0.0.1, intoto 0.0.2.
function bodyView(body) {
  const s = body.spec || {};
  const k = `${body.kind} ${body.apiVersion}`;
  if (k === "hashedrekord 0.0.1") {
    return kv([["Artifact digest", `${s.data?.hash?.algorithm}:${s.data?.hash?.value}`],
      ["Signature", hex(unb64(s.signature?.content || ""))],
      ["Verifier", pemLabel(s.signature?.publicKey?.content || "")]]);
  }
  if (k === "hashedrekord 0.0.2") {
    const v = s.hashedRekordV002 || {};
    const ver = v.signature?.verifier || {};
    return kv([["Artifact digest", `${v.data?.algorithm}:${hex(unb64(v.data?.digest || ""))}`],
      ["Signature", hex(unb64(v.signature?.content || ""))],
      ["Key details", ver.keyDetails],
      ["Verifier", ver.x509Certificate ? "X.509 certificate (DER)" : "public key (DER)"]]);
  }
  if (k === "dsse 0.0.1") {
    return kv([["Payload hash", `${s.payloadHash?.algorithm}:${s.payloadHash?.value}`],
      ["Envelope hash", `${s.envelopeHash?.algorithm}:${s.envelopeHash?.value}`],
      ["Signatures", String((s.signatures || []).length)],
      ...(s.signatures || []).map((g, i) => [`Signature ${i + 1}`, `${hex(unb64(g.signature || ""))} by ${pemLabel(g.verifier || "")}`])]);
  }
  if (k === "intoto 0.0.2") {
    const c = s.content || {};
    const env = c.envelope || {};
    return kv([["Payload type", env.payloadType],
      ["Payload hash", `${c.payloadHash?.algorithm}:${c.payloadHash?.value}`],
      ["Envelope hash", `${c.hash?.algorithm}:${c.hash?.value}`],
      ["Signatures", String((env.signatures || []).length)],
      ...(env.signatures || []).map((g, i) => [`Signature ${i + 1}`, `${g.keyid ? `keyid ${g.keyid}, ` : ""}${pemLabel(g.publicKey || "")}`])]);
  }
  return el("p", {}, `Entry kind ${k} is shown raw below.`);
}

function certView(s, i) {
  const parts = [el("h3", {}, `Signer ${i + 1}`)];
  if (s.certificateError) parts.push(el("p", { class: "status error" }, `Certificate does not decode: ${s.certificateError}`));
  if (s.keyFingerprint) parts.push(kv([["Key fingerprint (SHA-256 of SPKI)", s.keyFingerprint]]));
  const c = s.certificate;
  if (c) {
    parts.push(kv([["Subject alternative names", c.sans.join(", ")],
      ["OIDC issuer", c.oidcIssuer],
      ["Subject", c.subject], ["Issuer", c.issuer], ["Serial", c.serial],
      ["Valid", `${fmtTime(c.notBefore)} to ${fmtTime(c.notAfter)}`],
      ["Certificate SHA-256", c.sha256]]));
    if (c.extensions.length) {
      parts.push(el("h3", {}, "Fulcio extensions"),
        el("table", { class: "kv fulcio" }, c.extensions.map((x) =>
          el("tr", {}, el("th", {}, x.name, el("br"), el("span", { class: "mono" }, x.oid)), el("td", { class: "mono" }, x.value)))));
    }
  }
  return parts;
}

async function openEntry(index) {
  hideAll();
  status(`Loading entry ${index} …`);
  let details, v1, served;
  try {
    [details, v1, served] = await Promise.all([
      getJSON(`/api/explorer/entry/${index}`),
      getJSON(`/api/v1/log/entries?logIndex=${index}`),
      servedKey(),
    ]);
  } catch (e) {
    status(`Cannot load entry ${index}: ${e.message}`, true);
    return;
  }
  $("status").hidden = true;
  const [entryId] = Object.keys(v1);
  const le = v1[entryId];
  let body = null;
  let bodyBytes = null;
  try {
    bodyBytes = unb64(le.body);
    body = JSON.parse(utf8(bodyBytes));
  } catch (e) {
    body = null;
  }
  const verdict = el("div", { id: "verdict", class: "verdict pending", "data-state": "pending" }, "Verifying in your browser …");
  const steps = el("ol", { class: "steps", id: "steps" });
  const keyNotice = el("p", { id: "key-notice", class: "key-notice" });
  const share = `${location.origin}/explorer#/entry/${details.index}`;
  show("entry",
    el("h2", {}, `Entry ${details.index} `, el("span", { class: "tag" }, `${details.kind} ${details.version}`)),
    verdict, steps, keyNotice,
    el("h3", {}, "Entry"),
    kv([["Log index", String(details.index)], ["UUID", details.uuid], ["Entry ID", details.entryId],
      ["Integrated", fmtTime(details.integratedTime)], ["Identity", details.identity],
      ["Signed digest", details.digest], ["Link", el("a", { href: share, id: "share" }, share)]]),
    el("h3", {}, "Body"),
    body ? bodyView(body) : el("p", { class: "status error" }, "The body is not JSON."),
    details.signers.flatMap(certView),
    el("details", {}, el("summary", {}, "Raw body and proof"),
      el("pre", {}, body ? JSON.stringify(body, null, 2) : le.body),
      el("pre", {}, JSON.stringify(le.verification?.inclusionProof || {}, null, 2))));
  const ok = (msg) => steps.append(el("li", { class: "ok" }, msg));
  try {
    await verify(le, bodyBytes, details, served, keyNotice, ok);
    verdict.textContent = "✔ verified in your browser";
    verdict.className = "verdict ok";
    verdict.dataset.state = "ok";
  } catch (e) {
    steps.append(el("li", { class: "fail" }, e.message));
    verdict.textContent = `✘ verification failed: ${e.message}`;
    verdict.className = "verdict fail";
    verdict.dataset.state = "fail";
  }
}

// ---- verification

async function nodeHash(l, r) {
  return sha256(concat(Uint8Array.of(1), l, r));
}

// RFC 9162 §2.1.3.2: the root an inclusion proof leads to.
async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) throw new Error(`inclusion proof: index ${index} is not below tree size ${size}`);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error(`inclusion proof has ${proof.length} hashes, more than a tree of ${size} needs`);
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error(`inclusion proof has ${proof.length} hashes, too few for index ${index} in a tree of ${size}`);
  return r;
}

// A C2SP checkpoint in a signed note: text, origin, size, root and signature lines.
function parseNote(note) {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new Error("checkpoint is not a signed note (no blank line before the signatures)");
  const text = note.slice(0, cut + 1);
  const lines = text.split("\n");
  if (lines.length < 4) throw new Error("checkpoint has fewer than 3 lines");
  const size = lines[1];
  if (!/^(0|[1-9]\d*)$/.test(size)) throw new Error(`checkpoint tree size ${JSON.stringify(size)} is not a decimal number`);
  const sigs = note.slice(cut + 2).split("\n").filter((l) => l !== "").map((l) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(l);
    if (!m) throw new Error(`checkpoint signature line ${JSON.stringify(l)} is malformed`);
    const raw = unb64(m[2]);
    if (raw.length < 5) throw new Error(`checkpoint signature by ${m[1]} is too short`);
    return { name: m[1], keyId: raw.slice(0, 4), sig: raw.slice(4) };
  });
  return { text, origin: lines[0], size: Number(size), root: unb64(lines[2]), sigs };
}

const ED25519_SPKI = unhex("302a300506032b6570032100");
const P256_SPKI = unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200");

// ASN.1 ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) to WebCrypto's r || s.
function ecdsaDerToRaw(der, n) {
  let o = 0;
  const byte = () => {
    if (o >= der.length) throw new Error("ECDSA signature: truncated DER");
    return der[o++];
  };
  const len = () => {
    let l = byte();
    if (l & 0x80) {
      const k = l & 0x7f;
      if (k < 1 || k > 2) throw new Error("ECDSA signature: bad DER length");
      l = 0;
      for (let i = 0; i < k; i++) l = (l << 8) | byte();
    }
    return l;
  };
  if (byte() !== 0x30) throw new Error("ECDSA signature: not a DER SEQUENCE");
  if (len() !== der.length - o) throw new Error("ECDSA signature: DER length mismatch");
  const int = () => {
    if (byte() !== 0x02) throw new Error("ECDSA signature: expected an INTEGER");
    const l = len();
    let v = der.slice(o, o + l);
    o += l;
    while (v.length > n && v[0] === 0) v = v.slice(1);
    if (v.length > n) throw new Error("ECDSA signature: integer too large");
    return concat(new Uint8Array(n - v.length), v);
  };
  const r = int(), s = int();
  if (o !== der.length) throw new Error("ECDSA signature: trailing bytes");
  return concat(r, s);
}

async function verifyNoteSignature(cp, spki) {
  const text = enc.encode(cp.text);
  if (spki.length === 44 && equal(spki.slice(0, 12), ED25519_SPKI)) {
    const pub = spki.slice(12);
    const want = (await sha256(concat(enc.encode(cp.origin), Uint8Array.of(0x0a, 0x01), pub))).slice(0, 4);
    const line = cp.sigs.find((s) => s.name === cp.origin && equal(s.keyId, want));
    if (!line) throw new Error(`checkpoint has no signature by the log key (name ${cp.origin}, key ID ${hex(want)}); it has ${cp.sigs.map((s) => `${s.name}+${hex(s.keyId)}`).join(", ") || "none"}`);
    let key;
    try {
      key = await crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new Error(`this browser cannot verify Ed25519 with WebCrypto (${e.message})`);
    }
    if (!await crypto.subtle.verify({ name: "Ed25519" }, key, line.sig, text)) {
      throw new Error(`checkpoint signature does not verify with the log's Ed25519 key ${hex(want)}`);
    }
    return `Ed25519 key ${cp.origin}+${hex(want)}`;
  }
  if (spki.length === 91 && equal(spki.slice(0, 26), P256_SPKI)) {
    const want = (await sha256(spki)).slice(0, 4);
    const line = cp.sigs.find((s) => equal(s.keyId, want));
    if (!line) throw new Error(`checkpoint has no signature by the log key (key ID ${hex(want)}); it has ${cp.sigs.map((s) => `${s.name}+${hex(s.keyId)}`).join(", ") || "none"}`);
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    if (!await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, ecdsaDerToRaw(line.sig, 32), text)) {
      throw new Error(`checkpoint signature does not verify with the log's ECDSA P-256 key ${hex(want)}`);
    }
    return `ECDSA P-256 key ${line.name}+${hex(want)}`;
  }
  throw new Error("the log's public key is neither Ed25519 nor ECDSA P-256");
}

async function verify(le, bodyBytes, details, served, keyNotice, ok) {
  if (!bodyBytes) throw new Error("entry body is not base64");
  const leaf = await sha256(concat(Uint8Array.of(0), bodyBytes));
  if (hex(leaf) !== details.uuid) {
    throw new Error(`entry body does not hash to its UUID: computed leaf hash ${hex(leaf)}, UUID is ${details.uuid}`);
  }
  ok(`leaf hash SHA-256(0x00 ‖ body) = ${hex(leaf)} matches the UUID`);
  const p = le.verification?.inclusionProof;
  if (!p) throw new Error("the log returned no inclusion proof");
  if (p.logIndex !== details.index) throw new Error(`inclusion proof is for index ${p.logIndex}, not ${details.index}`);
  const proof = (p.hashes || []).map(unhex);
  const root = await rootFromInclusion(p.logIndex, p.treeSize, leaf, proof);
  ok(`inclusion proof (${proof.length} hashes, tree size ${p.treeSize}) computes root ${hex(root)}`);
  const cp = parseNote(p.checkpoint || "");
  const cur = await currentPin();
  if (cur.error) throw new Error(`checkpoint key: ${cur.error}`);
  if (!cur.pin) {
    const by = await verifyNoteSignature(cp, served.spki);
    ok(`checkpoint "${cp.origin}" signature verified with the ${by} (SHA-256 of the key: ${served.fingerprint}, as served by this log)`);
    keyNotice.textContent = `Key not pinned: the log key came from this server itself (trust on first use), fingerprint sha256:${served.fingerprint}. ` +
      "A server that lies would pass this check: pin the key from your trusted root in the Log key panel, or open this page with ?key=<fingerprint>.";
    keyNotice.className = "key-notice tofu";
  } else {
    const pinned = cur.pin.fingerprint;
    if (pinned !== served.fingerprint) {
      let signer = `key ${served.fingerprint}`;
      try { await verifyNoteSignature(cp, served.spki); } catch { signer = `no key this server serves (it serves ${served.fingerprint})`; }
      throw new Error(`checkpoint signed by ${signer}, pinned key ${pinned}: the log's key is not the one you pinned`);
    }
    // The pinned key's own bytes when the pin has them (a fingerprint pin is met by the
    // served key only if it hashes to the pinned fingerprint, checked above).
    const spki = cur.pin.spki ? unb64(cur.pin.spki) : served.spki;
    if (hex(await sha256(spki)) !== pinned) throw new Error(`the stored pin is corrupt: its key does not hash to ${pinned}`);
    const by = await verifyNoteSignature(cp, spki);
    ok(`checkpoint "${cp.origin}" signature verified with the pinned ${by} (sha256:${pinned}, ${cur.source})`);
    keyNotice.textContent = `Key pinned (${cur.source}): sha256:${pinned}; this server's key matches it.`;
    keyNotice.className = "key-notice pinned";
  }
  if (cp.size !== p.treeSize) throw new Error(`inclusion proof is for tree size ${p.treeSize}, checkpoint says ${cp.size}`);
  if (!equal(root, cp.root)) {
    throw new Error(`inclusion proof does not lead to the checkpoint root: computed ${hex(root)}, checkpoint says ${hex(cp.root)}`);
  }
  ok(`computed root equals the signed checkpoint's root for tree size ${cp.size}`);
}

// ---- start

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (q) go(`#/search/${encodeURIComponent(q)}`);
});
window.addEventListener("hashchange", route);
$("pin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  pinFrom($("pin-input").value);
});
$("pin-served").addEventListener("click", async () => {
  try {
    const k = await servedKey();
    await pinFrom(btoa(String.fromCharCode(...k.spki)));
  } catch (e) {
    $("pin-message").textContent = `Not pinned: ${e.message}`;
  }
});
$("unpin").addEventListener("click", async () => {
  try { savePin(null); } catch { /* nothing stored */ }
  $("pin-message").textContent = "Unpinned: the key this server serves is trusted on first use again.";
  await renderKeyPanel();
  route();
});
{
  const params = new URLSearchParams(location.search);
  if (!location.hash && params.get("index")) history.replaceState(null, "", `#/entry/${params.get("index")}`);
  else if (!location.hash && params.get("q")) history.replaceState(null, "", `#/search/${encodeURIComponent(params.get("q"))}`);
}
renderKeyPanel();
route();
