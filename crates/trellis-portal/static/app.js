// Trellis progressive enhancement: pages work without this file.
// Forms and buttons with data-confirm ask before submitting (e.g. revoking a key).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// A secret shown once (data-copy) gets a copy button; without scripts it is selected by hand.
document.addEventListener("DOMContentLoaded", function () {
  var fields = document.querySelectorAll("input[data-copy]");
  Array.prototype.forEach.call(fields, function (field) {
    if (!navigator.clipboard) {
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = "Copied";
      });
    });
    field.insertAdjacentElement("afterend", button);
  });
});

// A jump to a section whose form is folded away (#edit, #users) unfolds it: the page's "Edit
// details" and "Invite a user" actions land on the open form. Without scripts the section is
// reached and its summary is one click away.
function openFoldedSection() {
  var id = window.location.hash.slice(1);
  var section = id && document.getElementById(id);
  var folded = section && section.querySelector("details");
  if (folded) {
    folded.open = true;
  }
}
window.addEventListener("hashchange", openFoldedSection);
document.addEventListener("DOMContentLoaded", openFoldedSection);
