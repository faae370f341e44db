/* The case panel: a case's details, the actions this user may take on it, its whistles, photos
 * and event timeline. Status names, action and event words and limits come from the options. */

import { el } from './dom.js';
import { actionForm } from './action_form.js';
import { caseUrl, failure, getJSON } from './api.js';
import { gallery, photoField, uploadPhotos } from './photos.js';
import { localTime } from './time.js';
import { checkIn, checkInTitle, scoreForm, whistleBox, whistleForm } from './whistles.js';

function row(label, value) {
  const div = el('div', '', 'gm-panel-row');
  div.appendChild(el('span', label, 'gm-panel-label'));
  div.appendChild(el('span', value == null || value === '' ? '—' : String(value)));
  return div;
}

/* "name（code）" when the name is known, else the code. */
function named(names, code) {
  return code ? ((names || {})[code] ? names[code] + '（' + code + '）' : code) : '';
}

function button(text, action, cls) {
  const b = el('button', text, cls);
  b.type = 'button';
  b.dataset.action = action;
  return b;
}

export function createPanel(options, onChanged) {
  const aside = document.getElementById('gm-panel');
  if (!aside) { return { open() {}, form() { return null; } }; }
  const body = aside.querySelector('.gm-panel-body');
  let current = null;
  aside.querySelector('.gm-panel-close').addEventListener('click', () => { aside.hidden = true; current = null; });

  /* Open the action's form (what it needs: a note, departments, a deadline, the callback's
   * answers) below the buttons; a success reloads the case with a message. */
  function act(id, action, box, c) {
    actionForm(box, id, action, c, (message, failed) => {
      show(id, message);
      if (!failed) { onChanged(); }
    });
  }

  /* The requester as the API gave it: in full for the hotline and the handling lead department,
   * masked (张*, 138****1234) for everyone else. */
  function requester(c) {
    const r = c.requester;
    if (!r) { return []; }
    const contact = [r.phone, r.email].filter(Boolean).join(' · ');
    const rows = [row('诉求人', r.name), row('联系方式', contact)];
    if (r.masked) { rows.forEach((node) => { node.title = '个人信息已脱敏'; node.classList.add('gm-masked'); }); }
    return rows;
  }

  function details(c) {
    const names = c.department_names || {};
    const areas = c.boundary_names || {};
    const status = (options.statuses[c.status] || [null, c.status])[1];
    const kinds = options.requestTypes || {};
    return [
      row('状态', status + (c.overdue ? '（超期）' : '')),
      ...(c.request_type ? [row('诉求类型', kinds[c.request_type] || c.request_type)] : []),
      ...requester(c),
      row('描述', c.description),
      row('网格', named(areas, c.grid_code)),
      row('社区', named(areas, c.community_code)),
      row('街道', named(areas, c.street_code)),
      row('主责部门', c.lead_department ? named(names, c.lead_department) : '属地街道'),
      row('协办部门', (c.co_departments || []).map((d) => named(names, d)).join('、')),
      row('受理时间', localTime(c.reported_at)),
      row('派遣时限', localTime(c.deadlines.dispatch_due)),
      row('响应时限', localTime(c.deadlines.respond_due)),
      row('办结时限', localTime(c.deadlines.resolve_due)),
      ...(c.deadlines.extension_due ? [row('申请延期至', localTime(c.deadlines.extension_due))] : [])
    ];
  }

  /* Why a returned case came back: when its last move was a return, that return's reason (the
   * dispatcher then picks a department). */
  function returnReason(events) {
    const last = events.filter((e) => e.to_status && e.to_status !== e.from_status).pop();
    return last && last.action === 'return' ? [row('退回原因', last.note)] : [];
  }

  /* The buttons for what this user may do now, and a box for the whistle form. */
  function actions(id, allowed, c) {
    const buttons = el('div', '', 'gm-panel-actions');
    const extra = el('div', '', 'gm-panel-extra');
    (allowed.actions || []).forEach((action) => {
      const b = button(action.label, action.action);
      b.addEventListener('click', () => act(id, action, extra, c));
      buttons.appendChild(b);
    });
    (allowed.check_ins || []).forEach((item) => {
      const b = button('到场报到', 'check_in');
      b.title = checkInTitle(options.limits);
      b.addEventListener('click', () => {
        b.disabled = true;
        checkIn(item).then((r) => {
          show(id, r.message);
          if (r.ok) { onChanged(); }
        });
      });
      buttons.appendChild(b);
    });
    (allowed.scores || []).forEach((item) => {
      extra.appendChild(scoreForm(item, options, (message) => show(id, message)));
    });
    if (allowed.whistle) {
      const b = button('吹哨', 'whistle', 'gm-whistle-button');
      b.addEventListener('click', () => whistleForm(extra, id, options, (message) => { show(id, message); onChanged(); }));
      buttons.appendChild(b);
    }
    return [buttons, extra];
  }

  function photoUpload(id) {
    const { label, input } = photoField('添加照片', options.limits);
    input.className = 'gm-photo-input';
    input.addEventListener('change', () => {
      if (!input.files.length) { return; }
      uploadPhotos(id, input.files).then((res) => show(id, res.ok ? '照片已上传' : failure(res, '照片上传失败')));
    });
    return label;
  }

  function timeline(events) {
    const list = el('ol', '', 'gm-timeline');
    events.forEach((e) => {
      const item = el('li', localTime(e.at) + ' ' + (options.events[e.action] || e.action) + ' · ' + (e.actor_name || ''));
      if (e.note) { item.appendChild(el('div', e.note, 'gm-tip-code')); }
      list.appendChild(item);
    });
    return list;
  }

  /* Open case `id`, with a message above its details (null: none). */
  function show(id, message) {
    current = id;
    Promise.all([getJSON(caseUrl(id)), getJSON(caseUrl(id, 'actions')), getJSON(caseUrl(id, 'events'))])
      .then(([feature, allowed, events]) => {
        if (current !== id) { return; }  // another case was opened meanwhile
        const c = feature.properties;
        body.textContent = '';
        body.appendChild(el('h2', c.category_name));
        body.appendChild(el('div', c.id, 'gm-tip-code'));
        if (message) { body.appendChild(el('p', message, 'gm-panel-message')); }
        details(c).forEach((node) => body.appendChild(node));
        returnReason(events.events || []).forEach((node) => body.appendChild(node));
        (c.whistles || []).forEach((w) => body.appendChild(whistleBox(w, options)));
        actions(id, allowed, c).forEach((node) => body.appendChild(node));
        body.appendChild(el('h3', '照片'));
        body.appendChild(gallery(c.photos || []));
        if (allowed.photo) { body.appendChild(photoUpload(id)); }
        body.appendChild(el('h3', '处理记录'));
        body.appendChild(timeline(events.events || []));
        aside.hidden = false;
      });
  }

  return {
    open(id, message) { show(id, message || null); },
    /* The panel's body emptied and shown, with a heading (the whistle list). */
    list(title) {
      current = null;
      body.textContent = '';
      body.appendChild(el('h2', title));
      aside.hidden = false;
      return body;
    },
    /* An empty, shown panel for a form (the report form); gives the element to fill. */
    form() {
      body.textContent = '';
      aside.hidden = false;
      return body;
    }
  };
}
