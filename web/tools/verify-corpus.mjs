// Runs a corpus of codes and slips through the browser verifier (src/lib/verify.js)
// on Node's WebCrypto, for the conformance test in internal/verify:
//
//   node tools/verify-corpus.mjs corpus.json  →  one JSON line per case
//
// corpus.json = { trusts: {name: {issuer_keys, revoked_certificates,
//   revoked_devices, seal_keys, stale}}, cases: [{name, code, now_ms, trust, gate?}] }
// with the members in the trust bundle's text forms (CREDENTIAL.md).
import { readFile } from 'node:fs/promises';
import { verifyCode } from '../src/lib/verify.js';
import { base64urlDecode } from '../src/lib/code.js';

const corpus = JSON.parse(await readFile(process.argv[2], 'utf8'));
const subtle = globalThis.crypto.subtle;

async function trustOf(t) {
  const issuerKeys = [];
  for (const k of t.issuer_keys) {
    issuerKeys.push({
      kid: k.kid, notBefore: Date.parse(k.not_before), notAfter: Date.parse(k.not_after),
      key: await subtle.importKey('raw', base64urlDecode(k.public_key), { name: 'Ed25519' }, false, ['verify']),
    });
  }
  const sealKeys = new Map();
  for (const s of t.seal_keys) {
    sealKeys.set(parseInt(s.kid, 16), await subtle.importKey('raw', base64urlDecode(s.key), { name: 'AES-GCM' }, false, ['decrypt']));
  }
  return { issuerKeys, revokedCertificates: new Set(t.revoked_certificates), revokedDevices: new Set(t.revoked_devices), sealKeys, stale: !!t.stale };
}

const trusts = {};
for (const [name, t] of Object.entries(corpus.trusts)) trusts[name] = await trustOf(t);
for (const c of corpus.cases) {
  const v = await verifyCode(c.code, c.now_ms, trusts[c.trust], { gate: !!c.gate });
  process.stdout.write(JSON.stringify({ name: c.name, reason: v.reason, id_number: v.idNumber || '' }) + '\n');
}
