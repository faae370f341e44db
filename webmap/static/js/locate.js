/* "Locate me": the device's position as a dot with its accuracy circle. Browsers allow it only
 * over HTTPS (or on 127.0.0.1), so the message says so when it is refused. */

const LOCATE_ZOOM = 17;
const LOCATE_TIMEOUT_MS = 15000;

export function createLocateButton(map, hint) {
  let marker = null;
  const control = L.control({ position: 'topleft' });
  control.onAdd = () => {
    const button = L.DomUtil.create('button', 'gm-locate-button');
    button.type = 'button';
    button.title = '定位到我的位置';
    button.setAttribute('aria-label', '定位到我的位置');
    button.textContent = '◎';
    L.DomEvent.disableClickPropagation(button);
    button.addEventListener('click', () => {
      hint('正在定位…');
      map.locate({ setView: true, maxZoom: LOCATE_ZOOM, enableHighAccuracy: true, timeout: LOCATE_TIMEOUT_MS });
    });
    return button;
  };
  control.addTo(map);
  map.on('locationfound', (e) => {
    hint(null);
    if (marker) { map.removeLayer(marker); }
    marker = L.layerGroup([
      L.circle(e.latlng, { radius: e.accuracy, color: '#1565c0', weight: 1, fillOpacity: 0.1, interactive: false }),
      L.circleMarker(e.latlng, { radius: 7, color: '#fff', weight: 2, fillColor: '#1565c0', fillOpacity: 1 })
        .bindTooltip('我的位置（精度约 ' + Math.round(e.accuracy) + ' 米）')
    ]).addTo(map);
  });
  map.on('locationerror', (e) => {
    hint(e.code === 1 ? '无法定位：浏览器没有定位权限（需要 HTTPS 访问并允许定位）' : '无法定位：' + (e.message || '超时'));
  });
}
