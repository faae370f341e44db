/* Whistles (吹哨): the form that summons departments to a case, each summons shown in the panel,
 * a summoned department's check-in on site with the device's position, and the whistler's score
 * of a summoned department once the whistle closed. The reasons, the check-in radius, the whistle's
 * status names and the score's aspects and range come from the options (whistleReasons,
 * limits.checkInRadiusM, whistle). */

import { currentPosition } from './position.js';
import { el, selectEl, addOptions, labelled } from './dom.js';
import { departments, failure, getJSON, send } from './api.js';
import { checklist } from './checklist.js';
import { localTime } from './time.js';

// A check-in needs where the officer is now: never a position the device remembered.
const OTHER_CASES_MAX = 30;
const NOTE_MAX = 2000;

/* One whistle and its summonses, for the case panel. */
export function whistleBox(w, options) {
  const box = el('div', '', 'gm-whistle-box');
  box.appendChild(el('strong', '吹哨 #' + w.id + ' · ' + w.reason + '（' + (options.whistle.statuses[w.status] || w.status) + '）'));
  const states = options.whistle.summonsStates;
  (w.summons || []).forEach((s) => {
    const state = s.reported_at ? '已报到 ' + localTime(s.reported_at) + (s.late ? '（' + states.late + '）' : '')
                                : (states[s.state] || '未报到') + '，时限 ' + localTime(s.due_at);
    box.appendChild(el('div', (s.role === 'lead' ? '主责 ' : '协办 ') + s.department_name + '：' + state,
                       s.state === 'late' || s.state === 'missed' ? 'gm-overdue-soft' : ''));
  });
  return box;
}

/* The form, in `box`, that blows a whistle on case `c` (the panel's case) and, if ticked, other
 * unfinished cases of its street; the departments start as the case's lead and co-departments.
 * `done(message)` after it succeeded. */
export function whistleForm(box, c, options, done) {
  box.textContent = '';
  const form = document.createElement('form');
  form.className = 'gm-report-form gm-whistle-form';
  form.appendChild(el('h3', '吹哨召集部门'));
  const lead = selectEl('lead_department', [['', '请选择主责部门']], '主责部门');
  const co = checklist('co_departments', '协办部门（可多选）');
  const cases = checklist('case_ids', '一起吹哨的案件（同一街道，可多选）');
  cases.add([[c.id, (c.category_name || c.category) + '（本案）', c.id]], [c.id], true);
  const reason = selectEl('reason', options.whistleReasons.map((r) => [r, r]), '吹哨事由');
  const note = document.createElement('textarea');
  note.name = 'note';
  note.maxLength = NOTE_MAX;
  note.placeholder = '需要各部门做什么';
  const error = el('p', '', 'gm-login-error gm-form-error');
  error.setAttribute('role', 'alert');
  const submit = el('button', '吹哨召集');
  submit.type = 'submit';
  [labelled('主责部门', lead), co.node, cases.node, labelled('吹哨事由', reason), labelled('说明', note), error, submit]
    .forEach((node) => form.appendChild(node));
  box.appendChild(form);
  const names = {};
  departments().then((rows) => {
    rows.forEach(([code, name]) => { names[code] = name; });
    addOptions(lead, rows);
    co.add(rows, c.co_departments || []);
    if (c.lead_department) { lead.value = c.lead_department; }
    co.hide(lead.value);
  });
  lead.addEventListener('change', () => co.hide(lead.value));
  if (c.street_code) {
    const q = new URLSearchParams({ street: c.street_code, status: options.whistleStatuses.join(','),
                                    limit: String(OTHER_CASES_MAX) });
    getJSON('/api/cases?' + q).then((data) => {
      cases.add((data.features || []).filter((f) => f.properties.id !== c.id).map((f) => {
        const p = f.properties;
        const text = (p.category_name || p.category) + (p.description ? ' · ' + p.description.slice(0, 24) : '');
        return [p.id, text, p.id];
      }));
    }).catch(() => { /* only this case can be chosen */ });
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!lead.value) { error.textContent = '请选择主责部门。'; lead.focus(); return; }
    const coCodes = co.values().filter((d) => d !== lead.value);
    const ids = cases.values();
    submit.disabled = true;
    send('/api/whistles', { case_ids: ids, lead_department: lead.value, co_departments: coCodes,
                            reason: reason.value, note: note.value }).then((res) => {
      submit.disabled = false;
      if (!res.ok) { error.textContent = failure(res, '吹哨失败'); return; }
      const called = [lead.value, ...coCodes].map((d) => names[d] || d).join('、');
      done('已吹哨：召集 ' + called + ' 到场报到（' + ids.length + ' 个案件）');
    });
  });
}

/* The check-in button's hint, with the server's radius. */
export function checkInTitle(limits) {
  return '用本机定位报到（距案件 ' + limits.checkInRadiusM + ' 米内）';
}


/* Check in for a summons (`item` from the case's actions) with a fresh position; gives {ok, message},
 * the message saying how precise the fix was. */
export function checkIn(item) {
  return currentPosition()
    .then((coords) => send('/api/whistles/' + item.whistle_id + '/reports',
                           { lon: coords.longitude, lat: coords.latitude, crs: 'wgs84' })
      .then((res) => {
        const precision = '（定位精度约 ' + Math.round(coords.accuracy) + ' 米）';
        return res.ok ? { ok: true, message: (res.data.late ? '已报到，超过到场时限' : '已报到') + precision }
                      : { ok: false, message: failure(res, '报到失败') + precision };
      }), (err) => ({ ok: false, message: err.message }));
}

/* A labelled <select> of the score range, in a <label>. */
function scoreField(name, text, range) {
  const label = el('label', text + ' ', 'gm-score-field');
  const pairs = [];
  for (let v = range[1]; v >= range[0]; v -= 1) { pairs.push([String(v), String(v)]); }
  label.appendChild(selectEl(name, pairs));
  return label;
}

/* The whistler's score form for one summoned department (`item` from the case's actions: whistle_id,
 * round, department, department_name); `done(message)` after it was recorded. */
export function scoreForm(item, options, done) {
  const form = document.createElement('form');
  form.className = 'gm-report-form gm-score-form';
  const set = document.createElement('fieldset');
  set.appendChild(el('legend', '评分：' + item.department_name + '（吹哨 #' + item.whistle_id + '，第 ' + item.round + ' 轮）'));
  options.whistle.scoreAspects.forEach(([name, text]) => set.appendChild(scoreField(name, text, options.whistle.scoreRange)));
  const noteLabel = el('label', '评语 ', 'gm-score-field');
  const note = document.createElement('textarea');
  note.name = 'note';
  note.maxLength = NOTE_MAX;
  noteLabel.appendChild(note);
  set.appendChild(noteLabel);
  const error = el('p', '', 'gm-login-error');
  const submit = el('button', '提交评分');
  submit.type = 'submit';
  [error, submit].forEach((node) => set.appendChild(node));
  form.appendChild(set);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { department: item.department, note: note.value };
    options.whistle.scoreAspects.forEach(([name]) => { body[name] = Number(form.elements[name].value); });
    submit.disabled = true;
    send('/api/whistles/' + item.whistle_id + '/scores', body).then((res) => {
      submit.disabled = false;
      if (!res.ok) { error.textContent = failure(res, '评分失败'); return; }
      done('已给 ' + item.department_name + ' 评分');
    });
  });
  return form;
}
