// Settings: the charger (current, authorization, LED, name…), RFID cards, energy management and the
// OCPP connection. Each section saves on its own, all or nothing.

import { del, get, post } from '../api.js';
import { busy, card, clearErrors, field, h, say, select, showError, statusLine } from '../dom.js';
import { settingsForm } from '../settings-form.js';

const CHARGER = [
  { name: 'user_max_a', label: 'Maximum current', kind: 'amps', min: 6, max: 32,
    hint: '6–32 A in 1 A steps; the installer’s and the cable’s limits still apply.' },
  { name: 'auth_mode', label: 'Who may charge', kind: 'choice', options: [
    ['free', 'Anyone: plug and charge'], ['rfid', 'RFID cards in the list below'],
    ['app', 'Only a start from the app or this page'], ['ocpp', 'The OCPP back office decides']] },
  { name: 'offline_charge', label: 'Charge on plug-in while the back office is unreachable', kind: 'flag' },
  { name: 'keep_awake', label: 'Below 6 A', kind: 'choice', options: [
    ['off', 'Pause charging'], ['minimum', 'Keep charging at 6 A'], ['pulse', 'Pulse charging']],
  hint: 'What the charger does when energy management (solar, schedule, fuse) allows less than 6 A.' },
  { name: 'led_brightness', label: 'LED brightness', kind: 'choice', options: [
    ['low', 'Low'], ['medium', 'Medium'], ['high', 'High']] },
  { name: 'station_name', label: 'Station name', kind: 'text', maxlength: 40, hint: '1–40 characters.' },
];

const ENERGY = [
  { name: 'mode', label: 'Charging mode', kind: 'choice', options: [
    ['normal', 'Normal: as fast as the limits allow'], ['solar', 'Solar: only solar surplus'],
    ['solar-min', 'Solar + minimum: 6 A, more with surplus']] },
  { name: 'main_fuse_a', label: 'Main fuse (A)', kind: 'number', step: 1, hint: 'The house’s main fuse, 6–400 A.' },
  { name: 'margin_a', label: 'Safety margin (A)', kind: 'number' },
  { name: 'safe_current_a', label: 'Current when site data is missing (A)', kind: 'number',
    hint: '0 pauses charging; otherwise at least 6 A.' },
  { name: 'solar_start_delay_s', label: 'Solar start delay (s)', kind: 'number', step: 1 },
  { name: 'solar_stop_delay_s', label: 'Solar stop delay (s)', kind: 'number', step: 1 },
  { name: 'windows', label: 'Schedule', kind: 'lines', placeholder: 'Mo-Fr 22:00-06:00 allow',
    hint: 'One rule a line: days, times, allow or block. Example: Mo-Fr 22:00-06:00 allow' },
  { name: 'default', label: 'Outside the schedule', kind: 'choice', options: [['allow', 'Allow'], ['block', 'Block']] },
  { name: 'cheap', label: 'Cheap tariff windows', kind: 'lines', placeholder: 'Mo-Su 00:30-04:30',
    hint: 'One window a line. Example: Mo-Su 00:30-04:30' },
  { name: 'cheap_only', label: 'Charge only in cheap windows', kind: 'flag' },
  { name: 'random_delay_max_s', label: 'Random start delay, at most (s)', kind: 'number', step: 1,
    hint: '0–600 s: spreads the start of many chargers after a window opens.' },
  { name: 'sharing', label: 'Share the supply with other chargers (CAN)', kind: 'flag' },
];

const OCPP = [
  { name: 'url', label: 'Back office URL', kind: 'url', placeholder: 'wss://csms.example/ocpp',
    hint: 'ws:// or wss://; empty runs the charger offline.' },
  { name: 'charge_point_id', label: 'Charge point ID', kind: 'text', maxlength: 48 },
  { name: 'security_profile', label: 'Security profile', kind: 'choice', numeric: true, options: [
    ['0', '0: none'], ['1', '1: password over ws://'], ['2', '2: password over TLS'], ['3', '3: TLS client certificate']],
  hint: 'It can only be raised, as OCPP requires.' },
  { name: 'password', label: 'Password', kind: 'secret', hint: 'Write-only: 16–40 characters.' },
];

/** Says next to the (write-only) password whether one is set, without ever showing it. */
function passwordState(values, form) {
  const hint = form.querySelector('[name="password"]')?.closest('.field')?.querySelector('.hint');
  if (hint) {
    const state = values.password_set ? 'A password is set; leave empty to keep it.' : 'No password set.';
    hint.textContent = `${state} Write-only: 16–40 characters.`;
  }
}

