/* The map page's entry point: reads the options JSON, finds folium's map and empty groups, and
 * wires the modules (each has one job) together. Loaded as <script type="module">, so it runs
 * after folium's inline script has made the map. */

import { readOptions } from './options.js';
import { keepFormsOnPage } from './dom.js';
import { foliumParts, setUpMap } from './map.js';
import { createHint } from './hint.js';
import { createLegend } from './legend.js';
import { createBoundaryLayers } from './layers.js';
import { createCaseLayer } from './cases.js';
import { createPanel } from './panel.js';
import { createReportButton } from './report.js';
import { createLocateButton } from './locate.js';
import { createThematic } from './thematic.js';
import { foldable } from './fold.js';
import { initFilters } from './filters.js';
import { initSearch } from './search.js';
import { createWhistleList } from './whistle_list.js';
import { createLoading } from './loading.js';
import { createCaseList } from './caselist.js';
import { drawHome, basemapNotice } from './home.js';

keepFormsOnPage();
const options = readOptions();
const { map, groups, cases: casesGroup } = foliumParts(options.folium);
setUpMap(map, options);
const loading = createLoading(map);
drawHome(map, options);
const hint = createHint(map);
createLegend(map, options);
const locateHint = hint.source('locate');
const themeHint = hint.source('theme');
const caseHint = hint.source('cases');

let cases = null;
let list = null;
const reloadCases = () => { if (cases) { cases.reload(); } if (list) { list.reload(false); } };
const panel = createPanel(options, reloadCases);
if (options.user.mayReport) {
  createReportButton(map, panel, options, reloadCases);
}
createLocateButton(map, locateHint);
foldable(document.querySelector('.gm-legend'), '图例');
foldable(document.querySelector('.leaflet-control-layers'), '图层');
const theme = createThematic(map, options, themeHint);
foldable(document.querySelector('.gm-theme'), '专题');
cases = casesGroup ? createCaseLayer(map, casesGroup, options, caseHint, panel, loading) : null;
const boundaries = createBoundaryLayers(map, groups, options, hint, loading);
basemapNotice(map, options);

function refresh() {
  boundaries.refresh();
  if (cases) { cases.load(); }
  hint.refresh();
}

map.on('moveend overlayadd overlayremove', refresh);
initSearch(map, options, panel);
createWhistleList(map, panel, options);
list = createCaseList(map, panel, options, loading);
initFilters(options, () => { reloadCases(); theme.reload(); list.reload(); });
refresh();
// Boundary shapes stay out of the Tab order: Leaflet makes every shape with a tooltip focusable,
// which put dozens of polygons between the bar and 上报. Their names stay on hover and in search.
map.on('layeradd', (e) => {
  const node = e.layer instanceof L.Path && e.layer.getElement ? e.layer.getElement() : null;
  if (node) { node.setAttribute('tabindex', '-1'); }
});

/* The print view (print CSS): a title line with the date and the filters in force. */
function printMeta() {
  const meta = document.getElementById('gm-print-meta');
  if (!meta) { return; }
  const form = document.getElementById('gm-filters');
  const chosen = form ? Array.from(form.querySelectorAll('select')).filter((s) => s.value)
    .map((s) => s.selectedOptions[0].textContent) : [];
  if (form && form.elements.from.value) { chosen.push('自 ' + form.elements.from.value); }
  if (form && form.elements.to.value) { chosen.push('至 ' + form.elements.to.value); }
  if (form && form.elements.overdue.checked) { chosen.push('仅超期'); }
  meta.textContent = '打印时间：' + new Date().toLocaleString('zh-CN', { hour12: false })
    + (chosen.length ? ' · 筛选：' + chosen.join('，') : ' · 全部案件');
}
window.addEventListener('beforeprint', printMeta);
const printButton = document.getElementById('gm-print');
if (printButton) { printButton.addEventListener('click', () => { printMeta(); window.print(); }); }

// For people's tools and the browser tests.
window.gridmapMap = map;
window.gridmapPanel = panel;
window.gridmapCases = cases;
window.gridmapList = list;
