// Building the rotating QR code from a pass (CREDENTIAL.md):
//   code       = "TID1:" || Base45(pass || step || device_sig)
//   step       = u32 big-endian floor(unix_seconds / 60)
//   device_sig = ECDSA-P256-SHA256(device key, "tempid-code-v1" || pass || step),
//                IEEE P1363 r || s (64 bytes), which is what WebCrypto returns.
import { encode } from './base45.js';

export const CODE_PREFIX = 'TID1:';
export const STEP_SECONDS = 60;
const CONTEXT = new TextEncoder().encode('tempid-code-v1');

/** stepAt returns the 60-second step that the time ms (Unix milliseconds) falls in. */
export function stepAt(ms, stepSeconds = STEP_SECONDS) {
  return Math.floor(ms / 1000 / stepSeconds);
}

/** u32be returns n as 4 big-endian bytes. */
export function u32be(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, false);
  return b;
}

/** concat joins byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** base64urlDecode returns the bytes of base64url text (padding optional). */
export function base64urlDecode(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** signedMessage returns the bytes the device signs for one step. */
export function signedMessage(passBytes, step) {
  return concat(CONTEXT, passBytes, u32be(step));
}

/**
 * buildCode returns the code text for passBytes at step, signed with the
 * device's private key (a non-extractable WebCrypto ECDSA P-256 key).
 */
export async function buildCode(passBytes, step, privateKey, subtle = globalThis.crypto.subtle) {
  const sig = new Uint8Array(
    await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, signedMessage(passBytes, step)),
  );
  if (sig.length !== 64) throw new Error('device signature is not 64 bytes');
  return CODE_PREFIX + encode(concat(passBytes, u32be(step), sig));
}
