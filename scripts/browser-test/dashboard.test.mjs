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

/** For each chart, how many canvas pixels are not transparent. */
async function inkPerChart(page) {
  return page.$$eval("[data-chart]", (els) =>
    els.map((el) => {
      const canvas = el.querySelector("canvas");
      if (!canvas) return { id: el.dataset.chart, ink: -1 };
      if (!canvas.width || !canvas.height) return { id: el.dataset.chart, ink: 0, w: canvas.width, h: canvas.height };
      const ctx = canvas.getContext("2d");
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      let ink = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
      return { id: el.dataset.chart, ink, w: canvas.width, h: canvas.height };
    }),
  );
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
      for (const c of charts) assert.ok(c.ink > 200, `chart ${c.id} is blank (${c.ink} inked pixels of ${c.w}x${c.h})`);
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
        assert.equal(Number(text), Math.round(value * 100) / 100, `KPI ${id} as shown: ${text}`);
        assert.ok(await card.isVisible(), `KPI ${id} hidden`);
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

test("flights.html: tables sort, CSV downloads, dark and phone layouts render; screenshot kept", async () => {
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
  for (const opts of [{ colorScheme: "dark" }, { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 }]) {
    const { context, page, errors } = await open("flights.html", opts);
    try {
      assert.deepEqual(errors, []);
      for (const c of await inkPerChart(page)) assert.ok(c.ink > 200, `chart ${c.id} blank with ${JSON.stringify(opts)}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page wider than the screen by ${overflow}px with ${JSON.stringify(opts)}`);
      if (process.env.MC_DASHBOARD_EXTRA_SHOTS) {
        const name = opts.colorScheme ? "dark" : "phone";
        await page.screenshot({ path: path.join(process.env.MC_DASHBOARD_EXTRA_SHOTS, `flights-${name}.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  }
});
