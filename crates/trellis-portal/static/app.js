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

// Tag boxes (fieldset[data-tags]): one entry per box works without scripts (saving offers more
// boxes). Here an "Add another" button adds a box at once, Enter in a box moves to the next one
// instead of submitting, and a list pasted into a box ("a, b, c") is spread over boxes.
function tagBox(fieldset, value) {
  var list = fieldset.querySelector(".tag-boxes");
  var boxes = list.querySelectorAll("input");
  var model = boxes[boxes.length - 1];
  var item = model.parentNode.cloneNode(true);
  var input = item.querySelector("input");
  var label = item.querySelector("label");
  var n = boxes.length + 1;
  input.id = fieldset.id + "-" + n;
  input.value = value || "";
  input.removeAttribute("aria-invalid");
  label.htmlFor = input.id;
  label.textContent = label.textContent.replace(/\d+$/, String(n));
  list.appendChild(item);
  return input;
}

function emptyBox(fieldset) {
  var boxes = fieldset.querySelectorAll(".tag-boxes input");
  for (var i = 0; i < boxes.length; i++) {
    if (!boxes[i].value.trim()) {
      return boxes[i];
    }
  }
  return tagBox(fieldset, "");
}

document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("fieldset[data-tags]"), function (fieldset) {
    var more = fieldset.querySelector(".tags-more");
    if (more) {
      more.textContent = "One entry per box.";
    }
    var add = document.createElement("button");
    add.type = "button";
    add.className = "secondary small";
    add.textContent = "Add another";
    add.addEventListener("click", function () {
      emptyBox(fieldset).focus();
    });
    fieldset.appendChild(add);
    fieldset.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") {
        event.preventDefault();
        if (event.target.value.trim()) {
          emptyBox(fieldset).focus();
        }
      }
    });
    fieldset.addEventListener("paste", function (event) {
      var text = event.clipboardData && event.clipboardData.getData("text");
      if (!text || !/[,;\n]/.test(text) || event.target.tagName !== "INPUT") {
        return;
      }
      event.preventDefault();
      var parts = text.split(/[,;\n]/).map(function (p) { return p.trim(); }).filter(Boolean);
      var box = event.target;
      parts.forEach(function (part, i) {
        if (i > 0) {
          box = emptyBox(fieldset);
        }
        box.value = part;
      });
    });
  });
});

// A multiple select (select[data-picker], such as the countries served) is a long list box
// without scripts. Here it becomes a box to type a name in, with suggestions, and the chosen
// values as chips with a remove button; the select stays the form's field, hidden.
document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("select[data-picker]"), function (select) {
    var options = Array.prototype.slice.call(select.options);
    var picker = document.createElement("div");
    picker.className = "picker";
    var input = document.createElement("input");
    input.type = "text";
    input.id = select.id + "-find";
    input.autocomplete = "off";
    input.setAttribute("list", select.id + "-names");
    var described = select.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", (described ? described + " " : "") + select.id + "-chosen");
    if (select.getAttribute("aria-invalid")) {
      input.setAttribute("aria-invalid", "true");
    }
    var names = document.createElement("datalist");
    names.id = select.id + "-names";
    options.forEach(function (option) {
      var item = document.createElement("option");
      item.value = option.text;
      names.appendChild(item);
    });
    var chips = document.createElement("ul");
    chips.className = "chips";
    chips.id = select.id + "-chosen";
    chips.setAttribute("aria-live", "polite");

    function render() {
      chips.textContent = "";
      options.forEach(function (option) {
        if (!option.selected) {
          return;
        }
        var chip = document.createElement("li");
        chip.appendChild(document.createTextNode(option.text));
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "Remove " + option.text);
        remove.addEventListener("click", function () {
          option.selected = false;
          render();
          input.focus();
        });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
    }

    function choose() {
      var typed = input.value.trim().toLowerCase();
      var match = options.filter(function (option) {
        return option.text.toLowerCase() === typed || option.value.toLowerCase() === typed;
      })[0];
      if (match) {
        match.selected = true;
        input.value = "";
        render();
      }
      return Boolean(match);
    }

    input.addEventListener("change", choose);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        choose();
      }
    });
    var label = document.querySelector("label[for='" + select.id + "']");
    if (label) {
      label.htmlFor = input.id;
      var hint = label.querySelector(".hint");
      if (hint) {
        hint.textContent = "(type a name and choose it; remove with ×)";
      }
    }
    select.hidden = true;
    select.tabIndex = -1;
    picker.appendChild(input);
    picker.appendChild(names);
    picker.appendChild(chips);
    select.parentNode.insertBefore(picker, select.nextSibling);
    render();
  });
});

