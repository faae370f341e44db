/* Thematic layers (专题): Gi* hot and cold spots, case density per grid, H3 hexagons, a heat map,
 * or any measure of any level as a choropleth. The choice lives in the URL (?theme=…) with the
 * filters, and the dates and category of the filters apply. Each has its legend. Class names,
 * levels and measures come from the options (hotspotClasses, themeLevels, measures). */

import { el, legendRow, selectEl } from './dom.js';
import { getJSON } from './api.js';
import { pageParams, replaceSearch } from './filters.js';
import { bboxParam } from './layers.js';
import { NO_DATA, breaks, classOf, rampRows } from './ramp.js';

const KINDS = [['', '无'], ['gistar', '热点分析（Gi*）'], ['density', '案件密度（网格）'], ['h3', 'H3 六边形'],
               ['heat', '热力图'], ['measure', '指标分级设色']];
const GISTAR_COLOURS = { hot_99: '#b2182b', hot_95: '#ef8a62', hot_90: '#fddbc7', not_significant: '#f7f7f7',
                         cold_90: '#d1e5f0', cold_95: '#67a9cf', cold_99: '#2166ac' };
const VIEW_PADDING = 0.2;
/* The H3 resolution for a zoom: [highest zoom, resolution], the last for any zoom beyond. */
const H3_BY_ZOOM = [[11, 7], [13, 8], [15, 9], [Infinity, 10]];
const HEAT = { radius: 20, blur: 16, minOpacity: 0.25, saturateAt: 0.9 };

/* Polygons on the theme pane with a tooltip each. */
function polygons(data, style, tip) {
  return L.geoJSON(data, {
    pane: 'gm-theme', style,
    onEachFeature: (f, l) => { l.bindTooltip(tip(f.properties), { sticky: true }); }
  });
}

function tipLines(lines) {
  const div = document.createElement('div');
  lines.forEach((line, i) => div.appendChild(el(i ? 'div' : 'strong', line)));
  return div;
}

/* The filters' dates and category, as the hotspot and statistics APIs take them. */
function filters() {
  const page = pageParams();
  const q = new URLSearchParams();
  ['from', 'category'].forEach((k) => { if (page.get(k)) { q.set(k, page.get(k)); } });
  if (page.get('to')) { q.set('to', page.get('to')); }  // the API's "to" is an inclusive date here
  return q;
}

/* GET JSON, rejecting with the server's message. */
function fetchData(url, signal) {
  return fetch(url, { signal }).then((r) => r.json().then((data) => {
    if (!r.ok) { throw new Error(data.error ? data.error.message : 'HTTP ' + r.status); }
    return data;
  }));
}

