/* The statistics page: a sortable table of measures, a ranking bar chart and a monthly trend line
 * (both plain SVG, no chart library), export links. Conditions live in the URL
 * (?level=street&from=2026-11-01&to=2026-11-30) so a link shows the same table. Each rate's
 * numerator and denominator, the trend's series and their names come from the options JSON. */

import { keepFormsOnPage, el, svgEl as svg } from './dom.js';
import { getJSON } from './api.js';
import { readOptions } from './options.js';

// The columns shown (all of them are in the exports); rates carry numerator/denominator.
// Departments also carry the whistlers' average score (its count in the cell's title).
const SHOWN = ['code', 'name', 'cases_total', 'response_rate', 'resolution_rate', 'satisfaction_rate', 'score',
               'rank', 'on_time_rate', 'check_in_rate', 'whistle_score', 'median_hours_to_respond',
               'median_hours_to_resolve', 'overdue', 'repeat_cases'];
const RANKED = 20;
const TREND_MONTHS = 12;
const SERIES_COLOURS = ['#1e88e5', '#43a047', '#fb8c00'];

keepFormsOnPage();
const options = readOptions();
const form = document.getElementById('gm-stats-form');
const table = document.getElementById('gm-stats-table');
const status = document.getElementById('gm-stats-status');
const state = { data: null, sort: 'rank', ascending: true, selected: null, request: 0 };

function pct(v) { return v == null ? '—' : (v * 100).toFixed(1) + '%'; }
function num(v, digits) { return v == null ? '—' : (digits ? Number(v).toFixed(digits) : String(v)); }

function display(column, row) {
  const v = row[column];
  if (options.percent.includes(column)) { return pct(v); }
  if (column.indexOf('median_hours') === 0) { return num(v, 1); }
  if (options.averages[column]) { return num(v, 2); }
  return v == null ? '—' : String(v);
}

/* Whether the date range is half filled (only 从 or only 到): nothing is asked until it is whole. */
function halfRange() {
  return !form.elements.from.value !== !form.elements.to.value;
}

function params() {
  const p = new URLSearchParams();
  p.set('level', form.elements.level.value);
  if (form.elements.from.value && form.elements.to.value) {
    p.set('from', form.elements.from.value);
    p.set('to', form.elements.to.value);
  }
  return p;
}

function apiQuery() {
  const p = params();
  p.delete('level');
  return p.toString();
}

function updateExports() {
  const level = form.elements.level.value;
  const q = apiQuery();
  form.querySelectorAll('.gm-export a').forEach((a) => {
    // The Excel CSV: the same table with Chinese headers and codes kept as text (excel=true).
    const excel = a.dataset.format === 'excel-csv';
    const query = excel ? 'excel=true' + (q ? '&' + q : '') : q;
    a.href = '/api/stats/' + level + '.' + (excel ? 'csv' : a.dataset.format) + (query ? '?' + query : '');
  });
}

function load() {
  const level = form.elements.level.value;
  if (halfRange()) {  // wait for the other end of the range; the table shown stays as it was
    status.textContent = form.elements.from.value ? '请再选择结束日期（到）' : '请再选择开始日期（从）';
    return;
  }
  history.replaceState(null, '', window.location.pathname + '?' + params().toString());
  updateExports();
  status.textContent = '加载中…';
  const ticket = ++state.request;
  const q = apiQuery();
  fetch('/api/stats/' + level + '.json' + (q ? '?' + q : ''))
    .then((r) => r.json().then((d) => ({ ok: r.ok, data: d })))
    .then((res) => {
      if (ticket !== state.request) { return; }
      if (!res.ok) {
        status.textContent = res.data.error ? res.data.error.message : '加载失败';
        return;
      }
      state.data = res.data;
      state.selected = null;
      status.textContent = '共 ' + res.data.rows.length + ' 行' + (res.data.behind
        ? '；统计正在后台更新，还有 ' + res.data.behind + ' 条新事件未计入，约一分钟后刷新即可看到' : '');
      drawTable();
      drawRanking();
      loadTrend(null);
    })
    .catch(() => { status.textContent = '加载失败，请重试'; });
}

