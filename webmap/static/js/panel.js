/* The case panel: a case's details, the actions this user may take on it, its whistles, photos
 * and event timeline. Status names, action and event words and limits come from the options. */

import { el } from './dom.js';
import { actionForm } from './action_form.js';
import { caseUrl, failure, getJSON } from './api.js';
import { gallery, photoField, preparePhotos, uploadPhotos } from './photos.js';
import { localTime } from './time.js';
import { checkIn, checkInTitle, scoreForm, whistleBox, whistleForm } from './whistles.js';

function row(label, value, title) {
  const div = el('div', '', 'gm-panel-row');
  div.appendChild(el('span', label, 'gm-panel-label'));
  const text = el('span', value == null || value === '' ? '—' : String(value));
  if (title) { text.title = title; }
  div.appendChild(text);
  return div;
}

/* A row naming a boundary or department: its name, the code in the tooltip. */
function namedRow(label, names, code) {
  return row(label, code ? ((names || {})[code] || code) : '', code || null);
}

/* A deadline row: the time, and how its clock stands while it runs ("派遣超期 3 天"). */
function clockRow(label, due, note) {
  const div = row(label, localTime(due));
  if (note) {
    div.lastChild.appendChild(el('span', ' ' + note, /超期/.test(note) ? 'gm-clock gm-clock-late' : 'gm-clock'));
  }
  return div;
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
  let leaving = null;  // what the form now in the panel does when it is replaced or closed
  let opener = null;  // where the focus goes back to when the panel closes
  function leave() {
    const fn = leaving;
    leaving = null;
    if (fn) { fn(); }
  }
  function close() {
    leave();
    aside.hidden = true;
    current = null;
    if (opener && document.body.contains(opener)) { opener.focus(); }
    opener = null;
  }
  /* Show the panel and move the focus into it (its heading), remembering where it came from. */
  function reveal() {
    if (aside.hidden && document.activeElement && !aside.contains(document.activeElement)) {
      opener = document.activeElement;
    }
    aside.hidden = false;
    const heading = body.querySelector('h2');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }
  aside.querySelector('.gm-panel-close').addEventListener('click', close);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !aside.hidden) { e.preventDefault(); close(); }
  });

  /* Open the action's form (what it needs: a note, departments, a deadline, the callback's
   * answers) below the buttons; a success reloads the case with a message. */
  function act(id, action, box, c) {
    actionForm(box, id, action, c, (message, failed) => {
      show(id, message, failed);
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
    const clocks = c.clock_notes || {};
    const late = Object.values(clocks).filter((t) => /超期/.test(t));
    return [
      row('状态', status + (late.length ? '（' + late.join('，') + '）' : (c.overdue ? '（超期）' : ''))),
      ...(c.request_type ? [row('诉求类型', kinds[c.request_type] || c.request_type)] : []),
      ...requester(c),
      row('描述', c.description),
      namedRow('网格', areas, c.grid_code),
      namedRow('社区', areas, c.community_code),
      namedRow('街道', areas, c.street_code),
      c.lead_department ? namedRow('主责部门', names, c.lead_department) : row('主责部门', '属地街道'),
      row('协办部门', (c.co_departments || []).map((d) => names[d] || d).join('、'), (c.co_departments || []).join('、')),
      row('受理时间', localTime(c.reported_at)),
      clockRow('派遣时限', c.deadlines.dispatch_due, clocks.dispatch),
      clockRow('响应时限', c.deadlines.respond_due, clocks.respond),
      clockRow('办结时限', c.deadlines.resolve_due, clocks.resolve),
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
        b.textContent = '正在定位…';
        checkIn(item).then((r) => {
          show(id, r.message, !r.ok);
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
      b.addEventListener('click', () => whistleForm(extra, c, options, (message) => { show(id, message); onChanged(); }));
      buttons.appendChild(b);
    }
    return [buttons, extra];
  }

  function photoUpload(id) {
    const { label, input } = photoField('添加照片', options.limits);
    input.className = 'gm-photo-input';
    input.addEventListener('change', () => {
      if (!input.files.length) { return; }
      preparePhotos(input.files, options.limits).then((r) => {
        if (!r.files.length) { show(id, r.errors.join(' ') || '没有可上传的照片', true); return; }
        uploadPhotos(id, r.files).then((res) => show(id, res.ok ? ['照片已上传', ...r.errors].join('；')
                                                             : failure(res, '照片上传失败'), !res.ok));
      });
    });
    return label;
  }

  function timeline(events) {
    const list = el('ol', '', 'gm-timeline');
    events.forEach((e) => {
      const item = el('li', localTime(e.at) + ' ' + (options.events[e.action] || e.action) + ' · '
                      + (e.actor_display || e.actor_name || ''));
      if (e.actor_name) { item.title = e.actor_name; }
      if (e.note) { item.appendChild(el('div', e.note, 'gm-tip-code')); }
      list.appendChild(item);
    });
    return list;
  }

  /* Open case `id`, with a message above its details (null: none; `failed`: styled as an error). */
  function show(id, message, failed) {
    leave();
    current = id;
    Promise.all([getJSON(caseUrl(id)), getJSON(caseUrl(id, 'actions')), getJSON(caseUrl(id, 'events'))])
      .then(([feature, allowed, events]) => {
        if (current !== id) { return; }  // another case was opened meanwhile
        const c = feature.properties;
        body.textContent = '';
        body.appendChild(el('h2', c.category_name));
        body.appendChild(el('div', c.id, 'gm-tip-code'));
        if (message) {
          const note = el('p', message, 'gm-panel-message' + (failed ? ' gm-panel-error' : ''));
          note.setAttribute('role', failed ? 'alert' : 'status');
          body.appendChild(note);
        }
        details(c).forEach((node) => body.appendChild(node));
        returnReason(events.events || []).forEach((node) => body.appendChild(node));
        (c.whistles || []).forEach((w) => body.appendChild(whistleBox(w, options)));
        actions(id, allowed, c).forEach((node) => body.appendChild(node));
        body.appendChild(el('h3', '照片'));
        body.appendChild(gallery(c.photos || []));
        if (allowed.photo) { body.appendChild(photoUpload(id)); }
        body.appendChild(el('h3', '处理记录'));
        body.appendChild(timeline(events.events || []));
        reveal();
      });
  }

  return {
    open(id, message, failed) { show(id, message || null, failed); },
    /* The panel's body emptied and shown, with a heading (the whistle list). */
    list(title) {
      leave();
      current = null;
      body.textContent = '';
      body.appendChild(el('h2', title));
      reveal();
      return body;
    },
    /* An empty, shown panel for a form (the report form); gives the element to fill. `onLeave` runs
     * when something else takes the panel or it closes. The focus moves in once the form has its heading. */
    form(onLeave) {
      leave();
      current = null;
      body.textContent = '';
      leaving = onLeave || null;
      aside.hidden = false;
      window.setTimeout(reveal, 0);
      return body;
    },
    close
  };
}
