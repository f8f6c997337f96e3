// Times (absolute in the browser's zone, UTC on hover, plus relative), durations and sizes.
import { h } from './dom.js';

const absolute = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const thisYear = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const STEPS = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];

/** "3 minutes ago", "in 5 seconds"... */
export function relative(date, now = Date.now()) {
  let amount = (date.getTime() - now) / 1000;
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) return relativeFormat.format(Math.round(amount), unit);
    amount /= size;
  }
  return '';
}

/** "2026-12-02 10:00:00 UTC" */
export function utcText(date) {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** Local date and time; the year only when it is not this year's. */
export function localText(date) {
  return (date.getFullYear() === new Date().getFullYear() ? thisYear : absolute).format(date);
}

/** A <time> showing an ISO UTC timestamp in the local zone, with UTC as its title, plus the relative time. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  return h('time', { datetime: iso, title: utcText(date) },
    h('span', { class: 'abs' }, localText(date)), ' ', h('span', { class: 'rel', dataset: { t: iso } }, relative(date)));
}

/** HH:MM:SS.mmm in the local zone (stream records). */
export function clockText(iso) {
  const date = new Date(iso);
  return `${clock.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** A human duration of seconds: "0.42 s", "12.3 s", "4 min 5 s", "2 h", "2 h 3 min", "1 d", "3 d 4 h". */
export function seconds(total) {
  if (total === null || total === undefined || Number.isNaN(total)) return '—';
  if (total < 10) return `${total.toFixed(2)} s`;
  if (total < 60) return `${total.toFixed(1)} s`;
  const s = Math.floor(total);
  const [d, hr, min, sec] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60];
  const parts = d ? [[d, 'd'], [hr, 'h']] : hr ? [[hr, 'h'], [min, 'min']] : [[min, 'min'], [sec, 's']];
  return parts.filter(([n], i) => i === 0 || n).map(([n, unit]) => `${n} ${unit}`).join(' ');
}

/** Seconds in a .NET TimeSpan text ("[d.]hh:mm:ss.fffffff", as in a record's Duration), or null. */
export function timespanSeconds(text) {
  const m = /^(-)?(?:(\d+)\.)?(\d+):(\d+):(\d+)(?:\.(\d+))?$/.exec(text ?? '');
  if (!m) return null;
  const fraction = m[6] ? Number(`0.${m[6]}`) : 0;
  const value = Number(m[2] ?? 0) * 86400 + Number(m[3]) * 3600 + Number(m[4]) * 60 + Number(m[5]) + fraction;
  return m[1] ? -value : value;
}

/** "1.4 MiB" */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** Refresh every relative time on the page (a local timer: nothing is fetched). */
export function tickRelativeTimes() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.rel[data-t]')) el.textContent = relative(new Date(el.dataset.t), now);
}
setInterval(tickRelativeTimes, 20000);

/** A local "YYYY-MM-DDTHH:MM:SS" for a datetime-local input, from an ISO time (empty for none or garbage). */
export function toLocalInput(iso) {
  const date = new Date(iso ?? '');
  if (!iso || Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The ISO UTC time of a datetime-local input's value (empty for none). */
export function fromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
