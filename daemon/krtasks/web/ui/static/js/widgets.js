// Pieces shared by the pages: state badges, progress bars, the JSON view, code with line numbers, the confirm
// dialog, toasts and the live indicator.
import { append, byId, h, setText } from './dom.js';

export const STATES = ['NotStarted', 'Queued', 'Running', 'Stopping', 'Completed', 'Failed', 'Stopped'];
const LABELS = { NotStarted: 'Not started' };
export const FINISHED = new Set(['Completed', 'Failed', 'Stopped']);
export const ACTIVE = new Set(['Queued', 'Running', 'Stopping']);

/**
 * True when ``next`` is an older view of the task ``current`` shows: the same task (same CreatedAt) at an
 * earlier step of NotStarted → Queued → Running → Stopping → finished. States only move forward, so a record
 * that comes late (the answer to a start that the server-wide feed has overtaken) must not undo a newer one.
 */
export function isOlder(next, current) {
  if (!current || current.Id !== next.Id || current.CreatedAt !== next.CreatedAt) return false;
  const step = (state) => (FINISHED.has(state) ? 4 : ['NotStarted', 'Queued', 'Running', 'Stopping'].indexOf(state));
  return step(next.State) < step(current.State);
}

/** What a task in this state allows: start, cancel, remove. */
export function allowed(state) {
  return {
    start: state === 'NotStarted',
    cancel: !FINISHED.has(state) && state !== 'Stopping',
    remove: FINISHED.has(state) || state === 'NotStarted',
  };
}

function stateClass(state) {
  return STATES.includes(state) ? `state-${state}` : '';
}

export function stateLabel(state) {
  return LABELS[state] ?? state;
}

/** A badge for a state. */
export function stateBadge(state) {
  return h('span', { class: `badge ${stateClass(state)}`, dataset: { state } }, stateLabel(state));
}

/** Show a state in an existing badge. */
export function setBadge(el, state) {
  el.className = `badge ${stateClass(state)}`;
  el.dataset.state = state;
  setText(el, stateLabel(state));
}

/** A small progress line: bar, percent, status message and activity. */
export function progressLine(progress, state) {
  const el = h('div', { class: 'progress' },
    h('progress', { max: 100, value: 0, 'aria-label': 'Progress' }),
    h('span', { class: 'pct' }), h('span', { class: 'msg' }), h('span', { class: 'activity muted' }));
  setProgress(el, progress, state);
  return el;
}

/** Update a progress line made by progressLine (or the detail page's, with the same parts). */
export function setProgress(el, progress, state) {
  const bar = el.querySelector('progress');
  const percent = Math.max(0, Math.min(100, progress?.PercentComplete ?? 0));
  bar.value = percent;
  bar.classList.toggle('done', state === 'Completed');
  bar.classList.toggle('failed', state === 'Failed');
  bar.setAttribute('aria-valuetext', `${percent} % ${progress?.StatusMessage ?? ''}`.trim());
  setText(el.querySelector('.pct'), `${percent} %`);
  const message = el.querySelector('.msg');
  setText(message, progress?.StatusMessage ?? '');
  message.title = progress?.StatusMessage ?? '';
  setText(el.querySelector('.activity'), progress?.Activity ?? '');
}

const JSON_CHILDREN_SHOWN = 200;

/** A collapsible view of a JSON value (objects and arrays fold; strings stay text). */
export function jsonView(value) {
  return h('div', { class: 'json' }, jsonNode(value, null, 0));
}

function jsonNode(value, key, depth) {
  const label = key === null ? [] : [h('span', { class: 'key' }, `${key}: `)];
  if (value === null || typeof value !== 'object') {
    return h('div', { class: 'leaf' }, label, scalar(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length} item${entries.length === 1 ? '' : 's'}]`
    : `{${entries.length} field${entries.length === 1 ? '' : 's'}}`;
  const details = h('details', { open: depth < 2 }, h('summary', {}, label, summary));
  const addFrom = (start) => {
    const end = Math.min(entries.length, start + JSON_CHILDREN_SHOWN);
    for (let i = start; i < end; i += 1) details.append(jsonNode(entries[i][1], entries[i][0], depth + 1));
    if (end < entries.length) {
      const more = h('button', { type: 'button', class: 'small', onclick: () => { more.remove(); addFrom(end); } },
        `Show ${Math.min(JSON_CHILDREN_SHOWN, entries.length - end)} more of ${entries.length - end}`);
      details.append(h('div', { class: 'leaf' }, more));
    }
  };
  addFrom(0);
  return details;
}

function scalar(value) {
  if (typeof value === 'string') return h('span', { class: 's' }, JSON.stringify(value));
  if (typeof value === 'number') return h('span', { class: 'n' }, String(value));
  if (typeof value === 'boolean') return h('span', { class: 'b' }, String(value));
  return h('span', { class: 'z' }, 'null');
}

/** Code with line numbers; ``mark`` (1-based) is the failing line, scrolled into view. */
export function codeView(code, mark) {
  const lines = (code ?? '').split(/\r?\n/);
  const list = h('ol', { class: 'code', 'aria-label': 'Code' });
  lines.forEach((line, i) => {
    const item = h('li', {}, line || ' ');
    if (i + 1 === mark) {
      item.classList.add('mark');
      item.setAttribute('aria-current', 'true');
      item.title = 'The failing line';
    }
    list.append(item);
  });
  return list;
}

/** Ask for confirmation in the page's <dialog>; resolves true for OK (Enter), false for Cancel or Escape. */
export function confirmDialog(title, text, okLabel = 'OK') {
  const dialog = byId('confirm');
  setText(byId('confirm-title'), title);
  setText(byId('confirm-text'), text);
  setText(byId('confirm-ok'), okLabel);
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    byId('confirm-ok').focus();
  });
}

/** A short message in the corner for a few seconds. */
export function toast(message, kind = 'info') {
  const el = h('div', { class: `toast ${kind}` }, message);
  append(byId('toasts'), el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

/** Show the state of the live connection in the header: connecting, live, reconnecting, offline. */
export function setLive(state) {
  const el = document.getElementById('live');
  if (!el) return;
  el.dataset.state = state;
  setText(el, state);
}
