"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
  var pm = J.layeredMap("map", "map-note");
  d.beats.forEach(function (b) {
    if (!b.geometry) return;
    var g = pm.shape(b.geometry, { color: "#333", weight: 1.5, fillColor: COLOURS[b.cls], fillOpacity: 0.55 });
    J.label(b.label ? b.label : g.getBounds().getCenter(), b.name + " " + b.workload_h + " h · " + b.households + J.text.hh, "beat-label").addTo(pm.layers);
  });
  (d.unknown_points || []).forEach(function (p) {
    var r = Math.max(4, Math.min(22, Math.sqrt(p.n) * 1.6));
    L.circleMarker([p.lat, p.lon], { radius: r, color: "#fff", weight: 1, fillColor: "#7b3294", fillOpacity: 0.8 })
      .bindTooltip(J.escapeHtml(p.name + ": " + p.n), { direction: "top" }).addTo(pm.layers);
  });
  var m = pm.show();
  J.unitLabels(m, d.units, 15);
  (d.koban || []).forEach(function (k) { J.kobanMarker(m, k); });
  J.drawn();
})();
