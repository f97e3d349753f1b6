// Vigil review app: sends the session's CSRF token with every htmx request.
// (Loaded as a file: the Content-Security-Policy allows no inline script.)
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// A refusal the server renders as a replacement fragment (e.g. a reveal of an item whose
// evidence is unavailable: 409 with the tile in its "unavailable" state) is swapped in, so
// the reason is on screen instead of nothing happening.
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.status === 409 && xhr.getResponseHeader("X-Vigil-Fragment")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
