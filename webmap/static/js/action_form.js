/* The form an action opens in the case panel: the note it needs (a reason, a result, a text —
 * its name comes from the server as note_label), the departments of a (re)dispatch (改派), the new
 * deadline of an extension (延期), the three answers of a callback (回访). Nothing is sent until
 * 确定; 取消 closes the form and keeps the case as it was. */

import { addOptions, el, labelled, selectEl } from './dom.js';
import { caseUrl, departments, failure, send } from './api.js';
import { checklist } from './checklist.js';

function yesNo(name, text) {
  const select = selectEl(name, [['', '请选择'], ['true', '是'], ['false', '否']], text);
  select.required = true;
  return labelled(text, select);
}

/* The controls an action needs, and a function reading them into the request body. */
function fields(action, current) {
  const nodes = [];
  const readers = [];
  if (action.action === 'dispatch') {
    const lead = selectEl('lead_department', [['', current.lead_department ? '保持当前主责部门' : '属地街道（不改派）']],
                          '主责部门');
    const co = checklist('co_departments', '协办部门（改派时，可多选）');
    departments().then((rows) => { addOptions(lead, rows); co.add(rows, current.co_departments || []); });
    lead.addEventListener('change', () => co.hide(lead.value));
    nodes.push(labelled('主责部门', lead), co.node);
    readers.push((body) => {
      if (lead.value) {
        body.lead_department = lead.value;
        body.co_departments = co.values().filter((d) => d !== lead.value);
      }
    });
  }
  if (action.action === 'extend') {
    const due = document.createElement('input');
    due.type = 'datetime-local';
    due.name = 'resolve_due';
    due.required = true;
    nodes.push(labelled('新的办结时限', due));
    readers.push((body) => { body.resolve_due = due.value ? new Date(due.value).toISOString() : null; });
  }
  if (action.action === 'callback') {
    const answers = ['contacted', 'solved', 'satisfied'];
    const labels = ['是否联系上诉求人', '问题是否解决', '诉求人是否满意'];
    answers.forEach((name, i) => nodes.push(yesNo(name, labels[i])));
    readers.push((body, form) => {
      answers.forEach((name) => { body[name] = form.elements[name].value === 'true'; });
    });
  }
  if (action.reason_required) {
    const note = document.createElement('textarea');
    note.name = 'note';
    note.required = true;
    note.rows = 3;
    nodes.push(labelled(action.note_label || '原因', note));
    readers.push((body) => { body.note = note.value.trim(); });
  }
  return { nodes, read: (form) => readers.reduce((body, r) => { r(body, form); return body; }, { action: action.action }) };
}

/* Open the form of `action` for case `id` in `box`; `done(message)` after a success. */
export function actionForm(box, id, action, current, done) {
  const { nodes, read } = fields(action, current);
  if (!nodes.length) {  // nothing to ask: send at once
    return send(caseUrl(id, 'actions'), { action: action.action })
      .then((res) => (res.ok ? done(action.label + '：已完成') : done(failure(res, action.label + '失败'), true)));
  }
  box.textContent = '';
  const form = document.createElement('form');
  form.className = 'gm-report-form gm-action-form';
  form.appendChild(el('h3', action.label));
  nodes.forEach((n) => form.appendChild(n));
  const error = el('p', '', 'gm-form-error');
  error.setAttribute('role', 'alert');
  const submit = el('button', '确定');
  submit.type = 'submit';
  const cancel = el('button', '取消');
  cancel.type = 'button';
  cancel.addEventListener('click', () => { box.textContent = ''; });
  form.append(error, submit, cancel);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    send(caseUrl(id, 'actions'), read(form)).then((res) => {
      submit.disabled = false;
      if (!res.ok) { error.textContent = failure(res, action.label + '失败'); return; }
      box.textContent = '';
      done(action.label + '：已完成');
    }).catch(() => { submit.disabled = false; error.textContent = '网络错误，请重试'; });
  });
  box.appendChild(form);
  const first = form.querySelector('select, textarea, input');
  if (first) { first.focus(); }
  return Promise.resolve();
}
