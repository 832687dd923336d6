// The terminal's engine, apart from its screens: pairing, the trust bundle
// (fetched with If-None-Match, its signature checked against the issuer
// keys pinned at pairing), in-browser verification (../lib/verify.js), the
// scan log in IndexedDB and its upload to POST /api/v1/terminal/scans.
//
// IndexedDB "tempid-terminal" holds:
//   kv:    'pairing' → {apiKey, pinned: [issuer key JSON], operation}
//          'bundle'  → {payload without seal_keys, etag, issuedAt (ms)}
//          'seal'    → Map(seal kid → non-extractable AES-GCM CryptoKey)
//   scans: {client_id, code, operation, verdict, reason?, scanned_at} by an
//          increasing key, so the oldest go first.
// The seal keys' bytes are imported and dropped: only CryptoKey objects
// are kept (CREDENTIAL.md, "Sealed ID number").
import { verifyCode } from '../lib/verify.js';
import { base64urlDecode, concat } from '../lib/code.js';
import { now } from '../lib/clock.js';

export const FRESHNESS_MS = 24 * 3600 * 1000;

/** SKEW_MS is the clock difference tolerated between server and terminal. */
export const SKEW_MS = 30 * 1000;

/**
 * bundleStale tells whether a bundle issued at issuedAt (ms) may no longer
 * be trusted at nowMs: older than the freshness limit, or issued later than
 * now + skew — freshness counts from issued_at, so a bundle from the
 * future would otherwise be trusted past its limit.
 */
export function bundleStale(issuedAt, nowMs) {
  return !(issuedAt <= nowMs + SKEW_MS) || nowMs - issuedAt > FRESHNESS_MS;
}
const BUNDLE_CONTEXT = new TextEncoder().encode('tempid-bundle-v1');
const BATCH = 100;
const subtle = () => globalThis.crypto.subtle;

// --- IndexedDB -------------------------------------------------------------

let dbp = null;
function db() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open('tempid-terminal', 1);
      r.onupgradeneeded = () => {
        r.result.createObjectStore('kv');
        r.result.createObjectStore('scans', { autoIncrement: true });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbp;
}

async function tx(store, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(store, mode);
    let out;
    Promise.resolve(fn(t.objectStore(store))).then((v) => { out = v; });
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('aborted'));
  });
}

const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
const kvGet = (k) => tx('kv', 'readonly', (s) => req(s.get(k)));
const kvPut = (k, v) => tx('kv', 'readwrite', (s) => { s.put(v, k); });

// --- keys and bundles ------------------------------------------------------

async function importIssuerKeys(list) {
  const out = [];
  for (const k of list) {
    try {
      out.push({
        kid: k.kid, notBefore: Date.parse(k.not_before), notAfter: Date.parse(k.not_after),
        key: await subtle().importKey('raw', base64urlDecode(k.public_key), { name: 'Ed25519' }, false, ['verify']),
      });
    } catch {
      // A key this browser cannot use verifies nothing.
    }
  }
  return out;
}

/**
 * openBundle checks an envelope's signature against signers (issuer key
 * JSON) and returns its payload, or throws.
 */
export async function openBundle(text, signers) {
  const env = JSON.parse(text);
  if (typeof env.payload !== 'string' || typeof env.kid !== 'string' || typeof env.sig !== 'string') throw new Error('not a bundle envelope');
  const payload = base64urlDecode(env.payload);
  const sig = base64urlDecode(env.sig);
  let ok = false;
  for (const k of await importIssuerKeys(signers.filter((s) => s.kid === env.kid))) {
    if (await subtle().verify({ name: 'Ed25519' }, k.key, sig, concat(BUNDLE_CONTEXT, payload))) {
      ok = true;
      break;
    }
  }
  if (!ok) throw new Error('the bundle signature does not verify under the pinned keys');
  const p = JSON.parse(new TextDecoder().decode(payload));
  for (const m of ['issued_at', 'next_update', 'issuer_keys', 'revoked_certificates', 'revoked_devices', 'seal_keys']) {
    if (!(m in p)) throw new Error('the bundle lacks ' + m);
  }
  return p;
}

// --- the terminal -----------------------------------------------------------

/** Terminal is the paired terminal's state; listeners are told of changes. */
export class Terminal {
  constructor() {
    this.pairing = null;
    this.bundle = null; // {payload, etag, issuedAt}
    this.trust = null;
    this.pending = 0;
    this.logFull = false;
    this.online = true;
    this.accepted = new Map(); // cert|step|op → ms, the codes let through
    this.listeners = new Set();
    this.backoff = 0;
  }

  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  emit() { for (const f of this.listeners) f(this); }

  async load() {
    this.pairing = (await kvGet('pairing')) || null;
    const b = await kvGet('bundle');
    if (b) await this.install(b, (await kvGet('seal')) || new Map());
    await this.countPending();
    this.emit();
  }

  /** pair checks the key with the server, pins its published issuer keys and fetches the first bundle. */
  async pair(apiKey, operation = 'entry') {
    const keys = await fetch('/.well-known/tempid/keys').then((r) => { if (!r.ok) throw new Error('keys: HTTP ' + r.status); return r.json(); });
    const who = await fetch('/api/v1/verifier', { headers: { Authorization: 'Bearer ' + apiKey } });
    if (!who.ok) throw Object.assign(new Error('key refused'), { status: who.status });
    const pairing = { apiKey, pinned: keys.keys, operation };
    await this.refresh(pairing);
    if (!this.bundle) {
      // A key without the offline grant gets no bundle: such a terminal
      // cannot verify offline, so it is not paired.
      throw Object.assign(new Error('no trust bundle for this key'), { status: 403 });
    }
    this.pairing = pairing;
    await kvPut('pairing', this.pairing);
    this.emit();
  }

