/* The search box in the top bar: case numbers and 12345 ticket numbers (only cases the user may see),
 * boundary codes and names, and addresses from the gazetteer (地址库). A case result flies to the case
 * and opens it; a boundary fits the map to it; an address centres the map on it with a pin. Nothing
 * found: "没有找到", and the map stays where it was. Level names come from the options (levelNames). */

import { el } from './dom.js';
import { getChecked } from './api.js';

const TYPING_PAUSE_MS = 250;
const CASE_ZOOM = 17;
const ADDRESS_ZOOM = 18;

export function initSearch(map, options, panel) {
  const input = document.getElementById('gm-search-input');
  const list = document.getElementById('gm-search-results');
  if (!input || !list) { return; }
  let timer = null;
  let pin = null;
  let asked = '';

  function item(tag, text, code, go) {
    const li = el('li', '');
    li.appendChild(el('span', tag, 'gm-tag'));
    li.appendChild(document.createTextNode(' ' + text + ' '));
    if (code) { li.appendChild(el('span', code, 'gm-tip-code')); }
    li.tabIndex = 0;
    const pick = () => { list.hidden = true; go(); };
    li.addEventListener('click', pick);
    li.addEventListener('keydown', (e) => { if (e.key === 'Enter') { pick(); } });
    return li;
  }

  function caseItem(c) {
    return item('案件', c.category_name + ' ' + c.id, c.external_id ? '工单 ' + c.external_id : '', () => {
      map.flyTo([c.lat, c.lon], Math.max(map.getZoom(), CASE_ZOOM));
      if (panel) { panel.open(c.id); }
    });
  }

  function boundaryItem(b) {
    return item(options.levelNames[b.level] || b.level, b.name, b.code, () => {
      map.fitBounds([[b.bbox[1], b.bbox[0]], [b.bbox[3], b.bbox[2]]]);
    });
  }

  function addressItem(a) {
    return item('地址', a.address, '', () => {
      map.setView([a.lat, a.lon], ADDRESS_ZOOM);
      if (pin) { pin.remove(); }
      pin = L.circleMarker([a.lat, a.lon], { radius: 9, color: '#0d47a1', weight: 3, fillOpacity: 0.2,
                                             interactive: false }).addTo(map);
      pin.bindTooltip(el('span', a.address), { permanent: true, direction: 'top' });
    });
  }

  function run(q) {
    asked = q;
    if (!q) { list.textContent = ''; list.hidden = true; return; }
    const url = (options.searchApi || '/api/search') + '?q=' + encodeURIComponent(q);
    getChecked(url).then((data) => {
      if (asked !== q) { return; }  // the user typed on meanwhile
      list.textContent = '';
      (data.cases || []).forEach((c) => list.appendChild(caseItem(c)));
      (data.boundaries || []).forEach((b) => list.appendChild(boundaryItem(b)));
      (data.addresses || []).forEach((a) => list.appendChild(addressItem(a)));
      if (!list.children.length) {
        list.appendChild(el('li', '没有找到“' + q + '”：可搜案件编号、12345 工单号、区划编码或名称、地址', 'gm-empty'));
      }
      list.hidden = false;
    }).catch(() => {
      list.textContent = '';
      list.appendChild(el('li', '搜索失败，请重试', 'gm-empty'));
      list.hidden = false;
    });
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value.trim()), TYPING_PAUSE_MS);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      const first = list.querySelector('li[tabindex]');
      if (first && !list.hidden) { first.click(); }
    } else if (e.key === 'Escape') {
      list.hidden = true;
    }
  });
}
