// Event streams of the API: the server-wide one (every task) and one task's own.
import { api, BASE, taskPath } from './api.js';
import { setLive } from './widgets.js';

export const FEED_KINDS = ['created', 'state', 'progress', 'removed'];

/**
 * Follow GET /api/v1/events. ``onOpen`` runs each time the stream (re)opens — read a snapshot there and
 * drop buffered events up to its EventSeq; ``onEvent(kind, seq, data)`` gets each event. A stream the server
 * ended (shutdown, lag, session over) is reopened after a pause; a 401 sends the page to the login.
 */
export function followFeed({ onOpen, onEvent }) {
  let source = null;
  const open = () => {
    source = new EventSource(`${BASE}/events`);
    source.onopen = () => { setLive('live'); onOpen(); };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setLive('offline');
        setTimeout(() => api('GET', '/tasks?Limit=0').then(open, () => setTimeout(open, 5000)), 2000);
      } else {
        setLive('reconnecting');
      }
    };
    for (const kind of FEED_KINDS) {
      source.addEventListener(kind, (e) => onEvent(kind, Number(e.lastEventId), JSON.parse(e.data)));
    }
  };
  open();
  return { close: () => source?.close() };
}

/**
 * Follow one task's GET /api/v1/tasks/{id}/events until its final state: ``on.state(record)``,
 * ``on.progress(data)``, ``on.stream(record)``; ``on.open()`` each time it (re)connects, ``on.closed()`` when
 * the server refuses it (the task was removed, or the session ended).
 */
export function followTask(id, on) {
  const source = new EventSource(`${BASE}${taskPath(id)}/events`);
  source.onopen = () => { setLive('live'); on.open?.(); };
  source.onerror = () => {
    setLive(source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
    if (source.readyState === EventSource.CLOSED) on.closed?.();
  };
  source.addEventListener('state', (e) => {
    const record = JSON.parse(e.data);
    on.state?.(record);
    if (['Completed', 'Failed', 'Stopped'].includes(record.State)) {
      source.close();
      setLive('finished');
    }
  });
  source.addEventListener('progress', (e) => on.progress?.(JSON.parse(e.data)));
  source.addEventListener('stream', (e) => on.stream?.(JSON.parse(e.data)));
  return { close: () => source.close() };
}
