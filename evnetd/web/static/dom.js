// Building the DOM without innerHTML: every text the charger or the user supplies goes in as a text
// node, so nothing from the API can ever run as markup.

/** `h('button', {class: 'primary', onclick: fn}, 'Start')`; properties the element has (value,
 * checked, disabled…) are set as properties, the rest as attributes; null/false are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

let ids = 0;

/** A labelled control with a slot for the server's error: `name` is the API field the server names
 * in a 400, so `showError` can put the rule right under the control that broke it. `node` is what
 * is shown when the control sits inside a wrapper (a slider with its number box). */
export function field(label, control, { name = control.name, hint = null, node = control } = {}) {
  const id = control.id || (control.id = `f${++ids}`);
  const error = h('p', { class: 'error', id: `${id}-error`, 'data-error-for': name, hidden: true });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    described.push(hintEl.id);
  }
  control.setAttribute('aria-describedby', described.join(' '));
  const labelEl = h('label', { for: id }, label);
  const inline = control.type === 'checkbox';
  return h('div', { class: inline ? 'field inline' : 'field' }, inline ? [node, labelEl] : [labelEl, node], hintEl, error);
}

/** Clears the error slots of `form` and its status line. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/** Puts an API error next to the field it names (or in `status` when no control has that name). A
 * field like `windows[2]` or `tokens.uid` is shown at its control (`windows`, `tokens`). */
export function showError(form, status, err) {
  const slotFor = (name) => form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  const base = err.field ? err.field.split(/[.[]/)[0] : null;
  const slot = err.field ? slotFor(err.field) || slotFor(base) : null;
  if (slot) {
    slot.textContent = err.rule || err.message;
    slot.hidden = false;
    const control = form.querySelector(`[name="${CSS.escape(slot.dataset.errorFor)}"]`);
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    }
    say(status, `Not saved: ${err.field}: ${err.rule || err.message}`, 'error');
  } else {
    say(status, err.field ? `${err.field}: ${err.rule || err.message}` : err.message, 'error');
  }
}

/** Writes a message to a live region (`role=status`) so screen readers hear it too. */
export function say(el, text, kind = 'ok') {
  el.textContent = text;
  el.className = `status-line ${kind}`;
}

/** A live region for the outcome of a form or button. */
export const statusLine = () => h('p', { class: 'status-line', role: 'status', 'aria-live': 'polite' });

/** A titled section (a card on the page). */
export const card = (title, ...children) => h('section', { class: 'card' }, h('h2', {}, title), ...children);

/** `[value, label]` pairs → a <select>. */
export function select(name, options, value) {
  return h('select', { name }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

/** Runs `action` with `button` disabled, reporting the outcome on `status`. */
export async function busy(button, status, action, done = 'Done') {
  button.disabled = true;
  try {
    await action();
    if (status && done) say(status, done);
  } catch (err) {
    if (status) say(status, err.field ? `${err.field}: ${err.rule}` : err.message, 'error');
    else throw err;
  } finally {
    button.disabled = false;
  }
}
