// Offline verification of a code in the browser: CREDENTIAL.md's steps 1–9,
// in its reason order, with WebCrypto (Ed25519 for the issuer, ECDSA P-256
// for the device, AES-256-GCM for the sealed ID number). It is the same
// algorithm as the Go verifier (internal/verify), which a conformance test
// holds it to, reason for reason.
//
// trust = {
//   issuerKeys: [{ kid: 'hex8', key: CryptoKey (Ed25519, verify), notBefore: ms, notAfter: ms }],
//   revokedCertificates: Set of 32-hex cert ids,
//   revokedDevices: Set of 64-hex SHA-256 of compressed device keys,
//   sealKeys: Map of seal kid (number) → CryptoKey (AES-GCM, decrypt, non-extractable),
//   stale: bool (the bundle is past its freshness limit),
// }
import { decode as base45Decode } from './base45.js';
import { concat, u32be } from './code.js';

export const PREFIX = 'TID1:';
const MAX_CODE_LEN = 524; // the prefix and the Base45 of the largest pass, step and signature
const PASS_CONTEXT = new TextEncoder().encode('tempid-pass-v1');
const CODE_CONTEXT = new TextEncoder().encode('tempid-code-v1');
const MAX_PASS_SECONDS = 30 * 60;
const STEP_SECONDS = 60;
export const DEFAULT_SKEW_MS = 30 * 1000;

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * reader decodes text after its exact prefix with strict Base45 and returns
 * a cursor over the bytes — take(n), u32(), offset(), and the parts a pass
 * and a slip share: identity() (the masked name and ID, null when out of
 * range) and sealed(flags) (the sealed ID number when flag bit 0 is set) —
 * or null when the text is not of this kind. Reads past the end throw.
 */
function reader(text, prefix, maxLen) {
  if (typeof text !== 'string' || text.length > maxLen || !text.startsWith(prefix)) return null;
  let raw;
  try {
    raw = base45Decode(text.slice(prefix.length));
  } catch {
    return null;
  }
  let off = 0;
  const take = (n) => {
    if (off + n > raw.length) throw new Error('truncated');
    const b = raw.subarray(off, off + n);
    off += n;
    return b;
  };
  const u32 = () => new DataView(take(4).slice().buffer).getUint32(0, false);
  const identity = () => {
    const nameLen = take(1)[0];
    if (nameLen < 1 || nameLen > 64) return null;
    const name = new TextDecoder('utf-8', { fatal: true }).decode(take(nameLen));
    const idmLen = take(1)[0];
    if (idmLen < 1 || idmLen > 32) return null;
    const idmBytes = take(idmLen);
    if (idmBytes.some((c) => c < 0x20 || c > 0x7e)) return null;
    return { name, idMasked: String.fromCharCode(...idmBytes) };
  };
  const sealed = (flags) => {
    if (!(flags & 1)) return null;
    const kidB = take(2);
    return { kid: (kidB[0] << 8) | kidB[1], nonce: take(12).slice(), ciphertext: take(34).slice() };
  };
  return { raw, take, u32, identity, sealed, offset: () => off };
}

/**
 * parse does steps 1, 2 and 9: the exact prefix, strict Base45, a strict
 * parse of the pass with exactly a step and a signature after it, and the
 * pass's bounds. It returns the code or null (malformed).
 */
export function parse(text) {
  const r = reader(text, PREFIX, MAX_CODE_LEN);
  if (!r) return null;
  const { raw, take, u32 } = r;
  try {
    if (take(1)[0] !== 1) return null;
    const flags = take(1)[0];
    if (flags & ~1) return null;
    const issuerKid = hex(take(4));
    const certId = take(16).slice();
    const certExp = u32();
    const nbf = u32();
    const exp = u32();
    const purpose = take(1)[0];
    const who = r.identity();
    if (!who) return null;
    const { name, idMasked } = who;
    const deviceKey = take(33).slice();
    if (deviceKey[0] !== 2 && deviceKey[0] !== 3) return null;
    const sealed = r.sealed(flags);
    const bodyLen = r.offset();
    const issuerSig = take(64).slice();
    const passLen = r.offset();
    const step = u32();
    const deviceSig = take(64).slice();
    if (r.offset() !== raw.length) return null;
    // Step 9: the policy's bounds, else malformed whoever signed the pass.
    if (exp - nbf > MAX_PASS_SECONDS || exp > certExp) return null;
    return {
      body: raw.slice(0, bodyLen), pass: raw.slice(0, passLen), issuerSig, step, deviceSig,
      issuerKid, certId: hex(certId), certIdBytes: certId, certExp, nbf, exp, purpose,
      nameMasked: name, idMasked, deviceKey, sealed,
    };
  } catch {
    return null;
  }
}

