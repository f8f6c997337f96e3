// New task: language, code with line numbers, JSON arguments checked before sending, name, description,
// timeout, AutoStart and the advanced settings. A compile error lists its diagnostics against the code, which
// stays as typed. "Run again" arrives here as ?from=<id> and fills the form from that task's definition.
import { ApiError, api, describe, getJson, taskPath } from './api.js';
import { byId, fill, h, setText } from './dom.js';
import { toast } from './widgets.js';

const form = byId('new-task');
const code = byId('code');
const gutter = byId('gutter');
const SAMPLES = {
  PowerShell: 'foreach ($i in 1..5) {\n    $TaskProgress.PercentComplete = $i * 20\n    $TaskProgress.StatusMessage = "Step $i of 5"\n    Start-Sleep -Milliseconds 500\n}\n"done"',
  CSharp: 'for (var i = 1; i <= 5; i++)\n{\n    TaskProgress.PercentComplete = i * 20;\n    await Task.Delay(500, CancellationToken);\n}\nreturn "done";',
  VBNet: 'For i = 1 To 5\n    TaskProgress.PercentComplete = i * 20\n    Await Task.Delay(500, CancellationToken)\nNext\nReturn "done"',
};
let bad = new Map(); // line -> severity of its worst diagnostic

// ------------------------------------------------------------------ the code box and its line numbers

function drawGutter() {
  const lines = code.value.split('\n').length;
  if (gutter.children.length !== lines || gutter.dataset.marks !== JSON.stringify([...bad])) {
    fill(gutter, Array.from({ length: lines }, (_, i) => h('li', { class: bad.has(i + 1) ? 'bad' : null })));
    gutter.dataset.marks = JSON.stringify([...bad]);
  }
  gutter.scrollTop = code.scrollTop;
}

code.addEventListener('input', drawGutter);
code.addEventListener('scroll', () => { gutter.scrollTop = code.scrollTop; });
byId('language').addEventListener('change', () => {
  code.placeholder = SAMPLES[byId('language').value];
});

/** Select line ``n`` (1-based) of the code box and scroll it into view. */
function goToLine(n, column) {
  const lines = code.value.split('\n');
  const start = lines.slice(0, n - 1).reduce((sum, line) => sum + line.length + 1, 0);
  const end = start + (lines[n - 1]?.length ?? 0);
  code.focus();
  code.setSelectionRange(column ? Math.min(start + column - 1, end) : start, end);
  const lineHeight = parseFloat(getComputedStyle(code).lineHeight) || 20;
  code.scrollTop = Math.max(0, (n - 3) * lineHeight);
}

// ------------------------------------------------------------------ checks before sending

function jsonObject(id, errorId, what, valuesMustBeStrings) {
  const field = byId(id);
  const note = byId(errorId);
  const text = field.value.trim();
  let value;
  let problem = '';
  if (text) {
    try {
      value = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) problem = `${what} must be a JSON object, e.g. {"n": 3}.`;
      else if (valuesMustBeStrings && Object.values(value).some((v) => typeof v !== 'string')) problem = `Every value of ${what} must be a string.`;
    } catch (error) {
      problem = `${what} is not valid JSON: ${error.message}`;
    }
  }
  field.setAttribute('aria-invalid', String(Boolean(problem)));
  setText(note, problem);
  note.hidden = !problem;
  return { ok: !problem, value: text ? value : undefined, field };
}

const checkArguments = () => jsonObject('arguments', 'arguments-error', 'Arguments', false);
const checkEnvironment = () => jsonObject('environment', 'environment-error', 'Environment', true);
byId('arguments').addEventListener('input', checkArguments);
byId('environment').addEventListener('input', checkEnvironment);

