"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var m = J.map("map", "map-note");
  var all = L.latLngBounds([]);
  (d.beats || []).forEach(function (b) {
    var g = L.geoJSON(b.geometry, { style: { color: "#0017c1", weight: 1.5, fillOpacity: 0.03 } }).addTo(m);
    g.bindTooltip(J.escapeHtml(b.beat_id), { permanent: true, direction: "center", className: "beat-label" });
    all.extend(g.getBounds());
  });
  (d.moves || []).forEach(function (u) {
    if (!u.geometry) return;
    var g = L.geoJSON(u.geometry, { style: { color: "#d73027", weight: 3, fillColor: "#fc8d59", fillOpacity: 0.6 } }).addTo(m);
    g.bindTooltip(J.escapeHtml(u.name + ": " + u.from_beat + " → " + u.to_beat), { permanent: true, direction: "top", className: "unit-label" });
  });
  if (all.isValid()) m.fitBounds(all);
  window.junkaiMap = m;
})();