// P-256 domain parameters, to decompress a device key (WebCrypto imports
// uncompressed points only).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function modPow(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

const toBig = (b) => BigInt('0x' + (hex(b) || '0'));
const fromBig = (n) => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
};

/** decompress returns the 65-byte uncompressed point of a compressed one, or null. */
export function decompress(c) {
  const x = toBig(c.subarray(1));
  if (x >= P) return null;
  const rhs = (((x * x) % P) * x - 3n * x + B) % P;
  const y2 = (rhs + P) % P;
  let y = modPow(y2, (P + 1n) / 4n, P);
  if ((y * y) % P !== y2) return null;
  if (Number(y & 1n) !== (c[0] & 1)) y = (P - y) % P;
  return concat(Uint8Array.of(4), fromBig(x), fromBig(y));
}

/**
 * issuerCheck is step 3 for passes and slips alike: the signature must
 * verify under a trusted issuer key with this kid whose signing window
 * holds atMs (pass_nbf, or the slip's issued_at). It answers
 * 'unknown_key', 'bad_signature', or null when signed.
 */
async function issuerCheck(trust, kid, atMs, sig, signed, subtle) {
  const candidates = (trust.issuerKeys || []).filter((k) => k.kid === kid && atMs >= k.notBefore && atMs <= k.notAfter);
  if (candidates.length === 0) return 'unknown_key';
  for (const k of candidates) {
    try {
      if (await subtle.verify({ name: 'Ed25519' }, k.key, sig, signed)) return null;
    } catch {
      // A key WebCrypto cannot use verifies nothing.
    }
  }
  return 'bad_signature';
}

/**
 * verifyCode checks text at nowMs against trust and returns
 * { valid, reason, kind, code?, slip?, idNumber? }: the first failure in
 * CREDENTIAL.md's reason order, or valid. A slip (TIDS1:) is verified by
 * verifySlip (kind 'slip'; with gate set, a valid one is staffed_lane). code (the parsed fields) is set for every
 * failure after malformed and stale_bundle, so staff see whose code
 * failed; idNumber only for a valid code with a sealed ID and its seal key.
 */
export async function verifyCode(text, nowMs, trust, { skewMs = DEFAULT_SKEW_MS, subtle = globalThis.crypto.subtle, gate = false } = {}) {
  if (typeof text === 'string' && text.startsWith(SLIP_PREFIX)) return verifySlip(text, nowMs, trust, { skewMs, subtle, gate });
  const c = parse(text);
  if (!c) return { valid: false, reason: 'malformed', kind: 'code' };
  if (!trust || trust.stale) return { valid: false, reason: 'stale_bundle', kind: 'code' };
  const fail = (reason) => ({ valid: false, reason, kind: 'code', code: c });

  // Step 3: every key with the kid whose signing window holds pass_nbf.
  const nbfMs = c.nbf * 1000;
  const issuerFailure = await issuerCheck(trust, c.issuerKid, nbfMs, c.issuerSig, concat(PASS_CONTEXT, c.body), subtle);
  if (issuerFailure) return fail(issuerFailure);

  if (c.purpose !== 1) return fail('wrong_purpose');

  // Step 6: the device signature, P1363 r || s as the wire carries it.
  let deviceOK = false;
  const point = decompress(c.deviceKey);
  if (point) {
    try {
      const key = await subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      deviceOK = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, c.deviceSig, concat(CODE_CONTEXT, c.pass, u32be(c.step)));
    } catch {
      deviceOK = false;
    }
  }
  if (!deviceOK) return fail('bad_device_signature');

  // Step 8, before the times: a retry cannot change a revocation.
  if (trust.revokedCertificates?.has(c.certId)) return fail('revoked');
  const deviceHash = hex(new Uint8Array(await subtle.digest('SHA-256', c.deviceKey)));
  if (trust.revokedDevices?.has(deviceHash)) return fail('device_revoked');

  // Step 5: the certificate, then the pass, then its start.
  if (nowMs > c.certExp * 1000 + skewMs) return fail('certificate_expired');
  if (nowMs > c.exp * 1000 + skewMs) return fail('pass_expired');
  if (nowMs < nbfMs - skewMs) return fail('not_yet_valid');

  // Step 7: the code of step s lives from 60·s − skew to 60·(s+1) + skew.
  const start = c.step * STEP_SECONDS * 1000;
  if (nowMs < start - skewMs || nowMs > start + STEP_SECONDS * 1000 + skewMs) return fail('code_expired');

  const out = { valid: true, reason: 'valid', kind: 'code', code: c };
  const id = await unseal(c, trust, subtle);
  if (id) out.idNumber = id;
  return out;
}

