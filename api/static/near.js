"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var pm = J.layeredMap("map", "map-note");
  var lat = document.getElementById("n-lat"), lon = document.getElementById("n-lon");
  if (d.lat != null) {
    L.circleMarker([d.lat, d.lon], { radius: 9, color: "#d73027", weight: 3 }).addTo(pm.layers).bindTooltip(J.text.you_are_here);
    pm.fit([d.lat, d.lon]);
  }
  (d.found || []).forEach(function (h, i) {
    var icon = L.divIcon({ className: "stop-icon", html: String(i + 1), iconSize: [22, 22] });
    L.marker([h.lat, h.lon], { icon: icon, title: h.address, alt: h.address, keyboard: false }).addTo(pm.layers);
    pm.fit([h.lat, h.lon]);
  });
  // The officer and the households found; none: Kanazawa (J.view).
  var m = pm.show({ padding: [30, 30], maxZoom: 17 });
  m.on("click", function (e) { lat.value = e.latlng.lat.toFixed(6); lon.value = e.latlng.lng.toFixed(6); });
  document.getElementById("use-gps").addEventListener("click", function () { J.gps(lat, lon); });
})();
