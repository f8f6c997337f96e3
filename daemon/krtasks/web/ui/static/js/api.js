// The public REST API, from the page: the session cookie goes along by itself; mutating requests add the CSRF token.

const CSRF = document.querySelector('meta[name="krtasks-csrf"]')?.content ?? '';
export const BASE = '/api/v1';

/** An answer that is not 2xx: ``status`` and the RFC 9457 problem (``detail``, ``field``, ``diagnostics``...). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

/** The login page, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/ui/login?next=${encodeURIComponent(next)}`);
}

/** fetch() an API path ("/tasks?..."); throws ApiError for an error answer (401: off to the login first). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = CSRF;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  if (response.ok) return response;
  let problem = null;
  try { problem = await response.json(); } catch { problem = { detail: response.statusText }; }
  if (response.status === 401) toLogin();
  throw new ApiError(response.status, problem);
}

/** GET a path's JSON. */
export async function getJson(path) {
  return (await api('GET', path)).json();
}

/** The API path of a task (ids may hold any character). */
export function taskPath(id) {
  return `/tasks/${encodeURIComponent(id)}`;
}

/** What to tell a person about an error. */
export function describe(error) {
  if (error instanceof ApiError) return error.problem.detail ?? error.message;
  return String(error?.message ?? error);
}
