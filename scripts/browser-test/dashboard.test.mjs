// The dashboard pages in a real browser: headless Debian chromium driven by playwright-core
// opens each generated page from a file URL with every non-file request blocked, and checks
// what a viewer would: no console errors, every chart drew non-blank pixels, the KPI cards show
// the values of direct queries, failing blocks show their error, tables sort, CSV downloads.
//
//   node --test scripts/browser-test/dashboard.test.mjs
//
// Reads the pages and `expected.json` that `cargo run --example dashboard_flights -- --out DIR`
// writes, from MC_DASHBOARD_DIR (default target/dashboard-flights). MC_DASHBOARD_SCREENSHOT
// (default docs/dashboard-flights.png) receives a screenshot of the flights page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dir = path.resolve(process.env.MC_DASHBOARD_DIR || path.join(root, "target/dashboard-flights"));
const shot = process.env.MC_DASHBOARD_SCREENSHOT || path.join(root, "docs/dashboard-flights.png");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8"));

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

/** Opens `file` offline; returns the page, its console errors and the requests it tried. */
async function open(file, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const blocked = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(path.join(dir, file)).href, { waitUntil: "load" });
  // ECharts draws on the next frames.
  await page.waitForTimeout(500);
  return { context, page, errors, blocked };
}

/**
 * For each chart: its kind, how many canvas pixels are not transparent (`ink`) and how many of
 * them are coloured (`color`: series are drawn in colour, axes and text in greys), so a chart
 * that drew its axes but no data is caught.
 */
async function inkPerChart(page) {
  return page.$$eval("[data-chart]", (els) =>
    els.map((el) => {
      const id = el.dataset.chart;
      const kind = el.dataset.kind;
      // ECharts may draw on several layers (a heatmap does): count them all.
      const canvases = [...el.querySelectorAll("canvas")];
      if (!canvases.length) return { id, kind, ink: -1, color: -1 };
      const canvas = canvases[0];
      let ink = 0;
      let color = 0;
      for (const layer of canvases) {
        if (!layer.width || !layer.height) continue;
        const { data } = layer.getContext("2d").getImageData(0, 0, layer.width, layer.height);
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] === 0) continue;
          ink++;
          const r = data[i], g = data[i + 1], b = data[i + 2];
          if (Math.max(r, g, b) - Math.min(r, g, b) > 40) color++;
        }
      }
      return { id, kind, ink, color, w: canvas.width, h: canvas.height };
    }),
  );
}

/** Asserts that chart `c` drew something, in colour unless it is a lone number. */
function assertDrawn(c, how = "") {
  assert.ok(c.ink > 200, `chart ${c.id} (${c.kind}) is blank${how} (${c.ink} inked pixels of ${c.w}x${c.h})`);
  if (c.kind !== "metric") {
    assert.ok(c.color > 100, `chart ${c.id} (${c.kind}) drew no data${how} (${c.color} coloured pixels of ${c.w}x${c.h})`);
  }
}

