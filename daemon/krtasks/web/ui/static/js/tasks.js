// Tasks: the table filtered, sorted and paged by the server (keyset cursors), with the filters and the page in
// the URL (reload and Back keep them); rows follow the server-wide events; row and bulk Start, Cancel, Remove.
import { api, describe, taskPath } from './api.js';
import { byId, fill, h, setText, taskLink } from './dom.js';
import { fromLocalInput, seconds, timeEl, timespanSeconds, toLocalInput } from './format.js';
import { followFeed } from './live.js';
import { DEFAULTS, FILTERS, firstPage, listPath, readState } from './first-page.js';
import { allowed, confirmDialog, isOlder, progressLine, setProgress, stateBadge, toast } from './widgets.js';

const TIMES = new Set(['CreatedAfter', 'CreatedBefore']);
const BLANK = Object.fromEntries(FILTERS.map((name) => [name, '']));
const form = byId('filters');
const rows = new Map(); // id -> {tr, record, gone}
const selected = new Set();
let view = {}; // what the URL says: filters + Sort, Order, Limit, Cursor, Page
let nextCursor = null;
let total = 0;
let newTasks = 0;
let opened = false;

// ------------------------------------------------------------------ the URL is the state

function urlOf(state) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  for (const [name, fallback] of Object.entries(DEFAULTS)) if (state[name] && state[name] !== fallback) params.set(name, state[name]);
  const query = params.toString();
  return query ? `?${query}` : location.pathname;
}

/** Show ``state`` as a new history entry (``viaNext``: it is the page after the current one, so Back returns). */
function go(state, viaNext = false) {
  view = { ...BLANK, ...state };
  history.pushState({ page: Number(view.Page), viaNext }, '', urlOf(view));
  load();
}

function fillForm() {
  for (const name of [...FILTERS, 'Limit']) {
    const field = form.elements.namedItem(name);
    field.value = TIMES.has(name) ? toLocalInput(view[name]) : view[name];
    if (name === 'Limit' && field.value !== view.Limit) field.value = DEFAULTS.Limit;
  }
  for (const th of document.querySelectorAll('th[data-sort]')) {
    const on = th.dataset.sort === view.Sort;
    th.setAttribute('aria-sort', on ? (view.Order === 'asc' ? 'ascending' : 'descending') : 'none');
  }
}

function fromForm() {
  const state = { ...view, Cursor: '', Page: '1' };
  for (const name of [...FILTERS, 'Limit']) {
    const value = form.elements.namedItem(name).value.trim();
    state[name] = TIMES.has(name) ? fromLocalInput(value) : value;
  }
  return state;
}

// ------------------------------------------------------------------ loading

let opening = true; // the first load uses the request first-page.js made at once

async function load() {
  fillForm();
  let response;
  try {
    if (opening) {
      opening = false;
      const answer = await firstPage;
      if (answer.error) throw answer.error;
      response = answer.response;
    } else {
      response = await api('GET', listPath(view));
    }
  } catch (error) {
    fill(byId('rows'));
    setText(byId('page-info'), '');
    toast(describe(error), 'error');
    return;
  }
  const records = await response.json();
  total = Number(response.headers.get('X-Total-Count') ?? records.length);
  nextCursor = response.headers.get('X-Next-Cursor');
  rows.clear();
  selected.clear();
  fill(byId('rows'), records.map(row));
  byId('empty').hidden = records.length > 0;
  const page = Number(view.Page) || 1;
  const first = (page - 1) * Number(view.Limit) + 1;
  setText(byId('page-info'), records.length
    ? `Page ${page} · tasks ${first.toLocaleString()}–${(first + records.length - 1).toLocaleString()} of ${total.toLocaleString()}`
    : `Page ${page} · ${total.toLocaleString()} matching`);
  byId('next').disabled = !nextCursor;
  byId('prev').disabled = page <= 1 || !history.state?.viaNext;
  byId('first').disabled = page <= 1 && !view.Cursor;
  updateSelection();
  performance.mark('krtasks:table-rendered');
}

function row(record) {
  const tr = h('tr', { dataset: { id: record.Id } });
  rows.set(record.Id, { tr, record, gone: false });
  paint(record.Id);
  return tr;
}

function paint(id) {
  const entry = rows.get(id);
  const { record, tr } = entry;
  const can = entry.gone ? {} : allowed(record.State);
  const name = record.Name || record.Id;
  const pick = h('input', {
    type: 'checkbox', 'aria-label': `Select ${name}`, checked: selected.has(id), disabled: entry.gone,
    onchange: (e) => { if (e.target.checked) selected.add(id); else selected.delete(id); updateSelection(); },
  });
  const action = (label, what, enabled) => enabled && h('button', {
    type: 'button', class: `small${what === 'remove' ? ' danger' : ''}`, 'aria-label': `${label} ${name}`,
    onclick: () => act(what, [id]),
  }, label);
  fill(tr,
    h('td', { class: 'pick' }, pick),
    h('td', { class: 'name' }, taskLink(record.Id, name), h('span', { class: 'id' }, record.Id)),
    h('td', {}, entry.gone ? h('span', { class: 'badge' }, 'Removed') : stateBadge(record.State)),
    h('td', { class: 'opt' }, record.Language),
    h('td', { class: 'opt' }, progressLine(record.Progress, record.State)),
    h('td', { class: 'opt' }, timeEl(record.CreatedAt)),
    h('td', { class: 'opt' }, timeEl(record.StartedAt)),
    h('td', { class: 'opt' }, record.Duration ? seconds(timespanSeconds(record.Duration)) : h('span', { class: 'muted' }, '—')),
    h('td', {}, h('span', { class: 'actions' },
      action('Start', 'start', can.start), action('Cancel', 'cancel', can.cancel), action('Remove', 'remove', can.remove))));
}

