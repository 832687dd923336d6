// The translation runtime of the three web apps. Chinese (zh-CN) is the
// default; English is a switch remembered in localStorage. The words are
// in one file per language (i18n/zh.js, i18n/en.js) with the same keys.
// Every visible text goes through t(), and every error code of API.md and
// every verification reason of CREDENTIAL.md has a plain-words message in
// both languages.

import zh from './i18n/zh.js';
import en from './i18n/en.js';

const STORAGE_KEY = 'tempid.lang';

/** dict is every language's words by key. */
export const dict = { zh, en };

/** Every error code of API.md's table. */
export const API_ERROR_CODES = [
  'validation_failed', 'invalid_id_number', 'unauthenticated', 'forbidden', 'csrf_failed',
  'consent_required', 'not_found', 'active_certificate_exists', 'face_check_not_passed',
  'face_check_used', 'face_check_mismatch', 'face_check_expired', 'too_large',
  'identity_mismatch', 'quota_exhausted', 'rate_limited', 'face_checks_locked', 'unavailable',
  'request_in_progress', 'idempotency_key_reused', 'traveller_limit_reached',
];

// FACE_REASONS are the reasons a face check fails (internal/face), each
// with words for the passenger.
export const FACE_REASONS = ['no_face', 'multiple_faces', 'unreadable_image', 'image_too_large', 'poor_quality',
  'face_mismatch', 'liveness_failed', 'no_registry_photo', 'identity_not_confirmed', 'provider_refused'];

/** Every verification reason of CREDENTIAL.md (online and offline). */
export const VERIFICATION_REASONS = [
  'malformed', 'unknown_key', 'bad_signature', 'wrong_purpose', 'pass_expired', 'not_yet_valid',
  'certificate_expired', 'bad_device_signature', 'code_expired', 'revoked', 'device_revoked',
  'stale_bundle', 'superseded', 'replayed',
];

let lang = 'zh';
const listeners = new Set();

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** initLang reads the remembered language. */
export function initLang() {
  const saved = storage()?.getItem(STORAGE_KEY);
  lang = saved === 'en' ? 'en' : 'zh';
  applyDocumentLang();
  return lang;
}

function applyDocumentLang() {
  if (globalThis.document) document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
}

/** getLang returns 'zh' or 'en'. */
export function getLang() {
  return lang;
}

/** setLang switches the language, remembers it and tells the listeners. */
export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  storage()?.setItem(STORAGE_KEY, lang);
  applyDocumentLang();
  for (const f of listeners) f(lang);
}

/** onLang registers f to be called when the language changes; returns the unsubscribe. */
export function onLang(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** has reports whether key is in the dictionary. */
export function has(key) {
  return key in dict.zh || key in dict.en;
}

/** t returns the text of key in the current language with {param}s filled in. */
export function t(key, params = {}) {
  const s = dict[lang][key] ?? dict.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined || params[k] === null ? m : String(params[k])));
}
