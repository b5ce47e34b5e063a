/* Beat editor: moves are computed here from per-unit workloads and the
   units' neighbours (sent once), so the figures change at once. */
"use strict";
(function () {
  var J = window.junkai;
  var T = JSON.parse(document.getElementById("editor-text").textContent);
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"];
  var m = J.map("map", "map-note");
  var D, assign, orig, nbrs, beatIdx = {}, work0 = {}, work = {}, locked = {}, lockedUnits = {};
  var selected = {}, layers = [], beatLabels = {}, mean = 0, kobanOf = {}, kobanUnit = {};
  var status = document.getElementById("status");

  fetch("/station/editor/data.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.json(); }).then(init);

  function colour(b) { return PALETTE[beatIdx[b] % PALETTE.length]; }

  function init(d) {
    D = d;
    assign = d.units.map(function (u) { return u.beat_id; });
    orig = assign.slice();
    nbrs = d.units.map(function () { return []; });
    d.adjacency.forEach(function (p) { nbrs[p[0]].push(p[1]); nbrs[p[1]].push(p[0]); });
    d.beats.forEach(function (b, i) { beatIdx[b.beat_id] = i; locked[b.beat_id] = b.locked; kobanOf[b.beat_id] = b.koban_id; });
    d.koban.forEach(function (k) { kobanUnit[k.koban_id] = k.unit; });
    d.beats.forEach(function (b) { work[b.beat_id] = 0; });
    d.units.forEach(function (u, i) { work[assign[i]] = (work[assign[i]] || 0) + u.workload_h; });
    Object.keys(work).forEach(function (b) { work0[b] = work[b]; });
    var total = 0; Object.keys(work).forEach(function (b) { total += work[b]; });
    mean = total / Math.max(1, d.beats.length);
    document.getElementById("mean-line").textContent = T.mean + " " + mean.toFixed(1) + " " + T.hours;
    var sel = document.getElementById("move-to");
    d.beats.forEach(function (b) {
      var o = document.createElement("option"); o.value = b.beat_id; o.textContent = b.name; sel.appendChild(o);
    });
    var all = L.latLngBounds([]);
    d.units.forEach(function (u, i) {
      var g = L.geoJSON(u.geometry, { style: styleOf(i) });
      g.on("click", function () { toggle(i); });
      g.bindTooltip(J.escapeHtml(u.name + " (" + u.workload_h.toFixed(1) + " h)"), { sticky: true });
      layers.push(g);
      all.extend(g.getBounds());
    });
    // The view first, then the units: drawn once.
    J.view(m, all);
    layers.forEach(function (g) { g.addTo(m); });
    J.unitLabels(m, d.units.map(function (u) { return { name: u.name, geometry: { type: "Point", coordinates: [u.label[1], u.label[0]] } }; }), 14);
    d.koban.forEach(function (k) { J.kobanMarker(m, k); });
    d.beats.forEach(function (b) { placeBeatLabel(b.beat_id); });
    buildTable();
    d.beats.forEach(function (b) { refreshRow(b.beat_id); });
    document.body.dataset.editorReady = "1";
  }

  function styleOf(i) {
    var b = assign[i];
    var moved = assign[i] !== orig[i];
    return { color: selected[i] ? "#000" : (lockedUnits[i] ? "#333" : "#fff"), weight: selected[i] ? 3 : (moved ? 2.5 : 1),
             dashArray: lockedUnits[i] ? "4 3" : null, fillColor: colour(b), fillOpacity: moved ? 0.75 : 0.45 };
  }

  function placeBeatLabel(b) {
    var la = 0, lo = 0, n = 0;
    D.units.forEach(function (u, i) { if (assign[i] === b) { la += u.label[0]; lo += u.label[1]; n++; } });
    if (beatLabels[b]) { m.removeLayer(beatLabels[b]); delete beatLabels[b]; }
    if (!n) return;
    var name = D.beats[beatIdx[b]].name;
    beatLabels[b] = J.label([la / n, lo / n], name, "beat-label").addTo(m);
  }

  function toggle(i) {
    if (lockedUnits[i] || locked[assign[i]]) { status.textContent = T.locked_unit; return; }
    if (selected[i]) delete selected[i]; else selected[i] = true;
    layers[i].setStyle(styleOf(i));
    var names = Object.keys(selected).map(function (k) { return D.units[k].name; });
    document.getElementById("sel-count").textContent = String(names.length);
    document.getElementById("sel-names").textContent = names.slice(0, 8).join("、") + (names.length > 8 ? "…" : "");
  }

  // Parts of a beat: a search over its units' neighbours.
  function parts(b) {
    var seen = {}, n = 0;
    for (var i = 0; i < assign.length; i++) {
      if (assign[i] !== b || seen[i]) continue;
      n++; var stack = [i]; seen[i] = true;
      while (stack.length) {
        var v = stack.pop();
        for (var k = 0; k < nbrs[v].length; k++) {
          var w = nbrs[v][k];
          if (!seen[w] && assign[w] === b) { seen[w] = true; stack.push(w); }
        }
      }
    }
    return n;
  }

  // A beat holds or touches the unit its koban stands in.
  function attached(b) {
    var ku = kobanUnit[kobanOf[b]];
    if (ku === undefined || ku < 0) return true;
    if (assign[ku] === b) return true;
    return nbrs[ku].some(function (w) { return assign[w] === b; });
  }

  function buildTable() {
    var tb = document.querySelector("#figures tbody");
    D.beats.forEach(function (b) {
      var tr = document.createElement("tr"); tr.id = "fig-" + b.beat_id; tr.dataset.beat = b.beat_id;
      var sw = '<i class="legend-sw" aria-hidden="true"></i>';
      tr.innerHTML = '<th scope="row"><span class="beat-sw">' + sw + "</span>" + J.escapeHtml(b.name) + "</th>" +
        '<td class="num w0"></td><td class="num w"></td><td class="num dev"></td><td class="parts"></td><td class="att"></td>' +
        '<td><input type="checkbox" class="lock" aria-label="' + J.escapeHtml(b.name) + " " + T.locked + '"' + (b.locked ? " checked" : "") + "></td>";
      tr.querySelector(".legend-sw").style.background = colour(b.beat_id);
      tr.querySelector("input.lock").addEventListener("change", function (ev) { locked[b.beat_id] = ev.target.checked; saveLocks(); });
      tb.appendChild(tr);
    });
  }

  function refreshRow(b) {
    var tr = document.getElementById("fig-" + b);
    var w = work[b], dev = mean ? (w - mean) / mean : 0, p = parts(b), a = attached(b);
    tr.querySelector(".w0").textContent = work0[b].toFixed(1);
    var wc = tr.querySelector(".w"); wc.textContent = w.toFixed(1);
    wc.classList.toggle("changed", Math.abs(w - work0[b]) > 1e-9);
    var dc = tr.querySelector(".dev"); dc.textContent = (dev >= 0 ? "+" : "") + (100 * dev).toFixed(1) + " %";
    dc.classList.toggle("bad", Math.abs(dev) > 0.1);
    var pc = tr.querySelector(".parts"); pc.textContent = p <= 1 ? T.yes : T.no + " (" + p + " " + T.parts + ")";
    pc.classList.toggle("bad", p > 1);
    var ac = tr.querySelector(".att"); ac.textContent = a ? T.yes : T.no;
    ac.classList.toggle("bad", !a);
  }

  document.getElementById("move-btn").addEventListener("click", function (ev) {
    var t0 = performance.now();
    // From the click (the input event's time) to the next frame painted with
    // the figures: the wait a manager sees (read by benchmarks/bench_pages.py).
    var input = ev.timeStamp;
    requestAnimationFrame(function () {
      var ch = new MessageChannel();
      ch.port1.onmessage = function () { window.junkaiLastMovePaintMs = performance.now() - input; };
      ch.port2.postMessage(0);
    });
    var to = document.getElementById("move-to").value;
    if (locked[to]) { status.textContent = T.locked_unit; return; }
    var touched = {}; touched[to] = true;
    var n = 0;
    Object.keys(selected).forEach(function (k) {
      var i = +k, from = assign[i];
      if (from === to) return;
      work[from] -= D.units[i].workload_h; work[to] += D.units[i].workload_h;
      assign[i] = to; touched[from] = true; n++;
    });
    var sel = Object.keys(selected); selected = {};
    sel.forEach(function (k) { layers[+k].setStyle(styleOf(+k)); });
    Object.keys(touched).forEach(function (b) { refreshRow(b); placeBeatLabel(b); });
    document.getElementById("sel-count").textContent = "0";
    document.getElementById("sel-names").textContent = "";
    var ms = performance.now() - t0;
    window.junkaiLastMoveMs = ms;
    status.textContent = T.moved_units + ": " + n + " (" + ms.toFixed(1) + " ms)";
  });

  document.getElementById("clear-btn").addEventListener("click", function () {
    var sel = Object.keys(selected); selected = {};
    sel.forEach(function (k) { layers[+k].setStyle(styleOf(+k)); });
    document.getElementById("sel-count").textContent = "0";
  });

  document.getElementById("lock-units-btn").addEventListener("click", function () {
    Object.keys(selected).forEach(function (k) { if (lockedUnits[k]) delete lockedUnits[k]; else lockedUnits[k] = true; });
    var sel = Object.keys(selected); selected = {};
    sel.forEach(function (k) { layers[+k].setStyle(styleOf(+k)); });
    document.getElementById("sel-count").textContent = "0";
  });

  document.getElementById("reset-btn").addEventListener("click", function () {
    var touched = {};
    assign.forEach(function (b, i) { if (b !== orig[i]) { touched[b] = true; touched[orig[i]] = true; work[b] -= D.units[i].workload_h; work[orig[i]] += D.units[i].workload_h; assign[i] = orig[i]; layers[i].setStyle(styleOf(i)); } });
    Object.keys(touched).forEach(function (b) { refreshRow(b); placeBeatLabel(b); });
  });

  function saveLocks() {
    var lb = Object.keys(locked).filter(function (b) { return locked[b]; });
    J.post("/station/editor/locks", { locked_beats: lb }, true).then(function () { status.textContent = T.locked + ": " + lb.join(", "); });
  }

  document.getElementById("accept-btn").addEventListener("click", function () {
    var moves = [];
    assign.forEach(function (b, i) { if (b !== orig[i]) moves.push({ unit_id: D.units[i].unit_id, to_beat: b }); });
    if (!moves.length) { status.textContent = T.no_changes; return; }
    var lb = Object.keys(locked).filter(function (b) { return locked[b]; });
    J.post("/station/editor/accept", { version: D.version, moves: moves, locked_beats: lb }, true)
      .then(function (r) { window.location.href = "/station/changes/" + r.new_version; })
      .catch(function (e) { status.textContent = e.message; });
  });

  var jobId = null;
  document.getElementById("rebalance-btn").addEventListener("click", function () {
    var js = document.getElementById("job-status");
    js.textContent = T.wait;
    var choice = { mode: document.getElementById("rb-mode").value,
                   tolerance: (parseFloat(document.getElementById("rb-tol").value) || 10) / 100 };
    document.getElementById("job-figures").hidden = true;
    document.getElementById("job-actions").hidden = true;
    J.post("/station/editor/rebalance", choice, true).then(function (j) { jobId = j.id; poll(); })
      .catch(function (e) { js.textContent = e.message; });
  });

  function poll() {
    fetch("/station/editor/jobs/" + jobId, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (j) {
      var js = document.getElementById("job-status");
      js.textContent = j.status + " " + Math.round(100 * j.progress) + " % " + (j.message || "");
      if (j.status === "queued" || j.status === "running") { setTimeout(poll, 1000); return; }
      if (j.status !== "done" || !j.result) return;
      var p = j.result.plan, tb = document.querySelector("#job-figures tbody");
      tb.innerHTML = "";
      var yn = function (v) { return v ? T.yes : T.no; };
      [[T.deviation, fmtPct(p.largest_deviation_before), fmtPct(p.largest_deviation_after)],
       [T.moved_units, "", String(p.units_moved)],
       [T.households_moved, "", String(Math.round(p.households_moved || 0))],
       [T.contiguous, "", yn(p.all_contiguous)],
       [T.koban_attached, "", yn(p.koban_rule_kept)],
       [T.rb_feasible, "", yn(p.feasible)]].forEach(function (r) {
        var tr = document.createElement("tr"), th = document.createElement("th");
        th.scope = "row"; th.textContent = r[0]; tr.appendChild(th);
        [r[1], r[2]].forEach(function (v) { var td = document.createElement("td"); td.className = "num"; td.textContent = v; tr.appendChild(td); });
        tb.appendChild(tr);
      });
      document.getElementById("job-figures").hidden = false;
      document.getElementById("job-actions").hidden = false;
    });
  }
  function fmtPct(v) { return v == null ? "–" : (100 * v).toFixed(1) + " %"; }
  document.getElementById("job-accept").addEventListener("click", function () {
    J.post("/station/editor/jobs/" + jobId + "/accept", {}, true).then(function (j) { window.location.href = "/station/changes/" + j.new_version; })
      .catch(function (e) { document.getElementById("job-status").textContent = e.message; });
  });
  document.getElementById("job-reject").addEventListener("click", function () {
    J.post("/station/editor/jobs/" + jobId + "/reject", {}, true).then(function () { document.getElementById("job-actions").hidden = true; });
  });
  window.junkaiMap = m;
})();