// ------------------------------------------------------------------ actions

function updateSelection() {
  const picked = [...selected].filter((id) => rows.has(id) && !rows.get(id).gone);
  setText(byId('selection'), picked.length ? `${picked.length} selected` : 'None selected');
  const states = picked.map((id) => allowed(rows.get(id).record.State));
  for (const button of document.querySelectorAll('[data-bulk]')) {
    button.disabled = !states.some((can) => can[button.dataset.bulk]);
  }
  const all = byId('select-all');
  const live = [...rows.values()].filter((r) => !r.gone);
  all.checked = live.length > 0 && picked.length === live.length;
  all.indeterminate = picked.length > 0 && picked.length < live.length;
}

const VERBS = { start: ['Start', 'started'], cancel: ['Cancel', 'cancelled'], remove: ['Remove', 'removed'] };

async function act(what, ids) {
  const targets = ids.filter((id) => rows.has(id) && !rows.get(id).gone && allowed(rows.get(id).record.State)[what]);
  if (!targets.length) return;
  const [verb, done] = VERBS[what];
  const label = targets.length === 1 ? `“${rows.get(targets[0]).record.Name}”` : `${targets.length} tasks`;
  if (what === 'remove' && !(await confirmDialog(`Remove ${label}?`,
    'Removed tasks are gone for good, with their children, output and streams.', 'Remove'))) return;
  if (what === 'cancel' && targets.length > 1 && !(await confirmDialog(`Cancel ${label}?`,
    'Running code is asked to stop; it ends Stopped.', 'Cancel tasks'))) return;
  const failures = [];
  const queue = [...targets];
  const worker = async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        if (what === 'remove') {
          await api('DELETE', taskPath(id));
          markGone(id);
        } else {
          const response = await api('POST', `${taskPath(id)}/${what}`);
          update(await response.json());
        }
        selected.delete(id);
      } catch (error) {
        failures.push(`${rows.get(id)?.record.Name ?? id}: ${describe(error)}`);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  updateSelection();
  const ok = targets.length - failures.length;
  if (ok) toast(`${verb}: ${ok} task${ok === 1 ? '' : 's'} ${done}.`);
  if (failures.length) toast(`${verb} failed for ${failures.length}: ${failures.join('; ')}`, 'error');
}

function update(record) {
  const entry = rows.get(record.Id);
  if (!entry || entry.gone || isOlder(record, entry.record)) return;
  entry.record = record;
  paint(record.Id);
  updateSelection();
}

function markGone(id) {
  const entry = rows.get(id);
  if (!entry || entry.gone) return;
  entry.gone = true;
  selected.delete(id);
  entry.tr.classList.add('gone');
  paint(id);
}

// ------------------------------------------------------------------ wiring

form.addEventListener('submit', (e) => { e.preventDefault(); go(fromForm()); });
byId('clear').addEventListener('click', () => go({ ...DEFAULTS, Limit: view.Limit }));
byId('next').addEventListener('click', () => {
  if (nextCursor) go({ ...view, Cursor: nextCursor, Page: String(Number(view.Page) + 1) }, true);
});
byId('prev').addEventListener('click', () => history.back());
byId('first').addEventListener('click', () => go({ ...view, Cursor: '', Page: '1' }));
byId('select-all').addEventListener('change', (e) => {
  for (const [id, entry] of rows) if (!entry.gone) { if (e.target.checked) selected.add(id); else selected.delete(id); }
  for (const id of rows.keys()) paint(id);
  updateSelection();
});
for (const button of document.querySelectorAll('[data-bulk]')) {
  button.addEventListener('click', () => act(button.dataset.bulk, [...selected]));
}
for (const th of document.querySelectorAll('th[data-sort]')) {
  th.querySelector('button').addEventListener('click', () => {
    const sort = th.dataset.sort;
    const order = sort === view.Sort ? (view.Order === 'asc' ? 'desc' : 'asc') : (sort === 'name' ? 'asc' : 'desc');
    go({ ...view, Sort: sort, Order: order, Cursor: '', Page: '1' });
  });
}
byId('new-tasks').addEventListener('click', () => {
  newTasks = 0;
  byId('new-tasks').hidden = true;
  go({ ...view, Cursor: '', Page: '1' });
});
window.addEventListener('popstate', () => { view = readState(location.search); load(); });

followFeed({
  onOpen() {
    if (opened) load(); // back after a break: the rows may have changed meanwhile
    opened = true;
  },
  onEvent(kind, _seq, data) {
    if (kind === 'state') update(data);
    else if (kind === 'progress') {
      const entry = rows.get(data.Id);
      if (entry && !entry.gone) {
        entry.record.Progress = data.Progress;
        setProgress(entry.tr.querySelector('.progress'), data.Progress, entry.record.State);
      }
    } else if (kind === 'removed') markGone(data.Id);
    else if (kind === 'created') {
      newTasks += 1;
      const button = byId('new-tasks');
      setText(button, `${newTasks} new task${newTasks === 1 ? '' : 's'} · show the first page`);
      button.hidden = false;
    }
  },
});

view = readState(location.search);
if (!history.state) history.replaceState({ page: Number(view.Page), viaNext: false }, '', location.href);
load();
