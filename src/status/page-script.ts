// The status page's script, sent inline (no asset route, no build step). It polls the view model
// and sets the elements that page-html.ts bound to it: text with textContent only, never
// innerHTML (names and error texts come from outside), widths and states from numbers and
// enumerations. Rows are kept by key, so a progress bar moves instead of being redrawn.
// Without it the page shows the figures at load time.

export const PAGE_SCRIPT = `(function () {
  'use strict';
  var api = document.body.getAttribute('data-api');
  var conn = document.getElementById('conn');
  var BOUND = '[data-f],[data-w],[data-l],[data-ht],[data-s],[data-t],[data-show],[data-hide]';

  function at(scope, path) {
    var parts = path.split('.');
    var value = scope;
    for (var i = 0; i < parts.length; i++) {
      if (value === null || typeof value !== 'object') return undefined;
      value = value[parts[i]];
    }
    return value;
  }
  function share(value) {
    var n = typeof value === 'number' && isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
    return Math.round(n * 10000) / 100 + '%';
  }
  function str(value) {
    return value === undefined || value === null ? '' : String(value);
  }
  // An element belongs to the scope of the nearest list above it (null: the page's own figures).
  function owner(el) {
    return el.parentElement ? el.parentElement.closest('[data-list]') : null;
  }

  function bind(root, scope, list) {
    var lists = root.querySelectorAll('[data-list]');
    for (var i = 0; i < lists.length; i++) {
      if (owner(lists[i]) === list) rows(lists[i], at(scope, lists[i].getAttribute('data-list')) || []);
    }
    var els = [root].concat(Array.prototype.slice.call(root.querySelectorAll(BOUND)));
    for (var j = 0; j < els.length; j++) {
      var el = els[j];
      if (el !== root && owner(el) !== list) continue;
      var d = el.dataset;
      if (d.f !== undefined) {
        var text = str(at(scope, d.f));
        if (el.textContent !== text) el.textContent = text;
      }
      if (d.w !== undefined) el.style.width = share(at(scope, d.w));
      if (d.l !== undefined) el.style.left = share(at(scope, d.l));
      if (d.ht !== undefined) el.style.height = share(at(scope, d.ht));
      if (d.s !== undefined) el.setAttribute('data-state', str(at(scope, d.s)));
      if (d.t !== undefined) el.title = str(at(scope, d.t));
      if (d.show !== undefined) el.hidden = !at(scope, d.show);
      if (d.hide !== undefined) el.hidden = !!at(scope, d.hide);
    }
  }

  function rows(listEl, items) {
    var template = listEl.querySelector(':scope > template');
    if (!template) return;
    var old = new Map();
    for (var c = listEl.firstElementChild; c; c = c.nextElementSibling) {
      if (c !== template) old.set(c.getAttribute('data-key'), c);
    }
    var prev = template;
    for (var i = 0; i < items.length; i++) {
      var key = str(items[i].key);
      var row = old.get(key);
      old.delete(key);
      if (!row) {
        row = template.content.firstElementChild.cloneNode(true);
        row.setAttribute('data-key', key);
      }
      if (prev.nextElementSibling !== row) prev.after(row);
      bind(row, items[i], listEl);
      prev = row;
    }
    old.forEach(function (row) { row.remove(); });
  }

  function setConn(state, text) {
    conn.setAttribute('data-state', state);
    conn.textContent = text;
  }

  var timer = 0;
  var busy = false;
  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }
  function poll() {
    if (document.hidden) return;
    if (busy) return;
    busy = true;
    fetch(api, { headers: { accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (view) {
        var roots = document.querySelectorAll('[data-live]');
        for (var i = 0; i < roots.length; i++) bind(roots[i], view, null);
        setConn('ok', 'live');
        // Faster while something is being downloaded: its bar should move smoothly.
        schedule(view.fills && view.fills.rows.some(function (r) { return r.stateText !== 'cached' && r.stateText !== 'failed'; }) ? 1000 : 3000);
      })
      .catch(function (error) {
        setConn('bad', 'offline (' + error.message + '), retrying');
        schedule(5000);
      })
      .then(function () { busy = false; });
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });

  // The search box asks without leaving the page; the address keeps the name (a reload shows it).
  var form = document.querySelector('form.search');
  var explain = document.getElementById('explain');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var name = form.elements.explain.value.trim();
    if (!name) return;
    fetch(api + '/explain?name=' + encodeURIComponent(name), { headers: { accept: 'application/json' } })
      .then(function (response) { return response.json(); })
      .then(function (view) {
        bind(explain, view, null);
        history.replaceState(null, '', location.pathname + '?explain=' + encodeURIComponent(name));
      })
      .catch(function (error) { setConn('bad', 'explain failed: ' + error.message); });
  });

  setConn('idle', 'connecting');
  poll();
})();
`;
