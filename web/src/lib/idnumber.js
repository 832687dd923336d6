// Client-side check of an 18-character resident ID number (GB 11643-1999),
// the same rules the server applies, so a typo is shown in place before any
// face check is started. The server stays the authority.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';
// Province-level prefixes in force (GB/T 2260), plus 71/81/82 (Taiwan, Hong
// Kong, Macao) and 83 (residence permits); the server decides the policy.
const PROVINCES = new Set([
  11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
  50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
]);

/** normalize folds full-width digits and X, lowercase x and surrounding spaces. */
export function normalize(s) {
  return String(s ?? '')
    .replace(/[\uFF10-\uFF19]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 48))
    .replace(/[\uFF38\uFF58]/g, 'X')
    .replace(/^[\s\u3000]+|[\s\u3000]+$/g, '')
    .toUpperCase();
}

/** checkChar returns the ISO 7064 MOD 11-2 check character of 17 digits. */
export function checkChar(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i];
  return CHECK[sum % 11];
}

/**
 * validate returns null when s is a valid ID number, or the reason it is not:
 * 'empty', 'length', 'format', 'region', 'birth_date', 'check'.
 * todayMs bounds the birth date (it may not be in the future).
 */
export function validate(s, todayMs = Date.now()) {
  const id = normalize(s);
  if (id === '') return 'empty';
  if (id.length !== 18) return 'length';
  if (!/^\d{17}[\dX]$/.test(id)) return 'format';
  if (!PROVINCES.has(Number(id.slice(0, 2)))) return 'region';
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = Date.UTC(y, m - 1, d);
  const date = new Date(birth);
  if (
    y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d ||
    birth > todayMs + 8 * 3600 * 1000
  ) {
    return 'birth_date';
  }
  if (checkChar(id) !== id[17]) return 'check';
  return null;
}
