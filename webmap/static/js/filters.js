/* The case filters. They live in the URL (?status=…&category=…&street=…&from=…&to=…&overdue=true),
 * so a link shows the same map (mine=true: 我的上报, the cases the user reported). Dates are whole days: "to" is inclusive here and sent to the case
 * API as the next midnight. The status choices come from the server (the template's <option>s). */

import { addOptions } from './dom.js';
import { categories } from './api.js';

const FILTERS = ['status', 'category', 'street', 'from', 'to', 'overdue', 'mine'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/* The page's query parameters. */
export function pageParams() {
  return new URLSearchParams(window.location.search);
}

/* Put `params` in the address bar, keeping the path and the map view (#map=…). */
export function replaceSearch(params) {
  const query = params.toString();
  history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
}

function nextDay(day) {
  const d = new Date(day + 'T00:00:00');
  d.setDate(d.getDate() + 1);
  return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
}

/* The query the case API gets: the page's filters, with the inclusive end date made exclusive. */
export function caseQuery() {
  const params = pageParams();
  const out = new URLSearchParams();
  FILTERS.forEach((name) => {
    const value = params.get(name);
    if (!value) { return; }
    out.set(name, name === 'to' && DAY.test(value) ? nextDay(value) : value);
  });
  return out;
}

/* Fill the filter form from the URL, and write it back there (then `onChange`) when it changes. */
export function initFilters(options, onChange) {
  const form = document.getElementById('gm-filters');
  if (!form) { return; }
  const params = pageParams();
  const { category, street, status, from, to, overdue, mine } = form.elements;
  categories().then((pairs) => {
    addOptions(category, pairs);
    category.value = params.get('category') || '';
  });
  addOptions(street, ((options.user || {}).streets || []).map((s) => [s.code, s.name]));
  street.value = params.get('street') || '';
  status.value = params.get('status') || '';
  from.value = params.get('from') || '';
  to.value = params.get('to') || '';
  overdue.checked = params.get('overdue') === 'true';
  if (mine) { mine.checked = params.get('mine') === 'true'; }
  const toggle = document.getElementById('gm-filter-toggle');
  function count() {
    const n = FILTERS.filter((name) => pageParams().get(name)).length;
    if (toggle) { toggle.textContent = n ? '筛选 (' + n + ')' : '筛选'; }
  }
  if (toggle) {
    toggle.addEventListener('click', () => {
      const open = form.classList.toggle('gm-open');
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    });
  }
  form.addEventListener('change', () => {
    const next = new URLSearchParams();
    ['status', 'category', 'street', 'from', 'to'].forEach((name) => {
      if (form.elements[name].value) { next.set(name, form.elements[name].value); }
    });
    if (overdue.checked) { next.set('overdue', 'true'); }
    if (mine && mine.checked) { next.set('mine', 'true'); }
    replaceSearch(next);
    count();
    onChange();
  });
  form.addEventListener('reset', () => {
    setTimeout(() => form.dispatchEvent(new Event('change')), 0);
  });
  count();
}
