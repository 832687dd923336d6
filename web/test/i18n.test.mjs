import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dict, API_ERROR_CODES, VERIFICATION_REASONS, t, setLang } from '../src/lib/i18n.js';

test('both languages have the same keys', () => {
  assert.deepEqual(Object.keys(dict.en).sort(), Object.keys(dict.zh).sort());
});

test('every API error code and verification reason has words in both languages', () => {
  for (const lang of ['zh', 'en']) {
    for (const c of API_ERROR_CODES) assert.ok(dict[lang]['err.' + c], `${lang} err.${c}`);
    for (const r of VERIFICATION_REASONS) assert.ok(dict[lang]['reason.' + r], `${lang} reason.${r}`);
    for (const r of ['no_face', 'multiple_faces', 'unreadable_image', 'image_too_large']) assert.ok(dict[lang]['face.reason.' + r], `${lang} face.reason.${r}`);
  }
});

test('t fills in parameters and switches language', () => {
  setLang('zh');
  assert.equal(t('err.quota_exhausted', { resets_at: '2026-02-01 00:00' }), '本月申请次数已用完，2026-02-01 00:00 后可再次申请');
  assert.match(t('err.face_checks_locked'), /人工窗口/);
  setLang('en');
  assert.match(t('err.face_checks_locked'), /manual window/);
  setLang('zh');
});

test('no translated string is cut by hand: every text is a key of its own', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = new URL('../src/', import.meta.url);
  for (const app of ['passenger', 'staff', 'admin', 'lib']) {
    for (const f of await readdir(new URL(app + '/', dir))) {
      if (!f.endsWith('.js')) continue;
      const src = await readFile(new URL(app + '/' + f, dir), 'utf8');
      assert.doesNotMatch(src, /\bt\([^)]*\)\s*\.(split|slice|substring|substr)\(/, `${app}/${f} cuts a translated string`);
    }
  }
});
