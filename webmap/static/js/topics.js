/* The monthly topics page (每月一题): the topics of the user's area with the month's case count and
 * three rates against the month before (▲/▼), a topic's goal, tasks and record, and for planners the
 * forms that set, change and close one. Column names, figure names, statuses, event words and limits
 * come from the options JSON; user text reaches the page through textContent only (dom.js). */

import { addOptions, el, keepFormsOnPage } from './dom.js';
import { categories, csrfToken, departments, failure, getJSON, send } from './api.js';
import { readOptions } from './options.js';

keepFormsOnPage();
const options = readOptions();
const filter = document.getElementById('gm-topics-filter');
const table = document.getElementById('gm-topics-table');
const status = document.getElementById('gm-topics-status');
const detail = document.getElementById('gm-topic-detail');
const form = document.getElementById('gm-topic-form');
const state = { request: 0, candidates: [] };

function isRate(key) { return Boolean(options.rates[key]); }
function show(key, v) { return v == null ? '—' : (isRate(key) ? (v * 100).toFixed(1) + '%' : String(v)); }

/* ▲ / ▼ and the change against the month before ('' when either month is empty or nothing changed). */
function arrow(key, change) {
  if (change == null || change === 0) { return null; }
  const text = (change > 0 ? '▲' : '▼') + (isRate(key) ? (Math.abs(change) * 100).toFixed(1) + '%' : Math.abs(change));
  return el('span', ' ' + text, change > 0 ? 'gm-up' : 'gm-down');
}

function parts(key, row) {
  const names = options.rates[key];
  return names ? ' (' + show(names[0], row[names[0]]) + ' / ' + show(names[1], row[names[1]]) + ')' : '';
}

function monthQuery() {
  const month = filter.elements.month.value;
  return month ? '?month=' + encodeURIComponent(month) : '';
}

function updateExports() {
  filter.querySelectorAll('.gm-export a').forEach((a) => {
    a.href = '/api/topics.' + a.dataset.format + monthQuery();
  });
}

function cellText(key, topic) {
  if (key === 'targets') { return topic.targets.join('、'); }
  if (key === 'status') { return options.statuses[topic.status] || topic.status; }
  if (key === 'category_code') { return topic.category_code + ' ' + (topic.category_name || ''); }
  if (key === 'lead_department') { return topic.lead_department_name || topic.lead_department; }
  return topic[key] == null ? '' : String(topic[key]);
}

function figureCell(key, figures) {
  const td = el('td', show(key, figures.month[key]));
  const change = arrow(key, figures.change[key]);
  if (change) { td.appendChild(change); }
  td.title = figures.month.month + parts(key, figures.month) + '；上月 ' + figures.previous.month + ' '
    + show(key, figures.previous[key]) + parts(key, figures.previous);
  return td;
}

function drawTable(topics) {
  const head = el('tr');
  options.columns.forEach(([, name]) => { const th = el('th', name); th.scope = 'col'; head.appendChild(th); });
  options.figures.forEach(([, name]) => { const th = el('th', name); th.scope = 'col'; head.appendChild(th); });
  table.tHead.textContent = '';
  table.tHead.appendChild(head);
  const body = table.tBodies[0];
  body.textContent = '';
  topics.forEach((topic) => {
    const row = el('tr');
    row.tabIndex = 0;
    options.columns.forEach(([key]) => row.appendChild(el('td', cellText(key, topic))));
    options.figures.forEach(([key]) => row.appendChild(figureCell(key, topic.figures)));
    row.addEventListener('click', () => showDetail(topic.id));
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter') { showDetail(topic.id); } });
    body.appendChild(row);
  });
}

function load() {
  updateExports();
  status.textContent = '加载中…';
  const ticket = ++state.request;
  fetch('/api/topics' + monthQuery())
    .then((r) => r.json().then((data) => ({ ok: r.ok, data })))
    .then((res) => {
      if (ticket !== state.request) { return; }
      if (!res.ok) { status.textContent = failure(res, '加载失败'); return; }
      status.textContent = '共 ' + res.data.topics.length + ' 题';
      drawTable(res.data.topics);
    })
    .catch(() => { status.textContent = '加载失败，请重试'; });
}

function patch(id, body) {
  return fetch('/api/topics/' + id, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
    body: JSON.stringify(body),
  }).then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, data })));
}

