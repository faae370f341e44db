/* The hint line at the bottom left: what each part of the map has to say now (too many cases,
 * zoom in to see grids, locating…), joined. Each part owns one message source. */

export function createHint(map) {
  const control = L.control({ position: 'bottomleft' });
  let box = null;
  control.onAdd = () => {
    box = L.DomUtil.create('div', 'gm-hint');
    box.hidden = true;
    return box;
  };
  control.addTo(map);
  const sources = {};
  const providers = [];

  function refresh() {
    const messages = Object.values(sources).filter(Boolean);
    providers.forEach((provide) => messages.push(...provide()));
    box.textContent = messages.join('；');
    box.hidden = messages.length === 0;
  }

  return {
    /* A setter for one message (null clears it); sources show in the order they were made. */
    source(name) {
      sources[name] = null;
      return (text) => { sources[name] = text; refresh(); };
    },
    /* A function giving a list of messages, asked on every refresh. */
    provide(fn) { providers.push(fn); },
    refresh
  };
}