function sortedRows() {
  const rows = state.data.rows.slice();
  const key = state.sort;
  const sign = state.ascending ? 1 : -1;
  rows.sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null && y == null) { return 0; }
    if (x == null) { return 1; }  // empty values last, whichever the direction
    if (y == null) { return -1; }
    if (typeof x === 'number' && typeof y === 'number') { return sign * (x - y); }
    return sign * String(x).localeCompare(String(y), 'zh-CN');
  });
  return rows;
}

function headerCell(c, headers) {
  const th = el('th', headers[c] || c);
  th.dataset.column = c;
  th.scope = 'col';
  if (c === state.sort) { th.setAttribute('aria-sort', state.ascending ? 'ascending' : 'descending'); }
  th.addEventListener('click', () => {
    if (state.sort === c) {
      state.ascending = !state.ascending;
    } else {
      state.sort = c;
      state.ascending = c === 'rank' || c === 'code' || c === 'name';
    }
    drawTable();
  });
  return th;
}

function drawTable() {
  const columns = SHOWN.filter((c) => state.data.columns.indexOf(c) >= 0);
  const head = table.tHead;
  head.textContent = '';
  const tr = el('tr');
  columns.forEach((c) => tr.appendChild(headerCell(c, state.data.headers)));
  head.appendChild(tr);
  const body = table.tBodies[0];
  body.textContent = '';
  sortedRows().forEach((row) => {
    const line = el('tr');
    line.dataset.code = row.code;
    if (row.code === state.selected) { line.className = 'gm-selected'; }
    columns.forEach((c) => {
      const td = el('td', display(c, row));
      if (row[c] == null) { td.className = 'gm-empty-cell'; }
      const parts = options.rates[c];
      if (parts) { td.title = num(row[parts[0]]) + ' / ' + num(row[parts[1]]); }
      const count = options.averages[c];
      if (count) { td.title = (state.data.headers[count] || count) + '：' + num(row[count]); }
      line.appendChild(td);
    });
    line.addEventListener('click', () => {
      state.selected = row.code;
      drawTable();
      loadTrend(row);
    });
    body.appendChild(line);
  });
}

function drawRanking() {
  const chart = document.getElementById('gm-rank-chart');
  chart.textContent = '';
  const rows = state.data.rows.filter((r) => r.score != null)
    .sort((a, b) => (a.rank - b.rank) || String(a.code).localeCompare(String(b.code)))
    .slice(0, RANKED);
  const width = chart.clientWidth || 600;
  const rowHeight = 15;
  const height = Math.max(60, rows.length * rowHeight + 24);
  chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  chart.style.height = height + 'px';
  if (!rows.length) {
    chart.appendChild(svg('text', { x: 10, y: 30, fill: '#888' }, '所选时段没有可排名的数据（三率都要有分母）'));
    return;
  }
  const left = 150;
  const right = 56;
  rows.forEach((r, i) => {
    const y = 4 + i * rowHeight;
    const w = Math.max(1, (width - left - right) * r.score);
    const g = svg('g', { 'class': 'gm-rank-bar', 'data-code': r.code });
    g.appendChild(svg('text', { x: left - 6, y: y + 11, 'text-anchor': 'end' }, r.rank + '. ' + r.name));
    g.appendChild(svg('rect', { x: left, y: y + 2, width: w, height: rowHeight - 4, fill: '#1e88e5' }));
    g.appendChild(svg('text', { x: left + w + 4, y: y + 11 }, pct(r.score)));
    g.appendChild(svg('title', {}, r.name + ' 综合得分 ' + pct(r.score) + '，排名 ' + r.rank));
    chart.appendChild(g);
  });
}