function lines(id) {
  const list = byId(id).value.split('\n').map((l) => l.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

function text(id) {
  const value = byId(id).value.trim();
  return value || undefined;
}

function number(id) {
  const value = byId(id).value.trim();
  return value === '' ? undefined : Number(value);
}

// ------------------------------------------------------------------ sending

function showDiagnostics(diagnostics) {
  bad = new Map();
  const list = byId('diagnostics');
  fill(list, diagnostics.map((d) => {
    if (d.Line && (d.Severity === 'Error' || !bad.has(d.Line))) bad.set(d.Line, d.Severity);
    const where = d.Line ? `line ${d.Line}${d.Column ? `, column ${d.Column}` : ''}` : 'no line';
    const label = `${d.Id ?? ''} ${d.Severity ?? ''} · ${where}: ${d.Message}`.trim();
    return h('li', { class: (d.Severity ?? '').toLowerCase() },
      d.Line ? h('button', { type: 'button', onclick: () => goToLine(d.Line, d.Column) }, label) : label);
  }));
  list.hidden = diagnostics.length === 0;
  drawGutter();
}

function showFormError(message, field) {
  const note = byId('form-error');
  setText(note, message);
  note.hidden = !message;
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
    if (el.id !== 'arguments' && el.id !== 'environment') el.removeAttribute('aria-invalid');
  }
  const target = field && form.elements.namedItem(field);
  if (target instanceof HTMLElement) {
    target.setAttribute('aria-invalid', 'true');
    if (target.closest('details')) byId('advanced').open = true;
    target.focus();
  }
}

async function submit() {
  const args = checkArguments();
  const environment = checkEnvironment();
  for (const check of [args, environment]) {
    if (!check.ok) {
      if (check.field.closest('details')) byId('advanced').open = true;
      check.field.focus();
      return;
    }
  }
  const body = {
    Language: byId('language').value,
    Code: code.value,
    Name: text('task-name'),
    Description: text('description'),
    Arguments: args.value,
    TimeoutSeconds: number('timeout'),
    AutoStart: byId('autostart').checked,
    ParentId: text('parent'),
    ExtraImports: lines('imports'),
    ExtraRefs: lines('refs'),
    MaxMemoryMB: number('memory'),
    WorkingDirectory: text('workdir'),
    Environment: environment.value,
  };
  const button = byId('create');
  button.disabled = true;
  showFormError('');
  try {
    const response = await api('POST', '/tasks', body);
    const record = await response.json();
    location.assign(`/ui/task?id=${encodeURIComponent(record.Id)}`);
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiError && error.status === 422) {
      showDiagnostics(error.problem.diagnostics ?? []);
      showFormError(describe(error));
      const first = (error.problem.diagnostics ?? []).find((d) => d.Line);
      if (first) goToLine(first.Line, first.Column);
    } else if (error instanceof ApiError && error.status === 400) {
      showFormError(describe(error), error.problem.field);
    } else {
      showFormError(describe(error));
    }
  }
}

form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
form.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
});
code.addEventListener('input', () => {
  if (bad.size) { bad = new Map(); byId('diagnostics').hidden = true; drawGutter(); }
});

// ------------------------------------------------------------------ Run again

async function prefill(fromId) {
  let d;
  try {
    d = await getJson(`${taskPath(fromId)}/definition`);
  } catch (error) {
    toast(`Could not read task ${fromId}: ${describe(error)}`, 'error');
    return;
  }
  setText(byId('form-title'), `Run again: ${d.Name}`);
  byId('language').value = d.Language;
  code.value = d.Code;
  byId('task-name').value = d.Name;
  byId('description').value = d.Description;
  byId('arguments').value = Object.keys(d.Arguments).length ? JSON.stringify(d.Arguments, null, 2) : '';
  byId('timeout').value = d.TimeoutSeconds ?? '';
  byId('parent').value = d.ParentId;
  byId('imports').value = d.ExtraImports.join('\n');
  byId('refs').value = d.ExtraRefs.join('\n');
  byId('memory').value = d.MaxMemoryMB ?? '';
  byId('workdir').value = d.WorkingDirectory ?? '';
  byId('environment').value = Object.keys(d.Environment).length ? JSON.stringify(d.Environment, null, 2) : '';
  const advanced = d.ParentId || d.ExtraImports.length || d.ExtraRefs.length || d.MaxMemoryMB || d.WorkingDirectory
    || Object.keys(d.Environment).length;
  byId('advanced').open = Boolean(advanced);
  drawGutter();
}

code.placeholder = SAMPLES.PowerShell;
const from = new URLSearchParams(location.search).get('from');
if (from) prefill(from);
drawGutter();
