// vouch log explorer. Everything here runs in the browser against this log's own APIs:
// /api/explorer/* (search, decoded certificates) and the Rekor v1 API (entry body, inclusion
// proof, checkpoint, log public key). The inclusion proof (RFC 6962/9162 hashing) and the
// checkpoint's signed-note signature (Ed25519 or ECDSA P-256) are verified with WebCrypto.
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

// ---- fetching

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const text = await r.text();
  let v;
  try { v = JSON.parse(text); } catch { throw new Error(`${url}: HTTP ${r.status}, not JSON`); }
  if (!r.ok) throw new Error(v.message || `${url}: HTTP ${r.status}`);
  return v;
}

// ---- routing: #/search/<q>/<page>, #/entry/<index>; ?q= and ?index= on first load

function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [what, a, b] = h.split("/");
  if (what === "entry" && /^\d+$/.test(a || "")) return openEntry(a);
  if (what === "search" && a) return runSearch(decodeURIComponent(a), parseInt(b || "1", 10) || 1);
  hideAll();
  $("help").hidden = false;
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- search

async function runSearch(q, page) {
  $("q").value = q;
  hideAll();
  status(`Searching for ${q} …`);
  let res;
  try {
    const per = parseInt(new URLSearchParams(location.search).get("perPage") || "20", 10) || 20;
    res = await getJSON(`/api/explorer/search?q=${encodeURIComponent(q)}&page=${page}&perPage=${per}`);
  } catch (e) {
    status(`Search failed: ${e.message}`, true);
    return;
  }
  status(`Searched as ${res.searchedAs.join("; ")}: ${res.total} ${res.total === 1 ? "entry" : "entries"}.`);
  if (res.total === 1 && page === 1) {
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
  const pages = Math.max(1, Math.ceil(res.total / res.perPage));
  const nav = el("div", { class: "pager" },
    page > 1 ? el("a", { href: `#/search/${encodeURIComponent(q)}/${page - 1}`, id: "prev" }, "← Previous") : null,
    `Page ${page} of ${pages}`,
    page < pages ? el("a", { href: `#/search/${encodeURIComponent(q)}/${page + 1}`, id: "next" }, "Next →") : null);
  show("results",
    el("h2", {}, `Results for ${q}`),
    el("table", { class: "results" },
      el("thead", {}, el("tr", {}, ["Index", "Kind", "UUID", "Identity", "Integrated"].map((t) => el("th", {}, t)))),
      el("tbody", {}, rows)),
    nav);
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
  let details, v1, pem;
  try {
    [details, v1, pem] = await Promise.all([
      getJSON(`/api/explorer/entry/${index}`),
      getJSON(`/api/v1/log/entries?logIndex=${index}`),
      fetch("/api/v1/log/publicKey").then((r) => {
        if (!r.ok) throw new Error(`log public key: HTTP ${r.status}`);
        return r.text();
      }),
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
  const share = `${location.origin}/explorer#/entry/${details.index}`;
  show("entry",
    el("h2", {}, `Entry ${details.index} `, el("span", { class: "tag" }, `${details.kind} ${details.version}`)),
    verdict, steps,
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
    await verify(le, bodyBytes, details, pem, ok);
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

async function verify(le, bodyBytes, details, pem, ok) {
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
  const spki = pemToDer(pem);
  const cp = parseNote(p.checkpoint || "");
  const by = await verifyNoteSignature(cp, spki);
  ok(`checkpoint "${cp.origin}" signature verified with the ${by} (SHA-256 of the key: ${hex(await sha256(spki))}, as served by this log)`);
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
  if (q) go(`#/search/${encodeURIComponent(q)}/1`);
});
window.addEventListener("hashchange", route);
{
  const params = new URLSearchParams(location.search);
  if (!location.hash && params.get("index")) history.replaceState(null, "", `#/entry/${params.get("index")}`);
  else if (!location.hash && params.get("q")) history.replaceState(null, "", `#/search/${encodeURIComponent(params.get("q"))}/1`);
}
route();
