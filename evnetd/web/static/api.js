// The one way the pages talk to the service: JSON under /api/v1, the session cookie, and the CSRF
// token (X-CSRF-Token) on every request that changes something. The token lives only in memory:
// a reload asks /api/v1/session for it again.

export const BASE = '/api/v1';
let csrfToken = null;

/** A refused request: `status` is the HTTP status; a 400 carries the `field` and `rule` it broke. */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.field = body?.field ?? null;
    this.rule = body?.rule ?? null;
    this.retryAfter = retryAfter;
  }
}

/** Any 401 means the session is gone (expired, logged out elsewhere): the app shows the login. */
const expired = () => window.dispatchEvent(new Event('evnet:unauthorized'));

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE + path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    if (response.status === 401 && path !== '/login') expired();
    const retry = response.headers.get('Retry-After');
    throw new ApiError(response.status, typeof data === 'object' ? data : { error: data || response.statusText },
      retry === null ? null : Number(retry));
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** Who am I: resolves to the session (and keeps its CSRF token), or null when not logged in. */
export async function loadSession() {
  try {
    const session = await get('/session');
    csrfToken = session.csrf_token;
    return session;
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

export async function login(pin) {
  const answer = await request('POST', '/login', { pin });
  csrfToken = answer.csrf_token;
  return answer;
}

export async function logout() {
  try {
    await post('/logout');
  } finally {
    csrfToken = null;
  }
}
