// metricchat dashboard page: draws the charts, sorts tables, downloads CSV. No network access.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mc-data").textContent || "{}");
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var charts = [];

  function each(axis, f) {
    if (axis) (Array.isArray(axis) ? axis : [axis]).forEach(f);
  }

  // Axis names and labels inside the chart, whatever their length: the grid is shrunk until
  // labels and names fit (ECharts 6 `outerBoundsContain: "all"`; `containLabel` leaves names
  // out), the y name starts at the axis instead of centring on it, the x name sits under the
  // labels, and long category labels turn and are cut with an ellipsis (the tooltip has them).
  function fitAxes(option, width, kind) {
    if (!option.grid) {
      option.grid = { left: 8, right: 24, top: 28, bottom: option.visualMap ? 64 : option.legend ? 40 : 8, outerBoundsMode: "same", outerBoundsContain: "all" };
    }
    each(option.yAxis, function (a) {
      if (!a.name) return;
      a.nameLocation = "end";
      a.nameTextStyle = Object.assign({ align: "left" }, a.nameTextStyle);
      a.nameTruncate = { maxWidth: Math.max(80, width - 40) };
    });
    each(option.xAxis, function (a) {
      if (a.name) {
        a.nameLocation = "middle";
        a.nameGap = 26;
        a.nameTruncate = { maxWidth: Math.max(80, width - 40) };
      }
      // Histogram bins are ordered numbers: every few of them labelled reads fine.
      if (a.type !== "category" || !a.data || !a.data.length || kind === "histogram") return;
      var longest = 0;
      a.data.forEach(function (d) { longest = Math.max(longest, String(d && d.value !== undefined ? d.value : d).length); });
      // About 7 px a character at 12 px: do the labels fit side by side?
      if (longest * 7 * a.data.length > width * 0.85) {
        // Turned 40°, a 12 px label needs about 22 px along the axis: label every n-th.
        var every = Math.max(0, Math.ceil((a.data.length * 22) / Math.max(100, width - 80)) - 1);
        a.axisLabel = Object.assign({ rotate: 40, width: 110, overflow: "truncate", interval: every }, a.axisLabel);
      }
    });
  }

  // What reads badly at dashboard size: markers on hundreds of line points, a label on every
  // one of a hundred map points, ECharts' pale default heatmap scale.
  // `text` broken into lines of about `max` characters at spaces.
  function wrap(text, max) {
    var lines = [];
    String(text).split(" ").forEach(function (word) {
      var last = lines.length - 1;
      if (last >= 0 && (lines[last] + " " + word).length <= max) lines[last] += " " + word;
      else lines.push(word);
    });
    return lines.join("\n");
  }
  function short(v) {
    return Math.abs(v) >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
  }
  function tidy(option, kind, width) {
    // A lone number is drawn as text: in the page's text colour (ECharts draws it black).
    var fg = window.getComputedStyle(document.body).color;
    each(option.graphic, function (g) {
      if (g.style && !g.style.fill) g.style.fill = fg;
    });
    // Spoke names wrap instead of running off a narrow chart.
    if (option.radar && !Array.isArray(option.radar)) {
      if (width < 500) option.radar.radius = "50%";
      if (width < 700) {
        var chars = Math.max(8, Math.round(width / 40));
        option.radar.axisName = Object.assign({ lineHeight: 14, formatter: function (name) { return wrap(name, chars); } }, option.radar.axisName);
      }
    }
    // Histogram bins as `-1.3–2.9`, not `-1.3317757009345794–2.9146…`.
    if (kind === "histogram") {
      each(option.xAxis, function (a) {
        if (!a.data) return;
        a.data = a.data.map(function (d) {
          var m = /^(-?[\d.e+-]+)–(-?[\d.e+-]+)$/.exec(String(d));
          return m ? short(Number(m[1])) + "–" + short(Number(m[2])) : d;
        });
      });
    }
    each(option.series, function (s) {
      var n = s.data ? s.data.length : 0;
      // A funnel's stages say their name and count on themselves; a legend would repeat them.
      if (s.type === "funnel") {
        delete option.legend;
        s.bottom = 10;
        s.label = Object.assign({}, s.label, { formatter: function (p) { return p.name + ": " + Number(p.value).toLocaleString("en-US"); } });
      }
      if (s.type === "line" && n > 60) s.showSymbol = false;
      if (s.type === "scatter" && s.label && s.label.show && n > 15) {
        var sizes = s.data.map(function (d) { return (d && d.symbolSize) || 0; }).sort(function (a, b) { return b - a; });
        var cut = sizes[11];
        s.data.forEach(function (d) { if (d && typeof d === "object" && !Array.isArray(d) && (d.symbolSize || 0) < cut) d.label = { show: false }; });
      }
      if (s.type === "scatter" && s.label && s.label.show && n) {
        // Labels of points on the right half go to their left, so they stay in the chart.
        var xs = s.data.map(function (d) { return d && d.value ? d.value[0] : null; }).filter(function (x) { return typeof x === "number"; });
        var mid = (Math.min.apply(null, xs) + Math.max.apply(null, xs)) / 2;
        s.data.forEach(function (d) {
          if (d && d.value && d.value[0] > mid && !(d.label && d.label.show === false)) d.label = { position: "left" };
        });
      }
    });
    each(option.visualMap, function (v) {
      if (!v.inRange) v.inRange = { color: ["#fff3c4", "#f9a03f", "#d7301f", "#7f0000"] };
    });
  }

  function draw() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    var theme = dark && dark.matches ? "dark" : null;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var block = data[el.getAttribute("data-chart")];
      if (!block || !block.echarts) return;
      // A copy: what is tidied for this width and theme must not stick to the data.
      var option = JSON.parse(JSON.stringify(block.echarts));
      option.backgroundColor = "transparent";
      option.animation = false;
      var kind = option.metricchat && option.metricchat.kind;
      delete option.metricchat;
      tidy(option, kind, el.clientWidth || 600);
      if (option.xAxis) fitAxes(option, el.clientWidth || 600, kind);
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
