/**
 * The dashboard's browser script, served inline in the page (nothing is fetched from
 * elsewhere). Plain ES2020 without template literals; it polls `/api/v0/kit/*` and draws
 * tables and SVG plots.
 */
export const DASHBOARD_SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = Number(document.body.getAttribute('data-poll-ms')) || 1000;
  var SVG = 'http://www.w3.org/2000/svg';
  var token = new URLSearchParams(location.search).get('token');
  var headers = token ? { Authorization: 'Bearer ' + token } : {};

  function api(cmd, query) {
    return fetch('/api/v0/' + cmd + (query ? '?' + query : ''), { method: 'POST', headers: headers })
      .then(function (r) {
        if (!r.ok) throw new Error(cmd + ': HTTP ' + r.status);
        return r.json();
      });
  }
  function $(id) { return document.getElementById(id); }
  function text(id, value) { var e = $(id); if (e) e.textContent = value; }
  function short(id) { return id && id.length > 18 ? id.slice(0, 8) + '\u2026' + id.slice(-6) : (id || ''); }
  function bytes(n) {
    if (n == null) return '';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; var i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
  }
  function ms(n) { return n == null ? '\u2013' : (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ms'; }
  function pct(x) { return x == null ? '\u2013' : (100 * x).toFixed(1) + '%'; }
  function clock(t) { return new Date(t).toLocaleTimeString(); }

  function setRows(tableId, rows, empty) {
    var body = $(tableId).tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    if (rows.length === 0) {
      var tr0 = document.createElement('tr'); var td0 = document.createElement('td');
      td0.colSpan = $(tableId).tHead.rows[0].cells.length; td0.className = 'empty'; td0.textContent = empty;
      tr0.appendChild(td0); body.appendChild(tr0); return;
    }
    rows.forEach(function (cells) {
      var tr = document.createElement('tr'); tr.className = 'row';
      cells.forEach(function (c) {
        var td = document.createElement('td');
        if (c && typeof c === 'object' && c.title) { td.textContent = c.text; td.title = c.title; if (c.cls) td.className = c.cls; }
        else td.textContent = c == null ? '' : String(c);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function node(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }

  // series: [{ name, color, points: [[t, v]], dots }]; opts: { yMax, unit }
  function plot(svgId, series, opts) {
    var svg = $(svgId); var W = 560; var H = 200; var L = 48; var R = 10; var T = 10; var B = 24;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var all = [];
    series.forEach(function (s) { all = all.concat(s.points); });
    var now = Date.now(); var xMin = now - 10 * 1000; var xMax = now;
    all.forEach(function (p) { if (p[0] < xMin) xMin = p[0]; });
    var yMax = opts.yMax || 0;
    if (!yMax) { all.forEach(function (p) { if (p[1] > yMax) yMax = p[1]; }); yMax = yMax > 0 ? yMax * 1.15 : 1; }
    function x(t) { return L + (W - L - R) * (t - xMin) / Math.max(1, xMax - xMin); }
    function y(v) { return T + (H - T - B) * (1 - Math.min(v, yMax) / yMax); }
    for (var i = 0; i <= 4; i++) {
      var v = yMax * i / 4;
      node('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }, svg);
      var label = node('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, svg);
      label.textContent = opts.unit === '%' ? Math.round(100 * v) + '%' : (v < 10 ? v.toFixed(1) : Math.round(v)) + (opts.unit || '');
    }
    var tl = node('text', { x: L, y: H - 6, class: 'axis' }, svg); tl.textContent = clock(xMin);
    var tr = node('text', { x: W - R, y: H - 6, 'text-anchor': 'end', class: 'axis' }, svg); tr.textContent = clock(xMax);
    series.forEach(function (s) {
      var pts = s.points.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); });
      if (s.dots) {
        var g = node('g', { 'data-series': s.name, 'data-points': s.points.length, fill: s.color }, svg);
        s.points.forEach(function (p) { node('circle', { cx: x(p[0]), cy: y(p[1]), r: 3.5 }, g); });
      } else {
        node('polyline', { points: pts.join(' '), stroke: s.color, fill: 'none', 'stroke-width': 2,
          'data-series': s.name, 'data-points': s.points.length }, svg);
      }
    });
  }

  function render(stats, buckets, reputation) {
    text('peer-id', stats.PeerID);
    text('role', stats.Role + ' \u00b7 ' + stats.Profile + (stats.Offline ? ' \u00b7 offline' : ''));
    text('reachability', 'reachability: ' + (stats.Reachability || 'unknown'));
    text('version', 'ipfs-kit ' + stats.Version);
    var cache = stats.Cache;
    var integ = stats.Integration;
    var d = integ ? integ.discoveryMetrics : null;
    text('m-peers', String(stats.Peers));
    text('m-table', String(buckets.Size));
    text('m-backoff', d ? String(d.peersInBackoff) : '0');
    text('m-hit', pct(cache.hitRatio));
    text('m-retrievals', String(stats.Retrievals.length));
    text('m-bw', bytes(stats.Bandwidth.totalIn) + ' in \u00b7 ' + bytes(stats.Bandwidth.totalOut) + ' out');

    setRows('peers', buckets.Connected.map(function (p) {
      return [{ text: short(p.ID), title: p.ID }, p.Bucket, p.InTable ? 'yes' : 'no', p.Direction,
        p.Score == null ? '\u2013' : p.Score.toFixed(3), { text: p.Addr, title: p.Addr, cls: 'addr' }];
    }), 'no connected peers');

    var fill = $('bucket-fill'); while (fill.firstChild) fill.removeChild(fill.firstChild);
    buckets.Buckets.forEach(function (b) {
      var s = document.createElement('span'); s.className = 'bucket';
      s.textContent = '#' + b.Index + ': ' + b.Peers.length; s.title = b.Peers.map(function (p) { return p.ID; }).join('\n');
      fill.appendChild(s);
    });
    if (buckets.Buckets.length === 0) fill.textContent = 'the k-bucket view is empty';

    setRows('reputation', reputation.Peers.map(function (r) {
      var backoff = r.InBackoff ? 'level ' + r.BackoffLevel + ' until ' + clock(r.BackoffUntil) : (r.BackoffLevel > 0 ? 'level ' + r.BackoffLevel : 'none');
      return [{ text: short(r.ID), title: r.ID }, r.Score.toFixed(3), pct(r.SuccessRate), ms(r.LatencyMs), ms(r.LatencyP95Ms),
        r.ThroughputBps == null ? '\u2013' : bytes(r.ThroughputBps) + '/s', r.Observations, backoff + (r.Flagged ? ' \u00b7 flagged' : '')];
    }), 'no provider has served us yet');

    setRows('retrievals', stats.Retrievals.slice(0, 25).map(function (r) {
      var b = r.blocks ? r.blocks.memory + ' / ' + r.blocks.disk + ' / ' + r.blocks.local + ' / ' + r.blocks.peers : '\u2013';
      return [clock(r.at), r.kind, { text: r.path, title: r.path, cls: 'addr' }, bytes(r.bytes), ms(r.durationMs), b,
        { text: r.outcome, title: r.error || r.outcome, cls: r.outcome }];
    }), 'nothing retrieved yet');

    var h = stats.History;
    plot('plot-hit-ratio', [
      { name: 'all', color: '#2563eb', points: h.map(function (s) { return [s.at, s.cacheHitRatio]; }) },
      { name: 'memory', color: '#16a34a', points: h.map(function (s) { return [s.at, s.memoryHitRatio]; }) },
      { name: 'disk', color: '#d97706', points: h.map(function (s) { return [s.at, s.diskHitRatio]; }) }
    ], { yMax: 1, unit: '%' });
    var ok = stats.Retrievals.filter(function (r) { return r.outcome === 'success'; });
    plot('plot-latency', [
      { name: 'retrievals', color: '#7c3aed', dots: true, points: ok.map(function (r) { return [r.at, r.durationMs]; }) },
      { name: 'p50', color: '#db2777', points: h.filter(function (s) { return s.retrievalP50Ms != null; }).map(function (s) { return [s.at, s.retrievalP50Ms]; }) }
    ], { unit: ' ms' });
  }

  var busy = false;
  function tick() {
    if (busy) return; busy = true;
    Promise.all([api('kit/stats'), api('kit/buckets'), api('kit/reputation')])
      .then(function (r) { render(r[0], r[1], r[2]); text('status', 'live \u00b7 updated ' + clock(Date.now())); $('status').className = 'live'; })
      .catch(function (e) { text('status', 'disconnected: ' + e.message); $('status').className = 'down'; })
      .then(function () { busy = false; });
  }
  tick();
  setInterval(tick, POLL_MS);
})();
`
