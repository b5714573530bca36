/* gitops-posture report: filters with live counts, table sorting, namespace jumps.
   Static file, pinned by a CSP hash. It reads only data- attributes and text the page already shows,
   never evaluates report data, and uses one delegated listener per event type so that 5,000
   finding rows cost no per-row handlers. Without JS the page shows everything (filters hidden). */
(function () {
  'use strict';
  var doc = document, root = doc.documentElement;
  var form = doc.getElementById('filters');
  var DIMS = ['s', 'l', 't', 'n'];
  var DEFAULT_T = {fail: true, warn: true, waived: true, pass: false};
  var rows = [], blocks = [], sections = [], facetEls = [], nsOptions = [], shownEl;
  var timer = 0;

  function collect() {
    var els = doc.querySelectorAll('[data-block]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i], layer = el.getAttribute('data-l') || '';
      var b = {el: el, rows: 0, shown: 0, out: el.querySelector('[data-shown]')};
      var trs = el.querySelectorAll('tr.f');
      for (var j = 0; j < trs.length; j++) {
        var tr = trs[j];
        rows.push({el: tr, b: b, text: null, s: tr.getAttribute('data-s'),
          l: tr.getAttribute('data-l') || layer, t: tr.getAttribute('data-t'), n: tr.getAttribute('data-n') || '-'});
      }
      b.rows = trs.length;
      blocks.push(b);
    }
    sections = doc.querySelectorAll('section.layer[data-layer]');
    facetEls = doc.querySelectorAll('[data-facet]');
    nsOptions = form ? form.elements.n.options : [];
    shownEl = doc.getElementById('shown');
  }

  function text(r) {
    // Lowercased once, on the first search: 5,000 textContent reads are not free.
    if (r.text === null) r.text = r.el.textContent.toLowerCase();
    return r.text;
  }

  function readState() {
    var st = {s: {}, l: {}, t: {}, n: form.elements.n.value, q: form.elements.q.value.trim().toLowerCase()};
    var boxes = form.querySelectorAll('input[type=checkbox]');
    for (var i = 0; i < boxes.length; i++) if (boxes[i].checked) st[boxes[i].name][boxes[i].value] = true;
    return st;
  }

  function bump(map, key) { map[key] = (map[key] || 0) + 1; }

  function apply(writeHash) {
    var st = readState(), counts = {s: {}, l: {}, t: {}, n: {}}, shown = 0, passHidden = 0, i;
    for (i = 0; i < blocks.length; i++) blocks[i].shown = 0;
    for (i = 0; i < rows.length; i++) {
      var r = rows[i], bad = 0, miss = '';
      if (!st.s[r.s]) { bad++; miss = 's'; }
      if (!st.l[r.l]) { bad++; miss = 'l'; }
      if (!st.t[r.t]) { bad++; miss = 't'; if (r.t === 'pass') passHidden++; }
      if (st.n !== '*' && r.n !== st.n) { bad++; miss = 'n'; }
      if (st.q && text(r).indexOf(st.q) < 0) bad += 2; // text is never relaxed for facet counts
      // Facet counts: what each option would show with every *other* filter as it is.
      if (bad === 0) { shown++; r.b.shown++; for (var d = 0; d < 4; d++) bump(counts[DIMS[d]], r[DIMS[d]]); }
      else if (bad === 1) bump(counts[miss], r[miss]);
      var hide = bad > 0;
      if (r.el.hidden !== hide) r.el.hidden = hide;
    }
    for (i = 0; i < blocks.length; i++) {
      var b = blocks[i];
      b.el.hidden = b.shown === 0;
      if (b.out) b.out.textContent = b.shown === b.rows ? String(b.rows) : b.shown + ' of ' + b.rows;
    }
    for (i = 0; i < sections.length; i++) sections[i].hidden = !st.l[sections[i].getAttribute('data-layer')];
    for (i = 0; i < facetEls.length; i++) {
      var f = facetEls[i].getAttribute('data-facet').split(':');
      facetEls[i].textContent = counts[f[0]][f.slice(1).join(':')] || 0;
    }
    for (i = 1; i < nsOptions.length; i++) {
      var o = nsOptions[i];
      o.textContent = o.getAttribute('data-label') + ' (' + (counts.n[o.value] || 0) + ')';
    }
    shownEl.textContent = 'Showing ' + shown + ' of ' + rows.length + ' findings' +
      (passHidden && !st.t.pass ? ' · ' + passHidden + ' passing hidden (tick "pass")' : '');
    root.setAttribute('data-shown', String(shown));
    if (writeHash) saveHash(st);
  }

  // Filter state lives in the URL fragment (#f?s=critical,high&q=...) so a view can be shared.
  function saveHash(st) {
    var parts = [];
    ['s', 'l', 't'].forEach(function (d) {
      var all = form.querySelectorAll('input[name=' + d + ']'), on = [], def = true;
      for (var i = 0; i < all.length; i++) {
        if (all[i].checked) on.push(all[i].value);
        if (all[i].checked !== (d === 't' ? !!DEFAULT_T[all[i].value] : true)) def = false;
      }
      if (!def) parts.push(d + '=' + encodeURIComponent(on.join(',')));
    });
    if (st.n !== '*') parts.push('n=' + encodeURIComponent(st.n));
    if (st.q) parts.push('q=' + encodeURIComponent(st.q));
    var h = parts.length ? '#f?' + parts.join('&') : ' ';
    try { history.replaceState(null, '', h === ' ' ? location.pathname + location.search : h); } catch (e) { /* file:// quirks */ }
  }

  function loadHash() {
    var h = location.hash;
    if (h.indexOf('#f?') !== 0) return;
    h.slice(3).split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
      if (k === 'n') { form.elements.n.value = v; if (form.elements.n.value !== v) form.elements.n.value = '*'; }
      else if (k === 'q') form.elements.q.value = v;
      else if (k === 's' || k === 'l' || k === 't') {
        var want = {}, all = form.querySelectorAll('input[name=' + k + ']');
        v.split(',').forEach(function (x) { want[x] = true; });
        for (var j = 0; j < all.length; j++) all[j].checked = !!want[all[j].value];
      }
    });
  }

  function sortTable(th) {
    var table = th.closest('table'), body = table.tBodies[0], idx = th.cellIndex;
    if (!body) return;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    var heads = th.parentNode.cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var list = Array.prototype.map.call(body.rows, function (tr, n) {
      var c = tr.cells[idx], v = c ? (c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent.trim()) : '';
      var num = v !== '' && isFinite(v) ? parseFloat(v) : null;
      return {tr: tr, num: num, str: v.toLowerCase(), n: n};
    });
    list.sort(function (a, b) {
      var r;
      if (a.num !== null && b.num !== null) r = a.num - b.num;
      else if (a.num !== null) r = -1;
      else if (b.num !== null) r = 1;
      else r = a.str < b.str ? -1 : a.str > b.str ? 1 : 0;
      return (asc ? r : -r) || a.n - b.n;
    });
    var frag = doc.createDocumentFragment();
    list.forEach(function (x) { frag.appendChild(x.tr); });
    body.appendChild(frag);
  }

  function onClick(ev) {
    var t = ev.target;
    var th = t.closest && t.closest('table.sortable > thead th');
    if (th) { sortTable(th); return; }
    var ns = t.closest && t.closest('[data-goto-ns]');
    if (ns && form) {
      form.elements.n.value = ns.getAttribute('data-goto-ns');
      if (form.elements.n.value !== ns.getAttribute('data-goto-ns')) form.elements.n.value = '*';
      apply(true);
    }
  }

  function init() {
    var heads = doc.querySelectorAll('table.sortable > thead th');
    for (var i = 0; i < heads.length; i++) { heads[i].tabIndex = 0; heads[i].title = 'Sort'; }
    doc.addEventListener('click', onClick);
    doc.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && ev.target.matches && ev.target.matches('table.sortable > thead th')) sortTable(ev.target);
      if (ev.key === '/' && form && doc.activeElement && !/INPUT|SELECT|TEXTAREA/.test(doc.activeElement.tagName)) {
        ev.preventDefault(); form.elements.q.focus();
      }
    });
    // Printing shows every open section: collapsed check blocks would print as one line.
    window.addEventListener('beforeprint', function () {
      var d = doc.querySelectorAll('details');
      for (var i = 0; i < d.length; i++) d[i].open = true;
    });
    var dark = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    var scheme = function () { root.setAttribute('data-scheme', dark && dark.matches ? 'dark' : 'light'); };
    scheme();
    if (dark && dark.addEventListener) dark.addEventListener('change', scheme);

    if (form) {
      collect();
      form.hidden = false;
      loadHash();
      form.addEventListener('change', function () { apply(true); });
      form.addEventListener('input', function (ev) {
        if (ev.target.name !== 'q') return;
        clearTimeout(timer);
        timer = setTimeout(function () { apply(true); }, 150);
      });
      form.addEventListener('reset', function () { setTimeout(function () { apply(true); }, 0); });
      form.addEventListener('submit', function (ev) { ev.preventDefault(); });
      apply(false);
    }
    // Marker for tests and tooling: the script ran to the end.
    root.setAttribute('data-ready', String(rows.length));
  }

  init();
})();
