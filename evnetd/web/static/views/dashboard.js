// The live dashboard: one GET of /status so the page is filled at once, then the service's event
// stream (/events: Server-Sent Events named `status`, each the whole status object, at most 5 a
// second) keeps it current.

import { BASE, get, post } from '../api.js';
import { busy, card, h, statusLine } from '../dom.js';
import * as fmt from '../format.js';

/** Each shown value: its label and how it is read from the status object. */
const ROWS = {
  pilot: ['Pilot', (s) => fmt.text(s.pilot)],
  offered: ['Offered current', (s) => fmt.amps(s.offered_current_a)],
  actual: ['Actual current', (s) => fmt.amps(s.current_a)],
  power: ['Power', (s) => fmt.power(s.power_w)],
  register: ['Energy register', (s) => fmt.energy(s.energy_wh, 3)],
  voltage: ['Voltage', (s) => fmt.volts(s.voltage_v)],
  temperature: ['Temperature', (s) => fmt.celsius(s.temperature_c)],
  lock: ['Plug', (s) => (s.locked === null || s.locked === undefined ? fmt.text(null) : s.locked ? 'Locked' : 'Not locked')],
  limitSource: ['Limited by', (s) => fmt.text(s.limit_source)],
  energyLimit: ['Energy management', (s) => energyLine(s.energy)],
  ocpp: ['OCPP', (s) => ocppLine(s.ocpp)],
};

function energyLine(energy) {
  if (!energy) return fmt.text(null);
  const parts = [energy.mode, energy.paused ? 'paused' : energy.limit_a != null ? fmt.amps(energy.limit_a) : 'no cap',
    energy.reason];
  return parts.filter((p) => p).join(' · ');
}

function ocppLine(ocpp) {
  if (!ocpp) return 'Not running';
  if (!ocpp.url) return 'Offline (no back office set)';
  if (!ocpp.connected) return ocpp.last_error ? `Not connected: ${ocpp.last_error}` : 'Not connected';
  return ocpp.registration ? `Connected · ${ocpp.registration}` : 'Connected';
}

/** Status words as the OCPP ChargePointStatus says them, with the plain meaning under them. */
const MEANING = {
  Available: 'Ready: plug in to charge.',
  Preparing: 'Plugged in, waiting to start.',
  Charging: 'Energy is flowing to the car.',
  SuspendedEV: 'The car has paused charging.',
  SuspendedEVSE: 'The charger is holding back (limit, schedule or authorization).',
  Finishing: 'Session ended: unplug the car.',
  Reserved: 'Reserved for a card.',
  Unavailable: 'Out of service.',
  Faulted: 'A fault stopped charging.',
};

/** Writes only on a change: live regions then speak when something changed, not once a second. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export async function render(main) {
  let state;
  const values = {};
  const dl = h('dl', { class: 'grid' });
  for (const [key, [label]] of Object.entries(ROWS)) {
    values[key] = h('dd', { id: `v-${key}` });
    dl.append(h('div', {}, h('dt', {}, label), values[key]));
  }
  const statusWord = h('p', { id: 'status', class: 'big', role: 'status', 'aria-live': 'polite' }, '…');
  const meaning = h('p', { class: 'muted' });
  const errorCode = h('p', { class: 'error', hidden: true });
  const live = h('p', { class: 'live muted', 'aria-live': 'polite' }, 'Connecting…');
  const sessionBody = h('dl', { class: 'grid' });
  const faults = h('ul', { class: 'faults' });
  const outcome = statusLine();

  const start = h('button', { type: 'button', class: 'primary' }, 'Start');
  const stop = h('button', { type: 'button' }, 'Stop');
  const unlock = h('button', { type: 'button' }, 'Unlock');
  start.addEventListener('click', () => busy(start, outcome, () => post('/actions/start'), 'Start requested'));
  stop.addEventListener('click', () => busy(stop, outcome, () => post('/actions/stop'), 'Stop requested'));
  unlock.addEventListener('click', () => busy(unlock, outcome, () => post('/actions/unlock'), 'Unlock requested'));

  main.append(
    card('Charger', statusWord, meaning, errorCode, live, h('div', { class: 'actions' }, start, stop, unlock), outcome),
    card('Session', sessionBody),
    card('Measurements and limits', dl),
    card('Faults', faults),
  );

  function sessionRows(session) {
    if (!session) return [h('p', { class: 'muted' }, 'No session.')];
    const age = session.started_at ? Date.now() / 1000 - session.started_at : null;
    const row = (label, value, id) => h('div', {}, h('dt', {}, label), h('dd', { id }, value));
    return [
      row('Card / ID tag', fmt.text(session.id_tag), 's-tag'),
      row('Energy', fmt.energy(session.energy_wh), 's-energy'),
      row('Duration', fmt.duration(age), 's-duration'),
      row('Started', fmt.when(session.started_at), 's-started'),
    ];
  }

  function update(next) {
    state = next;
    window.dispatchEvent(new CustomEvent('evnet:station', { detail: state.station_name }));
    const word = state.status || 'Unknown';
    setText(statusWord, word);
    statusWord.dataset.status = word;
    setText(meaning, MEANING[word] || '');
    const code = state.error_code && state.error_code !== 'NoError' ? state.error_code : null;
    errorCode.hidden = !code;
    setText(errorCode, code ? `Error: ${code}${state.error_info ? ` (${state.error_info})` : ''}` : '');
    for (const [key, [, read]] of Object.entries(ROWS)) setText(values[key], read(state));
    sessionBody.replaceChildren(...sessionRows(state.session));
    const active = state.faults || [];
    const shown = active.length ? active.join('\n') : '';
    if (faults.dataset.shown !== shown) {
      faults.dataset.shown = shown;
      faults.replaceChildren(...(active.length ? active.map((f) => h('li', { class: 'error' }, f))
        : [h('li', { class: 'muted' }, 'None active.')]));
    }
    start.disabled = Boolean(state.session);
    stop.disabled = !state.session;
  }

  update(await get('/status'));
  const ticker = setInterval(() => update(state), 1000); // the session duration moves on its own

  const events = new EventSource(`${BASE}/events`);
  events.addEventListener('open', () => setText(live, 'Live'));
  events.addEventListener('status', (event) => {
    setText(live, 'Live');
    update(JSON.parse(event.data));
  });
  events.addEventListener('error', async () => {
    setText(live, 'Live updates interrupted: reconnecting…');
    // EventSource gives up for good on an HTTP error (e.g. 401): find out whether the session ended.
    if (events.readyState === EventSource.CLOSED) await get('/session').catch(() => {});
  });
  return () => {
    clearInterval(ticker);
    events.close();
  };
}