export function createThematic(map, options, hint) {
  if (!options.user.mayReadAreas) { return { reload() {} }; }
  map.createPane('gm-theme').style.zIndex = '405';
  const measures = options.measures;
  let layer = null;
  let abort = null;
  let kind, level, measure, legend;
  const control = L.control({ position: 'topright' });
  control.onAdd = () => {
    const box = L.DomUtil.create('div', 'gm-theme leaflet-bar');
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    box.appendChild(el('div', '专题图层', 'gm-legend-title'));
    kind = selectEl('theme', KINDS, '专题图层');
    level = selectEl('theme_level', options.themeLevels, '指标层级');
    measure = selectEl('theme_measure', measures.map(([key, name]) => [key, name]), '指标');
    legend = el('div', '', 'gm-theme-legend');
    [kind, level, measure, legend].forEach((node) => box.appendChild(node));
    const wanted = (pageParams().get('theme') || '').split(':');
    kind.value = wanted[0] || '';
    if (wanted[1]) { level.value = wanted[1]; }
    if (wanted[2]) { measure.value = wanted[2]; }
    [kind, level, measure].forEach((node) => node.addEventListener('change', () => { save(); reload(); }));
    return box;
  };
  control.addTo(map);

  function save() {
    const params = pageParams();
    if (kind.value) {
      params.set('theme', kind.value === 'measure' ? ['measure', level.value, measure.value].join(':') : kind.value);
    } else {
      params.delete('theme');
    }
    replaceSearch(params);
  }

  function swatches(rows) {
    legend.textContent = '';
    rows.forEach(([colour, text]) => {
      const sw = el('span', '', 'gm-theme-swatch');
      sw.style.background = colour;
      legend.appendChild(legendRow(sw, text));
    });
  }

  function clear() {
    if (abort) { abort.abort(); abort = null; }
    if (layer) { map.removeLayer(layer); layer = null; }
    legend.textContent = '';
  }

  function get(url) {
    if (abort) { abort.abort(); }
    abort = new AbortController();
    return fetchData(url, abort.signal);
  }

  function show(promise) {
    promise.then((next) => {
      if (layer) { map.removeLayer(layer); }
      layer = next;
      if (layer) { layer.addTo(map); }
      hint(null);
    }).catch((err) => {
      if (err.name !== 'AbortError') { hint('专题图层加载失败：' + err.message); }
    });
  }

  function gistar(q) {
    return get('/api/hotspots/gistar.geojson?' + q).then((data) => {
      const counts = data.classes || {};
      swatches(options.hotspotClasses.filter(([name]) => name !== 'not_significant')
        .concat(options.hotspotClasses.filter(([name]) => name === 'not_significant'))
        .map(([name, text]) => [GISTAR_COLOURS[name], text + '（' + (counts[name] || 0) + '）']));
      return polygons(data, (f) => ({ color: '#555', weight: 0.5, fillColor: GISTAR_COLOURS[f.properties['class']],
                                       fillOpacity: 0.75 }),
                      (p) => tipLines([p.name, p.label + '，案件 ' + p.count + ' 件', 'z = ' + Number(p.z).toFixed(2)]));
    });
  }

  function density(q) {
    return get('/api/hotspots/density.geojson?' + q).then((data) => {
      const cuts = breaks(data.features.map((f) => f.properties.density));
      swatches(rampRows(cuts, (v) => v.toFixed(0) + ' 件/km²', false));
      return polygons(data, (f) => {
        const v = f.properties.density;
        return { color: '#777', weight: 0.3, fillColor: v == null ? NO_DATA : classOf(v, cuts), fillOpacity: 0.7 };
      }, (p) => tipLines([p.name, (p.density == null ? '—' : p.density.toFixed(1)) + ' 件/km²（' + p.count + ' 件）']));
    });
  }

  function h3(q) {
    const zoom = map.getZoom();
    q.set('resolution', String(H3_BY_ZOOM.find(([upTo]) => zoom <= upTo)[1]));
    q.set('bbox', bboxParam(map, VIEW_PADDING));
    return get('/api/hotspots/h3.geojson?' + q).then((data) => {
      const cuts = breaks(data.features.map((f) => f.properties.count));
      swatches(rampRows(cuts, (v) => String(Math.round(v)) + ' 件', false));
      return polygons(data, (f) => ({ color: '#fff', weight: 0.5, fillColor: classOf(f.properties.count, cuts),
                                       fillOpacity: 0.75 }),
                      (p) => tipLines(['H3 ' + p.cell, p.count + ' 件']));
    });
  }

  function heat(q) {
    q.set('bbox', bboxParam(map, VIEW_PADDING));
    return get('/api/hotspots/heat.json?' + q).then((data) => {
      swatches([['#0000ff', '少'], ['#00ff00', ''], ['#ff0000', '多（共 ' + data.cases + ' 件）']]);
      if (!L.heatLayer) { throw new Error('热力图插件未加载'); }
      // Saturate at the 90th percentile of the bins, so a single busy corner does not wash out the rest.
      const weights = data.points.map((pt) => pt[2]).sort((a, b) => a - b);
      const top = weights.length ? weights[Math.floor(weights.length * HEAT.saturateAt)] : 1;
      return L.heatLayer(data.points, { radius: HEAT.radius, blur: HEAT.blur, max: top || 1,
                                        minOpacity: HEAT.minOpacity });
    });
  }

  function choropleth() {
    const lv = level.value;
    const key = measure.value;
    const isRate = measures.find(([name]) => name === key)[2];
    const stats = filters();
    stats.delete('category');
    stats.set('fields', key + ',name');
    const shapes = new URLSearchParams({ zoom: String(map.getZoom()) });
    if (lv !== 'street') { shapes.set('bbox', bboxParam(map, VIEW_PADDING)); }
    return Promise.all([get('/api/stats/' + lv + '.json?' + stats), getJSON(options.api + lv + '.geojson?' + shapes)])
      .then(([table, boundaries]) => {
        const values = {};
        table.rows.forEach((r) => { values[r.code] = r; });
        const shown = boundaries.features.filter((f) => values[f.properties.code]);
        const list = shown.map((f) => values[f.properties.code][key]);
        const cuts = breaks(list);
        const fmt = isRate ? (v) => (v * 100).toFixed(1) + '%' : (v) => String(Math.round(v));
        swatches(rampRows(cuts, fmt, list.some((v) => v == null)));
        return polygons({ type: 'FeatureCollection', features: shown }, (f) => {
          const v = values[f.properties.code][key];
          return { color: '#555', weight: 0.6, fillColor: v == null ? NO_DATA : classOf(v, cuts), fillOpacity: 0.7 };
        }, (p) => {
          const v = values[p.code][key];
          return tipLines([p.name, measure.options[measure.selectedIndex].text + '：' + (v == null ? '无数据' : fmt(v))]);
        });
      });
  }

  function reload() {
    level.hidden = measure.hidden = kind.value !== 'measure';
    if (!kind.value) { clear(); hint(null); return; }
    const q = filters();
    q.set('zoom', String(map.getZoom()));
    const draw = { gistar, density, h3, heat }[kind.value];
    show(draw ? draw(q) : choropleth());
  }

  // Layers that follow the view reload when it moves; whole-area layers only when the zoom changes.
  let lastZoom = map.getZoom();
  map.on('moveend', () => {
    const follows = kind.value === 'h3' || kind.value === 'heat' || (kind.value === 'measure' && level.value !== 'street');
    if (follows || map.getZoom() !== lastZoom) { reload(); }
    lastZoom = map.getZoom();
  });
  reload();
  return { reload };
}
