// Diagnostics: what is wrong now and what was wrong before, the RCD self-test, the service log, and a
// bundle to send to the installer or support (the service leaves every secret out of it).

import { BASE, get, post } from '../api.js';
import { busy, card, h, say, select, statusLine } from '../dom.js';
import * as fmt from '../format.js';

function faultRow(f) {
  return h('tr', {},
    h('td', {}, fmt.text(f.fault)),
    h('td', {}, fmt.text(f.error_code)),
    h('td', {}, fmt.text(f.info)),
    h('td', {}, fmt.when(f.raised_at)),
    h('td', {}, f.cleared_at === null ? h('strong', { class: 'error' }, 'Active') : fmt.when(f.cleared_at)),
    h('td', {}, fmt.text(f.source)));
}

function faultTable(caption, faults) {
  if (!faults.length) return h('p', { class: 'muted' }, `${caption}: none.`);
  return h('div', { class: 'scroll' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ['Fault', 'OCPP code', 'Info', 'Raised', 'Cleared', 'Source'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, faults.map(faultRow))));
}

const SELFTEST_DONE = new Set(['passed', 'failed', 'idle']);

/** Polls the status until the RCD self-test has an outcome (the test takes a few seconds). */
async function selftestOutcome(timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { rcd_selftest: state } = await get('/status');
    if (SELFTEST_DONE.has(state) || Date.now() > deadline) return state;
  }
}

async function faultsCard() {
  const body = h('div', { 'aria-live': 'polite' });
  const status = statusLine();
  async function load() {
    const { active, error_code: code, error_info: info, history } = await get('/faults?limit=50');
    const connector = code && code !== 'NoError' ? `Connector: ${code}${info ? ` (${info})` : ''}` : null;
    body.replaceChildren(
      h('h3', {}, 'Active'),
      active.length || connector
        ? h('ul', { class: 'faults' }, connector && h('li', { class: 'error' }, connector),
          active.map((name) => h('li', { class: 'error' }, name)))
        : h('p', { class: 'muted' }, 'No active faults.'),
      faultTable('Fault history (newest first)', history));
  }
  const selftest = h('button', { type: 'button' }, 'Run RCD self-test');
  const clear = h('button', { type: 'button' }, 'Clear faults');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  selftest.addEventListener('click', () => busy(selftest, status, async () => {
    await post('/actions/rcd-selftest');
    say(status, 'RCD self-test running…');
    const outcome = await selftestOutcome();
    say(status, `RCD self-test: ${outcome ?? 'unknown'}.`, outcome === 'passed' ? 'ok' : 'error');
    await load();
  }, null));
  clear.addEventListener('click', () => busy(clear, status, async () => {
    const { cleared, refused } = await post('/actions/clear-faults');
    say(status, refused.length ? `Not cleared: ${refused.join('; ')}.`
      : cleared.length ? `Cleared: ${cleared.join(', ')}.` : 'Nothing to clear.', refused.length ? 'error' : 'ok');
    await load();
  }, null));
  refresh.addEventListener('click', () => busy(refresh, status, load, null));
  await load();
  return card('Faults', body, h('div', { class: 'actions' }, selftest, clear, refresh), status);
}

async function journalCard() {
  const lines = select('lines', [['50', 'Last 50 lines'], ['200', 'Last 200 lines'], ['1000', 'Last 1000 lines']], '50');
  lines.setAttribute('aria-label', 'How many lines');
  const log = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Service log' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const status = statusLine();
  async function load() {
    const { entries } = await get(`/journal?lines=${lines.value}`);
    log.textContent = entries.map(journalLine).join('\n') || 'The log is empty.';
    requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; }); // the newest lines, once laid out
  }
  lines.addEventListener('change', () => busy(refresh, status, load, null));
  refresh.addEventListener('click', () => busy(refresh, status, load, null));
  await load();
  return card('Log', h('div', { class: 'actions' }, lines, refresh), log, status);
}

const PRIORITY = { 0: 'EMERG', 1: 'ALERT', 2: 'CRIT', 3: 'ERROR', 4: 'WARN' };

/** A journal entry as one line: time, unit, the priority when it is a warning or worse, message. */
function journalLine(e) {
  const stamp = e.time === null ? '' : new Date(e.time * 1000).toLocaleString();
  return [stamp, e.unit, PRIORITY[e.priority], e.message].filter((p) => p).join(' ');
}

export async function render(main) {
  const sections = await Promise.allSettled([faultsCard(), journalCard()]);
  ['Faults', 'Log'].forEach((title, i) => {
    const section = sections[i];
    main.append(section.status === 'fulfilled' ? section.value
      : card(title, h('p', { class: 'error' }, `Not available: ${section.reason.message}`)));
  });
  main.append(card('Diagnostics bundle',
    h('p', {}, 'Status, settings (without passwords or keys), faults, sessions and the log, in one file for support.'),
    h('a', { href: `${BASE}/diagnostics`, download: '', class: 'button' }, 'Download diagnostics')));
}