// unseal opens the sealed ID number of a pass or a slip with the trust's
// seal key; a seal key mismatch leaves the masked fields, as in Go.
async function unseal(c, trust, subtle) {
  if (!c.sealed || !trust.sealKeys?.has(c.sealed.kid)) return '';
  try {
    const plain = await subtle.decrypt({ name: 'AES-GCM', iv: c.sealed.nonce, additionalData: c.certIdBytes, tagLength: 128 },
      trust.sealKeys.get(c.sealed.kid), c.sealed.ciphertext);
    return new TextDecoder().decode(plain);
  } catch {
    return '';
  }
}

export const SLIP_PREFIX = 'TIDS1:';
const SLIP_CONTEXT = new TextEncoder().encode('tempid-slip-v1');
// The prefix and the Base45 of the largest slip: a 37-byte fixed body, a
// 64-byte name, a 32-byte masked ID, a 48-byte sealed ID and the signature.
const MAX_SLIP_LEN = SLIP_PREFIX.length + Math.floor(245 / 2) * 3 + (245 % 2) * 2;
const MAX_SLIP_SECONDS = 24 * 60 * 60;

/**
 * parseSlip parses a paper slip (CREDENTIAL.md, "Paper certificate (slip),
 * v1") strictly: the exact prefix, strict Base45, version 1, no unknown flag
 * bits, issued_at < cert_exp <= issued_at + 24 h, a known channel, a station
 * of three capital letters, lengths in range, and exactly a signature after
 * the body. It returns the slip or null (malformed).
 */
export function parseSlip(text) {
  const r = reader(text, SLIP_PREFIX, MAX_SLIP_LEN);
  if (!r) return null;
  const { raw, take, u32 } = r;
  try {
    if (take(1)[0] !== 1) return null;
    const flags = take(1)[0];
    if (flags & ~1) return null;
    const issuerKid = hex(take(4));
    const certId = take(16).slice();
    const issuedAt = u32();
    const certExp = u32();
    if (certExp <= issuedAt || certExp > issuedAt + MAX_SLIP_SECONDS) return null;
    const purpose = take(1)[0];
    const channel = take(1)[0];
    if (channel !== 1 && channel !== 2) return null;
    const stationBytes = take(3);
    if (stationBytes.some((c) => c < 0x41 || c > 0x5a)) return null;
    const station = String.fromCharCode(...stationBytes);
    const who = r.identity();
    if (!who) return null;
    const { name, idMasked } = who;
    const sealed = r.sealed(flags);
    const bodyLen = r.offset();
    const issuerSig = take(64).slice();
    if (r.offset() !== raw.length) return null;
    return {
      body: raw.slice(0, bodyLen), issuerSig, issuerKid, certId: hex(certId), certIdBytes: certId,
      issuedAt, certExp, purpose, channel, station, nameMasked: name, idMasked, sealed,
    };
  } catch {
    return null;
  }
}

/**
 * verifySlip checks a slip at nowMs, in the reason order: malformed →
 * stale_bundle → unknown_key, bad_signature (the key valid at issued_at,
 * the slip's own signing context) → wrong_purpose → staffed_lane (at a
 * fixed gate) → revoked → certificate_expired, not_yet_valid. No device
 * signature, no step: a slip is never a replay. It answers as verifyCode
 * does, with the parsed slip in slip and kind 'slip'.
 */
export async function verifySlip(text, nowMs, trust, { skewMs = DEFAULT_SKEW_MS, subtle = globalThis.crypto.subtle, gate = false } = {}) {
  const s = parseSlip(text);
  if (!s) return { valid: false, reason: 'malformed', kind: 'slip' };
  if (!trust || trust.stale) return { valid: false, reason: 'stale_bundle', kind: 'slip' };
  const fail = (reason) => ({ valid: false, reason, kind: 'slip', slip: s });

  const issuedMs = s.issuedAt * 1000;
  const issuerFailure = await issuerCheck(trust, s.issuerKid, issuedMs, s.issuerSig, concat(SLIP_CONTEXT, s.body), subtle);
  if (issuerFailure) return fail(issuerFailure);
  if (s.purpose !== 1) return fail('wrong_purpose');
  if (gate) return fail('staffed_lane');
  if (trust.revokedCertificates?.has(s.certId)) return fail('revoked');
  if (nowMs > s.certExp * 1000 + skewMs) return fail('certificate_expired');
  if (nowMs < issuedMs - skewMs) return fail('not_yet_valid');

  const out = { valid: true, reason: 'valid', kind: 'slip', slip: s };
  const id = await unseal(s, trust, subtle);
  if (id) out.idNumber = id;
  return out;
}
