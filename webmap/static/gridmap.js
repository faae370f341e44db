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

  /* Options from [value, text] pairs (text through textContent). */
  function addOptions(select, pairs) {
    pairs.forEach(function (pair) {
      var option = textEl('option', pair[1]);
      option.value = pair[0];
      select.appendChild(option);
    });
  }

  function selectEl(name, pairs, label) {
    var select = document.createElement('select');
    select.name = name;
    if (label) { select.setAttribute('aria-label', label); }
    addOptions(select, pairs);
    return select;
  }

  /* The category list, fetched once per page for the filters and every report form. */
  var categoryPairs = null;
  function categories() {
    if (!categoryPairs) {
      categoryPairs = fetch('/api/categories').then(function (r) { return r.json(); }).then(function (data) {
        return (data.categories || []).map(function (c) { return [c.code, c.code + ' ' + c.name]; });
      });
    }
    return categoryPairs;
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
      box.appendChild(textEl('div', '边界', 'gm-legend-title'));
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
    close: '结案', callback: '回访', reopen: '重办', whistle: '吹哨', check_in: '报到', photo: '上传照片'
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
    if (!aside) { return { open: function () {}, report: function () {} }; }
    var body = aside.querySelector('.gm-panel-body');
    var current = null;
    aside.querySelector('.gm-panel-close').addEventListener('click', function () { aside.hidden = true; current = null; });

    function row(label, value) {
      var div = textEl('div', '', 'gm-panel-row');
      div.appendChild(textEl('span', label, 'gm-panel-label'));
      div.appendChild(textEl('span', value == null || value === '' ? '—' : String(value)));
      return div;
    }

    function named(names, code) {
      return code ? ((names || {})[code] ? names[code] + '（' + code + '）' : code) : '';
    }

    /* One JSON request with the CSRF header; the promise gives {ok, data}. */
    function send(url, payload) {
      var init = { method: 'POST', headers: { 'X-CSRFToken': csrfToken() } };
      if (payload instanceof FormData) {
        init.body = payload;
      } else {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(payload);
      }
      return fetch(url, init).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
      });
    }

    function failure(res, fallback) {
      return res.data && res.data.error ? res.data.error.message : fallback;
    }

    function act(id, action) {
      var payload = { action: action.action, note: '' };
      if (action.reason_required) {
        var reason = window.prompt('请填写「' + action.label + '」的原因');
        if (!reason) { return; }
        payload.note = reason;
      }
      if (action.action === 'callback') {
        payload.contacted = window.confirm('是否联系上诉求人？');
        payload.solved = window.confirm('问题是否解决？');
        payload.satisfied = window.confirm('诉求人是否满意？');
      }
      send('/api/cases/' + encodeURIComponent(id) + '/actions', payload).then(function (res) {
        if (!res.ok) { show(id, failure(res, '操作失败')); return; }
        show(id, null);
        onChanged();
      });
    }

    /* The device's position (check-in on site); rejects with a message a grid worker understands. */
    function position() {
      return new Promise(function (resolve, reject) {
        if (!navigator.geolocation) { reject(new Error('此浏览器不能定位')); return; }
        navigator.geolocation.getCurrentPosition(function (p) { resolve(p.coords); }, function (err) {
          reject(new Error(err.code === 1 ? '没有定位权限：请在浏览器中允许定位（需要 HTTPS 访问）'
                                          : '无法获取当前位置：' + (err.message || '定位超时')));
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
      });
    }

    function checkIn(id, item) {
      position().then(function (coords) {
        return send('/api/whistles/' + item.whistle_id + '/reports',
                    { lon: coords.longitude, lat: coords.latitude, crs: 'wgs84' });
      }).then(function (res) {
        if (!res.ok) { show(id, failure(res, '报到失败')); return; }
        show(id, res.data.late ? '已报到（超过到场时限）' : '已报到');
        onChanged();
      }, function (err) { show(id, err.message); });
    }

    function whistleForm(id, box) {
      box.textContent = '';
      var form = document.createElement('form');
      form.className = 'gm-report-form gm-whistle-form';
      var lead = selectEl('lead_department', [['', '主责部门']]);
      var co = selectEl('co_departments', []);
      co.multiple = true;
      co.size = 4;
      co.title = '协办部门（可多选）';
      var reason = selectEl('reason', ['群众诉求', '重点工作', '综合执法', '应急处置'].map(function (r) { return [r, r]; }));
      var note = document.createElement('textarea');
      note.name = 'note';
      note.maxLength = 2000;
      note.placeholder = '说明（需要各部门做什么）';
      var error = textEl('p', '', 'gm-login-error');
      var submit = textEl('button', '吹哨召集');
      submit.type = 'submit';
      [lead, textEl('label', '协办部门（按住 Ctrl 多选）', 'gm-tip-code'), co, reason, note, error, submit]
        .forEach(function (el) { form.appendChild(el); });
      box.appendChild(form);
      fetch('/api/departments').then(function (r) { return r.json(); }).then(function (data) {
        var pairs = (data.departments || []).map(function (d) { return [d.code, d.name + '（' + d.code + '）']; });
        addOptions(lead, pairs);
        addOptions(co, pairs);
      });
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (!lead.value) { error.textContent = '请选择主责部门。'; return; }
        var coCodes = Array.prototype.filter.call(co.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        submit.disabled = true;
        send('/api/whistles', { case_ids: [id], lead_department: lead.value, co_departments: coCodes,
                                reason: reason.value, note: note.value }).then(function (res) {
          submit.disabled = false;
          if (!res.ok) { error.textContent = failure(res, '吹哨失败'); return; }
          show(id, '已吹哨，已通知 ' + (1 + coCodes.length) + ' 个部门到场报到');
          onChanged();
        });
      });
    }

    function photoInput() {
      var input = document.createElement('input');
      input.type = 'file';
      input.name = 'photo';
      input.accept = 'image/jpeg,image/png';
      input.multiple = true;
      return input;
    }

    function uploadPhotos(id, files) {
      var data = new FormData();
      Array.prototype.forEach.call(files, function (f) { data.append('photo', f, f.name); });
      return send('/api/cases/' + encodeURIComponent(id) + '/photos', data);
    }

    function show(id, message) {
      current = id;
      Promise.all([
        fetch('/api/cases/' + encodeURIComponent(id)).then(function (r) { return r.json(); }),
        fetch('/api/cases/' + encodeURIComponent(id) + '/actions').then(function (r) { return r.json(); }),
        fetch('/api/cases/' + encodeURIComponent(id) + '/events').then(function (r) { return r.json(); })
      ]).then(function (all) {
        if (current !== id) { return; }  // another case was opened meanwhile
        var c = all[0].properties;
        var options = all[1];
        var names = c.department_names || {};
        var areas = c.boundary_names || {};
        body.textContent = '';
        body.appendChild(textEl('h2', c.category_name));
        body.appendChild(textEl('div', c.id, 'gm-tip-code'));
        if (message) { body.appendChild(textEl('p', message, 'gm-panel-message')); }
        body.appendChild(row('状态', (statuses[c.status] || [null, c.status])[1] + (c.overdue ? '（超期）' : '')));
        body.appendChild(row('描述', c.description));
        body.appendChild(row('网格', named(areas, c.grid_code)));
        body.appendChild(row('社区', named(areas, c.community_code)));
        body.appendChild(row('街道', named(areas, c.street_code)));
        body.appendChild(row('主责部门', c.lead_department ? named(names, c.lead_department) : '属地街道'));
        body.appendChild(row('协办部门', (c.co_departments || []).map(function (d) { return named(names, d); })
          .join('、')));
        body.appendChild(row('受理时间', localTime(c.reported_at)));
        body.appendChild(row('响应时限', localTime(c.deadlines.respond_due)));
        body.appendChild(row('办结时限', localTime(c.deadlines.resolve_due)));

        (c.whistles || []).forEach(function (w) {
          var box = textEl('div', '', 'gm-whistle-box');
          box.appendChild(textEl('strong', '吹哨 #' + w.id + ' · ' + w.reason + (w.status === 'open' ? '（进行中）' : '（已结束）')));
          (w.summons || []).forEach(function (s) {
            var state = s.reported_at ? '已报到 ' + localTime(s.reported_at) + (s.late ? '（迟到）' : '')
                                      : '未报到，时限 ' + localTime(s.due_at);
            box.appendChild(textEl('div', (s.role === 'lead' ? '主责 ' : '协办 ') + s.department_name + '：' + state,
                                   s.reported_at ? '' : 'gm-overdue-soft'));
          });
          body.appendChild(box);
        });

        var buttons = textEl('div', '', 'gm-panel-actions');
        (options.actions || []).forEach(function (action) {
          var button = textEl('button', action.label);
          button.type = 'button';
          button.dataset.action = action.action;
          button.addEventListener('click', function () { act(id, action); });
          buttons.appendChild(button);
        });
        (options.check_ins || []).forEach(function (item) {
          var button = textEl('button', '到场报到');
          button.type = 'button';
          button.dataset.action = 'check_in';
          button.title = '用本机定位报到（距案件 200 米内）';
          button.addEventListener('click', function () { button.disabled = true; checkIn(id, item); });
          buttons.appendChild(button);
        });
        var extra = textEl('div', '', 'gm-panel-extra');
        if (options.whistle) {
          var whistle = textEl('button', '吹哨', 'gm-whistle-button');
          whistle.type = 'button';
          whistle.dataset.action = 'whistle';
          whistle.addEventListener('click', function () { whistleForm(id, extra); });
          buttons.appendChild(whistle);
        }
        body.appendChild(buttons);
        body.appendChild(extra);

        body.appendChild(textEl('h3', '照片'));
        var gallery = textEl('div', '', 'gm-photos');
        (c.photos || []).forEach(function (p) {
          var link = document.createElement('a');
          link.href = p.url;
          link.target = '_blank';
          link.rel = 'noopener';
          var img = document.createElement('img');
          img.src = p.url;
          img.alt = '案件照片 ' + p.id;
          img.loading = 'lazy';
          link.appendChild(img);
          gallery.appendChild(link);
        });
        if (!(c.photos || []).length) { gallery.appendChild(textEl('span', '暂无照片', 'gm-tip-code')); }
        body.appendChild(gallery);
        if (options.photo) {
          var input = photoInput();
          input.className = 'gm-photo-input';
          input.addEventListener('change', function () {
            if (!input.files.length) { return; }
            uploadPhotos(id, input.files).then(function (res) {
              show(id, res.ok ? '照片已上传' : failure(res, '照片上传失败'));
            });
          });
          var label = textEl('label', '添加照片（JPEG/PNG，每张 ≤ 5 MB）：', 'gm-tip-code');
          label.appendChild(input);
          body.appendChild(label);
        }

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
      var category = selectEl('category', [['', '请选择问题分类']]);
      var urgency = selectEl('urgency', [['', '紧急程度（按分类默认）'], ['emergency', '紧急'], ['utility', '水电气热'],
                                         ['general', '一般'], ['complex', '疑难复杂']]);
      var description = document.createElement('textarea');
      description.name = 'description';
      description.maxLength = 4000;
      description.placeholder = '问题描述（位置、情况）';
      var duplicates = textEl('div', '', 'gm-duplicates');
      var photos = photoInput();
      var photoLabel = textEl('label', '照片（可选，JPEG/PNG，每张 ≤ 5 MB）：', 'gm-tip-code');
      photoLabel.appendChild(photos);
      var error = textEl('p', '', 'gm-login-error');
      var submit = textEl('button', '提交');
      submit.type = 'submit';
      [category, urgency, description, photoLabel, duplicates, error, submit].forEach(function (el) {
        form.appendChild(el);
      });
      body.appendChild(form);
      aside.hidden = false;
      categories().then(function (pairs) { addOptions(category, pairs); });
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
        send('/api/cases', payload).then(function (res) {
          submit.disabled = false;
          if (!res.ok) { error.textContent = failure(res, '提交失败'); return; }
          var id = res.data.id;
          onCreated();
          if (!photos.files.length) { show(id, '已上报'); return; }
          uploadPhotos(id, photos.files).then(function (up) {
            show(id, up.ok ? '已上报，照片已上传' : '案件已上报，但照片未保存：' + failure(up, '上传失败'));
          });
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
    // One canvas for all case markers: 5,000 SVG elements take seconds to draw on a 2-core PC.
    var renderer = L.canvas({ pane: 'gm-cases', padding: 0.25, tolerance: 3 });
    var pane = map.getPane('gm-cases');
    // The canvas lets pointer events through (CSS), so grids keep their hover names; a click on the
    // map opens the case marker nearest to it, if one is drawn within reach of the pointer.
    function nearest(point) {
      var best = null;
      var bestDistance = Infinity;
      group.eachLayer(function (l) {
        if (!l.feature) { return; }
        var d = map.latLngToContainerPoint(l.getLatLng()).distanceTo(point);
        if (d <= l.options.radius + 4 && d < bestDistance) { best = l; bestDistance = d; }
      });
      return best;
    }
    map.on('click', function (e) {
      // While picking a place to report, a click on a marker is a click on that place.
      if (map.getContainer().classList.contains('gm-picking')) { return; }
      var hit = nearest(e.containerPoint);
      if (hit) {
        hit.openPopup();
        panel.open(hit.feature.properties.id);
      }
    });
    var moved = 0;
    map.on('mousemove', function (e) {
      var now = Date.now();
      if (now - moved < 50) { return; }
      moved = now;
      map.getContainer().classList.toggle('gm-over-case', !!nearest(e.containerPoint));
    });
    function draw(data) {
      group.clearLayers();
      var points = 0;
      (data.features || []).forEach(function (f) {
        var c = f.geometry.coordinates;
        var p = f.properties;
        if (data.kind === 'points') {
          var colour = (options.statuses[p.status] || ['#757575'])[0];
          var marker = L.circleMarker([c[1], c[0]], {
            radius: p.whistle ? 8 : 6, color: p.overdue ? '#d50000' : (p.whistle ? '#ffd600' : '#ffffff'),
            weight: p.overdue || p.whistle ? 3 : 1, fillColor: colour, fillOpacity: 0.9, pane: 'gm-cases',
            renderer: renderer });
          marker.bindPopup(function () { return casePopup(p, options.statuses); });  // built when opened
          points += 1;
          marker.feature = f;
          marker.addTo(group);
        } else {
          var m = L.marker([c[1], c[0]], { icon: countIcon(p), pane: 'gm-cases' });
          m.bindTooltip(textEl('span', p.name + '：' + p.cases + ' 件' + (p.overdue ? '，超期 ' + p.overdue : '')));
          m.addTo(group);
        }
      });
      pane.dataset.markers = String(points);  // what is drawn, for people's tools and the tests
      hint(data.truncated ? '案件太多，只显示了最新的一部分，请放大' : null);
    }
    function load() {
      if (!map.hasLayer(group)) { return; }
      var b = map.getBounds().pad(0.25);
      var params = caseQuery();
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
    return {
      load: load,
      reload: function () { state.key = null; load(); },
      markers: function () {
        return group.getLayers().filter(function (l) { return l.feature; }).map(function (l) {
          return { id: l.feature.properties.id, lat: l.getLatLng().lat, lng: l.getLatLng().lng };
        });
      }
    };
  }

  /* Filters live in the URL (?status=…&category=…&street=…&from=…&to=…&overdue=true), so a link
   * shows the same map. Dates are whole days: "to" is inclusive here and sent as the next midnight. */
  var FILTERS = ['status', 'category', 'street', 'from', 'to', 'overdue'];

  function nextDay(day) {
    var d = new Date(day + 'T00:00:00');
    d.setDate(d.getDate() + 1);
    return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
  }

  /* The query the case API gets: the page's filters, with the inclusive end date made exclusive. */
  function caseQuery() {
    var params = new URLSearchParams(window.location.search);
    var out = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var value = params.get(name);
      if (!value) { return; }
      out.set(name, name === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? nextDay(value) : value);
    });
    return out;
  }

  function initFilters(options, onChange) {
    var form = document.getElementById('gm-filters');
    if (!form) { return; }
    var params = new URLSearchParams(window.location.search);
    var category = form.elements.category;
    var street = form.elements.street;
    categories().then(function (pairs) {
      addOptions(category, pairs);
      category.value = params.get('category') || '';
    });
    addOptions(street, ((options.user || {}).streets || []).map(function (s) { return [s.code, s.name]; }));
    street.value = params.get('street') || '';
    form.elements.status.value = params.get('status') || '';
    form.elements.from.value = params.get('from') || '';
    form.elements.to.value = params.get('to') || '';
    form.elements.overdue.checked = params.get('overdue') === 'true';
    var toggle = document.getElementById('gm-filter-toggle');
    function count() {
      var n = FILTERS.filter(function (name) { return new URLSearchParams(window.location.search).get(name); }).length;
      if (toggle) { toggle.textContent = n ? '筛选 (' + n + ')' : '筛选'; }
    }
    if (toggle) {
      toggle.addEventListener('click', function () {
        var open = form.classList.toggle('gm-open');
        toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      });
    }
    form.addEventListener('change', function () {
      var next = new URLSearchParams();
      ['status', 'category', 'street', 'from', 'to'].forEach(function (name) {
        if (form.elements[name].value) { next.set(name, form.elements[name].value); }
      });
      if (form.elements.overdue.checked) { next.set('overdue', 'true'); }
      var query = next.toString();
      history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
      count();
      onChange();
    });
    form.addEventListener('reset', function () {
      setTimeout(function () { form.dispatchEvent(new Event('change')); }, 0);
    });
    count();
  }

  /* "Locate me": the device's position as a dot with its accuracy circle. Browsers allow it only
   * over HTTPS (or on 127.0.0.1), so the message says so when it is refused. */
  function LocateButton(map, hint) {
    var marker = null;
    var control = L.control({ position: 'topleft' });
    control.onAdd = function () {
      var button = L.DomUtil.create('button', 'gm-locate-button');
      button.type = 'button';
      button.title = '定位到我的位置';
      button.setAttribute('aria-label', '定位到我的位置');
      button.textContent = '◎';
      L.DomEvent.disableClickPropagation(button);
      button.addEventListener('click', function () {
        hint('正在定位…');
        map.locate({ setView: true, maxZoom: 17, enableHighAccuracy: true, timeout: 15000 });
      });
      return button;
    };
    control.addTo(map);
    map.on('locationfound', function (e) {
      hint(null);
      if (marker) { map.removeLayer(marker); }
      marker = L.layerGroup([
        L.circle(e.latlng, { radius: e.accuracy, color: '#1565c0', weight: 1, fillOpacity: 0.1, interactive: false }),
        L.circleMarker(e.latlng, { radius: 7, color: '#fff', weight: 2, fillColor: '#1565c0', fillOpacity: 1 })
          .bindTooltip('我的位置（精度约 ' + Math.round(e.accuracy) + ' 米）')
      ]).addTo(map);
    });
    map.on('locationerror', function (e) {
      hint(e.code === 1 ? '无法定位：浏览器没有定位权限（需要 HTTPS 访问并允许定位）' : '无法定位：' + (e.message || '超时'));
    });
  }

  /* On a phone the legend and the layer list fold away behind a small button each. */
  function Foldable(container, label, folded) {
    if (!container) { return; }
    var button = textEl('button', label, 'gm-fold-button');
    button.title = '展开/收起' + label;
    button.type = 'button';
    button.setAttribute('aria-expanded', folded ? 'false' : 'true');
    container.classList.toggle('gm-folded', folded);
    button.addEventListener('click', function (ev) {
      ev.stopPropagation();
      var nowFolded = container.classList.toggle('gm-folded');
      button.setAttribute('aria-expanded', nowFolded ? 'false' : 'true');
    });
    L.DomEvent.disableClickPropagation(button);
    container.insertBefore(button, container.firstChild);
  }


  /* Thematic layers (专题): Gi* hot and cold spots, case density per grid, H3 hexagons, a heat map,
   * or any measure of any level as a choropleth. The choice lives in the URL (?theme=…) with the
   * filters, and the dates and category of the filters apply. Each has its legend. */
  var GISTAR_COLOURS = { hot_99: '#b2182b', hot_95: '#ef8a62', hot_90: '#fddbc7', not_significant: '#f7f7f7',
                         cold_90: '#d1e5f0', cold_95: '#67a9cf', cold_99: '#2166ac' };
  var GISTAR_LABELS = [['hot_99', '热点 99%'], ['hot_95', '热点 95%'], ['hot_90', '热点 90%'],
                       ['cold_90', '冷点 90%'], ['cold_95', '冷点 95%'], ['cold_99', '冷点 99%']];
  var RAMP = ['#fef0d9', '#fdcc8a', '#fc8d59', '#e34a33', '#b30000'];
  var MEASURES = [['cases_total', '案件数', false], ['response_rate', '响应率', true],
                  ['resolution_rate', '解决率', true], ['satisfaction_rate', '满意率', true],
                  ['score', '综合得分', true], ['on_time_rate', '按期办结率', true],
                  ['overdue', '超期案件数', false], ['repeat_cases', '重复投诉数', false]];
  var THEME_LEVELS = [['street', '街道'], ['community', '社区'], ['grid', '网格']];

  /* Quantile breaks (at most 5 classes) of the non-empty values. */
  function breaks(values) {
    var v = values.filter(function (x) { return x != null && isFinite(x); }).sort(function (a, b) { return a - b; });
    if (!v.length) { return []; }
    var out = [];
    for (var i = 1; i < RAMP.length; i++) {
      var q = v[Math.min(v.length - 1, Math.floor(i * v.length / RAMP.length))];
      if (!out.length || q > out[out.length - 1]) { out.push(q); }
    }
    return out;
  }

  function classOf(value, cuts) {
    var i = 0;
    while (i < cuts.length && value >= cuts[i]) { i++; }
    return RAMP[Math.min(i + (RAMP.length - 1 - cuts.length), RAMP.length - 1)];
  }

  function Thematic(map, options, hint) {
    var role = (options.user || {}).role;
    if (role === 'department_staff') { return { reload: function () {} }; }
    map.createPane('gm-theme').style.zIndex = '405';
    var layer = null;
    var abort = null;
    var control = L.control({ position: 'topright' });
    var box, kind, level, measure, legend;
    control.onAdd = function () {
      box = L.DomUtil.create('div', 'gm-theme leaflet-bar');
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      box.appendChild(textEl('div', '专题图层', 'gm-legend-title'));
      kind = selectEl('theme', [['', '无'], ['gistar', '热点分析（Gi*）'], ['density', '案件密度（网格）'],
                                ['h3', 'H3 六边形'], ['heat', '热力图'], ['measure', '指标分级设色']], '专题图层');
      level = selectEl('theme_level', THEME_LEVELS, '指标层级');
      measure = selectEl('theme_measure', MEASURES, '指标');
      legend = textEl('div', '', 'gm-theme-legend');
      [kind, level, measure, legend].forEach(function (el) { box.appendChild(el); });
      var wanted = (new URLSearchParams(window.location.search).get('theme') || '').split(':');
      kind.value = wanted[0] || '';
      if (wanted[1]) { level.value = wanted[1]; }
      if (wanted[2]) { measure.value = wanted[2]; }
      [kind, level, measure].forEach(function (el) { el.addEventListener('change', function () { save(); reload(); }); });
      return box;
    };
    control.addTo(map);

    function save() {
      var params = new URLSearchParams(window.location.search);
      if (kind.value) {
        params.set('theme', kind.value === 'measure' ? ['measure', level.value, measure.value].join(':') : kind.value);
      } else {
        params.delete('theme');
      }
      var query = params.toString();
      history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
    }

    function filters() {
      var page = new URLSearchParams(window.location.search);
      var q = new URLSearchParams();
      ['from', 'category'].forEach(function (k) { if (page.get(k)) { q.set(k, page.get(k)); } });
      if (page.get('to')) { q.set('to', page.get('to')); }  // the API's "to" is an inclusive date here
      return q;
    }

    function bboxParam() {
      var b = map.getBounds().pad(0.2);
      return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(',');
    }

    function swatches(rows) {
      legend.textContent = '';
      rows.forEach(function (r) {
        var row = textEl('div', '', 'gm-legend-row');
        var sw = textEl('span', '', 'gm-theme-swatch');
        sw.style.background = r[0];
        row.appendChild(sw);
        row.appendChild(document.createTextNode(r[1]));
        legend.appendChild(row);
      });
    }

    function rampLegend(cuts, format, noData) {
      var rows = [];
      var offset = RAMP.length - 1 - cuts.length;
      for (var i = 0; i <= cuts.length; i++) {
        var lo = i === 0 ? null : cuts[i - 1];
        var hi = i === cuts.length ? null : cuts[i];
        var text = lo == null ? '< ' + format(hi) : (hi == null ? '≥ ' + format(lo) : format(lo) + ' – ' + format(hi));
        if (!cuts.length) { text = '全部相同'; }
        rows.push([RAMP[i + offset], text]);
      }
      if (noData) { rows.push(['#bdbdbd', '无数据（分母为 0）']); }
      swatches(rows);
    }

    function clear() {
      if (abort) { abort.abort(); abort = null; }
      if (layer) { map.removeLayer(layer); layer = null; }
      legend.textContent = '';
    }

    function get(url) {
      if (abort) { abort.abort(); }
      abort = new AbortController();
      return fetch(url, { signal: abort.signal }).then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) { throw new Error(data.error ? data.error.message : 'HTTP ' + r.status); }
          return data;
        });
      });
    }

    function polygons(data, style, tip) {
      return L.geoJSON(data, {
        pane: 'gm-theme', style: style,
        onEachFeature: function (f, l) { l.bindTooltip(tip(f.properties), { sticky: true }); }
      });
    }

    function tipLines(lines) {
      var div = document.createElement('div');
      lines.forEach(function (line, i) { div.appendChild(textEl(i ? 'div' : 'strong', line)); });
      return div;
    }

    function show(promise) {
      promise.then(function (next) {
        if (layer) { map.removeLayer(layer); }
        layer = next;
        if (layer) { layer.addTo(map); }
        hint(null);
      }).catch(function (err) {
        if (err.name !== 'AbortError') { hint('专题图层加载失败：' + err.message); }
      });
    }

    function reload() {
      level.hidden = measure.hidden = kind.value !== 'measure';
      if (!kind.value) { clear(); hint(null); return; }
      var q = filters();
      q.set('zoom', String(map.getZoom()));
      if (kind.value === 'gistar') {
        show(get('/api/hotspots/gistar.geojson?' + q).then(function (data) {
          swatches(GISTAR_LABELS.map(function (c) {
            return [GISTAR_COLOURS[c[0]], c[1] + '（' + ((data.classes || {})[c[0]] || 0) + '）'];
          }).concat([['#ffffff', '不显著（' + ((data.classes || {}).not_significant || 0) + '）']]));
          return polygons(data, function (f) {
            return { color: '#555', weight: 0.5, fillColor: GISTAR_COLOURS[f.properties['class']], fillOpacity: 0.75 };
          }, function (p) { return tipLines([p.name, p.label + '，案件 ' + p.count + ' 件', 'z = ' + Number(p.z).toFixed(2)]); });
        }));
      } else if (kind.value === 'density') {
        show(get('/api/hotspots/density.geojson?' + q).then(function (data) {
          var cuts = breaks(data.features.map(function (f) { return f.properties.density; }));
          rampLegend(cuts, function (v) { return v.toFixed(0) + ' 件/km²'; }, false);
          return polygons(data, function (f) {
            var v = f.properties.density;
            return { color: '#777', weight: 0.3, fillColor: v == null ? '#bdbdbd' : classOf(v, cuts), fillOpacity: 0.7 };
          }, function (p) {
            return tipLines([p.name, (p.density == null ? '—' : p.density.toFixed(1)) + ' 件/km²（' + p.count + ' 件）']);
          });
        }));
      } else if (kind.value === 'h3') {
        var zoom = map.getZoom();
        q.set('resolution', String(zoom <= 11 ? 7 : zoom <= 13 ? 8 : zoom <= 15 ? 9 : 10));
        q.set('bbox', bboxParam());
        show(get('/api/hotspots/h3.geojson?' + q).then(function (data) {
          var cuts = breaks(data.features.map(function (f) { return f.properties.count; }));
          rampLegend(cuts, function (v) { return String(Math.round(v)) + ' 件'; }, false);
          return polygons(data, function (f) {
            return { color: '#fff', weight: 0.5, fillColor: classOf(f.properties.count, cuts), fillOpacity: 0.75 };
          }, function (p) { return tipLines(['H3 ' + p.cell, p.count + ' 件']); });
        }));
      } else if (kind.value === 'heat') {
        q.set('bbox', bboxParam());
        show(get('/api/hotspots/heat.json?' + q).then(function (data) {
          swatches([['#0000ff', '少'], ['#00ff00', ''], ['#ff0000', '多（共 ' + data.cases + ' 件）']]);
          if (!L.heatLayer) { throw new Error('热力图插件未加载'); }
          // Saturate at the 90th percentile of the bins, so a single busy corner does not wash out the rest.
          var weights = data.points.map(function (pt) { return pt[2]; }).sort(function (a, b) { return a - b; });
          var top = weights.length ? weights[Math.floor(weights.length * 0.9)] : 1;
          return L.heatLayer(data.points, { radius: 20, blur: 16, max: top || 1, minOpacity: 0.25 });
        }));
      } else {
        var lv = level.value;
        var isRate = MEASURES.filter(function (m) { return m[0] === measure.value; })[0][2];
        var stats = new URLSearchParams(filters());
        stats.delete('category');
        stats.set('fields', measure.value + ',name');
        var shapes = new URLSearchParams({ zoom: String(map.getZoom()) });
        if (lv !== 'street') { shapes.set('bbox', bboxParam()); }
        show(Promise.all([get('/api/stats/' + lv + '.json?' + stats),
                          fetch(options.api + lv + '.geojson?' + shapes).then(function (r) { return r.json(); })])
          .then(function (both) {
            var values = {};
            both[0].rows.forEach(function (r) { values[r.code] = r; });
            var shown = both[1].features.filter(function (f) { return values[f.properties.code]; });
            var list = shown.map(function (f) { return values[f.properties.code][measure.value]; });
            var cuts = breaks(list);
            var fmt = isRate ? function (v) { return (v * 100).toFixed(1) + '%'; } : function (v) { return String(Math.round(v)); };
            rampLegend(cuts, fmt, list.some(function (v) { return v == null; }));
            return polygons({ type: 'FeatureCollection', features: shown }, function (f) {
              var v = values[f.properties.code][measure.value];
              return { color: '#555', weight: 0.6, fillColor: v == null ? '#bdbdbd' : classOf(v, cuts), fillOpacity: 0.7 };
            }, function (p) {
              var v = values[p.code][measure.value];
              return tipLines([p.name, measure.options[measure.selectedIndex].text + '：' + (v == null ? '无数据' : fmt(v))]);
            });
          }));
      }
    }
    // Layers that follow the view reload when it moves; whole-area layers only when the zoom changes.
    var lastZoom = map.getZoom();
    map.on('moveend', function () {
      var follows = kind.value === 'h3' || kind.value === 'heat' ||
                    (kind.value === 'measure' && level.value !== 'street');
      if (follows || map.getZoom() !== lastZoom) { reload(); }
      lastZoom = map.getZoom();
    });
    reload();
    return { reload: reload };
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
    var locateHint = null;
    var themeHint = null;
    var panel = CasePanel(options.statuses, function () { if (cases) { cases.reload(); } });
    var role = (options.user || {}).role;
    if (role === 'grid_worker' || role === 'street_leader' || role === 'department_staff') {
      ReportButton(map, panel, function () { if (cases) { cases.reload(); } });
    }
    LocateButton(map, function (text) { locateHint = text; refreshHint(); });
    var small = window.matchMedia('(max-width: 700px)').matches;
    Foldable(document.querySelector('.gm-legend'), '图例', small);
    Foldable(document.querySelector('.leaflet-control-layers'), '图层', small);
    var theme = Thematic(map, options, function (text) { themeHint = text; refreshHint(); });
    Foldable(document.querySelector('.gm-theme'), '专题', small);
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
      var messages = [locateHint, themeHint, caseHint].filter(Boolean);
      Object.keys(groups).forEach(function (level) {
        if (!map.hasLayer(groups[level]) || !state[level]) { return; }  // not loading yet
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
    initFilters(options, function () { if (cases) { cases.reload(); } theme.reload(); });
    refresh();
    window.gridmapMap = map;
    window.gridmapPanel = panel;
    window.gridmapCases = cases;
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
