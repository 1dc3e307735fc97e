// Past sessions, newest first, and the CSV export (the same list, for a spreadsheet or an expense claim).

import { BASE, get } from '../api.js';
import { card, h } from '../dom.js';
import * as fmt from '../format.js';

const PAGE = 25;

export async function render(main) {
  let limit = PAGE;
  const body = h('tbody');
  const more = h('button', { type: 'button' }, 'Show more');
  const total = h('p', { class: 'muted', 'aria-live': 'polite' });
  const table = h('div', { class: 'scroll' }, h('table', {},
    h('caption', { class: 'sr-only' }, 'Sessions, newest first'),
    h('thead', {}, h('tr', {}, ['Started', 'Duration', 'Card / ID tag', 'Energy', 'Ended by'].map((t) => h('th', { scope: 'col' }, t)))),
    body));

  async function load() {
    const { sessions } = await get(`/sessions?limit=${limit}`);
    body.replaceChildren(...sessions.map((s) => {
      const open = s.stopped_at === null;
      const end = open ? Date.now() / 1000 : s.stopped_at;
      return h('tr', {},
        h('td', {}, fmt.when(s.started_at)),
        h('td', {}, fmt.duration(end - s.started_at)),
        h('td', {}, fmt.text(s.id_tag)),
        h('td', { class: 'num' }, fmt.energy(s.energy_wh)),
        h('td', {}, open ? 'In progress' : fmt.text(s.stop_reason)));
    }));
    if (!sessions.length) body.append(h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'No sessions yet.')));
    more.hidden = sessions.length < limit;
    total.textContent = `${sessions.length} session${sessions.length === 1 ? '' : 's'} shown.`;
  }
  more.addEventListener('click', async () => {
    limit *= 2;
    await load();
  });

  main.append(card('Sessions', h('p', {}, h('a', { href: `${BASE}/sessions.csv`, download: 'sessions.csv', class: 'button' },
    'Export CSV')), table, total, more));
  await load();
}
