// The Tasks page's query, and its first page requested as soon as the page starts loading: this module is
// loaded with `async`, so the request does not wait for the table's code, the DOM or the other modules.
import { api } from './api.js';

export const FILTERS = ['State', 'Language', 'Name', 'ParentId', 'CreatedAfter', 'CreatedBefore'];
export const DEFAULTS = { Sort: 'created', Order: 'desc', Limit: '50', Cursor: '', Page: '1' };

/** The page's state from a query string: the filters plus Sort, Order, Limit, Cursor and Page. */
export function readState(search) {
  const params = new URLSearchParams(search);
  const state = {};
  for (const name of FILTERS) state[name] = params.get(name) ?? '';
  for (const [name, fallback] of Object.entries(DEFAULTS)) state[name] = params.get(name) || fallback;
  return state;
}

/** The API path that lists what ``state`` shows (Page is the page's own; the API needs only the cursor). */
export function listPath(state) {
  const params = new URLSearchParams();
  for (const name of [...FILTERS, 'Sort', 'Order', 'Limit', 'Cursor']) if (state[name]) params.set(name, state[name]);
  return `/tasks?${params}`;
}

/** The response for the address the page was opened with (or the error it met). */
export const firstPage = api('GET', listPath(readState(location.search))).then(
  (response) => ({ response }),
  (error) => ({ error }),
);
