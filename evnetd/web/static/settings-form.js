// One settings section as a form: the controls are described by specs (name = the API field), filled
// from GET, and saving PATCHes only what the user changed. The service applies a change all or
// nothing and answers 400 naming the field and the rule, which is shown under that control.
// Forms are `novalidate`: the service's rule is the one the user reads, not the browser's wording.

import { get, patch } from './api.js';
import { card, clearErrors, field, h, say, select, showError, statusLine } from './dom.js';

/** The control for one spec, and how to read and write its value. */
function control(spec) {
  const { name, kind } = spec;
  if (kind === 'amps') {
    // slider for the thumb, number for the exact value; both show the same whole amps
    const number = h('input', { name, type: 'number', min: spec.min, max: spec.max, step: 1, inputmode: 'numeric' });
    const slider = h('input', { type: 'range', min: spec.min, max: spec.max, step: 1, 'aria-label': `${spec.label} slider` });
    slider.addEventListener('input', () => { number.value = slider.value; });
    number.addEventListener('input', () => { slider.value = number.value; });
    return {
      input: number,
      node: h('div', { class: 'amps' }, slider, number, h('span', { 'aria-hidden': 'true' }, 'A')),
      read: () => number.valueAsNumber,
      write: (v) => { number.value = slider.value = v; },
    };
  }
  if (kind === 'choice') {
    const input = select(name, spec.options, null);
    return {
      input,
      read: () => (spec.numeric ? Number(input.value) : input.value),
      write: (v) => { input.value = String(v); },
    };
  }
  if (kind === 'flag') {
    const input = h('input', { name, type: 'checkbox' });
    return { input, read: () => input.checked, write: (v) => { input.checked = Boolean(v); } };
  }
  if (kind === 'lines') {
    const input = h('textarea', { name, rows: 3, spellcheck: 'false', placeholder: spec.placeholder });
    return {
      input,
      read: () => input.value.split('\n').map((line) => line.trim()).filter((line) => line),
      write: (v) => { input.value = (v || []).join('\n'); },
    };
  }
  if (kind === 'number') {
    const input = h('input', { name, type: 'number', step: spec.step ?? 'any', inputmode: 'decimal' });
    return { input, read: () => input.valueAsNumber, write: (v) => { input.value = v; } };
  }
  // text, url, secret: a secret is never filled in; empty means "keep the one that is set"
  const type = kind === 'secret' ? 'password' : kind === 'url' ? 'url' : 'text';
  const input = h('input', {
    name, type, maxlength: spec.maxlength, autocomplete: kind === 'secret' ? 'new-password' : 'off',
    spellcheck: 'false', placeholder: spec.placeholder,
  });
  return { input, read: () => input.value.trim(), write: (v) => { if (kind !== 'secret') input.value = v ?? ''; } };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** A card with a form for `specs`, loaded from and saved to `path`. `onLoad(values)` runs after
 * each load (e.g. to say whether a password is set). Resolves to the card. */
export async function settingsForm(title, path, specs, { onLoad = null } = {}) {
  const controls = specs.map((spec) => ({ spec, ...control(spec) }));
  const status = statusLine();
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h('form', { novalidate: true },
    controls.map((c) => field(c.spec.label, c.input, { name: c.spec.name, hint: c.spec.hint, node: c.node })),
    h('div', { class: 'actions' }, save), status);
  let loaded = {};

  function fill(values) {
    loaded = values;
    for (const c of controls) c.write(values[c.spec.name]);
    if (onLoad) onLoad(values, form);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const changes = {};
    for (const c of controls) {
      const value = c.read();
      if (c.spec.kind === 'secret' ? value !== '' : !same(value, loaded[c.spec.name])) changes[c.spec.name] = value;
    }
    if (!Object.keys(changes).length) {
      say(status, 'Nothing changed.');
      return;
    }
    save.disabled = true;
    try {
      const answer = await patch(path, changes);
      fill(answer && typeof answer === 'object' ? answer : await get(path));
      for (const c of controls) if (c.spec.kind === 'secret') c.input.value = '';
      say(status, 'Saved.');
    } catch (err) {
      if (err.status === 400) showError(form, status, err);
      else say(status, err.message, 'error');
    } finally {
      save.disabled = false;
    }
  });

  fill(await get(path));
  return card(title, form);
}
