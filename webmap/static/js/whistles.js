/* Whistles (吹哨): the form that summons departments to a case, each summons shown in the panel,
 * a summoned department's check-in on site with the device's position, and the whistler's score
 * of a summoned department once the whistle closed. The reasons, the check-in radius, the whistle's
 * status names and the score's aspects and range come from the options (whistleReasons,
 * limits.checkInRadiusM, whistle). */

import { el, selectEl, addOptions } from './dom.js';
import { departments, failure, send } from './api.js';
import { localTime } from './time.js';

const POSITION_OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 };
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

/* The form, in `box`, that blows a whistle on case `id`; `done(message)` after it succeeded. */
export function whistleForm(box, id, options, done) {
  box.textContent = '';
  const form = document.createElement('form');
  form.className = 'gm-report-form gm-whistle-form';
  const lead = selectEl('lead_department', [['', '主责部门']]);
  const co = selectEl('co_departments', []);
  co.multiple = true;
  co.size = 4;
  co.title = '协办部门（可多选）';
  const reason = selectEl('reason', options.whistleReasons.map((r) => [r, r]));
  const note = document.createElement('textarea');
  note.name = 'note';
  note.maxLength = NOTE_MAX;
  note.placeholder = '说明（需要各部门做什么）';
  const error = el('p', '', 'gm-login-error');
  const submit = el('button', '吹哨召集');
  submit.type = 'submit';
  [lead, el('label', '协办部门（按住 Ctrl 多选）', 'gm-tip-code'), co, reason, note, error, submit]
    .forEach((node) => form.appendChild(node));
  box.appendChild(form);
  departments().then((pairs) => {
    addOptions(lead, pairs);
    addOptions(co, pairs);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!lead.value) { error.textContent = '请选择主责部门。'; return; }
    const coCodes = Array.prototype.filter.call(co.options, (o) => o.selected).map((o) => o.value);
    submit.disabled = true;
    send('/api/whistles', { case_ids: [id], lead_department: lead.value, co_departments: coCodes,
                            reason: reason.value, note: note.value }).then((res) => {
      submit.disabled = false;
      if (!res.ok) { error.textContent = failure(res, '吹哨失败'); return; }
      done('已吹哨，已通知 ' + (1 + coCodes.length) + ' 个部门到场报到');
    });
  });
}

/* The check-in button's hint, with the server's radius. */
export function checkInTitle(limits) {
  return '用本机定位报到（距案件 ' + limits.checkInRadiusM + ' 米内）';
}

/* The device's position (check-in on site); rejects with a message a grid worker understands. */
function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error('此浏览器不能定位')); return; }
    navigator.geolocation.getCurrentPosition((p) => resolve(p.coords), (err) => {
      reject(new Error(err.code === 1 ? '没有定位权限：请在浏览器中允许定位（需要 HTTPS 访问）'
                                      : '无法获取当前位置：' + (err.message || '定位超时')));
    }, POSITION_OPTIONS);
  });
}

/* Check in for a summons (`item` from the case's actions); gives {ok, message}. */
export function checkIn(item) {
  return position()
    .then((coords) => send('/api/whistles/' + item.whistle_id + '/reports',
                           { lon: coords.longitude, lat: coords.latitude, crs: 'wgs84' }))
    .then((res) => (res.ok ? { ok: true, message: res.data.late ? '已报到（超过到场时限）' : '已报到' }
                           : { ok: false, message: failure(res, '报到失败') }),
          (err) => ({ ok: false, message: err.message }));
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
