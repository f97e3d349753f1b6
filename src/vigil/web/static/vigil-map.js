// Vigil review app: the GPS cluster map (Leaflet, vendored). Reads its data from the
// <script type="application/json" id="map-data"> block (the CSP allows no inline script).
// No tiles are fetched unless the unit configured its own tile server (VIGIL_WEB_MAP_TILES):
// without one, the clusters are drawn on a latitude/longitude grid.
(function () {
  "use strict";
  function grid(map, step) {
    var layer = L.layerGroup();
    for (var lat = -90; lat <= 90; lat += step) {
      L.polyline([[lat, -180], [lat, 180]], { color: "#9aa5ab", weight: lat === 0 ? 1.5 : 0.6, interactive: false }).addTo(layer);
    }
    for (var lon = -180; lon <= 180; lon += step) {
      L.polyline([[-90, lon], [90, lon]], { color: "#9aa5ab", weight: lon === 0 ? 1.5 : 0.6, interactive: false }).addTo(layer);
    }
    return layer;
  }
  function stepFor(zoom) {
    var steps = [30, 30, 20, 10, 10, 5, 2, 1, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002];
    return steps[Math.max(0, Math.min(steps.length - 1, zoom))];
  }
  function popup(c) {
    var box = document.createElement("div");
    var head = document.createElement("strong");
    head.textContent = "Cluster " + c.n + ": " + c.count + " item(s), spread " + c.spread + " m";
    box.appendChild(head);
    if (c.first) {
      var when = document.createElement("div");
      when.textContent = "captured " + c.first + (c.last && c.last !== c.first ? " to " + c.last : "");
      box.appendChild(when);
    }
    var list = document.createElement("div");
    c.items.forEach(function (it) {
      var a = document.createElement("a");
      a.href = it.href;
      a.textContent = "#" + it.id;
      list.appendChild(a);
      list.appendChild(document.createTextNode(" "));
    });
    box.appendChild(list);
    return box;
  }
  function init() {
    var el = document.getElementById("gps-map");
    var src = document.getElementById("map-data");
    if (!el || !src || typeof L === "undefined") { return; }
    var data = JSON.parse(src.textContent);
    var map = L.map(el, { worldCopyJump: false, attributionControl: !!data.tiles });
    if (data.tiles) {
      L.tileLayer(data.tiles, { maxZoom: 19, attribution: "tiles: unit server" }).addTo(map);
    }
    var gridLayer = null;
    function redraw() {
      if (data.tiles) { return; }
      if (gridLayer) { map.removeLayer(gridLayer); }
      gridLayer = grid(map, stepFor(map.getZoom()));
      gridLayer.addTo(map);
    }
    var bounds = [];
    var biggest = Math.max.apply(null, data.clusters.map(function (c) { return c.count; }).concat([1]));
    data.clusters.forEach(function (c) {
      var marker = L.circleMarker([c.lat, c.lon], {
        radius: 6 + 14 * Math.sqrt(c.count / biggest),
        color: "#7a2e00", weight: 2, fillColor: "#d35400", fillOpacity: 0.55
      });
      marker.bindPopup(popup(c));
      marker.bindTooltip("cluster " + c.n + " (" + c.count + ")");
      marker.addTo(map);
      bounds.push([c.lat, c.lon]);
    });
    if (bounds.length === 1) {
      map.setView(bounds[0], 14);
    } else if (bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
    } else {
      map.setView([20, 0], 2);
    }
    map.on("zoomend", redraw);
    redraw();
    el.setAttribute("data-ready", String(data.clusters.length));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
