// Vigil review grid: keyboard navigation, one-key grading and multi-select.
// Loaded as a file (the CSP allows no inline script). Without it the grid is a plain form.
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function init() {
    var grid = document.getElementById("review-grid");
    if (!grid) { return; }
    var cells = Array.prototype.slice.call(grid.querySelectorAll(".rcell"));
    var keys = JSON.parse(grid.getAttribute("data-keys") || "[]");
    var grades = JSON.parse(grid.getAttribute("data-grades") || "[]");
    var canGrade = grid.getAttribute("data-can-grade") === "true";
    var message = document.getElementById("grid-message");
    var counter = document.getElementById("selected-count");
    var current = 0;

    function say(text) { if (message) { message.textContent = text; } }
    function columns() {
      if (cells.length < 2) { return 1; }
      var top = cells[0].offsetTop, n = 0;
      while (n < cells.length && cells[n].offsetTop === top) { n++; }
      return Math.max(1, n);
    }
    function focusCell(i) {
      if (!cells.length) { return; }
      i = Math.max(0, Math.min(cells.length - 1, i));
      cells[current].classList.remove("current");
      cells[current].setAttribute("tabindex", "-1");
      current = i;
      cells[i].classList.add("current");
      cells[i].setAttribute("tabindex", "0");
      cells[i].focus();
    }
    function pick(cell) { return cell.querySelector("input.pick"); }
    function updateCount() {
      var n = cells.filter(function (c) { var p = pick(c); return p && p.checked; }).length;
      if (counter) { counter.textContent = String(n); }
    }
    function toggle(cell, on) {
      var box = pick(cell);
      if (!box) { return; }
      box.checked = on === undefined ? !box.checked : on;
      cell.setAttribute("aria-selected", box.checked ? "true" : "false");
      cell.classList.toggle("picked", box.checked);
      updateCount();
    }
    function grade(cell, g) {
      var id = cell.getAttribute("data-item");
      var body = new URLSearchParams();
      body.append("item_id", id);
      body.append("grade", g);
      body.append("system", grid.getAttribute("data-system"));
      cell.classList.add("busy");
      return fetch(grid.getAttribute("data-grade-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
        body: body
      }).then(function (resp) {
        if (!resp.ok) { throw new Error("grading failed (" + resp.status + ")"); }
        return resp.json();
      }).then(function (data) {
        var st = data.items[id];
        var label = document.getElementById("rstatus-" + id);
        if (label && st) {
          label.textContent = (st.mine && st.votes > 1 ? "mine " + st.mine + " · " : "") + st.text;
          label.classList.toggle("conflict", !!st.conflict);
          label.classList.toggle("trusted", !!st.trusted);
        }
        cell.classList.remove("busy");
        cell.classList.add("graded");
        say("item " + id + " graded " + g);
      }).catch(function (err) {
        cell.classList.remove("busy");
        say(String(err.message || err));
      });
    }
    cells.forEach(function (cell, i) {
      cell.addEventListener("focus", function () {
        if (current !== i) { cells[current].classList.remove("current"); current = i; cell.classList.add("current"); }
      });
      var box = pick(cell);
      if (box) { box.addEventListener("change", function () { toggle(cell, box.checked); }); }
    });
    var all = document.getElementById("select-page");
    if (all) { all.addEventListener("click", function () { cells.forEach(function (c) { toggle(c, true); }); }); }
    var none = document.getElementById("select-none");
    if (none) { none.addEventListener("click", function () { cells.forEach(function (c) { toggle(c, false); }); }); }

    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) { return; }
      if (t && t.tagName === "BUTTON" && (ev.key === "Enter" || ev.key === " ")) { return; }
      if (!cells.length) { return; }
      var key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
      var cols = columns();
      var cell = cells[current];
      var handled = true;
      if (key === "ArrowRight" || key === "l") { focusCell(current + 1); }
      else if (key === "ArrowLeft" || key === "h") { focusCell(current - 1); }
      else if (key === "ArrowDown" || key === "j") { focusCell(current + cols); }
      else if (key === "ArrowUp" || key === "k") { focusCell(current - cols); }
      else if (key === "Home") { focusCell(0); }
      else if (key === "End") { focusCell(cells.length - 1); }
      else if (key === "x" || key === " ") { toggle(cell); }
      else if (key === "Enter") { var a = cell.querySelector(".rcap a"); if (a) { window.location.href = a.href; } }
      else if (key === "r") {
        var btn = cell.querySelector("button.reveal, button.hide");
        if (btn) { btn.click(); }
      }
      else if (key === "n" && grid.getAttribute("data-next")) { window.location.href = grid.getAttribute("data-next"); }
      else if (key === "p" && grid.getAttribute("data-prev")) { window.location.href = grid.getAttribute("data-prev"); }
      else if (canGrade && keys.indexOf(key) >= 0) {
        var g = grades[keys.indexOf(key)];
        var target = cell;
        grade(target, g);
        focusCell(current + 1);
      }
      else { handled = false; }
      if (handled) { ev.preventDefault(); }
    });
    // after htmx swaps a tile (reveal / hide), keep the focus in the grid
    document.body.addEventListener("htmx:afterSwap", function () {
      if (cells[current]) { cells[current].focus(); }
    });
    if (cells.length) { cells[0].classList.add("current"); }
    grid.setAttribute("data-ready", "true");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
