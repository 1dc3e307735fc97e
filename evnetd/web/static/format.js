// How values read on a small screen: units always shown, unknown values (null: the service does not
// know them yet or is not running) as a dash rather than a made-up zero.

const DASH = '–';
const known = (v) => v !== null && v !== undefined && !Number.isNaN(v);

export const amps = (v) => (known(v) ? `${Number(v).toFixed(1)} A` : DASH);
export const volts = (v) => (known(v) ? `${Math.round(v)} V` : DASH);
export const celsius = (v) => (known(v) ? `${Number(v).toFixed(1)} °C` : DASH);
export const text = (v) => (known(v) && v !== '' ? String(v) : DASH);

/** Watts under 1 kW, kW above. */
export const power = (w) => (!known(w) ? DASH : Math.abs(w) < 1000 ? `${Math.round(w)} W` : `${(w / 1000).toFixed(2)} kW`);

/** Energy in kWh: what the user pays for and what the car shows. */
export const energy = (wh, digits = 2) => (known(wh) ? `${(wh / 1000).toFixed(digits)} kWh` : DASH);

/** 3725 → "1 h 02 min"; under an hour "12 min 05 s". */
export function duration(seconds) {
  if (!known(seconds) || seconds < 0) return DASH;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h} h ${pad(m)} min` : `${m} min ${pad(s % 60)} s`;
}

/** UNIX seconds → local date and time (0 or negative: none). */
export const when = (unix) => (known(unix) && unix > 0 ? new Date(unix * 1000).toLocaleString() : DASH);
