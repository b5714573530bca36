/* gitops-posture report: filters with live counts and URL state, waiver snippets, graph search and
   zoom, table sorting. Static file, pinned by a CSP hash. It reads only data- attributes and text the
   page already shows, never evaluates report data, and uses one delegated listener per event type so
   that 5,000 finding rows cost no per-row handlers. Without JS the page shows everything. */
(function () {
  'use strict';
  var doc = document, root = doc.documentElement, body = doc.body;
  var form = doc.getElementById('filters');
  var DIMS = ['s', 'l', 't', 'n', 'c'];
  var DEFAULT_T = {fail: true, warn: true, waived: true, mitigated: false, pass: false};
  var rows = [], blocks = [], blockByChk = {}, sections = [], checkRows = [], facetEls = [], selects = [], shownEl;
  var gFilter = '', timer = 0;

  function collect() {
    var els = doc.querySelectorAll('[data-block]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i], layer = el.getAttribute('data-l') || '';
      var b = {el: el, rows: 0, shown: 0, out: el.querySelector('[data-shown]')};
      var trs = el.querySelectorAll('tr.f');
      for (var j = 0; j < trs.length; j++) {
        var tr = trs[j];
        rows.push({el: tr, b: b, text: null, s: tr.getAttribute('data-s'), l: tr.getAttribute('data-l') || layer,
          t: tr.getAttribute('data-t'), n: tr.getAttribute('data-n') || '-', c: tr.getAttribute('data-c') || '-',
          g: ' ' + (tr.getAttribute('data-g') || '') + ' '});
      }
      b.rows = trs.length;
      blocks.push(b);
      if (el.getAttribute('data-chk')) blockByChk[el.getAttribute('data-chk')] = b;
    }
    sections = doc.querySelectorAll('section.layer[data-layer]');
    checkRows = doc.querySelectorAll('table.checks tr[data-chk]');
    facetEls = doc.querySelectorAll('[data-facet]');
    selects = form.querySelectorAll('select');
    shownEl = doc.getElementById('shown');
  }

  function text(r) {
    // Lowercased once, on the first search: 5,000 textContent reads are not free.
    if (r.text === null) r.text = r.el.textContent.toLowerCase();
    return r.text;
  }

  function sel(name) { return form.elements[name] ? form.elements[name].value : '*'; }

  function readState() {
    var st = {s: {}, l: {}, t: {}, n: sel('n'), c: sel('c'), q: form.elements.q.value.trim().toLowerCase(), g: gFilter};
    var boxes = form.querySelectorAll('input[type=checkbox]');
    for (var i = 0; i < boxes.length; i++) if (boxes[i].checked) st[boxes[i].name][boxes[i].value] = true;
    return st;
  }

  // A view narrower than the default: checks and layers with nothing left to show are hidden too.
  function narrowed(st) {
    if (st.n !== '*' || st.c !== '*' || st.q || st.g) return true;
    var boxes = form.querySelectorAll('input[name=s], input[name=t]');
    for (var i = 0; i < boxes.length; i++) {
      var b = boxes[i], def = b.name === 't' ? !!DEFAULT_T[b.value] : true;
      if (b.checked !== def) return true;
    }
    return false;
  }

  function unkey(k) { try { return decodeURIComponent(k); } catch (e) { return k; } }

  function bump(map, key) { map[key] = (map[key] || 0) + 1; }

  function apply(writeHash) {
    var st = readState(), counts = {s: {}, l: {}, t: {}, n: {}, c: {}}, shown = 0, passHidden = 0, i;
    for (i = 0; i < blocks.length; i++) blocks[i].shown = 0;
    for (i = 0; i < rows.length; i++) {
      var r = rows[i], bad = 0, miss = '';
      if (!st.s[r.s]) { bad++; miss = 's'; }
      if (!st.l[r.l]) { bad++; miss = 'l'; }
      if (!st.t[r.t]) { bad++; miss = 't'; if (r.t === 'pass' || r.t === 'mitigated') passHidden++; }
      if (st.n !== '*' && r.n !== st.n) { bad++; miss = 'n'; }
      if (st.c !== '*' && r.c !== st.c) { bad++; miss = 'c'; }
      if (st.q && text(r).indexOf(st.q) < 0) bad += 2; // text and object are never relaxed for counts
      if (st.g && r.g.indexOf(' ' + st.g + ' ') < 0) bad += 2;
      // Facet counts: what each option would show with every *other* filter as it is.
      if (bad === 0) { shown++; r.b.shown++; for (var d = 0; d < DIMS.length; d++) bump(counts[DIMS[d]], r[DIMS[d]]); }
      else if (bad === 1) bump(counts[miss], r[miss]);
      var hide = bad > 0;
      if (r.el.hidden !== hide) r.el.hidden = hide;
    }
    var narrow = narrowed(st);
    for (i = 0; i < blocks.length; i++) {
      var b = blocks[i];
      b.el.hidden = b.shown === 0;
      if (b.out) b.out.textContent = b.shown === b.rows ? String(b.rows) : b.shown + ' of ' + b.rows;
    }
    for (i = 0; i < checkRows.length; i++) {
      var blk = blockByChk[checkRows[i].getAttribute('data-chk')];
      checkRows[i].hidden = narrow && (!blk || blk.shown === 0);
    }
    for (i = 0; i < sections.length; i++) {
      var sec = sections[i], on = !!st.l[sec.getAttribute('data-layer')];
      if (on && narrow) on = !!sec.querySelector('table.checks tr[data-chk]:not([hidden])');
      sec.hidden = !on;
    }
    for (i = 0; i < facetEls.length; i++) {
      var f = facetEls[i].getAttribute('data-facet').split(':');
      facetEls[i].textContent = counts[f[0]][f.slice(1).join(':')] || 0;
    }
    for (i = 0; i < selects.length; i++) {
      var opts = selects[i].options, dim = selects[i].name;
      for (var k = 1; k < opts.length; k++) {
        opts[k].textContent = opts[k].getAttribute('data-label') + ' (' + (counts[dim][opts[k].value] || 0) + ')';
      }
    }
    var chip = form.querySelector('.gchip');
    if (chip) { chip.hidden = !st.g; chip.querySelector('[data-gshow]').textContent = unkey(st.g); }
    shownEl.textContent = 'Showing ' + shown + ' of ' + rows.length + ' findings' +
      (passHidden && !st.t.pass ? ' · ' + passHidden + ' passing or mitigated hidden (tick "pass")' : '');
    root.setAttribute('data-shown', String(shown));
    if (writeHash) saveHash(st);
  }

  // Filter state lives in the URL fragment (#f?s=critical,high&q=...) so a link shows the same view.
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
    if (st.c !== '*') parts.push('c=' + encodeURIComponent(st.c));
    if (st.q) parts.push('q=' + encodeURIComponent(st.q));
    if (st.g) parts.push('g=' + encodeURIComponent(st.g));
    var h = parts.length ? '#f?' + parts.join('&') : '';
    try { history.replaceState(null, '', h || location.pathname + location.search); } catch (e) { /* file:// quirks */ }
  }

  function setSelect(name, v) {
    var s = form.elements[name];
    if (!s) return;
    s.value = v;
    if (s.value !== v) s.value = '*';
  }

  function loadHash() {
    var h = location.hash;
    if (h.indexOf('#f?') !== 0) return false;
    form.reset();
    gFilter = '';
    h.slice(3).split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = kv.slice(0, i), raw = kv.slice(i + 1), v;
      try { v = decodeURIComponent(raw); } catch (e) { return; }
      if (k === 'n' || k === 'c') setSelect(k, v);
      else if (k === 'q') form.elements.q.value = v;
      else if (k === 'g') gFilter = v;
      else if (k === 's' || k === 'l' || k === 't') {
        var want = {}, all = form.querySelectorAll('input[name=' + k + ']');
        v.split(',').forEach(function (x) { want[x] = true; });
        for (var j = 0; j < all.length; j++) all[j].checked = !!want[all[j].value];
      }
    });
    return true;
  }

  // ------------------------------------------------------------------ waiver snippet per finding

  function plusDays(iso, days) {
    var d = iso ? new Date(iso + 'T00:00:00Z') : new Date();
    if (isNaN(d.getTime())) d = new Date();
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function quote(s) { return "'" + String(s).replace(/'/g, "''").replace(/\n/g, ' ') + "'"; }

  function toggleWaiver(btn) {
    var tr = btn.closest('tr'), next = tr.nextElementSibling;
    if (next && next.classList.contains('wx')) { next.parentNode.removeChild(next); return; }
    var chk = tr.closest('[data-chk]').getAttribute('data-chk');
    var expires = plusDays(body.getAttribute('data-scan-date'), parseInt(body.getAttribute('data-waiver-days'), 10) || 90);
    var snippet = 'waivers:\n  - check: ' + chk + '\n    resource: ' + quote(tr.getAttribute('data-r')) +
      "\n    reason: 'why this risk is accepted'\n    expires: " + expires + '\n';
    var cmd = 'posture waive ' + tr.getAttribute('data-fp') + " --reason '…' --expires " + expires;
    var row = doc.createElement('tr'), td = doc.createElement('td'), pre = doc.createElement('pre');
    row.className = 'wx';
    td.colSpan = tr.cells.length;
    pre.className = 'snippet';
    pre.textContent = snippet;
    var p = doc.createElement('p'), code = doc.createElement('code'), copy = doc.createElement('button');
    p.className = 'small';
    p.appendChild(doc.createTextNode('Add to posture.yaml, or run '));
    code.textContent = cmd;
    p.appendChild(code);
    copy.type = 'button';
    copy.className = 'copy';
    copy.textContent = 'Copy';
    td.appendChild(pre);
    td.appendChild(copy);
    td.appendChild(p);
    row.appendChild(td);
    tr.parentNode.insertBefore(row, tr.nextSibling);
  }

  function copyText(btn) {
    var pre = btn.parentNode.querySelector('pre');
    var done = function () { btn.textContent = 'Copied'; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(pre.textContent).then(done, function () { selectCopy(pre); done(); });
    } else { selectCopy(pre); done(); }
  }

  function selectCopy(el) {
    var range = doc.createRange();
    range.selectNodeContents(el);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(range);
    try { doc.execCommand('copy'); } catch (e) { /* the text stays selected for Ctrl-C */ }
  }

  // ------------------------------------------------------------------ graphs: search, zoom, groups

  function initGraphs() {
    var secs = doc.querySelectorAll('section.gsec');
    for (var i = 0; i < secs.length; i++) {
      var sec = secs[i], tools = sec.querySelector('.gtools');
      if (!tools) continue;
      tools.hidden = false;
      sec._zoom = 1;
      var input = tools.querySelector('[data-gsearch]');
      input.addEventListener('input', (function (s, inp) {
        var t = 0;
        return function () { clearTimeout(t); t = setTimeout(function () { search(s, inp.value.trim().toLowerCase()); }, 120); };
      })(sec, input));
    }
  }

  function search(sec, q) {
    var nodes = sec.querySelectorAll('a.node'), hits = 0, first = null, i;
    var groups = sec.querySelectorAll('details.fgroup');
    for (i = 0; i < nodes.length; i++) {
      var n = nodes[i], hit = !!q && (n.getAttribute('data-q') || '').indexOf(q) >= 0;
      n.classList.toggle('hit', hit);
      n.classList.toggle('dim', !!q && !hit);
      if (hit && !n.classList.contains('grp')) {
        hits++;
        var g = n.closest('details.fgroup');
        if (g && !g.open) g.open = true;
        if (!first) first = n;
      }
    }
    if (q && !first) { for (i = 0; i < nodes.length; i++) if (nodes[i].classList.contains('hit')) { first = nodes[i]; break; } }
    var trs = sec.querySelectorAll('tr[data-q]');
    for (i = 0; i < trs.length; i++) trs[i].hidden = !!q && trs[i].getAttribute('data-q').indexOf(q) < 0;
    if (!q) for (i = 0; i < groups.length; i++) groups[i].open = false;
    sec.querySelector('[data-ghits]').textContent = q ? hits + ' match' + (hits === 1 ? '' : 'es') : '';
    if (first && first.scrollIntoView) first.scrollIntoView({block: 'nearest', inline: 'center'});
  }

  function zoom(sec, dir) {
    var svgs = sec.querySelectorAll('svg.dag'), box = sec.querySelector('.graph');
    if (dir === 0) {
      var widest = 1;
      for (var i = 0; i < svgs.length; i++) widest = Math.max(widest, parseFloat(svgs[i].getAttribute('data-w')) || 1);
      sec._zoom = Math.min(1, (box ? box.clientWidth - 4 : 800) / widest);
    } else {
      sec._zoom = Math.max(0.1, Math.min(4, sec._zoom * (dir > 0 ? 1.25 : 0.8)));
    }
    for (var j = 0; j < svgs.length; j++) {
      var w = parseFloat(svgs[j].getAttribute('data-w')) || 0;
      svgs[j].style.width = Math.round(w * sec._zoom) + 'px';
      svgs[j].style.height = 'auto';
    }
    sec.setAttribute('data-zoom', sec._zoom.toFixed(2));
  }

  // ------------------------------------------------------------------ sorting

  function sortTable(th) {
    var table = th.closest('table'), tb = table.tBodies[0], idx = th.cellIndex;
    if (!tb) return;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    var heads = th.parentNode.cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var extra = tb.querySelectorAll('tr.wx');
    for (i = 0; i < extra.length; i++) extra[i].parentNode.removeChild(extra[i]);
    var list = Array.prototype.map.call(tb.rows, function (tr, n) {
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
    tb.appendChild(frag);
  }

  function goToFindings() {
    var f = doc.getElementById('findings');
    if (f && f.scrollIntoView) f.scrollIntoView({block: 'start'});
  }

  function onClick(ev) {
    var t = ev.target, el;
    if (!t.closest) return;
    if ((el = t.closest('table.sortable > thead th'))) { sortTable(el); return; }
    if ((el = t.closest('button.wv'))) { toggleWaiver(el); return; }
    if ((el = t.closest('button.copy'))) { copyText(el); return; }
    if ((el = t.closest('[data-zoom]'))) { zoom(el.closest('section'), parseInt(el.getAttribute('data-zoom'), 10)); return; }
    if ((el = t.closest('[data-expand]'))) {
      var on = el.getAttribute('data-expand') === '1', ds = el.closest('section').querySelectorAll('details.fgroup');
      for (var i = 0; i < ds.length; i++) ds[i].open = on;
      return;
    }
    if ((el = t.closest('[data-gclear]')) && form) { gFilter = ''; apply(true); return; }
    if ((el = t.closest('a[href^="#fg-"]'))) { // an overview group: expand it in place
      var d = doc.getElementById(el.getAttribute('href').slice(1));
      if (d) { ev.preventDefault(); d.open = true; d.scrollIntoView({block: 'start'}); }
      return;
    }
    if ((el = t.closest('[data-goto-ns]')) && form) {
      setSelect('n', el.getAttribute('data-goto-ns'));
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
    // Printing shows every section open: collapsed blocks would print as one line.
    window.addEventListener('beforeprint', function () {
      var d = doc.querySelectorAll('details');
      for (var i = 0; i < d.length; i++) d[i].open = true;
    });
    var dark = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    var scheme = function () { root.setAttribute('data-scheme', dark && dark.matches ? 'dark' : 'light'); };
    scheme();
    if (dark && dark.addEventListener) dark.addEventListener('change', scheme);
    initGraphs();

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
      form.addEventListener('reset', function () { gFilter = ''; setTimeout(function () { apply(true); }, 0); });
      form.addEventListener('submit', function (ev) { ev.preventDefault(); });
      window.addEventListener('hashchange', function () {
        if (loadHash()) { apply(false); goToFindings(); }
      });
      apply(false);
      if (gFilter) goToFindings();
    }
    // Marker for tests and tooling: the script ran to the end.
    root.setAttribute('data-ready', String(rows.length));
  }

  init();
})();
