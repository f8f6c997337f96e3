// Overview: counts by state, running tasks with live progress, runs per minute, queue, workers, daemon facts.
// One snapshot (GET /api/v1/overview), then the server-wide events keep it live; nothing is polled. Events that
// arrive before the snapshot are held and applied only if they are newer than its EventSeq.
import { describe, getJson } from './api.js';
import { byId, fill, h, setText, taskLink } from './dom.js';
import { bytes, seconds, timeEl } from './format.js';
import { followFeed } from './live.js';
import { STATES, progressLine, setProgress, toast } from './widgets.js';

const view = {
  snapshot: null, // the last snapshot read
  loadedAt: 0, // performance.now() when it was read
  counts: Object.fromEntries(STATES.map((s) => [s, 0])),
  failed24: 0,
  minutes: [], // [{t: minute start (s), completed, failed}], oldest first, 60 of them
  running: new Map(), // id -> {record, li}
  held: null, // events received while a snapshot is being read (null: apply at once)
  chart: null,
};

// ------------------------------------------------------------------ snapshot

async function resync() {
  view.held = [];
  let snapshot;
  try {
    snapshot = await getJson('/overview');
  } catch (error) {
    toast(`Could not read the overview: ${describe(error)}`, 'error');
    return;
  }
  const held = view.held;
  view.held = null;
  show(snapshot);
  for (const [kind, seq, data] of held) if (seq > snapshot.EventSeq) apply(kind, data);
  render();
}

function show(snapshot) {
  view.snapshot = snapshot;
  view.loadedAt = performance.now();
  view.counts = { ...snapshot.Counts };
  view.failed24 = snapshot.FailedLast24h;
  view.minutes = snapshot.Throughput.map((m) => ({ t: Date.parse(m.Minute) / 1000, completed: m.Completed, failed: m.Failed }));
  view.running = new Map();
  fill(byId('running'));
  for (const record of snapshot.Running) addRunning(record, false);
  setText(byId('max-runspaces'), snapshot.MaxRunspaces);
  const w = snapshot.Workers;
  setText(byId('workers'), w === null ? 'none (thread isolation)'
    : `${w.Busy} busy, ${w.Idle} idle, ${w.Starting} starting (when the page loaded)`);
  setText(byId('version'), snapshot.Version);
  fill(byId('uptime'), uptimeText(), ' · since ', timeEl(snapshot.StartedAt));
  setText(byId('isolation'), snapshot.Isolation === 'process' ? 'worker processes' : 'daemon threads');
  setText(byId('store'), snapshot.StoreBytes === null ? 'in memory only' : bytes(snapshot.StoreBytes));
  const keep = snapshot.RetentionSeconds > 0 ? `${seconds(snapshot.RetentionSeconds)} after completion` : 'forever';
  const most = snapshot.MaxFinished > 0 ? `, at most ${snapshot.MaxFinished.toLocaleString()} finished` : '';
  setText(byId('retention'), `kept ${keep}${most}`);
  const dayAgo = new Date(Date.now() - 86400000).toISOString();
  byId('failed24-link').href = `/ui/tasks?State=Failed&CreatedAfter=${encodeURIComponent(dayAgo)}`;
}

// ------------------------------------------------------------------ events

function apply(kind, data) {
  if (kind === 'created') {
    view.counts[data.State] += 1;
  } else if (kind === 'state') {
    view.counts[data.PreviousState] -= 1;
    view.counts[data.State] += 1;
    if (data.State === 'Running' || data.State === 'Stopping') addRunning(data, true);
    else removeRunning(data.Id);
    if ((data.State === 'Completed' || data.State === 'Failed') && data.CompletedAt) {
      countRun(data.CompletedAt, data.State === 'Failed');
    }
  } else if (kind === 'progress') {
    const entry = view.running.get(data.Id);
    if (entry) {
      entry.record.Progress = data.Progress;
      setProgress(entry.li.querySelector('.progress'), data.Progress, entry.record.State);
    }
  } else if (kind === 'removed') {
    view.counts[data.State] -= 1;
    removeRunning(data.Id);
  }
}

function countRun(completedAt, failed) {
  const minute = Math.floor(Date.parse(completedAt) / 60000) * 60;
  roll(minute);
  const bucket = view.minutes.find((m) => m.t === minute);
  if (bucket) {
    if (failed) bucket.failed += 1;
    else bucket.completed += 1;
  }
  if (failed) view.failed24 += 1;
}

