/* A five-class colour ramp with quantile breaks, and its legend rows. */

export const RAMP = ['#fef0d9', '#fdcc8a', '#fc8d59', '#e34a33', '#b30000'];
export const NO_DATA = '#bdbdbd';

/* Quantile breaks (at most RAMP.length classes) of the non-empty values. */
export function breaks(values) {
  const v = values.filter((x) => x != null && isFinite(x)).sort((a, b) => a - b);
  if (!v.length) { return []; }
  const out = [];
  for (let i = 1; i < RAMP.length; i++) {
    const q = v[Math.min(v.length - 1, Math.floor(i * v.length / RAMP.length))];
    if (!out.length || q > out[out.length - 1]) { out.push(q); }
  }
  return out;
}

/* The colour of `value` given the breaks; fewer breaks use the ramp's darker end. */
export function classOf(value, cuts) {
  let i = 0;
  while (i < cuts.length && value >= cuts[i]) { i++; }
  return RAMP[Math.min(i + (RAMP.length - 1 - cuts.length), RAMP.length - 1)];
}

/* Legend rows [colour, text] for the breaks, values shown through `format`. */
export function rampRows(cuts, format, noData) {
  const rows = [];
  const offset = RAMP.length - 1 - cuts.length;
  for (let i = 0; i <= cuts.length; i++) {
    const lo = i === 0 ? null : cuts[i - 1];
    const hi = i === cuts.length ? null : cuts[i];
    let text = lo == null ? '< ' + format(hi) : (hi == null ? '≥ ' + format(lo) : format(lo) + ' – ' + format(hi));
    if (!cuts.length) { text = '全部相同'; }
    rows.push([RAMP[i + offset], text]);
  }
  if (noData) { rows.push([NO_DATA, '无数据（分母为 0）']); }
  return rows;
}
