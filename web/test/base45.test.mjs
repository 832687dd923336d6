import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode } from '../src/lib/base45.js';

const te = new TextEncoder();

test('Base45 encodes the RFC 9285 examples', () => {
  const vectors = [
    ['AB', 'BB8'],
    ['Hello!!', '%69 VD92EX0'],
    ['base-45', 'UJCLQE7W581'],
    ['ietf!', 'QED8WEX0'],
  ];
  for (const [plain, want] of vectors) {
    assert.equal(encode(te.encode(plain)), want, plain);
    assert.deepEqual(decode(want), te.encode(plain), want);
  }
});

test('Base45 encodes the empty input and the extremes of a group', () => {
  assert.equal(encode(new Uint8Array([])), '');
  assert.equal(encode(new Uint8Array([0xff, 0xff])), 'FGW');
  assert.equal(encode(new Uint8Array([0xff])), 'U5');
  assert.equal(encode(new Uint8Array([0, 0])), '000');
});

test('Base45 round-trips random bytes', () => {
  for (let n = 0; n < 64; n++) {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b);
    assert.deepEqual(decode(encode(b)), b);
  }
});

test('Base45 decoding is strict', () => {
  assert.throws(() => decode('GGW'), /above 65535/); // RFC 9285 §4.4 invalid example
  assert.throws(() => decode('A'), /single/);
  assert.throws(() => decode('bb8'), /alphabet/);
  assert.throws(() => decode(':U'), /above 255/);
});