// A partner picker (input[data-partner-search] beside its select, deal_parts.html): a directory
// may hold tens of thousands of partners, so the select holds only a page of them. Without
// scripts the Find button brings the page back with the matches; here typing asks the server
// for them (a page at most, by name) and puts them in the select, keeping the blank, the fixed
// choices (option[data-keep]) and the one chosen; a single match is chosen at once.
document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("input[data-partner-search]"), function (input) {
    var select = document.getElementById(input.getAttribute("aria-controls"));
    if (!select || !window.fetch) {
      return;
    }
    var find = input.parentNode.querySelector("button");
    if (find) {
      find.hidden = true;
    }
    var timer = null;
    var asked = 0;
    function fill(matches) {
      Array.prototype.slice.call(select.options).forEach(function (option) {
        if (!option.hasAttribute("data-keep") && !option.selected) {
          select.removeChild(option);
        }
      });
      matches.forEach(function (match) {
        var present = Array.prototype.some.call(select.options, function (option) { return option.value === match.value; });
        if (!present) {
          var option = document.createElement("option");
          option.value = match.value;
          option.textContent = match.label;
          select.appendChild(option);
        }
      });
      if (matches.length === 1 && !select.value) {
        select.value = matches[0].value;
      }
    }
    input.addEventListener("keydown", function (event) {
      // Enter searches at once instead of submitting the form around the box.
      if (event.key === "Enter") {
        event.preventDefault();
        window.clearTimeout(timer);
        search();
      }
    });
    function search() {
      var mine = ++asked;
      var url = input.getAttribute("data-partner-search") + "&q=" + encodeURIComponent(input.value.trim());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (matches) {
          // An older answer arriving late does not replace a newer one.
          if (mine === asked) {
            fill(matches);
          }
        });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 250);
    });
  });
});

// A printable page's Print button (data-print) is hidden until this file can make it print.
document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-print]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
});

// Passkeys (WebAuthn). A form with data-passkey="create" or "get" carries the server's options
// (WebAuthn's JSON) in data-passkey-options; submitting it first asks the browser's
// authenticator, then sends its answer as JSON in the hidden "credential" field. With
// data-passkey-autostart it asks as soon as the page opens (the button asks again).
(function () {
  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = window.atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }
  // Browsers that read WebAuthn's JSON themselves do; others get the byte fields decoded here.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials)
    });
  }
  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, { challenge: toBuffer(json.challenge), allowCredentials: withIds(json.allowCredentials) });
  }
  function answer(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    var r = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      out.response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return out;
  }
  function ask(form) {
    var status = form.querySelector("[data-passkey-status]");
    var field = form.querySelector("input[name=credential]");
    var create = form.getAttribute("data-passkey") === "create";
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = "This browser cannot use passkeys. Use another browser, or your password.";
      return;
    }
    var options = JSON.parse(form.getAttribute("data-passkey-options"));
    var request;
    try {
      request = create
        ? navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
        : navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
    } catch (error) {
      request = Promise.reject(error);
    }
    status.textContent = create ? "Creating the passkey: follow your browser's prompt." : "Follow your browser's prompt to use your passkey.";
    request.then(function (credential) {
      field.value = JSON.stringify(answer(credential));
      status.textContent = create ? "Saving the passkey…" : "Signing in…";
      form.submit();
    }).catch(function (error) {
      status.textContent = (create ? "No passkey was created" : "No passkey was used") +
        (error && error.name === "InvalidStateError" ? ": this device has a passkey for your account already." : ". Press the button to try again.");
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-passkey") || form.querySelector("input[name=credential]").value) {
      return;
    }
    event.preventDefault();
    ask(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-passkey][data-passkey-autostart]");
    if (form) {
      ask(form);
    }
  });
})();