function textField(id, name, label, value) {
  const wrap = el('div', null, 'gm-topic-field');
  const lab = el('label', label);
  lab.htmlFor = id;
  const area = el('textarea');
  area.id = id;
  area.name = name;
  area.rows = 3;
  area.maxLength = options.limits.textMax;
  area.value = value || '';
  wrap.appendChild(lab);
  wrap.appendChild(area);
  return wrap;
}

function editForm(topic) {
  const edit = el('form', null, 'gm-topic-edit');
  edit.setAttribute('aria-label', '修改题目');
  options.texts.forEach(([key, name]) => edit.appendChild(textField('gm-edit-' + key, key, name, topic[key])));
  const note = el('p', null, 'gm-stats-status');
  note.setAttribute('role', 'status');
  const save = el('button', '保存');
  save.type = 'submit';
  const close = el('button', '结束本题');
  close.type = 'button';
  const done = (res) => {
    if (!res.ok) { note.textContent = failure(res, '保存失败'); return; }
    showDetail(topic.id);
    load();
  };
  edit.addEventListener('submit', (e) => {
    e.preventDefault();
    patch(topic.id, { goal: edit.elements.goal.value, tasks: edit.elements.tasks.value }).then(done);
  });
  close.addEventListener('click', () => patch(topic.id, { close: true }).then(done));
  edit.appendChild(save);
  edit.appendChild(close);
  edit.appendChild(note);
  return edit;
}

function showDetail(id) {
  getJSON('/api/topics/' + id).then((topic) => {
    if (!topic.id) { return; }
    detail.textContent = '';
    detail.hidden = false;
    detail.appendChild(el('h2', topic.title + '（' + topic.month + '，' + (options.statuses[topic.status] || '') + '）'));
    const names = topic.target_names || {};
    detail.appendChild(el('p', '目标区划：' + topic.targets.map((t) => (names[t] || t) + '（' + t + '）').join('、')));
    options.texts.forEach(([key, name]) => {
      detail.appendChild(el('h3', name));
      detail.appendChild(el('p', topic[key] || '—'));
    });
    if (topic.may_edit) { detail.appendChild(editForm(topic)); }
    detail.appendChild(el('h3', '记录'));
    const list = el('ol');
    topic.events.forEach((e) => {
      list.appendChild(el('li', e.at.replace('T', ' ').slice(0, 16) + ' ' + e.actor_name + ' '
        + (options.events[e.action] || e.action)));
    });
    detail.appendChild(list);
  });
}

/* --- setting a topic (planners) ------------------------------------------------------------------ */

function fillCandidate(index) {
  const c = state.candidates[index];
  if (!c) { return; }
  form.elements.targets.value = c.grid_code;
  form.elements.category.value = c.category_code;
  if (!form.elements.title.value) { form.elements.title.value = (c.grid_name || c.grid_code) + (c.category_name || ''); }
}

function setUpForm() {
  form.elements.month.value = options.month;
  categories().then((pairs) => addOptions(form.elements.category, pairs));
  departments().then((pairs) => {
    addOptions(form.elements.lead_department, pairs);
    addOptions(form.elements.co_departments, pairs);
  });
  getJSON('/api/hotspots/recurring.json').then((data) => {
    state.candidates = data.candidates || [];
    addOptions(form.elements.recurring, state.candidates.map((c, i) => [String(i),
      (c.grid_name || c.grid_code) + ' ' + (c.category_name || c.category_code) + '（' + c.count + '）']));
  });
  form.elements.recurring.addEventListener('change', (e) => fillCandidate(Number(e.target.value)));
  const note = document.getElementById('gm-topic-form-status');
  form.addEventListener('submit', () => {
    const value = (name) => form.elements[name].value;
    const body = {
      title: value('title'), category: value('category'), month: value('month'),
      targets: value('targets').split(/[,，\s]+/).filter(Boolean), lead_department: value('lead_department'),
      co_departments: Array.from(form.elements.co_departments.selectedOptions).map((o) => o.value),
      goal: value('goal'), tasks: value('tasks'),
    };
    send('/api/topics', body).then((res) => {
      note.textContent = res.ok ? '已设立：' + res.data.title : failure(res, '设立失败');
      if (res.ok) { form.reset(); form.elements.month.value = options.month; load(); }
    });
  });
}

filter.elements.month.value = new URLSearchParams(window.location.search).get('month') || '';
filter.addEventListener('change', load);
if (form) { setUpForm(); }
load();
