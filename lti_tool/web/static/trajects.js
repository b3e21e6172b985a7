// Traject forms: show only the fields that belong to the chosen kind (a new traject's kind, a
// kijkwijzer question's kind). Without this script every field stays visible, with its hint.
(function () {
  "use strict";

  function toggle(container, attribute, value) {
    var parts = container.querySelectorAll("[" + attribute + "]");
    for (var i = 0; i < parts.length; i++) {
      var kinds = parts[i].getAttribute(attribute).split(" ");
      parts[i].hidden = kinds.indexOf(value) === -1;
    }
  }

  // A new traject: teacher, pupil code and section depend on the kind.
  var form = document.querySelector("[data-testid=new-traject-form]");
  if (form) {
    var update = function () {
      var chosen = form.querySelector("input[name=kind]:checked");
      toggle(form, "data-for-kinds", chosen ? chosen.value : "teacher");
    };
    var radios = form.querySelectorAll("input[name=kind]");
    for (var i = 0; i < radios.length; i++) { radios[i].addEventListener("change", update); }
    update();
  }

  // The kijkwijzer editor: options for a checklist, the ends of a scale.
  var rows = document.querySelectorAll("[data-row]");
  for (var r = 0; r < rows.length; r++) {
    (function (row) {
      var select = row.querySelector("select[name^=kind-]");
      if (!select) { return; }
      var update = function () { toggle(row, "data-for-qkind", select.value); };
      select.addEventListener("change", update);
      update();
    })(rows[r]);
  }
})();
