"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var pm = J.layeredMap("map", "map-note");
  (d.beats || []).forEach(function (b) {
    var g = pm.shape(b.geometry, { color: "#0017c1", weight: 1.5, fillOpacity: 0.03 });
    J.label(g.getBounds().getCenter(), b.beat_id, "beat-label").addTo(pm.layers);
  });
  (d.moves || []).forEach(function (u) {
    if (!u.geometry) return;
    var g = pm.shape(u.geometry, { color: "#d73027", weight: 3, fillColor: "#fc8d59", fillOpacity: 0.6 }, false);
    J.label(g.getBounds().getCenter(), u.name + ": " + u.from_beat + " → " + u.to_beat, "unit-label change-label").addTo(pm.layers);
  });
  pm.show();
})();
