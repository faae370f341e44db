/* The map itself: folium's Leaflet map found by the name in the options, its panes, the scale,
 * and the view, which lives in the URL hash (#map=zoom/lat/lng) so a link shows the same place. */

import { ORDER } from './layers.js';

const VIEW = /^#map=(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/;
const BOUNDARY_PANE_Z = 410;
const CASE_PANE_Z = 600;
const VIEW_DIGITS = 5;

/* folium's map and groups, by the JavaScript names the server put in the options. */
export function foliumParts(names) {
  const map = window[names.map];
  if (!map) { throw new Error('地图未创建：找不到 ' + names.map); }
  const groups = {};
  Object.keys(names.layers).forEach((level) => { groups[level] = window[names.layers[level]]; });
  return { map, groups, cases: names.cases ? window[names.cases] : null };
}

/* Scale, panes (coarse boundaries above fine ones, cases above all) and the view. */
export function setUpMap(map, options) {
  L.control.scale({ imperial: false }).addTo(map);
  ORDER.forEach((level, i) => { map.createPane('gm-' + level).style.zIndex = String(BOUNDARY_PANE_Z + i); });
  map.createPane('gm-cases').style.zIndex = String(CASE_PANE_Z);
  const view = VIEW.exec(window.location.hash);
  if (view) {  // a shared link: the same view
    map.setView([parseFloat(view[2]), parseFloat(view[3])], parseFloat(view[1]), { animate: false });
  } else if (options.extent) {
    const e = options.extent;
    map.fitBounds([[e[1], e[0]], [e[3], e[2]]], { padding: [10, 10], animate: false });
  }
  map.on('moveend', () => {
    const c = map.getCenter();
    history.replaceState(null, '', window.location.pathname + window.location.search + '#map=' +
      map.getZoom() + '/' + c.lat.toFixed(VIEW_DIGITS) + '/' + c.lng.toFixed(VIEW_DIGITS));
  });
}