for (const file of Object.keys(expected)) {
  const want = expected[file];

  test(`${file}: opens offline with no console errors and every chart drawn`, async () => {
    const { context, page, errors, blocked } = await open(file);
    try {
      assert.deepEqual(errors, [], "console errors");
      assert.deepEqual(blocked, [], "the page asked for the network");
      const charts = await inkPerChart(page);
      assert.ok(charts.length > 0, "no charts on the page");
      for (const c of charts) assertDrawn(c);
      if (want.chart_kinds) {
        const drawn = new Set(charts.map((c) => c.kind));
        for (const kind of want.chart_kinds) {
          if (kind === "table") continue; // a table, not a canvas: checked below
          assert.ok(drawn.has(kind), `no ${kind} chart drawn; drew ${[...drawn].join(", ")}`);
        }
        const tables = await page.locator("table.sortable").count();
        assert.ok(tables > 0, "no table on the page");
        // Beside the flights page's screenshot.
        await page.screenshot({ path: path.join(path.dirname(shot), "dashboard-gallery.png"), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });

  test(`${file}: KPI cards show the query results`, async () => {
    const { context, page } = await open(file);
    try {
      for (const [id, value] of Object.entries(want.kpis)) {
        const card = page.locator(`#block-${id} [data-kpi-value]`);
        assert.equal(Number(await card.getAttribute("data-kpi-value")), value, `KPI ${id}`);
        const text = (await card.innerText()).replace(/[^0-9.\-]/g, "");
        // Shown with at most two decimals.
        assert.ok(Math.abs(Number(text) - value) <= 0.005 + 1e-9, `KPI ${id} as shown: ${text}, the data says ${value}`);
        assert.ok(await card.isVisible(), `KPI ${id} hidden`);
        // The sparkline: one point per period (the query's rows), drawn.
        const spark = page.locator(`#block-${id} svg.spark polyline`);
        if (await spark.count()) {
          const points = (await spark.getAttribute("points")).trim().split(/\s+/);
          assert.ok(points.length >= 2, `KPI ${id} sparkline has ${points.length} points`);
          const box = await page.locator(`#block-${id} svg.spark`).boundingBox();
          assert.ok(box && box.width > 50 && box.height > 10, `KPI ${id} sparkline not visible`);
        }
      }
    } finally {
      await context.close();
    }
  });

  test(`${file}: failing blocks show their error, the others render`, async () => {
    const { context, page } = await open(file);
    try {
      const failing = await page.$$eval("section.failed", (els) => els.map((e) => e.dataset.block));
      assert.deepEqual(failing.sort(), [...want.failing_blocks].sort());
      for (const id of want.failing_blocks) {
        const msg = page.locator(`#block-${id} .error-message`);
        assert.ok(await msg.isVisible());
        assert.match(await msg.innerText(), /no such table/);
      }
    } finally {
      await context.close();
    }
  });
}

test("flights.html: tables sort, CSV downloads; screenshot kept", async () => {
  const { context, page, errors } = await open("flights.html", { viewport: { width: 1280, height: 900 } });
  try {
    const table = page.locator("table.sortable").first();
    const header = table.locator("th").nth(1);
    await header.click();
    const asc = await table.locator("tbody tr td:nth-child(2)").allInnerTexts();
    await header.click();
    const desc = await table.locator("tbody tr td:nth-child(2)").allInnerTexts();
    assert.equal(await header.getAttribute("aria-sort"), "descending");
    assert.deepEqual([...desc].reverse(), asc, "descending is ascending reversed");

    const button = page.locator("[data-csv]").first();
    const id = await button.getAttribute("data-csv");
    const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
    assert.equal(download.suggestedFilename(), `${id}.csv`);
    const csv = fs.readFileSync(await download.path(), "utf8");
    const rows = csv.trim().split(/\r\n/);
    assert.ok(rows.length >= 2, csv);
    await page.screenshot({ path: shot, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

for (const file of Object.keys(expected).filter((f) => !expected[f].failing_blocks.length)) {
  test(`${file}: table numbers read alike: thousands grouped, one number of decimals per column`, async () => {
    const { context, page } = await open(file);
    try {
      const columns = await page.$$eval("table.sortable", (tables) =>
        tables.flatMap((t) => {
          const heads = [...t.querySelectorAll("thead th")].map((th) => th.textContent);
          return heads.map((name, i) => ({
            name,
            cells: [...t.querySelectorAll(`tbody tr td:nth-child(${i + 1}).num`)].map((td) => ({
              text: td.textContent,
              value: Number(td.dataset.sort),
            })),
          }));
        }),
      );
      let checked = 0;
      for (const { name, cells } of columns) {
        if (!cells.length || /^(id|year|flight|faa)$|_id$/i.test(name)) continue;
        const decimals = new Set(cells.map((c) => (c.text.split(".")[1] || "").length));
        assert.equal(decimals.size, 1, `column ${name} mixes decimals: ${cells.map((c) => c.text).join(" ")}`);
        for (const c of cells) {
          assert.equal(Number(c.text.replace(/,/g, "")).toFixed(3), Number(c.value.toFixed([...decimals][0])).toFixed(3), `column ${name}: ${c.text} for ${c.value}`);
          if (Math.abs(c.value) >= 1000) assert.match(c.text, /^-?\d{1,3}(,\d{3})+(\.\d+)?$/, `column ${name}: ${c.text} not grouped`);
          checked++;
        }
      }
      assert.ok(checked > 0, "no numbers in tables");
    } finally {
      await context.close();
    }
  });

  test(`${file}: dark and phone layouts draw every chart and fit the screen`, async () => {
    for (const opts of [{ colorScheme: "dark" }, { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 }]) {
      const { context, page, errors } = await open(file, opts);
      try {
        assert.deepEqual(errors, []);
        for (const c of await inkPerChart(page)) assertDrawn(c, ` with ${JSON.stringify(opts)}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `page wider than the screen by ${overflow}px with ${JSON.stringify(opts)}`);
        if (process.env.MC_DASHBOARD_EXTRA_SHOTS) {
          const name = opts.colorScheme ? "dark" : "phone";
          await page.screenshot({ path: path.join(process.env.MC_DASHBOARD_EXTRA_SHOTS, `${file.replace(/\.html$/, "")}-${name}.png`), fullPage: true });
        }
      } finally {
        await context.close();
      }
    }
  });
}
