// Sorts the trade list by a clicked column. The page reads fully without
// it; it marks <body data-report="ready"> when it ran, and writes any error
// into #script-errors (and data-report="error") so a test can see it.
(function () {
  "use strict";
  var errors = document.getElementById("script-errors");
  function fail(message) {
    errors.textContent = "Script error: " + message;
    errors.hidden = false;
    document.body.setAttribute("data-report", "error");
  }
  window.addEventListener("error", function (e) { fail(e.message); });
  function sortBy(table, col) {
    var heads = table.tHead.rows[0].cells;
    var head = heads[col];
    var ascending = head.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-v");
      var y = b.cells[col].getAttribute("data-v");
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = isNaN(nx) || isNaN(ny) ? String(x).localeCompare(String(y)) : nx - ny;
      return ascending ? c : -c;
    });
    for (var h = 0; h < heads.length; h++) heads[h].removeAttribute("aria-sort");
    head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  try {
    var table = document.getElementById("trade-table");
    if (table) {
      var heads = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(heads, function (head, col) {
        head.classList.add("sortable");
        head.tabIndex = 0;
        head.addEventListener("click", function () { sortBy(table, col); });
        head.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col); }
        });
      });
    }
    document.body.setAttribute("data-report", "ready");
  } catch (e) {
    fail(e && e.message ? e.message : String(e));
  }
})();
