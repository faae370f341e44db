/* The boundary layers: fills folium's empty groups (district, street, community, grid) from the
 * boundary API, by view and zoom. Coarse outlines draw above fine ones (a street edge is never
 * hidden under grid edges); only the finest level on screen is filled, so hovering names the
 * smallest unit. Layer names and loading zooms come from the options (labels, minZoom). */

import { el } from './dom.js';

export const STYLES = {
  district: { color: '#6a1b9a', weight: 3, fillOpacity: 0.02, dashArray: null },
  street: { color: '#1565c0', weight: 2, fillOpacity: 0.03, dashArray: null },
  community: { color: '#2e7d32', weight: 1.5, fillOpacity: 0.03, dashArray: '5 4' },
  grid: { color: '#ef6c00', weight: 1, fillOpacity: 0.05, dashArray: null }
};
/* Finest first: the order of the panes, bottom to top. */
export const ORDER = ['grid', 'community', 'street', 'district'];
// Levels small enough to load whole once; the others follow the view.
const WHOLE = { district: true, street: true };
const VIEW_PADDING = 0.25;

function tooltipFor(props, label) {
  const box = document.createElement('div');
  box.appendChild(el('strong', props.name));
  box.appendChild(el('div', label + ' ' + props.code, 'gm-tip-code'));
  return box;
}

/* Bounding box of the padded view as the API's "west,south,east,north". */
export function bboxParam(map, pad) {
  const b = map.getBounds().pad(pad);
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
    .map((v) => Math.max(-180, Math.min(180, v)).toFixed(5)).join(',');
}

export function createBoundaryLayers(map, groups, options, hint, loading) {
  const state = {};
  Object.keys(groups).forEach((level) => { state[level] = { key: null, count: 0 }; });

  function finest() {
    const zoom = map.getZoom();
    return ORDER.find((level) => groups[level] && map.hasLayer(groups[level]) &&
                                 zoom >= options.minZoom[level] && state[level].count > 0) || null;
  }

  function styleFor(level) {
    const style = STYLES[level];
    const filled = level === finest();
    return { pane: 'gm-' + level, color: style.color, weight: style.weight, dashArray: style.dashArray,
             fill: filled, fillColor: style.color, fillOpacity: filled ? style.fillOpacity : 0 };
  }

  function restyle() {
    Object.keys(groups).forEach((level) => {
      groups[level].eachLayer((layer) => { if (layer.setStyle) { layer.setStyle(styleFor(level)); } });
    });
  }

  function draw(level, data) {
    const group = groups[level];
    const style = STYLES[level];
    group.clearLayers();
    state[level].count = (data.features || []).length;
    state[level].truncated = !!data.truncated;
    L.geoJSON(data, {
      pane: 'gm-' + level,
      style: () => styleFor(level),
      onEachFeature: (feature, layer) => {
        layer.bindTooltip(tooltipFor(feature.properties, options.labels[level]), { sticky: true });
        layer.on('mouseover', () => layer.setStyle({ weight: style.weight + 2 }));
        layer.on('mouseout', () => layer.setStyle({ weight: style.weight }));
      }
    }).addTo(group);
    restyle();
  }

  function load(level) {
    const s = state[level];
    const zoom = map.getZoom();
    if (!map.hasLayer(groups[level])) { return; }
    if (zoom < options.minZoom[level]) {
      if (s.abort) { s.abort.abort(); }  // a response for the old view must not draw now
      groups[level].clearLayers();
      s.key = null;
      s.count = 0;
      return;
    }
    const params = new URLSearchParams();
    if (!WHOLE[level]) {
      params.set('bbox', bboxParam(map, VIEW_PADDING));
      params.set('zoom', String(zoom));
    }
    const key = params.toString();
    if (s.key === key) { return; }
    if (s.abort) { s.abort.abort(); }
    s.abort = new AbortController();
    s.key = key;
    const request = fetch(options.api + level + '.geojson?' + key, { signal: s.abort.signal,
                                                                     headers: { Accept: 'application/geo+json' } })
      .then((r) => {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      });
    if (loading) { loading.track(request); }
    request
      .then((data) => {
        if (s.key !== key) { return; }  // the view moved on while this was loading
        s.error = false;
        draw(level, data);
        hint.refresh();
      })
      .catch((err) => {
        if (err.name === 'AbortError') { return; }
        s.error = true;
        s.key = null;
        hint.refresh();
      });
  }

  /* What the hint line says about the boundary layers. */
  function messages() {
    const zoom = map.getZoom();
    const out = [];
    Object.keys(groups).forEach((level) => {
      if (!map.hasLayer(groups[level])) { return; }
      const label = options.labels[level];
      if (zoom < options.minZoom[level]) {
        out.push('放大到 ' + options.minZoom[level] + ' 级显示' + label);
      } else if (state[level].error) {
        out.push(label + '加载失败，移动地图重试');
      } else if (state[level].truncated) {
        out.push(label + '太多，只显示了一部分，请放大');
      }
    });
    return out;
  }
  hint.provide(messages);

  return {
    /* Load what the view needs and restyle (the finest level on screen may have changed). */
    refresh() {
      Object.keys(groups).forEach(load);
      restyle();
    }
  };
}
