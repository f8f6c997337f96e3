// Task detail: header (state, live progress, timings), tabs for Output, Streams (live tail), Error, Arguments,
// Code and Children, and the actions Start, Cancel, Remove, Run again. Live through the task's own events.
import { ApiError, api, describe, getJson, taskPath } from './api.js';
import { byId, fill, h, setText, taskLink } from './dom.js';
import { clockText, seconds, timeEl, timespanSeconds } from './format.js';
import { followTask } from './live.js';
import {
  FINISHED, allowed, codeView, confirmDialog, isOlder, jsonView, setBadge, setProgress, stateBadge, toast,
} from './widgets.js';

const id = new URLSearchParams(location.search).get('id') ?? '';
const TABS = ['output', 'streams', 'error', 'arguments', 'code', 'children'];
let record = null;
let definition = null;
const records = []; // stream records by Index
let streamsLoaded = false;
const early = []; // stream events that came before the first page was read

// ------------------------------------------------------------------ header

function showRecord(next) {
  const before = record?.State;
  record = next;
  setText(byId('name'), record.Name || record.Id);
  document.title = `${record.Name || record.Id} · KrTasks`;
  setText(byId('crumb'), record.Name || record.Id);
  setBadge(byId('state'), record.State);
  setText(byId('language'), record.Language);
  setText(byId('description'), record.Description);
  setProgress(head, record.Progress, record.State);
  setText(byId('task-id'), record.Id);
  fill(byId('created'), timeEl(record.CreatedAt));
  fill(byId('started'), timeEl(record.StartedAt));
  fill(byId('completed'), timeEl(record.CompletedAt));
  setText(byId('duration'), record.Duration ? seconds(timespanSeconds(record.Duration)) : '—');
  setText(byId('timeout'), record.TimeoutSeconds ? seconds(record.TimeoutSeconds) : 'none');
  setText(byId('isolation'), record.Isolation === 'process' ? 'worker process' : 'daemon thread');
  fill(byId('parent'), record.ParentId ? taskLink(record.ParentId) : 'none');
  const can = allowed(record.State);
  byId('start').disabled = !can.start;
  byId('cancel').disabled = !can.cancel;
  byId('remove').disabled = !can.remove;
  setText(byId('child-count'), record.ChildrenId.length ? String(record.ChildrenId.length) : '');
  if (FINISHED.has(record.State) && !FINISHED.has(before)) loadResult();
  if (before !== undefined && JSON.stringify(record.ChildrenId) !== byId('children').dataset.ids) loadChildren();
}

// The header's progress parts get the classes progressLine uses, so setProgress fills them.
const head = document.querySelector('.progress-line');
byId('percent').classList.add('pct');
byId('status').classList.add('msg');
byId('activity').classList.add('activity');

// ------------------------------------------------------------------ tabs

function selectTab(name, focus = false) {
  for (const tab of TABS) {
    const button = byId(`tab-${tab}`);
    const on = tab === name;
    button.setAttribute('aria-selected', String(on));
    button.tabIndex = on ? 0 : -1;
    byId(`panel-${tab}`).hidden = !on;
    if (on && focus) button.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(history.state, '', `#${name}`);
}

for (const tab of TABS) byId(`tab-${tab}`).addEventListener('click', () => selectTab(tab));
byId('tabs').addEventListener('keydown', (e) => {
  const current = TABS.findIndex((t) => byId(`tab-${t}`).getAttribute('aria-selected') === 'true');
  const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: TABS.length - 1 };
  if (!(e.key in moves)) return;
  e.preventDefault();
  selectTab(TABS[(moves[e.key] + TABS.length) % TABS.length], true);
});

// ------------------------------------------------------------------ output and error

