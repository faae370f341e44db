/* The legend: boundary outlines by level, then case markers by status. The statuses shown and
 * their names and colours come from the page's options (legendStatuses, statuses). */

import { el, legendRow } from './dom.js';
import { STYLES } from './layers.js';

export function createLegend(map, options) {
  const control = L.control({ position: 'bottomright' });
  control.onAdd = () => {
    const box = L.DomUtil.create('div', 'gm-legend');
    box.appendChild(el('div', '边界', 'gm-legend-title'));
    Object.keys(STYLES).forEach((level) => {
      const swatch = el('span', '', 'gm-swatch');
      swatch.style.borderColor = STYLES[level].color;
      if (STYLES[level].dashArray) { swatch.style.borderStyle = 'dashed'; }
      box.appendChild(legendRow(swatch, options.labels[level]));
    });
    box.appendChild(el('div', '案件', 'gm-legend-title'));
    options.legendStatuses.forEach((status) => {
      const [colour, name] = options.statuses[status];
      const dot = el('span', '', 'gm-dot');
      dot.style.background = colour;
      box.appendChild(legendRow(dot, name));
    });
    [['gm-dot gm-dot-overdue', '超期'], ['gm-dot gm-dot-whistle', '吹哨中']].forEach(([cls, text]) => {
      box.appendChild(legendRow(el('span', '', cls), text));
    });
    return box;
  };
  control.addTo(map);
}
