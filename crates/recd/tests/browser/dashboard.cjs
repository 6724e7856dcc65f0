// Drives the built-in dashboard in a real browser (Debian's chromium through playwright-core).
//
//   node dashboard.cjs URL MODEL_VERSION SCREENSHOT [--key KEY | --expect-auth]
//                      [--experiment NAME] [--user ID]
//
// Checks that the page loads under its Content-Security-Policy without console errors, shows
// the served model, the registry, the NDCG chart and live figures computed from two polls of
// /metrics; with --key it first has to ask for the key; with --expect-auth it must ask for one
// and show nothing else. With --experiment, that experiment's report must be shown with a row
// per variant; with --user, looking the user up must show their recent activity and a list
// whose every item has a reason. Prints one JSON line with what it read; exits non-zero on any
// failure.
const { chromium } = require("playwright-core");

async function main() {
  const [url, version, shot, ...rest] = process.argv.slice(2);
  const opt = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
  const flag = rest.includes("--expect-auth") ? "--expect-auth" : rest.includes("--key") ? "--key" : undefined;
  const key = opt("--key"), experiment = opt("--experiment"), user = opt("--user");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("console", (m) => {
      // /readyz answers 503 while the instance starts: the page shows it, it is not a fault.
      if (m.type() === "error" && !/\/readyz/.test(m.location().url || "")) errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    const response = await page.goto(url + "/dashboard");
    if (!response.ok()) throw new Error("GET /dashboard: " + response.status());
    if (flag === "--expect-auth") {
      await page.waitForSelector("#auth", { state: "visible", timeout: 15000 });
      const model = await page.textContent("#model-current");
      if (model !== "–") throw new Error("data shown without a key: " + model);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(JSON.stringify({ auth: "asked" }));
      return;
    }
    if (flag === "--key") {
      await page.waitForSelector("#auth", { state: "visible", timeout: 15000 });
      await page.fill("#key", key);
      await page.click("#auth button");
    }
    await page.waitForFunction((v) => document.getElementById("model-current").textContent === v,
      version, { timeout: 20000 });
    // Rates need two polls (2 s apart).
    await page.waitForFunction(() => /^[0-9.,]+$/.test(document.getElementById("qps").textContent),
      null, { timeout: 20000 });
    if (experiment) {
      await page.waitForFunction((name) => [...document.querySelectorAll("#experiments .exp h3")]
        .some((h) => h.textContent.startsWith(name + " ")), experiment, { timeout: 20000 });
    }
    let looked = null;
    if (user) {
      await page.fill("#lookup-id", user);
      await page.click("#lookup button");
      await page.waitForFunction(() => document.querySelectorAll("#lookup-out table.recs tr").length > 1,
        null, { timeout: 20000 });
      looked = await page.evaluate(() => ({
        items: [...document.querySelectorAll("#lookup-out table.recs tr")].slice(1).map((tr) =>
          ({ item: tr.children[1].textContent, reason: tr.children[4].textContent })),
        activity_rows: document.querySelectorAll("#lookup-out table.activity tr").length - 1,
        summary: document.querySelector("#lookup-out .sub").textContent,
      }));
      if (looked.items.some((i) => !i.reason)) throw new Error("an item without a reason: " + JSON.stringify(looked));
      if (looked.activity_rows < 1) throw new Error("no recent activity shown: " + JSON.stringify(looked));
    }
    const read = await page.evaluate((experiment) => ({
      status: document.getElementById("status").textContent,
      qps: document.getElementById("qps").textContent,
      p99: document.getElementById("p99").textContent,
      full: document.getElementById("full").textContent,
      model: document.getElementById("model-current").textContent,
      model_rows: document.querySelectorAll("#models tr").length - 1,
      dependency_rows: document.querySelectorAll("#deps tr").length - 1,
      auth_visible: getComputedStyle(document.getElementById("auth")).display !== "none",
      ndcg_points: document.querySelectorAll("#ndcg-chart circle").length,
      experiment_rows: experiment ? [...document.querySelectorAll("#experiments .exp")]
        .filter((d) => d.querySelector("h3").textContent.startsWith(experiment + " "))
        .map((d) => d.querySelectorAll("table tr").length - 1)[0] : null,
      forest_points: document.querySelectorAll("#experiments svg.forest circle").length,
    }), experiment);
    read.lookup = looked;
    await page.screenshot({ path: shot, fullPage: true });
    if (read.model_rows < 1) throw new Error("no model versions listed: " + JSON.stringify(read));
    if (read.dependency_rows < 1) throw new Error("no dependencies listed: " + JSON.stringify(read));
    if (read.auth_visible) throw new Error("still asking for a key: " + JSON.stringify(read));
    if (read.ndcg_points < 1) throw new Error("the NDCG chart has no point: " + JSON.stringify(read));
    if (experiment && !(read.experiment_rows >= 2)) throw new Error("the experiment's variants are not listed: " + JSON.stringify(read));
    if (experiment && read.forest_points < 1) throw new Error("no CTR difference plotted: " + JSON.stringify(read));
    // Before the key is entered, the page's first reads are refused: the browser logs those.
    const unexpected = errors.filter((e) => !(flag === "--key" && /status of 40[13]/.test(e)));
    if (unexpected.length) throw new Error("console errors: " + unexpected.join(" | "));
    console.log(JSON.stringify(read));
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