async function loadResult() {
  let result;
  try {
    result = await getJson(`${taskPath(id)}/result`);
  } catch (error) {
    fill(byId('output'), h('p', { class: 'muted' }, describe(error)));
    return;
  }
  const empty = result.Output === null || (Array.isArray(result.Output) && result.Output.length === 0);
  fill(byId('output'), empty ? h('p', { class: 'muted' }, 'No output.') : jsonView(result.Output));
  showError(result.Error);
}

function showError(error) {
  if (!error) {
    fill(byId('error'), h('p', { class: 'muted' }, record && FINISHED.has(record.State) ? 'No error.' : 'No error so far.'));
    setText(byId('tab-error'), 'Error');
    return;
  }
  setText(byId('tab-error'), 'Error ●');
  const where = error.Line ? `line ${error.Line}${error.Column ? `, column ${error.Column}` : ''}` : null;
  fill(byId('error'), h('div', { class: 'error-box' },
    h('p', { class: 'message' }, error.Message),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Type'), h('dd', {}, h('code', {}, error.Type)),
      error.Category && [h('dt', {}, 'Category'), h('dd', {}, error.Category)],
      where && [h('dt', {}, 'Where'), h('dd', {}, where)]),
    error.StackTrace && [h('h3', {}, 'Stack trace'), h('pre', {}, error.StackTrace)],
    error.Line && definition && [h('h3', {}, 'In the code'), codeView(definition.Code, error.Line)]));
  const marked = byId('error').querySelector('li.mark');
  if (marked) marked.scrollIntoView({ block: 'nearest' });
}

// ------------------------------------------------------------------ streams

const list = byId('streams');

function addRecords(batch) {
  let added = false;
  for (const r of batch) {
    if (records[r.Index]) continue;
    records[r.Index] = r;
    added = true;
    const item = h('li', { class: `s-${r.Stream}`, dataset: { index: r.Index } },
      h('time', { datetime: r.Time, title: r.Time }, clockText(r.Time)),
      h('span', { class: 'stream' }, r.Stream.toUpperCase()),
      h('span', { class: 'msg' }, r.Message));
    item.hidden = !matches(r);
    const after = [...list.children].find((li) => Number(li.dataset.index) > r.Index);
    list.insertBefore(item, after ?? null);
  }
  if (!added) return;
  const count = records.filter(Boolean).length;
  setText(byId('stream-count'), String(count));
  byId('streams-empty').hidden = count > 0;
  if (byId('follow').checked) list.scrollTop = list.scrollHeight;
}

function matches(r) {
  const text = byId('stream-filter').value.trim().toLowerCase();
  return !text || r.Message.toLowerCase().includes(text);
}

async function loadStreams() {
  streamsLoaded = false;
  let since = 0;
  for (;;) {
    const page = await getJson(`${taskPath(id)}/streams?Since=${since}`);
    addRecords(page.Records);
    if (!page.Records.length || page.Next <= since) break;
    since = page.Next;
  }
  streamsLoaded = true;
  addRecords(early.splice(0));
}

