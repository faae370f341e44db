/* The user's own area (options.home: their grid, community, street or district), outlined on the map
 * the page opens on; and the notice shown while no basemap is configured (options.basemaps). */

import { el } from './dom.js';

const HOME_STYLE = { color: '#c2185b', weight: 3, dashArray: '8 5', fill: false, interactive: false };

export function drawHome(map, options) {
  if (!options.home || !options.home.geometry) { return null; }
  map.createPane('gm-home').style.zIndex = '450';
  map.getPane('gm-home').style.pointerEvents = 'none';
  // A canvas, not SVG: the outline is a picture, never a target (hover names stay the grids').
  const renderer = L.canvas({ pane: 'gm-home' });
  return L.geoJSON({ type: 'Feature', geometry: options.home.geometry, properties: {} },
                   { style: () => HOME_STYLE, pane: 'gm-home', renderer }).addTo(map);
}

export function basemapNotice(map, options) {
  if ((options.basemaps || []).length) { return; }
  const control = L.control({ position: 'bottomleft' });
  control.onAdd = () => {
    const box = L.DomUtil.create('div', 'gm-basemap-notice');
    box.appendChild(el('span', '未配置底图'));
    box.title = '管理员可设置 GRIDMAP_BASEMAP：天地图、内网瓦片地址或离线 .mbtiles 文件';
    return box;
  };
  control.addTo(map);
}
