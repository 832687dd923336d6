import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, del, setCsrf, onAuthLost, postIdempotent, newIdempotencyKey, ApiError } from '../src/lib/api.js';

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


// fakeFetch answers the calls in turn from answers: a Response, or an
// Error to throw (the network failed); it records each request.
function fakeFetch(answers) {
  const calls = [];
  globalThis.fetch = async (path, init) => {
    calls.push({ path, key: init.headers['Idempotency-Key'], body: init.body });
    const a = answers[calls.length - 1];
    if (a instanceof Error) throw a;
    return a;
  };
  return calls;
}

const problem = (status, code, headers = {}) =>
  new Response(JSON.stringify({ status, code, detail: code }), { status, headers: { 'Content-Type': 'application/problem+json', ...headers } });
const created = () => new Response(JSON.stringify({ certificate: { id: 'c1' } }), { status: 201 });
const noWait = async () => {};

test('an Idempotency-Key is 1–64 characters of [A-Za-z0-9_-], fresh each time', () => {
  const a = newIdempotencyKey();
  assert.match(a, /^[A-Za-z0-9_-]{1,64}$/);
  assert.notEqual(a, newIdempotencyKey());
});

test('after a network error and a 503 the same request is sent again with the same key', async () => {
  const calls = fakeFetch([new TypeError('Failed to fetch'), problem(503, 'unavailable', { 'Retry-After': '1' }), problem(409, 'request_in_progress'), created()]);
  const waits = [];
  const res = await postIdempotent('/api/v1/certificates', { face_check_id: 'f' }, { wait: async (ms) => waits.push(ms) });
  assert.equal(res.certificate.id, 'c1');
  assert.equal(calls.length, 4);
  assert.ok(calls[0].key);
  for (const c of calls) {
    assert.equal(c.key, calls[0].key);
    assert.equal(c.body, calls[0].body);
  }
  assert.equal(waits[1], 1000, 'Retry-After is honoured');
});

test('a refusal is not retried, and retries stop after the attempts', async () => {
  let calls = fakeFetch([problem(409, 'face_check_used'), created()]);
  await assert.rejects(postIdempotent('/x', {}, { wait: noWait }), (e) => e instanceof ApiError && e.code === 'face_check_used');
  assert.equal(calls.length, 1);
  calls = fakeFetch([problem(503, 'unavailable'), problem(503, 'unavailable'), created()]);
  await assert.rejects(postIdempotent('/x', {}, { attempts: 2, wait: noWait }), (e) => e.code === 'unavailable');
  assert.equal(calls.length, 2);
});

test('each application has its own key', async () => {
  const calls = fakeFetch([created(), created()]);
  await postIdempotent('/x', {}, { wait: noWait });
  await postIdempotent('/x', {}, { wait: noWait });
  assert.notEqual(calls[0].key, calls[1].key);
});