for (const box of document.querySelectorAll('input[name="stream"]')) {
  box.addEventListener('change', () => list.classList.toggle(`hide-${box.value}`, !box.checked));
}
byId('stream-filter').addEventListener('input', () => {
  for (const li of list.children) li.hidden = !matches(records[Number(li.dataset.index)]);
});
byId('download').addEventListener('click', () => {
  const shown = new Set([...document.querySelectorAll('input[name="stream"]:checked')].map((b) => b.value));
  const lines = records.filter((r) => r && shown.has(r.Stream) && matches(r))
    .map((r) => `${r.Time} [${r.Stream}] ${r.Message}`);
  const url = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/plain;charset=utf-8' }));
  const link = h('a', { href: url, download: `task-${id.replace(/[^\w.-]+/g, '_')}-streams.txt` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

// ------------------------------------------------------------------ arguments, code, children

function showDefinition() {
  const extra = {};
  for (const name of ['ExtraImports', 'ExtraRefs']) if (definition[name].length) extra[name] = definition[name];
  for (const name of ['MaxMemoryMB', 'WorkingDirectory']) if (definition[name] !== null) extra[name] = definition[name];
  if (Object.keys(definition.Environment).length) extra.Environment = definition.Environment;
  fill(byId('arguments'),
    Object.keys(definition.Arguments).length ? jsonView(definition.Arguments) : h('p', { class: 'muted' }, 'No arguments.'),
    Object.keys(extra).length > 0 && [h('h3', {}, 'Settings'), jsonView(extra)]);
  fill(byId('code'), definition.Code ? codeView(definition.Code) : h('p', { class: 'muted' }, 'The code is empty.'));
  byId('again').href = `/ui/new?from=${encodeURIComponent(id)}`;
}

async function loadChildren() {
  const box = byId('children');
  box.dataset.ids = JSON.stringify(record.ChildrenId);
  if (!record.ChildrenId.length) {
    fill(box, h('li', { class: 'muted' }, 'No child tasks.'));
    return;
  }
  try {
    const children = await getJson(`/tasks?ParentId=${encodeURIComponent(record.Id)}&Sort=created&Order=asc`);
    fill(box, children.map((c) => h('li', {}, taskLink(c.Id, c.Name || c.Id), ' ', stateBadge(c.State))));
  } catch (error) {
    fill(box, h('li', { class: 'muted' }, describe(error)));
  }
}

// ------------------------------------------------------------------ actions

async function command(what) {
  try {
    const response = await api('POST', `${taskPath(id)}/${what}`);
    const next = await response.json();
    if (!isOlder(next, record)) showRecord(next); // the event stream may have shown a later state already
  } catch (error) {
    toast(describe(error), 'error');
  }
}

byId('start').addEventListener('click', () => command('start'));
byId('cancel').addEventListener('click', () => command('cancel'));
byId('remove').addEventListener('click', async () => {
  const children = record.ChildrenId.length ? ` and its ${record.ChildrenId.length} child task(s)` : '';
  if (!(await confirmDialog(`Remove “${record.Name}”?`, `The task${children} will be gone for good.`, 'Remove'))) return;
  try {
    await api('DELETE', taskPath(id));
    location.assign('/ui/tasks');
  } catch (error) {
    toast(describe(error), 'error');
  }
});

// ------------------------------------------------------------------ start

function missing(text) {
  byId('task').hidden = true;
  const note = byId('missing');
  setText(note, text);
  note.hidden = false;
  setText(byId('crumb'), id);
}

async function start() {
  selectTab(TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'output');
  if (!id) {
    missing('No task id in the address (…/ui/task?id=<id>).');
    return;
  }
  try {
    [record, definition] = await Promise.all([getJson(taskPath(id)), getJson(`${taskPath(id)}/definition`)]);
  } catch (error) {
    missing(error instanceof ApiError && error.status === 404 ? `No task has the id “${id}” (it may have been removed).`
      : describe(error));
    return;
  }
  byId('task').hidden = false;
  const first = record;
  record = null;
  showRecord(first);
  showDefinition();
  loadChildren();
  if (!FINISHED.has(first.State)) {
    fill(byId('output'), h('p', { class: 'muted' }, 'The output appears when the task has finished.'));
    showError(first.Error);
    // The stream pages are read once the event stream is subscribed (its first event is the current state), so
    // no record falls between them; on a reconnect they are read again (records are kept by Index).
    let readStreams = false;
    followTask(id, {
      open: () => { readStreams = true; },
      state: (next) => {
        showRecord(next);
        if (readStreams) {
          readStreams = false;
          loadStreams().catch((error) => toast(describe(error), 'error'));
        }
      },
      progress: (data) => { record.Progress = data.Progress; setProgress(head, data.Progress, record.State); },
      stream: (r) => (streamsLoaded ? addRecords([r]) : early.push(r)),
      closed: () => getJson(taskPath(id)).catch(() => missing(`The task “${id}” was removed.`)),
    });
  } else {
    await loadStreams();
  }
}

start();
