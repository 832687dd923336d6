// RFC 9285 Base45: the 45 characters of QR's alphanumeric mode, so a
// credential fits that compact mode and a keyboard-wedge scanner types it
// unchanged.

export const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** encode returns the Base45 text of the bytes b (a Uint8Array). */
export function encode(b) {
  let out = '';
  let i = 0;
  for (; i + 1 < b.length; i += 2) {
    const n = (b[i] << 8) | b[i + 1];
    out += ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45) % 45] + ALPHABET[Math.floor(n / 2025)];
  }
  if (i < b.length) {
    const n = b[i];
    out += ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45)];
  }
  return out;
}

/**
 * decode returns the bytes that s encodes, strictly: characters outside the
 * alphabet, a group above 65535, a tail above 255 and a single trailing
 * character are refused with an Error.
 */
export function decode(s) {
  if (s.length % 3 === 1) throw new Error('base45: single trailing character');
  const out = new Uint8Array(Math.floor(s.length / 3) * 2 + (s.length % 3 === 2 ? 1 : 0));
  const v = (c) => {
    const x = ALPHABET.indexOf(c);
    if (x < 0) throw new Error('base45: character outside the alphabet');
    return x;
  };
  let o = 0;
  let i = 0;
  for (; i + 2 < s.length; i += 3) {
    const n = v(s[i]) + v(s[i + 1]) * 45 + v(s[i + 2]) * 2025;
    if (n > 0xffff) throw new Error('base45: group above 65535');
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  }
  if (i < s.length) {
    const n = v(s[i]) + v(s[i + 1]) * 45;
    if (n > 0xff) throw new Error('base45: tail above 255');
    out[o++] = n;
  }
  return out;
}