function loadTrend(row) {
  const level = form.elements.level.value;
  const title = document.getElementById('gm-trend-title');
  const p = new URLSearchParams({ months: String(TREND_MONTHS) });
  if (row && options.trendLevels.includes(level)) {
    p.set('level', level);
    p.set('code', row.code);
    title.textContent = row.name + ' 近 ' + TREND_MONTHS + ' 个月趋势';
  } else {
    title.textContent = '全部范围 近 ' + TREND_MONTHS + ' 个月趋势';
  }
  getJSON('/api/stats/trend?' + p).then((data) => drawTrend(data.rows || []));
}

function drawTrend(rows) {
  const chart = document.getElementById('gm-trend-chart');
  chart.textContent = '';
  const width = chart.clientWidth || 600;
  const height = 300;
  chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  const left = 44, right = 44, top = 14, bottom = 40;
  const plotW = width - left - right, plotH = height - top - bottom;
  const maxCases = Math.max(1, Math.max.apply(null, rows.map((r) => r.cases_total)));
  const step = rows.length > 1 ? plotW / (rows.length - 1) : 0;
  const x = (i) => left + i * step;
  // axes and grid: rates on the left (0–100 %), case counts on the right
  [0, 0.25, 0.5, 0.75, 1].forEach((t) => {
    const y = top + plotH * (1 - t);
    chart.appendChild(svg('line', { x1: left, x2: width - right, y1: y, y2: y, stroke: '#e0e0e0' }));
    chart.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', fill: '#666' }, (t * 100) + '%'));
    chart.appendChild(svg('text', { x: width - right + 4, y: y + 4, fill: '#999' }, String(Math.round(maxCases * t))));
  });
  rows.forEach((r, i) => {
    if ((rows.length - 1 - i) % Math.ceil(rows.length / 6) === 0) {  // the latest month always labelled
      chart.appendChild(svg('text', { x: x(i), y: height - bottom + 16, 'text-anchor': 'middle', fill: '#666' },
                            r.month));
    }
    const h = plotH * r.cases_total / maxCases;
    chart.appendChild(svg('rect', { x: x(i) - 5, y: top + plotH - h, width: 10, height: h, fill: '#cfd8dc' }));
  });
  options.trendSeries.forEach(([key, name], k) => {
    const colour = SERIES_COLOURS[k % SERIES_COLOURS.length];
    let d = '';
    let pen = false;
    rows.forEach((r, i) => {
      const v = r[key];
      if (v == null) { pen = false; return; }  // an empty month breaks the line, never drawn as 0
      d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + (top + plotH * (1 - v)).toFixed(1) + ' ';
      pen = true;
      chart.appendChild(svg('circle', { cx: x(i), cy: top + plotH * (1 - v), r: 2.5, fill: colour }));
    });
    if (d) { chart.appendChild(svg('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'class': 'gm-trend-' + key })); }
    chart.appendChild(svg('rect', { x: left + k * 80, y: height - 14, width: 10, height: 10, fill: colour }));
    chart.appendChild(svg('text', { x: left + k * 80 + 14, y: height - 5 }, name));
  });
  const casesAt = left + options.trendSeries.length * 80;
  chart.appendChild(svg('rect', { x: casesAt, y: height - 14, width: 10, height: 10, fill: '#cfd8dc' }));
  chart.appendChild(svg('text', { x: casesAt + 14, y: height - 5 }, options.casesLabel + '（右轴）'));
}

const initial = new URLSearchParams(window.location.search);
const main = document.querySelector('.gm-stats');
const wanted = initial.get('level') || main.dataset.defaultLevel;
if (Array.prototype.some.call(form.elements.level.options, (o) => o.value === wanted)) {
  form.elements.level.value = wanted;
}
form.elements.from.value = initial.get('from') || '';
form.elements.to.value = initial.get('to') || '';
form.addEventListener('change', load);
load();
