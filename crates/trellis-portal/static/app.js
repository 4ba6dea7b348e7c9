// Trellis progressive enhancement: pages work without this file.
// Forms and buttons with data-confirm ask before submitting (e.g. revoking a key).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
