// Review keyboard: a key clicks the element whose data-shortcut names it (links navigate, buttons submit).
// On the queue list, j/k move the focus between rows, x selects the focused row and Enter opens it.
(function () {
  var ALIASES = { ArrowRight: "j", ArrowLeft: "k" };
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  var focused = -1;

  function focusRow(index) {
    if (!rows.length) { return false; }
    focused = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("focused", i === focused); });
    rows[focused].scrollIntoView({ block: "nearest" });
    return true;
  }

  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = ALIASES[event.key] || event.key;
    if (rows.length) {
      if (key === "j" && focusRow(focused + 1)) { event.preventDefault(); return; }
      if (key === "k" && focusRow(focused - 1)) { event.preventDefault(); return; }
      if (key === "x" && focused >= 0) {
        var box = rows[focused].querySelector("input[type=checkbox]");
        if (box) { box.checked = !box.checked; }
        event.preventDefault();
        return;
      }
      if (key === "Enter" && focused >= 0) { window.location = rows[focused].getAttribute("data-open"); return; }
      // c / r: a verdict for the selected rows (bulk), or else for the focused row.
      if (key === "c" || key === "r") {
        var decision = key === "c" ? "confirmed" : "rejected";
        var selected = document.querySelectorAll("[data-row] input[type=checkbox]:checked").length;
        var button = selected
          ? document.querySelector('.bulkbar button[value="' + decision + '"]')
          : focused >= 0 && rows[focused].querySelector('button[value="' + decision + '"]');
        if (button) { event.preventDefault(); button.click(); return; }
      }
    }
    var target = document.querySelector('[data-shortcut="' + key + '"]');
    if (target) {
      event.preventDefault();
      target.click();
    }
  });
})();
