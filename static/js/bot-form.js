// The bot form's pickers: indicators added and removed (a section per indicator of the registry, its
// checkbox is what the server reads), and symbols shown as chips and checked as they are typed.
(function () {
  "use strict";

  function setUpIndicators(form) {
    var adder = form.querySelector(".picker-add");
    var select = adder && adder.querySelector("select");
    if (!select) return;
    var sections = form.querySelectorAll("section[data-indicator]");

    function refresh() {
      sections.forEach(function (section) {
        var on = section.querySelector("input[type=checkbox]").checked;
        section.hidden = !on;
        var option = select.querySelector("option[value='" + section.dataset.indicator + "']");
        if (option) option.hidden = option.disabled = on;
      });
    }

    adder.hidden = false;
    sections.forEach(function (section) {
      section.querySelector("label.toggle").hidden = true;
      var remove = section.querySelector(".remove-indicator");
      remove.hidden = false;
      remove.addEventListener("click", function () {
        section.querySelector("input[type=checkbox]").checked = false;
        refresh();
      });
    });
    select.addEventListener("change", function () {
      var section = form.querySelector("section[data-indicator='" + select.value + "']");
      if (section) {
        section.querySelector("input[type=checkbox]").checked = true;
        refresh();
        var first = section.querySelector("input[type=number]");
        if (first) first.focus();
      }
      select.value = "";
    });
    refresh();
  }

  function setUpSymbols(form) {
    var chips = form.querySelector("[data-chips-for]");
    if (!chips) return;
    var input = document.getElementById(chips.dataset.chipsFor);
    var problem = form.querySelector(".symbol-check");
    var rule = new RegExp("^(?:" + input.dataset.symbolPattern + ")$");

    function symbols() {
      return input.value.split(/[\s,;]+/).filter(Boolean).map(function (s) { return s.toUpperCase(); });
    }

    function render() {
      var seen = {};
      var bad = [];
      chips.textContent = "";
      symbols().forEach(function (symbol) {
        var chip = document.createElement("span");
        var valid = rule.test(symbol) && !seen[symbol];
        if (!valid) bad.push(seen[symbol] ? symbol + " is listed twice" : symbol + " is not a ticker (a letter, then letters, digits, '.' or '-', at most 10)");
        seen[symbol] = true;
        chip.className = "chip" + (valid ? "" : " chip-bad");
        chip.textContent = symbol;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-remove";
        remove.setAttribute("aria-label", "Remove " + symbol);
        remove.textContent = "×";
        remove.addEventListener("click", function () {
          var rest = symbols();
          rest.splice(rest.indexOf(symbol), 1);
          input.value = rest.join(" ");
          render();
        });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
      problem.hidden = !bad.length;
      problem.textContent = bad.join("; ");
      input.setAttribute("aria-invalid", bad.length ? "true" : "false");
    }

    input.addEventListener("input", render);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();  // Enter adds the symbol typed, it does not submit the form
        input.value = symbols().join(" ") + " ";
        render();
      }
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.bot-form").forEach(function (form) {
      setUpIndicators(form);
      setUpSymbols(form);
    });
  });
})();
