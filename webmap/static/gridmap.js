/* gridmap: fills folium's empty boundary groups from the API, by bbox and zoom.
 * All user-written text (names, codes) reaches the page through textContent, never innerHTML. */
(function () {
  'use strict';

  var STYLES = {
    district: { color: '#6a1b9a', weight: 3, fillOpacity: 0.02, dashArray: null },
    street: { color: '#1565c0', weight: 2, fillOpacity: 0.03, dashArray: null },
    community: { color: '#2e7d32', weight: 1.5, fillOpacity: 0.03, dashArray: '5 4' },
    grid: { color: '#ef6c00', weight: 1, fillOpacity: 0.05, dashArray: null }
  };
  // Levels small enough to load whole once; the others follow the view.
  var WHOLE = { district: true, street: true };
  // Coarse outlines draw above fine ones (a street edge is never hidden under grid edges);
  // only the finest level on screen is filled, so hovering names the smallest unit.
  var ORDER = ['grid', 'community', 'street', 'district'];

  function textEl(tag, text, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = text;
    return el;
  }

  function tooltipFor(props, label) {
    var box = document.createElement('div');
    box.appendChild(textEl('strong', props.name));
    box.appendChild(textEl('div', label + ' ' + props.code, 'gm-tip-code'));
    return box;
  }

  function Hint(map) {
    var control = L.control({ position: 'bottomleft' });
    var el;
    control.onAdd = function () {
      el = L.DomUtil.create('div', 'gm-hint');
      el.hidden = true;
      return el;
    };
    control.addTo(map);
    return {
      set: function (messages) {
        el.textContent = messages.join('；');
        el.hidden = messages.length === 0;
      }
    };
  }

  var LEGEND_STATUSES = ['received', 'dispatched', 'in_progress', 'resolved', 'closed'];

  function Legend(map, labels, statuses) {
    var control = L.control({ position: 'bottomright' });
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'gm-legend');
      box.appendChild(textEl('div', '图例', 'gm-legend-title'));
      Object.keys(STYLES).forEach(function (level) {
        var row = textEl('div', '', 'gm-legend-row');
        var swatch = textEl('span', '', 'gm-swatch');
        swatch.style.borderColor = STYLES[level].color;
        if (STYLES[level].dashArray) { swatch.style.borderStyle = 'dashed'; }
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(labels[level]));
        box.appendChild(row);
      });
      box.appendChild(textEl('div', '案件', 'gm-legend-title'));
      LEGEND_STATUSES.forEach(function (status) {
        var row = textEl('div', '', 'gm-legend-row');
        var dot = textEl('span', '', 'gm-dot');
        dot.style.background = statuses[status][0];
        row.appendChild(dot);
        row.appendChild(document.createTextNode(statuses[status][1]));
        box.appendChild(row);
      });
      [['gm-dot gm-dot-overdue', '超期'], ['gm-dot gm-dot-whistle', '吹哨中']].forEach(function (item) {
        var row = textEl('div', '', 'gm-legend-row');
        row.appendChild(textEl('span', '', item[0]));
        row.appendChild(document.createTextNode(item[1]));
        box.appendChild(row);
      });
      return box;
    };
    control.addTo(map);
  }

  function casePopup(props, statuses) {
    var box = document.createElement('div');
    box.appendChild(textEl('strong', props.category_name));
    box.appendChild(textEl('div', props.id, 'gm-tip-code'));
    var status = textEl('div', (statuses[props.status] || [null, props.status])[1]);
    if (props.overdue) { status.appendChild(textEl('span', ' 超期', 'gm-overdue')); }
    if (props.whistle) { status.appendChild(textEl('span', ' 吹哨中', 'gm-whistle')); }
    box.appendChild(status);
    return box;
  }

  var EVENT_LABELS = {
    receive: '受理', dispatch: '派遣', void: '不予立案', sign: '签收', 'return': '退回', respond: '联系诉求人',
    start: '开始处置', suspend: '挂账', resolve: '办结', check: '核查通过', reject_check: '核查不通过',
    close: '结案', callback: '回访', reopen: '重办', whistle: '吹哨', check_in: '报到'
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  function localTime(iso) {
    return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—';
  }

  /* The case panel: details, the actions this user may take, the event timeline. */
  function CasePanel(statuses, onChanged) {
    var aside = document.getElementById('gm-panel');
    if (!aside) { return { open: function () {} }; }
    var body = aside.querySelector('.gm-panel-body');
    aside.querySelector('.gm-panel-close').addEventListener('click', function () { aside.hidden = true; });

    function row(label, value) {
      var div = textEl('div', '', 'gm-panel-row');
      div.appendChild(textEl('span', label, 'gm-panel-label'));
      div.appendChild(textEl('span', value == null || value === '' ? '—' : String(value)));
      return div;
    }

    function act(id, action) {
      var body = { action: action.action, note: '' };
      if (action.reason_required) {
        var reason = window.prompt('请填写「' + action.label + '」的原因');
        if (!reason) { return; }
        body.note = reason;
      }
      if (action.action === 'callback') {
        body.contacted = window.confirm('是否联系上诉求人？');
        body.solved = window.confirm('问题是否解决？');
        body.satisfied = window.confirm('诉求人是否满意？');
      }
      fetch('/api/cases/' + encodeURIComponent(id) + '/actions', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok) { show(id, res.data.error ? res.data.error.message : '操作失败'); return; }
          show(id, null);
          onChanged();
        });
    }

    function show(id, message) {
      Promise.all([
        fetch('/api/cases/' + encodeURIComponent(id)).then(function (r) { return r.json(); }),
        fetch('/api/cases/' + encodeURIComponent(id) + '/actions').then(function (r) { return r.json(); }),
        fetch('/api/cases/' + encodeURIComponent(id) + '/events').then(function (r) { return r.json(); })
      ]).then(function (all) {
        var c = all[0].properties;
        body.textContent = '';
        body.appendChild(textEl('h2', c.category_name));
        body.appendChild(textEl('div', c.id, 'gm-tip-code'));
        if (message) { body.appendChild(textEl('p', message, 'gm-login-error')); }
        body.appendChild(row('状态', (statuses[c.status] || [null, c.status])[1] + (c.overdue ? '（超期）' : '')));
        body.appendChild(row('描述', c.description));
        body.appendChild(row('网格', c.grid_code));
        body.appendChild(row('主责部门', c.lead_department || '属地街道'));
        body.appendChild(row('协办部门', (c.co_departments || []).join('、')));
        body.appendChild(row('受理时间', localTime(c.reported_at)));
        body.appendChild(row('办结时限', localTime(c.deadlines.resolve_due)));
        var buttons = textEl('div', '', 'gm-panel-actions');
        (all[1].actions || []).forEach(function (action) {
          var button = textEl('button', action.label);
          button.type = 'button';
          button.dataset.action = action.action;
          button.addEventListener('click', function () { act(id, action); });
          buttons.appendChild(button);
        });
        body.appendChild(buttons);
        body.appendChild(textEl('h3', '处理记录'));
        var list = textEl('ol', '', 'gm-timeline');
        (all[2].events || []).forEach(function (e) {
          var item = textEl('li', localTime(e.at) + ' ' + (EVENT_LABELS[e.action] || e.action) + ' · ' +
                            (e.actor_name || ''));
          if (e.note) { item.appendChild(textEl('div', e.note, 'gm-tip-code')); }
          list.appendChild(item);
        });
        body.appendChild(list);
        aside.hidden = false;
      });
    }
    /* Pin to report: a form for a point the grid worker clicked; duplicates nearby come first. */
    function report(latlng, onCreated) {
      body.textContent = '';
      body.appendChild(textEl('h2', '上报问题'));
      body.appendChild(textEl('div', latlng.lng.toFixed(6) + ', ' + latlng.lat.toFixed(6), 'gm-tip-code'));
      var form = document.createElement('form');
      form.className = 'gm-report-form';
      var category = document.createElement('select');
      category.name = 'category';
      category.appendChild(textEl('option', '请选择问题分类'));
      category.firstChild.value = '';
      var urgency = document.createElement('select');
      urgency.name = 'urgency';
      [['', '紧急程度（按分类默认）'], ['emergency', '紧急'], ['utility', '水电气热'], ['general', '一般'],
       ['complex', '疑难复杂']].forEach(function (o) {
        var option = textEl('option', o[1]); option.value = o[0]; urgency.appendChild(option);
      });
      var description = document.createElement('textarea');
      description.name = 'description';
      description.maxLength = 4000;
      description.placeholder = '问题描述（位置、情况）';
      var duplicates = textEl('div', '', 'gm-duplicates');
      var error = textEl('p', '', 'gm-login-error');
      var submit = textEl('button', '提交');
      submit.type = 'submit';
      [category, urgency, description, duplicates, error, submit].forEach(function (el) { form.appendChild(el); });
      body.appendChild(form);
      aside.hidden = false;
      fetch('/api/categories').then(function (r) { return r.json(); }).then(function (data) {
        (data.categories || []).forEach(function (c) {
          var option = textEl('option', c.code + ' ' + c.name); option.value = c.code; category.appendChild(option);
        });
      });
      category.addEventListener('change', function () {
        duplicates.textContent = '';
        if (!category.value) { return; }
        var q = new URLSearchParams({ lon: latlng.lng, lat: latlng.lat, category: category.value });
        fetch('/api/cases/nearby?' + q).then(function (r) { return r.json(); }).then(function (data) {
          var found = data.possible_duplicates || [];
          if (!found.length) { return; }
          duplicates.appendChild(textEl('strong', '附近已有相似案件，请先确认是否重复：'));
          found.forEach(function (d) {
            var item = textEl('a', d.id + '（' + Math.round(d.distance_m) + ' 米）', 'gm-duplicate');
            item.href = '#';
            item.addEventListener('click', function (ev) { ev.preventDefault(); show(d.id, null); });
            duplicates.appendChild(item);
          });
        });
      });
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        error.textContent = '';
        if (!category.value) { error.textContent = '请选择问题分类。'; return; }
        var payload = { lon: latlng.lng, lat: latlng.lat, crs: 'wgs84', category: category.value,
                        description: description.value, source: 'grid_worker' };
        if (urgency.value) { payload.urgency = urgency.value; }
        submit.disabled = true;
        fetch('/api/cases', { method: 'POST', body: JSON.stringify(payload),
                              headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() } })
          .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
          .then(function (res) {
            submit.disabled = false;
            if (!res.ok) { error.textContent = res.data.error ? res.data.error.message : '提交失败'; return; }
            show(res.data.id, null);
            onCreated();
          });
      });
    }
    return { open: function (id) { show(id, null); }, report: report };
  }

  function ReportButton(map, panel, onCreated) {
    var picking = false;
    var control = L.control({ position: 'topleft' });
    control.onAdd = function () {
      var button = L.DomUtil.create('button', 'gm-report-button');
      button.type = 'button';
      button.textContent = '上报';
      L.DomEvent.disableClickPropagation(button);
      button.addEventListener('click', function () {
        picking = true;
        map.getContainer().classList.add('gm-picking');
        button.textContent = '点击地图选位置';
      });
      control.button = button;
      return button;
    };
    control.addTo(map);
    map.on('click', function (e) {
      if (!picking) { return; }
      picking = false;
      map.getContainer().classList.remove('gm-picking');
      control.button.textContent = '上报';
      panel.report(e.latlng, onCreated);
    });
  }

  function countIcon(props) {
    var el = document.createElement('div');
    el.className = 'gm-count' + (props.overdue ? ' gm-count-overdue' : '');
    el.appendChild(textEl('b', String(props.cases)));
    return L.divIcon({ html: el, className: '', iconSize: [34, 34] });
  }

  /* The case layer: counts per street or community when zoomed out, single cases from zoom 15. */
  function CaseLayer(map, group, options, hint, panel) {
    var state = { key: null, abort: null };
    function draw(data) {
      group.clearLayers();
      (data.features || []).forEach(function (f) {
        var c = f.geometry.coordinates;
        var p = f.properties;
        if (data.kind === 'points') {
          var colour = (options.statuses[p.status] || ['#757575'])[0];
          var marker = L.circleMarker([c[1], c[0]], {
            radius: p.whistle ? 8 : 6, color: p.overdue ? '#d50000' : (p.whistle ? '#ffd600' : '#ffffff'),
            weight: p.overdue || p.whistle ? 3 : 1, fillColor: colour, fillOpacity: 0.9, pane: 'gm-cases' });
          marker.bindPopup(casePopup(p, options.statuses));
          marker.on('click', function () {
            // While picking a place to report, a click on a marker is a click on that place.
            if (!map.getContainer().classList.contains('gm-picking')) { panel.open(p.id); }
          });
          marker.feature = f;
          marker.addTo(group);
        } else {
          var m = L.marker([c[1], c[0]], { icon: countIcon(p), pane: 'gm-cases' });
          m.bindTooltip(textEl('span', p.name + '：' + p.cases + ' 件' + (p.overdue ? '，超期 ' + p.overdue : '')));
          m.addTo(group);
        }
      });
      hint(data.truncated ? '案件太多，只显示了最新的一部分，请放大' : null);
    }
    function load() {
      if (!map.hasLayer(group)) { return; }
      var b = map.getBounds().pad(0.25);
      var params = new URLSearchParams(window.location.search);
      params.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return Math.max(-180, Math.min(180, v)).toFixed(5); }).join(','));
      params.set('zoom', String(map.getZoom()));
      var key = params.toString();
      if (key === state.key) { return; }
      state.key = key;
      if (state.abort) { state.abort.abort(); }
      state.abort = new AbortController();
      fetch(options.casesApi + '?' + key, { signal: state.abort.signal })
        .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
        .then(function (data) { if (state.key === key) { draw(data); } })
        .catch(function (err) { if (err.name !== 'AbortError') { state.key = null; hint('案件加载失败，移动地图重试'); } });
    }
    return { load: load, reload: function () { state.key = null; load(); } };
  }

  /* Filters live in the URL (?status=…&category=…&overdue=true), so a link shows the same map. */
  function initFilters(onChange) {
    var form = document.getElementById('gm-filters');
    if (!form) { return; }
    var params = new URLSearchParams(window.location.search);
    var category = form.elements.category;
    fetch('/api/categories').then(function (r) { return r.json(); }).then(function (data) {
      (data.categories || []).forEach(function (c) {
        var option = document.createElement('option');
        option.value = c.code;
        option.textContent = c.code + ' ' + c.name;
        category.appendChild(option);
      });
      category.value = params.get('category') || '';
    });
    form.elements.status.value = params.get('status') || '';
    form.elements.overdue.checked = params.get('overdue') === 'true';
    form.addEventListener('change', function () {
      var next = new URLSearchParams();
      if (form.elements.status.value) { next.set('status', form.elements.status.value); }
      if (category.value) { next.set('category', category.value); }
      if (form.elements.overdue.checked) { next.set('overdue', 'true'); }
      var query = next.toString();
      history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
      onChange();
    });
  }

  function init(map, options, groups, casesGroup) {
    L.control.scale({ imperial: false }).addTo(map);
    var hint = Hint(map);
    var state = {};
    Legend(map, options.labels, options.statuses);
    var view = /^#map=(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (view) {  // a shared link: the same view
      map.setView([parseFloat(view[2]), parseFloat(view[3])], parseFloat(view[1]), { animate: false });
    } else if (options.extent) {
      var e = options.extent;
      map.fitBounds([[e[1], e[0]], [e[3], e[2]]], { padding: [10, 10], animate: false });
    }
    map.on('moveend', function () {
      var c = map.getCenter();
      history.replaceState(null, '', window.location.pathname + window.location.search + '#map=' +
        map.getZoom() + '/' + c.lat.toFixed(5) + '/' + c.lng.toFixed(5));
    });

    ORDER.forEach(function (level, i) {
      map.createPane('gm-' + level).style.zIndex = String(410 + i);
    });
    map.createPane('gm-cases').style.zIndex = '600';
    var caseHint = null;
    var panel = CasePanel(options.statuses, function () { if (cases) { cases.reload(); } });
    ReportButton(map, panel, function () { if (cases) { cases.reload(); } });
    var cases = casesGroup ? CaseLayer(map, casesGroup, options, function (text) { caseHint = text; refreshHint(); },
                                       panel) : null;

    function styleFor(level) {
      var style = STYLES[level];
      var filled = level === finest();
      return { pane: 'gm-' + level, color: style.color, weight: style.weight, dashArray: style.dashArray,
               fill: filled, fillColor: style.color, fillOpacity: filled ? style.fillOpacity : 0 };
    }

    function finest() {
      var zoom = map.getZoom();
      for (var i = 0; i < ORDER.length; i++) {
        var level = ORDER[i];
        if (groups[level] && map.hasLayer(groups[level]) && zoom >= options.minZoom[level] &&
            state[level].count > 0) {
          return level;
        }
      }
      return null;
    }

    function restyle() {
      Object.keys(groups).forEach(function (level) {
        groups[level].eachLayer(function (layer) {
          if (layer.setStyle) { layer.setStyle(styleFor(level)); }
        });
      });
    }

    function draw(level, data) {
      var group = groups[level];
      var style = STYLES[level];
      group.clearLayers();
      state[level].count = (data.features || []).length;
      state[level].truncated = !!data.truncated;
      L.geoJSON(data, {
        pane: 'gm-' + level,
        style: function () { return styleFor(level); },
        onEachFeature: function (feature, layer) {
          layer.bindTooltip(tooltipFor(feature.properties, options.labels[level]), { sticky: true });
          layer.on('mouseover', function () { layer.setStyle({ weight: style.weight + 2 }); });
          layer.on('mouseout', function () { layer.setStyle({ weight: style.weight }); });
        }
      }).addTo(group);
      restyle();
    }

    function load(level) {
      var s = state[level];
      var zoom = map.getZoom();
      if (!map.hasLayer(groups[level])) { return; }
      if (zoom < options.minZoom[level]) {
        if (s.abort) { s.abort.abort(); }  // a response for the old view must not draw now
        groups[level].clearLayers();
        s.key = null;
        s.count = 0;
        return;
      }
      var params = new URLSearchParams();
      if (!WHOLE[level]) {
        var b = map.getBounds().pad(0.25);
        params.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
          .map(function (v) { return v.toFixed(5); }).join(','));
        params.set('zoom', String(zoom));
      }
      var key = params.toString();
      if (s.key === key) { return; }
      if (s.abort) { s.abort.abort(); }
      s.abort = new AbortController();
      s.key = key;
      fetch(options.api + level + '.geojson?' + key, { signal: s.abort.signal,
                                                       headers: { Accept: 'application/geo+json' } })
        .then(function (r) {
          if (!r.ok) { throw new Error('HTTP ' + r.status); }
          return r.json();
        })
        .then(function (data) {
          if (s.key !== key) { return; }  // the view moved on while this was loading
          s.error = false; draw(level, data); refreshHint();
        })
        .catch(function (err) {
          if (err.name === 'AbortError') { return; }
          s.error = true; s.key = null; refreshHint();
        });
    }

    function refreshHint() {
      var zoom = map.getZoom();
      var messages = caseHint ? [caseHint] : [];
      Object.keys(groups).forEach(function (level) {
        if (!map.hasLayer(groups[level])) { return; }
        if (zoom < options.minZoom[level]) {
          messages.push('放大到 ' + options.minZoom[level] + ' 级显示' + options.labels[level]);
        } else if (state[level].error) {
          messages.push(options.labels[level] + '加载失败，移动地图重试');
        } else if (state[level].truncated) {
          messages.push(options.labels[level] + '太多，只显示了一部分，请放大');
        }
      });
      hint.set(messages);
    }

    function refresh() {
      Object.keys(groups).forEach(load);
      if (cases) { cases.load(); }
      restyle();
      refreshHint();
    }

    Object.keys(groups).forEach(function (level) { state[level] = { key: null, count: 0 }; });
    map.on('moveend overlayadd overlayremove', refresh);
    initSearch(map);
    initFilters(function () { if (cases) { cases.reload(); } });
    refresh();
    window.gridmapMap = map;
  }

  function initSearch(map) {
    var input = document.getElementById('gm-search-input');
    var list = document.getElementById('gm-search-results');
    if (!input || !list) { return; }
    var timer = null;
    var LEVEL_LABEL = { district: '区', street: '街道', community: '社区', grid: '网格' };
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { run(input.value.trim()); }, 200);
    });
    function run(q) {
      list.textContent = '';
      if (!q) { list.hidden = true; return; }
      fetch('/api/boundaries/search?q=' + encodeURIComponent(q))
        .then(function (r) { return r.json(); })
        .then(function (data) {
          list.textContent = '';
          (data.results || []).forEach(function (item) {
            var li = textEl('li', '');
            li.appendChild(textEl('span', LEVEL_LABEL[item.level] || item.level, 'gm-tag'));
            li.appendChild(document.createTextNode(' ' + item.name + ' '));
            li.appendChild(textEl('span', item.code, 'gm-tip-code'));
            li.tabIndex = 0;
            li.addEventListener('click', function () {
              var b = item.bbox;
              map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
              list.hidden = true;
            });
            list.appendChild(li);
          });
          if (!list.children.length) { list.appendChild(textEl('li', '没有找到', 'gm-empty')); }
          list.hidden = false;
        });
    }
  }

  window.gridmap = { init: init };
}());
