import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, del, setCsrf, onAuthLost } from '../src/lib/api.js';

function answer401() {
  globalThis.fetch = async () => new Response(JSON.stringify({ code: 'unauthenticated' }), { status: 401, headers: { 'Content-Type': 'application/problem+json' } });
}

test('a 401 while a session is held is onAuthLost, once', async () => {
  answer401();
  let lost = 0;
  const off = onAuthLost(() => lost++);
  setCsrf('token');
  await assert.rejects(get('/api/v1/quota'), { status: 401, code: 'unauthenticated' });
  await assert.rejects(get('/api/v1/quota'), { status: 401 });
  assert.equal(lost, 1);
  off();
});

test('a 401 without a session, or on the logout itself, is not onAuthLost', async () => {
  answer401();
  let lost = 0;
  const off = onAuthLost(() => lost++);
  setCsrf('');
  await assert.rejects(get('/api/v1/session'), { status: 401 });
  setCsrf('token');
  await assert.rejects(del('/api/v1/session'), { status: 401 });
  assert.equal(lost, 0);
  off();
});
