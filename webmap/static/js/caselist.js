/* The case list beside the map: the cases in the view that match the filters, sorted (overdue first by
 * how much, next deadline, status, category, newest), a page at a time, with the count. A row flies the
 * map to its case and opens it in the panel. Sort names, status names and clock names come from the
 * options (sorts, statuses, overdueSteps). On a phone the list is a sheet that closes when a row opens. */

import { el } from './dom.js';
import { caseQuery } from './filters.js';
import { bboxParam } from './layers.js';

const PAGE = 50;
const CASE_ZOOM = 17;
const PHONE = '(max-width: 700px)';
const WIDE = '(min-width: 1000px)';
const MOVE_PAUSE_MS = 250;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;

/* "3 天", "5 小时", "20 分钟". */
export function span(seconds) {
  const s = Math.abs(seconds);
  if (s >= 2 * DAY) { return Math.floor(s / DAY) + ' 天'; }
  if (s >= HOUR) { return Math.floor(s / HOUR) + ' 小时'; }
  return Math.max(1, Math.floor(s / MINUTE)) + ' 分钟';
}

function deadlineText(p, options) {
  if (p.overdue_seconds != null) {
    const step = (options.overdueSteps || {})[p.overdue_step] || '';
    return [step + '超期 ' + span(p.overdue_seconds), 'gm-overdue'];
  }
  if (p.next_due) {
    return ['距时限 ' + span((Date.parse(p.next_due) - Date.now()) / 1000), 'gm-tip-code'];
  }
  return ['', 'gm-tip-code'];
}

function row(feature, options, go) {
  const p = feature.properties;
  const item = el('li');
  const button = el('button', '', 'gm-list-row' + (p.overdue ? ' gm-list-late' : ''));
  button.type = 'button';
  button.dataset.case = p.id;
  const [colour, name] = options.statuses[p.status] || ['#757575', p.status];
  const head = el('span', '', 'gm-list-line');
  const dot = el('span', '', 'gm-dot');
  dot.style.background = colour;
  head.appendChild(dot);
  head.appendChild(el('strong', p.category_name));
  head.appendChild(el('span', ' ' + name, 'gm-list-status'));
  button.appendChild(head);
  const [due, cls] = deadlineText(p, options);
  if (due) { button.appendChild(el('span', due, cls)); }
  button.appendChild(el('span', p.id + (p.external_id ? ' · 工单 ' + p.external_id : ''), 'gm-tip-code'));
  if (p.address || p.description) { button.appendChild(el('span', p.address || p.description, 'gm-list-text')); }
  button.addEventListener('click', () => go(feature));
  item.appendChild(button);
  return item;
}

export function createCaseList(map, panel, options, loading) {
  const aside = document.getElementById('gm-list');
  const toggle = document.getElementById('gm-list-toggle');
  if (!aside || !options.listApi) { return { reload() {} }; }
  const rows = aside.querySelector('.gm-list-rows');
  const count = aside.querySelector('.gm-list-count');
  const sort = aside.querySelector('select[name=sort]');
  const pageLabel = aside.querySelector('.gm-list-page');
  const prev = aside.querySelector('[data-page=prev]');
  const next = aside.querySelector('[data-page=next]');
  const state = { page: 1, pages: 1, key: null, abort: null, timer: null };

  function go(feature) {
    const c = feature.geometry.coordinates;
    map.flyTo([c[1], c[0]], Math.max(map.getZoom(), CASE_ZOOM));
    if (window.matchMedia(PHONE).matches) { show(false); }
    panel.open(feature.properties.id);
  }

  function draw(data) {
    rows.textContent = '';
    state.pages = data.pages;
    count.textContent = '共 ' + data.total + ' 件';
    (data.features || []).forEach((f) => rows.appendChild(row(f, options, go)));
    if (!data.total) {
      rows.appendChild(el('li', '这里没有符合筛选的案件。移动或缩小地图，或清除筛选。', 'gm-list-empty'));
    }
    pageLabel.textContent = data.page + ' / ' + data.pages;
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
  }

  function load() {
    if (aside.hidden) { return; }
    const params = caseQuery();
    params.set('bbox', bboxParam(map, 0));
    params.set('sort', sort.value);
    params.set('page', String(state.page));
    params.set('limit', String(PAGE));
    const key = params.toString();
    if (key === state.key) { return; }
    state.key = key;
    if (state.abort) { state.abort.abort(); }
    state.abort = new AbortController();
    const request = fetch(options.listApi + '?' + key, { signal: state.abort.signal })
      .then((r) => { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); });
    loading.track(request);
    request.then((data) => { if (state.key === key) { draw(data); } })
      .catch((err) => {
        if (err.name === 'AbortError') { return; }
        state.key = null;
        rows.textContent = '';
        rows.appendChild(el('li', '案件列表加载失败，请重试', 'gm-login-error'));
      });
  }

  function reload(resetPage) {
    if (resetPage !== false) { state.page = 1; }
    state.key = null;
    load();
  }

  function show(open) {
    if (open && window.matchMedia(PHONE).matches) {  // one sheet at a time on a phone: the panel gives way
      const close = document.querySelector('#gm-panel:not([hidden]) .gm-panel-close');
      if (close) { close.click(); }
    }
    aside.hidden = !open;
    document.body.classList.toggle('gm-with-list', open);
    if (toggle) { toggle.setAttribute('aria-expanded', open ? 'true' : 'false'); }
    map.invalidateSize();
    if (open) { reload(); }
  }

  // Shortcuts: the user's own area and the cases they reported.
  const shortcuts = aside.querySelector('.gm-list-shortcuts');
  if (options.home) {
    const home = el('button', options.home.label, 'gm-shortcut');
    home.type = 'button';
    home.title = options.home.name;
    home.addEventListener('click', () => {
      const b = options.home.bbox;
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    });
    shortcuts.appendChild(home);
  }
  // 我的上报 is a toggle of the filter form's "mine" box (a checkbox, as the filter is).
  const mineBox = document.querySelector('#gm-filters input[name=mine]');
  if (mineBox && (options.user || {}).mayReport) {
    const chip = el('label', '', 'gm-shortcut');
    const mine = el('input');
    mine.type = 'checkbox';
    mine.name = 'mine_shortcut';
    mine.checked = mineBox.checked;
    chip.appendChild(mine);
    chip.appendChild(document.createTextNode('我的上报'));
    mine.addEventListener('change', () => {
      mineBox.checked = mine.checked;
      mineBox.form.dispatchEvent(new Event('change'));
    });
    mineBox.addEventListener('change', () => { mine.checked = mineBox.checked; });
    shortcuts.appendChild(chip);
  }

  sort.addEventListener('change', () => reload());
  prev.addEventListener('click', () => { state.page = Math.max(1, state.page - 1); reload(false); });
  next.addEventListener('click', () => { state.page = Math.min(state.pages, state.page + 1); reload(false); });
  aside.querySelector('.gm-list-close').addEventListener('click', () => show(false));
  if (toggle) { toggle.addEventListener('click', () => show(aside.hidden)); }
  map.on('moveend', () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => reload(), MOVE_PAUSE_MS);
  });
  L.DomEvent.disableScrollPropagation(aside);
  if (window.matchMedia(WIDE).matches) { show(true); }
  return { reload, show };
}
