// The HTTP API v1 client of the web apps (API.md). Browser sessions use
// the cookie; every state-changing request carries the CSRF token from the
// session answer. Errors become ApiError with the problem's stable `code`.
// A session that ends under the app (a 401 while it held one) is an event,
// onAuthLost, so that no screen has to pass a callback down for it.

let csrfToken = '';
const authLost = new EventTarget();

/**
 * onAuthLost calls f when a request is answered 401 while the app held a
 * session (it expired or was ended elsewhere); returns the unsubscribe.
 * The token is forgotten first, so f is called once per session. A 401 on
 * the logout itself is not news and calls nothing.
 */
export function onAuthLost(f) {
  const h = () => f();
  authLost.addEventListener('lost', h);
  return () => authLost.removeEventListener('lost', h);
}

/** setCsrf keeps the CSRF token of the current session. */
export function setCsrf(token) {
  csrfToken = token || '';
}

/** ApiError is a failed request: status 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, code, problem = {}, retryAfter = null) {
    super(problem.detail || code);
    this.status = status;
    this.code = code;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

function codeForStatus(status) {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 413) return 'too_large';
  if (status === 429) return 'rate_limited';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status >= 500) return 'internal';
  return 'http_' + status;
}

/**
 * request sends method path with body (a plain object as JSON, or a Blob
 * sent as is) and returns the decoded JSON answer (null for 204).
 */
export async function request(method, path, body, { headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  let payload;
  if (body instanceof Blob) {
    payload = body;
    h['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', { detail: String(e && e.message) });
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const ra = res.headers.get('Retry-After');
    const retryAfter = ra && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : null;
    const problem = data && typeof data === 'object' ? data : {};
    if (res.status === 401 && csrfToken && !(method === 'DELETE' && path === '/api/v1/session')) {
      csrfToken = '';
      authLost.dispatchEvent(new Event('lost'));
    }
    throw new ApiError(res.status, problem.code || codeForStatus(res.status), problem, retryAfter);
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const del = (path) => request('DELETE', path);

/**
 * postOnce sends a request that must not take effect twice (an
 * application: API.md "Retries without issuing twice") with an
 * Idempotency-Key, and sends it again with the same key after a network
 * error or a 503, so a lost answer is fetched rather than issued again.
 */
export async function postOnce(path, body, { tries = 3 } = {}) {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  for (let i = 1; ; i++) {
    try {
      return await request('POST', path, body, { headers: { 'Idempotency-Key': key } });
    } catch (err) {
      const again = err.code === 'network' || err.status === 503 || err.code === 'request_in_progress';
      if (!again || i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
}

/** qs builds a query string from the non-empty members of params. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? '?' + s : '';
}
