/* The case layer: counts per street or community when zoomed out, single cases when zoomed in
 * (the server decides by zoom). Marker colours and status names come from the options (statuses). */

import { el } from './dom.js';
import { caseQuery } from './filters.js';
import { bboxParam } from './layers.js';

const VIEW_PADDING = 0.25;
const UNKNOWN_COLOUR = '#757575';
const HOVER_EVERY_MS = 50;
const REACH_PX = 4;  // how far outside a marker a click still hits it

function statusName(statuses, code) {
  return (statuses[code] || [null, code])[1];
}

function casePopup(props, statuses) {
  const box = document.createElement('div');
  box.appendChild(el('strong', props.category_name));
  box.appendChild(el('div', props.id, 'gm-tip-code'));
  const status = el('div', statusName(statuses, props.status));
  if (props.overdue) { status.appendChild(el('span', ' 超期', 'gm-overdue')); }
  if (props.whistle) { status.appendChild(el('span', ' 吹哨中', 'gm-whistle')); }
  box.appendChild(status);
  return box;
}

/* A count bubble: "212 · 超期37", the overdue part in red; wide enough for both. */
function countIcon(props) {
  const box = document.createElement('div');
  box.className = 'gm-count' + (props.overdue ? ' gm-count-overdue' : '');
  box.appendChild(el('b', String(props.cases)));
  if (props.overdue) {
    box.appendChild(el('span', ' · ', 'gm-count-sep'));
    box.appendChild(el('span', '超期' + props.overdue, 'gm-count-late'));
  }
  // No fixed size: the bubble is as wide as its text and centred on the point by CSS (.gm-count-icon).
  return L.divIcon({ html: box, className: 'gm-count-icon', iconSize: null });
}
// A bubble click zooms to the next level: streets → communities (13) → single cases (15).
const BUBBLE_ZOOMS = [13, 15];

export function createCaseLayer(map, group, options, hint, panel, loading) {
  const state = { key: null, abort: null };
  // One canvas for all case markers: 5,000 SVG elements take seconds to draw on a 2-core PC.
  const renderer = L.canvas({ pane: 'gm-cases', padding: VIEW_PADDING, tolerance: 3 });
  const pane = map.getPane('gm-cases');

  // The canvas lets pointer events through (CSS), so grids keep their hover names; a click on the
  // map opens the case marker nearest to it, if one is drawn within reach of the pointer.
  function nearest(point) {
    let best = null;
    let bestDistance = Infinity;
    group.eachLayer((l) => {
      if (!l.feature) { return; }
      const d = map.latLngToContainerPoint(l.getLatLng()).distanceTo(point);
      if (d <= l.options.radius + REACH_PX && d < bestDistance) { best = l; bestDistance = d; }
    });
    return best;
  }
  map.on('click', (e) => {
    // While picking a place to report, a click on a marker is a click on that place.
    if (map.getContainer().classList.contains('gm-picking')) { return; }
    const hit = nearest(e.containerPoint);
    if (hit) {
      hit.openPopup();
      panel.open(hit.feature.properties.id);
    }
  });
  let moved = 0;
  map.on('mousemove', (e) => {
    const now = Date.now();
    if (now - moved < HOVER_EVERY_MS) { return; }
    moved = now;
    map.getContainer().classList.toggle('gm-over-case', !!nearest(e.containerPoint));
  });

  function draw(data) {
    group.clearLayers();
    let points = 0;
    (data.features || []).forEach((f) => {
      const c = f.geometry.coordinates;
      const p = f.properties;
      if (data.kind === 'points') {
        const colour = (options.statuses[p.status] || [UNKNOWN_COLOUR])[0];
        const marker = L.circleMarker([c[1], c[0]], {
          radius: p.whistle ? 8 : 6, color: p.overdue ? '#d50000' : (p.whistle ? '#ffd600' : '#ffffff'),
          weight: p.overdue || p.whistle ? 3 : 1, fillColor: colour, fillOpacity: 0.9, pane: 'gm-cases',
          renderer });
        marker.bindPopup(() => casePopup(p, options.statuses));  // built when opened
        points += 1;
        marker.feature = f;
        marker.addTo(group);
      } else {
        const m = L.marker([c[1], c[0]], { icon: countIcon(p), pane: 'gm-cases', title: p.name });
        m.bindTooltip(el('span', p.name + '：' + p.cases + ' 件' + (p.overdue ? '，超期 ' + p.overdue : '')));
        m.on('click', () => {
          const next = BUBBLE_ZOOMS.find((z) => z > map.getZoom()) || map.getZoom() + 1;
          map.setView([c[1], c[0]], next);
        });
        m.addTo(group);
      }
    });
    pane.dataset.markers = String(points);  // what is drawn, for people's tools and the tests
    hint(data.truncated ? '案件太多，只显示了最新的一部分，请放大' : null);
  }

  function load() {
    if (!map.hasLayer(group)) { return; }
    const params = caseQuery();
    params.set('bbox', bboxParam(map, VIEW_PADDING));
    params.set('zoom', String(map.getZoom()));
    const key = params.toString();
    if (key === state.key) { return; }
    state.key = key;
    if (state.abort) { state.abort.abort(); }
    state.abort = new AbortController();
    const request = fetch(options.casesApi + '?' + key, { signal: state.abort.signal })
      .then((r) => { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); });
    if (loading) { loading.track(request); }
    request
      .then((data) => { if (state.key === key) { draw(data); } })
      .catch((err) => {
        if (err.name !== 'AbortError') { state.key = null; hint('案件加载失败，移动地图重试'); }
      });
  }

  return {
    load,
    reload() { state.key = null; load(); },
    /* The single-case markers drawn, for people's tools and the tests. */
    markers() {
      return group.getLayers().filter((l) => l.feature).map((l) => (
        { id: l.feature.properties.id, lat: l.getLatLng().lat, lng: l.getLatLng().lng }));
    }
  };
}
