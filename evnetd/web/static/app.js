// The single-page shell: hash routes (#/, #/sessions, #/settings, #/diagnostics, #/login), one view
// at a time. Views are loaded on first use so the dashboard comes up with the least to fetch; a view's
// render() may return a cleanup function (closing its event stream) that runs when it is left.

import { loadSession, logout } from './api.js';

const VIEWS = {
  '': ['Dashboard', () => import('./views/dashboard.js')],
  sessions: ['Sessions', () => import('./views/sessions.js')],
  settings: ['Settings', () => import('./views/settings.js')],
  diagnostics: ['Diagnostics', () => import('./views/diagnostics.js')],
  login: ['Log in', () => import('./views/login.js')],
};

const main = document.getElementById('view');
const nav = document.getElementById('nav');
const logoutButton = document.getElementById('logout');
let session = null;
let leave = null;
let generation = 0;

const routeName = () => {
  const name = location.hash.replace(/^#\/?/, '');
  return name in VIEWS ? name : '';
};

async function show() {
  const mine = ++generation;
  let name = routeName();
  if (!session && name !== 'login') name = 'login';
  if (session && name === 'login') name = '';
  const [title, load] = VIEWS[name];
  if (leave) leave();
  leave = null;
  nav.hidden = logoutButton.hidden = !session;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${title} · EVNET charger`;
  const view = await load();
  if (mine !== generation) return; // the user moved on while it loaded
  main.replaceChildren();
  let cleanup = null;
  try {
    cleanup = await view.render(main, { onLogin: loggedIn });
  } catch (err) {
    // a page that cannot load says why instead of staying blank (a 401 has already sent us to the login)
    const message = document.createElement('p');
    message.className = 'error';
    message.textContent = `This page could not be loaded: ${err.message}`;
    main.append(message);
  }
  if (mine !== generation) {
    if (cleanup) cleanup();
    return;
  }
  leave = cleanup || null;
}

async function loggedIn() {
  session = await loadSession();
  if (location.hash === '' || location.hash === '#/login') location.hash = '#/';
  else show();
}

window.addEventListener('hashchange', show);
// the hash is the route: the skip link moves the focus instead of changing it
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('evnet:unauthorized', () => {
  if (!session) return;
  session = null;
  show();
});
logoutButton.addEventListener('click', async () => {
  await logout().catch(() => {});
  session = null;
  location.hash = '#/login';
  show();
});

/** The station name from the charger settings titles every page once known. */
window.addEventListener('evnet:station', (event) => {
  document.getElementById('station').textContent = event.detail || 'EVNET charger';
});

session = await loadSession().catch(() => null);
show();
