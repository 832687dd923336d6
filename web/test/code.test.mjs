import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import QRCode from 'qrcode';
import { decode } from '../src/lib/base45.js';
import { buildCode, stepAt, u32be, concat, base64urlDecode, signedMessage, CODE_PREFIX } from '../src/lib/code.js';

const subtle = globalThis.crypto.subtle;
const te = new TextEncoder();

// fakePass lays out pass bytes as CREDENTIAL.md does (the issuer signature is
// random here: the phone never looks inside the pass).
function fakePass({ sealed = false, name = '张*', idm = '1101**********1234' } = {}) {
  const nameB = te.encode(name);
  const idmB = te.encode(idm);
  const rnd = (n) => crypto.getRandomValues(new Uint8Array(n));
  const parts = [
    new Uint8Array([1, sealed ? 1 : 0]), rnd(4), rnd(16), u32be(1900000000), u32be(1800000000), u32be(1800001800),
    new Uint8Array([1, nameB.length]), nameB, new Uint8Array([idmB.length]), idmB, new Uint8Array([2]), rnd(32),
  ];
  if (sealed) parts.push(rnd(2), rnd(12), rnd(34));
  parts.push(rnd(64));
  return concat(...parts);
}

test('the step is floor(unix seconds / 60)', () => {
  assert.equal(stepAt(0), 0);
  assert.equal(stepAt(59_999), 0);
  assert.equal(stepAt(60_000), 1);
  assert.equal(stepAt(1_700_000_000_000), Math.floor(1_700_000_000 / 60));
});

test('u32be writes big-endian', () => {
  assert.deepEqual(u32be(0x01020304), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(u32be(0xffffffff), new Uint8Array([255, 255, 255, 255]));
});

test('base64url decodes with and without padding', () => {
  assert.deepEqual(base64urlDecode('-_8'), new Uint8Array([0xfb, 0xff]));
  assert.deepEqual(base64urlDecode('AQID'), new Uint8Array([1, 2, 3]));
  assert.deepEqual(base64urlDecode('AQI'), new Uint8Array([1, 2]));
});

test('a code is TID1: + Base45(pass || step || P1363 signature) and the signature verifies', async () => {
  const kp = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const pass = fakePass();
  const step = stepAt(Date.UTC(2026, 0, 15, 8, 0, 30));
  const code = await buildCode(pass, step, kp.privateKey);

  assert.ok(code.startsWith(CODE_PREFIX));
  assert.match(code.slice(5), /^[0-9A-Z $%*+\-./:]+$/, 'only the QR alphanumeric set');
  const raw = decode(code.slice(CODE_PREFIX.length));
  assert.equal(raw.length, pass.length + 4 + 64);
  assert.deepEqual(raw.slice(0, pass.length), pass);
  const stepBytes = raw.slice(pass.length, pass.length + 4);
  assert.equal(new DataView(stepBytes.buffer, stepBytes.byteOffset).getUint32(0, false), step);
  const sig = raw.slice(pass.length + 4);

  // The signed message is "tempid-code-v1" || pass || step.
  const msg = concat(te.encode('tempid-code-v1'), pass, u32be(step));
  assert.deepEqual(signedMessage(pass, step), msg);
  assert.ok(await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, kp.publicKey, sig, msg), 'WebCrypto verifies');

  // And an independent verifier reading r || s (IEEE P1363), as the Go server does.
  const jwk = await subtle.exportKey('jwk', kp.publicKey);
  const pub = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  assert.ok(nodeVerify('sha256', msg, { key: pub, dsaEncoding: 'ieee-p1363' }, sig), 'node:crypto verifies P1363');
  assert.ok(!nodeVerify('sha256', signedMessage(pass, step + 1), { key: pub, dsaEncoding: 'ieee-p1363' }, sig), 'another step does not verify');
});

test('the QR stays within the versions CREDENTIAL.md allows (alphanumeric, level M)', async () => {
  const kp = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  for (const [sealed, maxVersion] of [[false, 11], [true, 13]]) {
    const code = await buildCode(fakePass({ sealed, name: '欧阳**' }), 29_000_000, kp.privateKey);
    const qr = QRCode.create([{ data: code, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M' });
    assert.ok(qr.version <= maxVersion, `sealed=${sealed}: version ${qr.version} > ${maxVersion}`);
    assert.equal(qr.segments.length, 1);
    assert.equal(qr.segments[0].mode.id, 'Alphanumeric');
  }
});
