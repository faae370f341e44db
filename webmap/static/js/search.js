/* Boundary search in the top bar: codes or names, results jump the map to the boundary. Level
 * names come from the options (levelNames). */

import { el } from './dom.js';
import { getJSON } from './api.js';

const TYPING_PAUSE_MS = 250;

export function initSearch(map, options) {
  const input = document.getElementById('gm-search-input');
  const list = document.getElementById('gm-search-results');
  if (!input || !list) { return; }
  let timer = null;

  function result(item) {
    const li = el('li', '');
    li.appendChild(el('span', options.levelNames[item.level] || item.level, 'gm-tag'));
    li.appendChild(document.createTextNode(' ' + item.name + ' '));
    li.appendChild(el('span', item.code, 'gm-tip-code'));
    li.tabIndex = 0;
    li.addEventListener('click', () => {
      const b = item.bbox;
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
      list.hidden = true;
    });
    return li;
  }

  function run(q) {
    list.textContent = '';
    if (!q) { list.hidden = true; return; }
    getJSON('/api/boundaries/search?q=' + encodeURIComponent(q)).then((data) => {
      list.textContent = '';
      (data.results || []).forEach((item) => list.appendChild(result(item)));
      if (!list.children.length) { list.appendChild(el('li', '没有找到', 'gm-empty')); }
      list.hidden = false;
    });
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value.trim()), TYPING_PAUSE_MS);
  });
}
