/* The whistle list (吹哨) in the side panel: the whistles in the user's scope (open ones first
 * shown), each with its reason, its cases and each summoned department's check-in state; a row
 * flies the map to its first case and opens that case in the panel. Status names, summons states
 * and the list's choices come from the options (whistle). */

import { el, selectEl } from './dom.js';
import { getChecked } from './api.js';
import { localTime } from './time.js';

const PAGE = 50;
const CASE_ZOOM = 17;

/* One summons: "主责 城管委：按时报到 10:05" (the time it checked in, or its due time). */
function summonsLine(s, states) {
  const when = s.reported_at ? localTime(s.reported_at) : '时限 ' + localTime(s.due_at);
  const line = el('span', (s.role === 'lead' ? '主责 ' : '协办 ') + s.department_name + '：'
                  + (states[s.state] || s.state) + ' ' + when, 'gm-whistle-summons');
  if (s.late) { line.classList.add('gm-overdue-soft'); }
  return line;
}

function row(w, options, go) {
  const item = el('li');
  const button = el('button', '', 'gm-whistle-row');
  button.type = 'button';
  button.dataset.whistle = String(w.id);
  button.appendChild(el('strong', '#' + w.id + ' ' + w.reason + '（' + (options.whistle.statuses[w.status] || w.status) + '）'));
  button.appendChild(el('span', w.cases.length + ' 个案件 · ' + localTime(w.created_at), 'gm-tip-code'));
  w.summons.forEach((s) => button.appendChild(summonsLine(s, options.whistle.summonsStates)));
  if (w.to_score.length) { button.appendChild(el('span', '待评分 ' + w.to_score.length + ' 个部门', 'gm-whistle')); }
  button.addEventListener('click', () => go(w.cases[0]));
  item.appendChild(button);
  return item;
}

/* Wire the bar's 吹哨 button: it shows the list in `panel`; a row opens its first case on `map`. */
export function createWhistleList(map, panel, options) {
  const toggle = document.getElementById('gm-whistle-list');
  if (!toggle) { return; }

  function go(c) {
    if (!c) { return; }
    map.flyTo([c.lat, c.lon], Math.max(map.getZoom(), CASE_ZOOM));
    panel.open(c.id);
  }

  function page(list, status, cursor, more) {
    const query = new URLSearchParams({ status, limit: String(PAGE) });
    if (cursor) { query.set('cursor', cursor); }
    more.hidden = true;
    return getChecked('/api/whistles?' + query.toString()).then((data) => {
      data.whistles.forEach((w) => list.appendChild(row(w, options, go)));
      if (!list.children.length) { list.appendChild(el('li', '范围内没有这样的吹哨', 'gm-tip-code')); }
      if (data.next) {
        more.hidden = false;
        more.onclick = () => page(list, status, data.next, more);
      }
    }).catch(() => list.appendChild(el('li', '吹哨加载失败，请重试', 'gm-login-error')));
  }

  function show(status) {
    const body = panel.list('吹哨');
    const label = el('label', '显示 ', 'gm-score-field');
    const select = selectEl('status', options.whistle.lists);
    select.value = status;
    select.addEventListener('change', () => show(select.value));
    label.appendChild(select);
    body.appendChild(label);
    const list = el('ul', '', 'gm-whistle-list');
    body.appendChild(list);
    const more = el('button', '更多', 'gm-whistle-more');
    more.type = 'button';
    body.appendChild(more);
    page(list, status, null, more);
  }

  toggle.addEventListener('click', () => show('open'));
}
