// Vigil review app: sends the session's CSRF token with every htmx request.
// (Loaded as a file: the Content-Security-Policy allows no inline script.)
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
