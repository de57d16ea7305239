// metricchat dashboard page: draws the charts, sorts tables, downloads CSV. No network access.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mc-data").textContent || "{}");
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var charts = [];

  function draw() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    var theme = dark && dark.matches ? "dark" : null;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var block = data[el.getAttribute("data-chart")];
      if (!block || !block.echarts) return;
      var option = Object.assign({}, block.echarts, { backgroundColor: "transparent", animation: false });
      delete option.metricchat;
      if (!option.grid && option.xAxis) option.grid = { left: 8, right: 16, top: 24, bottom: 8, containLabel: true };
      var chart = echarts.init(el, theme, { renderer: "canvas" });
      chart.setOption(option);
      charts.push(chart);
    });
  }

  draw();
  if (dark && dark.addEventListener) dark.addEventListener("change", draw);
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(function () { charts.forEach(function (c) { c.resize(); }); });
    document.querySelectorAll("[data-chart]").forEach(function (el) { ro.observe(el); });
  } else {
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  // Sortable tables: click (or Enter on) a header; numbers sort by value.
  function key(td) {
    var s = td.getAttribute("data-sort");
    return s !== null ? parseFloat(s) : td.textContent;
  }
  function sortBy(th) {
    var table = th.closest("table");
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); } });
  });

  // CSV per block, from the embedded data.
  function cell(v) {
    if (v === null || v === undefined) return "";
    var s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  document.querySelectorAll("[data-csv]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var id = btn.getAttribute("data-csv");
      var block = data[id];
      if (!block) return;
      var lines = [block.columns.map(cell).join(",")];
      block.rows.forEach(function (r) { lines.push(r.map(cell).join(",")); });
      var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = id + ".csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    });
  });
})();
