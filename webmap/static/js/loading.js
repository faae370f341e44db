/* The loading sign on the map: while any layer or the case list is fetching, a small "加载中…" shows at
 * the top of the map (slow links draw layers one by one; people should know more is coming). */

export function createLoading(map) {
  const control = L.control({ position: 'topleft' });
  let box = null;
  let pending = 0;
  control.onAdd = () => {
    box = L.DomUtil.create('div', 'gm-loading');
    box.setAttribute('role', 'status');
    box.textContent = '加载中…';
    box.hidden = true;
    return box;
  };
  control.addTo(map);
  function update() {
    box.hidden = pending === 0;
    map.getContainer().dataset.loading = String(pending);
  }
  return {
    /* Count a fetch from its start until its promise settles; gives the promise back. */
    track(promise) {
      pending += 1;
      update();
      const done = () => { pending = Math.max(0, pending - 1); update(); };
      promise.then(done, done);
      return promise;
    }
  };
}