  async setOperation(op) {
    this.pairing = { ...this.pairing, operation: op };
    await kvPut('pairing', this.pairing);
    this.emit();
  }

  async install(b, seal) {
    const p = b.payload;
    this.bundle = b;
    this.trust = {
      issuerKeys: await importIssuerKeys(p.issuer_keys),
      revokedCertificates: new Set(p.revoked_certificates),
      revokedDevices: new Set(p.revoked_devices),
      sealKeys: seal,
    };
  }

  ageMs() { return this.bundle ? now() - this.bundle.issuedAt : Infinity; }
  stale() { return !this.bundle || bundleStale(this.bundle.issuedAt, now()); }

  /** refresh fetches the bundle if it changed; a bundle failing its signature is refused and the old one kept. */
  async refresh(pairing = this.pairing) {
    if (!pairing) return;
    const headers = { Authorization: 'Bearer ' + pairing.apiKey };
    if (this.bundle?.etag) headers['If-None-Match'] = this.bundle.etag;
    let res;
    try {
      res = await fetch('/api/v1/trust-bundle', { headers, cache: 'no-store' });
      this.online = true;
    } catch {
      this.online = false;
      this.emit();
      return;
    }
    if (res.status === 304 || !res.ok) { this.emit(); return; }
    const text = await res.text();
    // Signers: the pinned keys and the issuer keys of the bundle in use,
    // which a pinned key vouched for (so rotation needs no new pairing).
    const signers = [...pairing.pinned, ...(this.bundle?.payload.issuer_keys || [])];
    let p;
    try {
      p = await openBundle(text, signers);
    } catch (err) {
      this.refused = String(err.message || err);
      this.emit();
      return;
    }
    const issuedAt = Date.parse(p.issued_at);
    if (this.bundle && issuedAt < this.bundle.issuedAt) { this.emit(); return; }
    const seal = new Map();
    for (const s of p.seal_keys) {
      seal.set(parseInt(s.kid, 16), await subtle().importKey('raw', base64urlDecode(s.key), { name: 'AES-GCM' }, false, ['decrypt']));
    }
    const b = { payload: { ...p, seal_keys: [] }, etag: res.headers.get('ETag') || '', issuedAt };
    await kvPut('bundle', b);
    await kvPut('seal', seal);
    await this.install(b, seal);
    this.refused = '';
    this.emit();
  }

  /** scan verifies one code and logs the verdict; it returns the verdict with the time it took. */
  async scan(text) {
    const t0 = performance.now();
    const at = now();
    const op = this.pairing.operation;
    const trust = this.trust ? { ...this.trust, stale: this.stale() } : null;
    const v = await verifyCode(text.trim(), at, trust);
    // Only a code is remembered against replay: a slip is static, and its
    // second use is never a replay (the server flags used_elsewhere).
    if (v.valid && v.code) {
      for (const [k, when] of this.accepted) if (at - when > 3 * 60 * 1000) this.accepted.delete(k);
      const key = v.code.certId + '|' + v.code.step + '|' + op;
      if (this.accepted.has(key)) {
        v.valid = false;
        v.reason = 'replayed';
      } else {
        this.accepted.set(key, at);
      }
    }
    const ms = performance.now() - t0;
    const entry = { client_id: clientId(), code: text.trim(), operation: op, verdict: v.valid ? 'valid' : 'invalid', scanned_at: new Date(at).toISOString() };
    if (!v.valid) entry.reason = v.reason;
    try {
      await tx('scans', 'readwrite', (s) => { s.add(entry); });
      this.logFull = false;
      this.pending++;
    } catch (err) {
      // A full IndexedDB (QuotaExceededError) or a broken one: keep verifying, say so.
      this.logFull = true;
    }
    this.emit();
    this.upload();
    return { ...v, operation: op, at, ms };
  }

  async countPending() {
    this.pending = await tx('scans', 'readonly', (s) => req(s.count()));
  }

  /** upload sends the log oldest first; 5xx and network errors back off, refused scans are dropped. */
  async upload() {
    if (this.uploading || !this.pairing) return;
    this.uploading = true;
    try {
      for (;;) {
        const batch = await tx('scans', 'readonly', (s) => new Promise((resolve, reject) => {
          const out = [];
          const c = s.openCursor();
          c.onsuccess = () => {
            const cur = c.result;
            if (!cur || out.length >= BATCH) return resolve(out);
            out.push({ key: cur.key, scan: cur.value });
            cur.continue();
          };
          c.onerror = () => reject(c.error);
        }));
        if (batch.length === 0) break;
        let res;
        try {
          res = await fetch('/api/v1/terminal/scans', {
            method: 'POST', headers: { Authorization: 'Bearer ' + this.pairing.apiKey, 'Content-Type': 'application/json' },
            body: JSON.stringify({ scans: batch.map((b) => b.scan) }),
          });
        } catch {
          this.online = false;
          break;
        }
        this.online = true;
        if (!res.ok) break;
        const results = (await res.json()).results || [];
        const done = new Set(results.filter((r) => r.status === 'stored' || r.status === 'duplicate' || r.status === 'refused').map((r) => r.client_id));
        await tx('scans', 'readwrite', (s) => { for (const b of batch) if (done.has(b.scan.client_id)) s.delete(b.key); });
        if (done.size === 0) break;
      }
      await this.countPending();
    } finally {
      this.uploading = false;
      this.emit();
    }
  }
}

function clientId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
