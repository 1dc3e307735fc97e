// Log in with the charger's PIN (printed on the device label, or set by the installer). The PIN is
// sent once and never kept by the page; too many wrong PINs and the service makes us wait.

import { login } from '../api.js';
import { clearErrors, field, h, say, statusLine } from '../dom.js';

export function render(main, { onLogin }) {
  const pin = h('input', {
    name: 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'current-password',
    required: true, maxlength: '32',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const status = statusLine();
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Log in'),
    field('PIN', pin, { hint: 'The PIN on the charger’s label, or the one your installer set.' }),
    button, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    button.disabled = true;
    try {
      await login(pin.value);
      pin.value = '';
      await onLogin();
    } catch (err) {
      pin.value = '';
      if (err.status === 401 || err.status === 403) say(status, 'Wrong PIN.', 'error');
      else if (err.status === 429) say(status, `Too many attempts: try again in ${err.retryAfter ?? 'a few'} s.`, 'error');
      else say(status, err.message, 'error');
      pin.focus();
    } finally {
      button.disabled = false;
    }
  });
  main.append(form);
  pin.focus();
}