/** Move the hour window on so that it ends at ``minute`` (seconds): local bookkeeping, nothing is fetched. */
function roll(minute) {
  const last = view.minutes.at(-1);
  if (!last || minute <= last.t) return false;
  let t = last.t;
  while (t < minute) {
    t += 60;
    view.minutes.push({ t, completed: 0, failed: 0 });
    view.minutes.shift();
  }
  return true;
}

function addRunning(record, newest) {
  const existing = view.running.get(record.Id);
  if (existing) {
    existing.record = record;
    setProgress(existing.li.querySelector('.progress'), record.Progress, record.State);
    existing.li.querySelector('.when').replaceChildren(stateNote(record));
    return;
  }
  const li = h('li', { dataset: { id: record.Id } },
    h('span', { class: 'name' }, taskLink(record.Id, record.Name)),
    progressLine(record.Progress, record.State),
    h('span', { class: 'when muted' }, stateNote(record)));
  view.running.set(record.Id, { record, li });
  const list = byId('running');
  if (newest) list.prepend(li);
  else list.append(li);
}

function stateNote(record) {
  return record.State === 'Stopping' ? 'stopping…' : h('span', {}, 'started ', timeEl(record.StartedAt));
}

function removeRunning(id) {
  const entry = view.running.get(id);
  if (entry) {
    entry.li.remove();
    view.running.delete(id);
  }
}

// ------------------------------------------------------------------ rendering

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    for (const state of STATES) setText(byId(`count-${state}`), view.counts[state].toLocaleString());
    setText(byId('failed24'), view.failed24.toLocaleString());
    setText(byId('queue'), view.counts.Queued.toLocaleString());
    setText(byId('slots'), (view.counts.Running + view.counts.Stopping).toLocaleString());
    setText(byId('total'), Object.values(view.counts).reduce((a, b) => a + b, 0).toLocaleString());
    byId('running-empty').hidden = view.running.size > 0;
    drawChart();
    if (!performance.getEntriesByName('krtasks:overview-rendered').length) performance.mark('krtasks:overview-rendered');
  });
}

function uptimeText() {
  if (!view.snapshot) return '–';
  return seconds(view.snapshot.UptimeSeconds + (performance.now() - view.loadedAt) / 1000);
}

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chartData() {
  return [view.minutes.map((m) => m.t), view.minutes.map((m) => m.completed), view.minutes.map((m) => m.failed)];
}

function drawChart() {
  const box = byId('chart');
  const uPlot = window.uPlot;
  if (!uPlot || box.clientWidth === 0) return;
  if (view.chart) {
    view.chart.setData(chartData());
    return;
  }
  const [text, line, ok, bad] = [color('--muted'), color('--line'), color('--ok'), color('--bad')];
  const axis = { stroke: text, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const bars = (align) => uPlot.paths.bars({ size: [0.45, 14], align });
  view.chart = new uPlot({
    width: box.clientWidth,
    height: 220,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    axes: [axis, { ...axis, size: 40, values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? v : '')) }],
    series: [
      { label: 'Minute' },
      { label: 'Completed', stroke: ok, fill: ok, width: 0, paths: bars(-1), points: { show: false } },
      { label: 'Failed', stroke: bad, fill: bad, width: 0, paths: bars(1), points: { show: false } },
    ],
  }, chartData(), box);
}

function rebuildChart() {
  view.chart?.destroy();
  view.chart = null;
  drawChart();
}

// ------------------------------------------------------------------ start

new ResizeObserver(() => {
  if (view.chart) view.chart.setSize({ width: byId('chart').clientWidth, height: 220 });
  else drawChart();
}).observe(byId('chart'));
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', rebuildChart);
setInterval(() => {
  if (!view.snapshot) return;
  const uptime = byId('uptime').firstChild;
  if (uptime) uptime.textContent = uptimeText();
  if (roll(Math.floor(Date.now() / 60000) * 60)) render();
}, 1000);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && view.held === null) resync();
});

followFeed({
  onOpen: resync,
  onEvent(kind, seq, data) {
    if (view.held !== null) view.held.push([kind, seq, data]);
    else if (view.snapshot && seq > view.snapshot.EventSeq) {
      apply(kind, data);
      render();
    }
  },
});
