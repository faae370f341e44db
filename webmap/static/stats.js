/* gridmap statistics page: a sortable table of measures, a ranking bar chart and a monthly trend
 * line (both plain SVG, no chart library), export links. Conditions live in the URL
 * (?level=street&from=2026-11-01&to=2026-11-30) so a link shows the same table.
 * Names reach the page through textContent only. */
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  // The columns shown (all of them are in the exports); rates carry numerator/denominator.
  var SHOWN = ['code', 'name', 'cases_total', 'response_rate', 'resolution_rate', 'satisfaction_rate', 'score',
               'rank', 'on_time_rate', 'check_in_rate', 'median_hours_to_respond', 'median_hours_to_resolve',
               'overdue', 'repeat_cases'];
  var RATES = {
    response_rate: ['responded_on_time', 'dispatched'],
    resolution_rate: ['callbacks_solved', 'callbacks_answered'],
    satisfaction_rate: ['callbacks_satisfied', 'callbacks_answered'],
    on_time_rate: ['resolved_on_time', 'cases_due'],
    check_in_rate: ['checked_in_on_time', 'summons']
  };
  var TREND_LEVEL = { district: 'district', street: 'street', community: 'community', grid: 'grid' };

  var form = document.getElementById('gm-stats-form');
  var table = document.getElementById('gm-stats-table');
  var status = document.getElementById('gm-stats-status');
  var state = { data: null, sort: 'rank', ascending: true, selected: null, request: 0 };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) { e.textContent = text; }
    return e;
  }

  function pct(v) { return v == null ? '—' : (v * 100).toFixed(1) + '%'; }
  function num(v, digits) { return v == null ? '—' : (digits ? Number(v).toFixed(digits) : String(v)); }

  function display(column, row) {
    var v = row[column];
    if (RATES[column] || column === 'score') { return pct(v); }
    if (column.indexOf('median_hours') === 0) { return num(v, 1); }
    return v == null ? '—' : String(v);
  }

  function params() {
    var p = new URLSearchParams();
    p.set('level', form.elements.level.value);
    if (form.elements.from.value) { p.set('from', form.elements.from.value); }
    if (form.elements.to.value) { p.set('to', form.elements.to.value); }
    return p;
  }

  function apiQuery() {
    var p = params();
    p.delete('level');
    return p.toString();
  }

  function updateExports() {
    var level = form.elements.level.value;
    var q = apiQuery();
    form.querySelectorAll('.gm-export a').forEach(function (a) {
      a.href = '/api/stats/' + level + '.' + a.dataset.format + (q ? '?' + q : '');
    });
  }

  function load() {
    var level = form.elements.level.value;
    history.replaceState(null, '', window.location.pathname + '?' + params().toString());
    updateExports();
    status.textContent = '加载中…';
    var ticket = ++state.request;
    var q = apiQuery();
    fetch('/api/stats/' + level + '.json' + (q ? '?' + q : ''))
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        if (ticket !== state.request) { return; }
        if (!res.ok) {
          status.textContent = res.data.error ? res.data.error.message : '加载失败';
          return;
        }
        state.data = res.data;
        state.selected = null;
        status.textContent = '共 ' + res.data.rows.length + ' 行';
        drawTable();
        drawRanking();
        loadTrend(null);
      })
      .catch(function () { status.textContent = '加载失败，请重试'; });
  }

  function sortedRows() {
    var rows = state.data.rows.slice();
    var key = state.sort;
    var sign = state.ascending ? 1 : -1;
    rows.sort(function (a, b) {
      var x = a[key], y = b[key];
      if (x == null && y == null) { return 0; }
      if (x == null) { return 1; }  // empty values last, whichever the direction
      if (y == null) { return -1; }
      if (typeof x === 'number' && typeof y === 'number') { return sign * (x - y); }
      return sign * String(x).localeCompare(String(y), 'zh-CN');
    });
    return rows;
  }

  function drawTable() {
    var headers = state.data.headers;
    var columns = SHOWN.filter(function (c) { return state.data.columns.indexOf(c) >= 0; });
    var head = table.tHead;
    head.textContent = '';
    var tr = el('tr');
    columns.forEach(function (c) {
      var th = el('th', headers[c] || c);
      th.dataset.column = c;
      th.scope = 'col';
      if (c === state.sort) { th.setAttribute('aria-sort', state.ascending ? 'ascending' : 'descending'); }
      th.addEventListener('click', function () {
        if (state.sort === c) { state.ascending = !state.ascending; } else {
          state.sort = c;
          state.ascending = c === 'rank' || c === 'code' || c === 'name';
        }
        drawTable();
      });
      tr.appendChild(th);
    });
    head.appendChild(tr);
    var body = table.tBodies[0];
    body.textContent = '';
    sortedRows().forEach(function (row) {
      var line = el('tr');
      line.dataset.code = row.code;
      if (row.code === state.selected) { line.className = 'gm-selected'; }
      columns.forEach(function (c) {
        var td = el('td', display(c, row));
        if (row[c] == null) { td.className = 'gm-empty-cell'; }
        if (RATES[c]) { td.title = num(row[RATES[c][0]]) + ' / ' + num(row[RATES[c][1]]); }
        line.appendChild(td);
      });
      line.addEventListener('click', function () {
        state.selected = row.code;
        drawTable();
        loadTrend(row);
      });
      body.appendChild(line);
    });
  }

  function drawRanking() {
    var chart = document.getElementById('gm-rank-chart');
    chart.textContent = '';
    var rows = state.data.rows.filter(function (r) { return r.score != null; })
      .sort(function (a, b) { return (a.rank - b.rank) || String(a.code).localeCompare(String(b.code)); })
      .slice(0, 20);
    var width = chart.clientWidth || 600;
    var rowHeight = 15;
    var height = Math.max(60, rows.length * rowHeight + 24);
    chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    chart.style.height = height + 'px';
    if (!rows.length) {
      chart.appendChild(svg('text', { x: 10, y: 30, fill: '#888' }, '所选时段没有可排名的数据（三率都要有分母）'));
      return;
    }
    var left = 150;
    var right = 56;
    rows.forEach(function (r, i) {
      var y = 4 + i * rowHeight;
      var w = Math.max(1, (width - left - right) * r.score);
      var g = svg('g', { 'class': 'gm-rank-bar', 'data-code': r.code });
      g.appendChild(svg('text', { x: left - 6, y: y + 11, 'text-anchor': 'end' }, r.rank + '. ' + r.name));
      g.appendChild(svg('rect', { x: left, y: y + 2, width: w, height: rowHeight - 4, fill: '#1e88e5' }));
      g.appendChild(svg('text', { x: left + w + 4, y: y + 11 }, pct(r.score)));
      var title = svg('title', {}, r.name + ' 综合得分 ' + pct(r.score) + '，排名 ' + r.rank);
      g.appendChild(title);
      chart.appendChild(g);
    });
  }

  function loadTrend(row) {
    var level = form.elements.level.value;
    var title = document.getElementById('gm-trend-title');
    var p = new URLSearchParams({ months: '12' });
    if (row && TREND_LEVEL[level]) {
      p.set('level', level);
      p.set('code', row.code);
      title.textContent = row.name + ' 近 12 个月趋势';
    } else {
      title.textContent = '全部范围 近 12 个月趋势';
    }
    fetch('/api/stats/trend?' + p).then(function (r) { return r.json(); }).then(function (data) {
      drawTrend(data.rows || []);
    });
  }

  function drawTrend(rows) {
    var chart = document.getElementById('gm-trend-chart');
    chart.textContent = '';
    var width = chart.clientWidth || 600;
    var height = 300;
    chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    var left = 44, right = 44, top = 14, bottom = 40;
    var plotW = width - left - right, plotH = height - top - bottom;
    var maxCases = Math.max(1, Math.max.apply(null, rows.map(function (r) { return r.cases_total; })));
    var step = rows.length > 1 ? plotW / (rows.length - 1) : 0;
    function x(i) { return left + i * step; }
    // axes and grid: rates on the left (0–100 %), case counts on the right
    [0, 0.25, 0.5, 0.75, 1].forEach(function (t) {
      var y = top + plotH * (1 - t);
      chart.appendChild(svg('line', { x1: left, x2: width - right, y1: y, y2: y, stroke: '#e0e0e0' }));
      chart.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', fill: '#666' }, (t * 100) + '%'));
      chart.appendChild(svg('text', { x: width - right + 4, y: y + 4, fill: '#999' }, String(Math.round(maxCases * t))));
    });
    rows.forEach(function (r, i) {
      if ((rows.length - 1 - i) % Math.ceil(rows.length / 6) === 0) {  // the latest month always labelled
        chart.appendChild(svg('text', { x: x(i), y: height - bottom + 16, 'text-anchor': 'middle', fill: '#666' },
                              r.month));
      }
      var h = plotH * r.cases_total / maxCases;
      chart.appendChild(svg('rect', { x: x(i) - 5, y: top + plotH - h, width: 10, height: h, fill: '#cfd8dc' }));
    });
    var series = [['response_rate', '响应率', '#1e88e5'], ['resolution_rate', '解决率', '#43a047'],
                  ['satisfaction_rate', '满意率', '#fb8c00']];
    series.forEach(function (s, k) {
      var d = '';
      var pen = false;
      rows.forEach(function (r, i) {
        var v = r[s[0]];
        if (v == null) { pen = false; return; }  // an empty month breaks the line, never drawn as 0
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + (top + plotH * (1 - v)).toFixed(1) + ' ';
        pen = true;
        chart.appendChild(svg('circle', { cx: x(i), cy: top + plotH * (1 - v), r: 2.5, fill: s[2] }));
      });
      if (d) { chart.appendChild(svg('path', { d: d, fill: 'none', stroke: s[2], 'stroke-width': 2, 'class': 'gm-trend-' + s[0] })); }
      chart.appendChild(svg('rect', { x: left + k * 80, y: height - 14, width: 10, height: 10, fill: s[2] }));
      chart.appendChild(svg('text', { x: left + k * 80 + 14, y: height - 5 }, s[1]));
    });
    chart.appendChild(svg('rect', { x: left + 240, y: height - 14, width: 10, height: 10, fill: '#cfd8dc' }));
    chart.appendChild(svg('text', { x: left + 254, y: height - 5 }, '案件数（右轴）'));
  }

  var initial = new URLSearchParams(window.location.search);
  var main = document.querySelector('.gm-stats');
  var wanted = initial.get('level') || main.dataset.defaultLevel;
  if (Array.prototype.some.call(form.elements.level.options, function (o) { return o.value === wanted; })) {
    form.elements.level.value = wanted;
  }
  form.elements.from.value = initial.get('from') || '';
  form.elements.to.value = initial.get('to') || '';
  form.addEventListener('change', load);
  load();
}());