function certificateCard() {
  const type = select('certificate_type', [['CentralSystemRootCertificate', 'Back office root (CSMS)'],
    ['ManufacturerRootCertificate', 'Manufacturer root (firmware)']], 'CentralSystemRootCertificate');
  const file = h('input', { name: 'pem', type: 'file', accept: '.pem,.crt,.cer,application/x-pem-file' });
  const status = statusLine();
  const send = h('button', { type: 'submit' }, 'Install');
  const form = h('form', { novalidate: true }, field('Certificate type', type), field('PEM file', file), send, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!file.files.length) return say(status, 'Choose a PEM file first.', 'error');
    send.disabled = true;
    try {
      const pem = await file.files[0].text();
      const { status: outcome } = await post('/settings/ocpp/certificates', { certificate_type: type.value, pem });
      say(status, `Certificate: ${outcome}.`, outcome === 'Accepted' ? 'ok' : 'error');
    } catch (err) {
      if (err.status === 400) showError(form, status, err);
      else say(status, err.message, 'error');
    } finally {
      send.disabled = false;
    }
  });
  return card('OCPP certificates', form);
}

const LEARN_S = 30;

async function tokensCard() {
  const list = h('ul', { class: 'tokens', 'aria-live': 'polite' });
  const status = statusLine();
  const learn = h('button', { type: 'button' }, 'Learn the next card presented');

  async function load() {
    const { tokens, learning } = await get('/rfid-tokens');
    list.replaceChildren(...tokens.map((t) => {
      const remove = h('button', { type: 'button', class: 'small', 'aria-label': `Remove card ${t.uid}` }, 'Remove');
      remove.addEventListener('click', () => busy(remove, status, async () => {
        await del(`/rfid-tokens/${encodeURIComponent(t.uid)}`);
        await load();
      }, `Removed ${t.uid}.`));
      return h('li', {}, h('span', {}, h('code', {}, t.uid), ' ', t.label), remove);
    }));
    if (!tokens.length) list.append(h('li', { class: 'muted' }, 'No cards.'));
    return { tokens, learning };
  }

  const uid = h('input', { name: 'uid', autocomplete: 'off', spellcheck: 'false', placeholder: '04A1B2C3' });
  const label = h('input', { name: 'label', autocomplete: 'off', maxlength: 40 });
  const add = h('button', { type: 'submit' }, 'Add card');
  const form = h('form', { novalidate: true }, field('Card UID (hex)', uid), field('Label', label), add);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    add.disabled = true;
    try {
      await post('/rfid-tokens', { uid: uid.value.trim(), label: label.value.trim() });
      say(status, `Added ${uid.value.trim().toUpperCase()}.`);
      uid.value = label.value = '';
      await load();
    } catch (err) {
      if (err.status === 400) showError(form, status, err);
      else say(status, err.message, 'error');
    } finally {
      add.disabled = false;
    }
  });

  learn.addEventListener('click', () => busy(learn, status, async () => {
    const before = new Set((await load()).tokens.map((t) => t.uid));
    await post('/rfid-tokens/learn', { timeout_s: LEARN_S });
    say(status, `Present the card to the charger within ${LEARN_S} s…`);
    const deadline = Date.now() + (LEARN_S + 2) * 1000;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const { tokens, learning } = await load();
      const learned = tokens.find((t) => !before.has(t.uid));
      if (learned) return say(status, `Learned card ${learned.uid}.`);
      if (!learning || Date.now() > deadline) return say(status, 'No card was presented.', 'error');
    }
  }, null));

  await load();
  return card('RFID cards', list, form, h('div', { class: 'actions' }, learn), status);
}

export async function render(main) {
  const sections = await Promise.allSettled([
    settingsForm('Charging', '/settings/charger', CHARGER, {
      onLoad: (values) => window.dispatchEvent(new CustomEvent('evnet:station', { detail: values.station_name })),
    }),
    tokensCard(),
    settingsForm('Energy management', '/settings/energy', ENERGY),
    settingsForm('OCPP back office', '/settings/ocpp', OCPP, { onLoad: passwordState }),
    Promise.resolve(certificateCard()),
  ]);
  const titles = ['Charging', 'RFID cards', 'Energy management', 'OCPP back office', 'OCPP certificates'];
  sections.forEach((section, i) => {
    if (section.status === 'fulfilled') main.append(section.value);
    else main.append(card(titles[i], h('p', { class: 'error' }, `Not available: ${section.reason.message}`)));
  });
}
