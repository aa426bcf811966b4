// The chunk-load timing panel: what serving the last plane cost, running p50/p95, and a chart.

import { FpsMeter, percentile } from "./stats.js";

const KEEP = 200;
// The latency hint judges transport: each round trip minus the explorer's own work (kernel read
// + send, browser draw). The delayed-ACK stall adds ~40 ms to most replies, so it lifts the bulk
// of transport, not only the median and the tail as a busy host does. Measured on a loaded 2-core
// machine, 128x128 planes, 60 moves: without the fix the lowest tenth of round trips was 51-53 ms
// in Voila and JupyterLab (yet a few replies escaped, down to 22 ms), with it 15-27 ms; p50
// 57-62 ms against 20 (Voila) and 37 ms (Lab). So the hint takes the lower quartile of transport
// over the last HINT_WINDOW round trips (a few escaped replies do not hide it), shows above 40
// ms and hides only below 30 ms, so a value near the threshold does not make it flicker. A host
// that is slow throughout (JupyterLab with 512x512 planes on that machine: 40-44 ms at the
// lowest tenth, fix or not) still shows it; the text says how to tell.
const HINT_WINDOW = 20;
const HINT_QUANTILE = 25;
const HINT_SHOW_MS = 40;
const HINT_HIDE_MS = 30;
export const LATENCY_HINT =
  "The server is probably paying the ~40 ms delayed-ACK stall on its kernel websocket. " +
  "pip install si-explorer in the Jupyter server's environment enables the fix (then restart " +
  "the server); or run `jupyter server extension enable si_explorer.explorer.nodelay` and " +
  "restart it. If the fix is on already (the server log says \"si-explorer: TCP_NODELAY " +
  "enabled\"), the host's own messaging, the network or a busy machine is the cause.";
// marimo's own server carries widget messages; the Jupyter fix cannot apply there, so the
// advice above would send the user after a setting that does not exist.
export const MARIMO_LATENCY_HINT =
  "marimo's server adds this between the kernel and the page; si-explorer's TCP_NODELAY fix " +
  "is for Jupyter servers and does not apply here. JupyterLab or Voila answer faster.";

/** Whether `node` sits inside marimo's widget elements (through any shadow roots). @param {Node} node */
function inMarimo(node) {
  /** @type {Node | null} */
  let n = node;
  while (n) {
    if (n instanceof Element && n.tagName.startsWith("MARIMO-")) return true;
    n = n.parentNode ?? (n instanceof ShadowRoot ? n.host : null);
  }
  return false;
}

/** @param {number} n */
function bytes(n) {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${n} B`;
}

/** @param {number | null | undefined} v */
function ms(v) {
  return v == null ? "–" : `${v.toFixed(1)}`;
}

export class TimingPanel {
  /**
   * @param {HTMLElement} root  the panel (its dataset carries machine-readable figures)
   * @param {HTMLElement} text
   * @param {HTMLCanvasElement} chart
   */
  constructor(root, text, chart) {
    this.root = root;
    this.text = text;
    this.chart = chart;
    /** @type {{total: number, hit: boolean, own: number}[]} */
    this.recent = [];
    this.fps = new FpsMeter();
    // Created here rather than in dom.js so the panel owns everything it shows.
    this.hint = document.createElement("div");
    this.hint.className = "six-hint";
    this.hint.dataset.role = "latency-hint";
    this.hint.hidden = true;
    text.after(this.hint);
  }

  /**
   * Record one drawn plane.
   * @param {import("./types.js").PlaneTiming} t  Python's side of the cost
   * @param {number | null} totalMs  request sent -> drawn (null for planes asked from Python)
   * @param {number} drawMs  decode + colour + paint in the browser
   * @param {string} where  "field F · time T · z Z"
   */
  record(t, totalMs, drawMs, where) {
    const now = performance.now();
    this.fps.tick(now);
    if (totalMs != null) {
      this.recent.push({ total: totalMs, hit: t.cache === "hit", own: (t.server_ms || 0) + drawMs });
      if (this.recent.length > KEEP) this.recent.shift();
      this.updateHint();
    }
    const totals = this.recent.map((r) => r.total);
    const p50 = percentile(totals, 50);
    const p95 = percentile(totals, 95);
    const blocks = t.blocks.length ? t.blocks.map((b) => `(${b.join(",")})`).join(" ") : "none";
    this.text.textContent =
      `${where}: cache ${t.cache} · blocks read ${blocks} · ${bytes(t.bytes)}\n` +
      `read ${ms(t.read_ms)} ms · kernel ${ms(t.server_ms)} ms · draw ${ms(drawMs)} ms · ` +
      `round trip ${ms(totalMs)} ms\n` +
      `round trip p50 ${ms(p50)} / p95 ${ms(p95)} ms · reads p50 ${ms(t.read_p50)} / p95 ${ms(t.read_p95)} ms\n` +
      `hits ${t.hit_rate == null ? "–" : Math.round(t.hit_rate * 100)}% · ${this.fps.fps(now)} planes/s · ` +
      `cache holds ${bytes(t.cache_bytes)}`;
    this.root.dataset.lastTotalMs = totalMs == null ? "" : totalMs.toFixed(2);
    this.root.dataset.lastDrawMs = drawMs.toFixed(2);
    this.root.dataset.p50 = p50 == null ? "" : p50.toFixed(2);
    this.root.dataset.p95 = p95 == null ? "" : p95.toFixed(2);
    this.root.dataset.cache = t.cache;
    this.root.dataset.serverMs = String(t.server_ms);
    this.root.dataset.readMs = String(t.read_ms);
    this.drawChart(p50);
  }

  /**
   * Show the latency hint when recent round trips stay far above the explorer's own work: what
   * is left is transport (server, websocket, network), which the explorer cannot shrink itself.
   */
  updateHint() {
    const last = this.recent.slice(-HINT_WINDOW);
    if (last.length < HINT_WINDOW) return;
    const floor = /** @type {number} */ (percentile(last.map((r) => r.total - r.own), HINT_QUANTILE));
    this.root.dataset.transportMs = floor.toFixed(2);
    if (floor > HINT_SHOW_MS) this.hint.hidden = false;
    else if (floor < HINT_HIDE_MS) this.hint.hidden = true;
    if (!this.hint.hidden) {
      const total = /** @type {number} */ (percentile(last.map((r) => r.total), 50));
      const own = /** @type {number} */ (percentile(last.map((r) => r.own), 50));
      this.hint.textContent =
        `Most round trips spend over ${floor.toFixed(0)} ms between kernel and page ` +
        `(last ${HINT_WINDOW}: p50 ${total.toFixed(0)} ms, of which this explorer's own work, ` +
        `kernel read + send + draw, is ${own.toFixed(1)} ms). ` +
        (inMarimo(this.root) ? MARIMO_LATENCY_HINT : LATENCY_HINT);
    }
  }

  /** Recent round trips as bars, newest on the right. @param {number | null} p50 */
  drawChart(p50) {
    const c = this.chart;
    const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
    ctx.clearRect(0, 0, c.width, c.height);
    const items = this.recent.slice(-Math.floor(c.width / 3));
    // Scaled to the bulk of the loads, not the slowest: one cold start or a multi-second read
    // would otherwise flatten every other bar for the next 200 planes. Taller bars are cut
    // off and capped in dark red.
    const p95 = percentile(items.map((r) => r.total), 95) ?? 0;
    const top = niceCeil(Math.max(20, p95 * 1.25));
    const room = c.height - 12;
    items.forEach((r, i) => {
      const over = r.total > top;
      const hgt = Math.max(1, (Math.min(r.total, top) / top) * room);
      ctx.fillStyle = r.hit ? "#74c476" : "#fd8d3c";
      ctx.fillRect(i * 3, c.height - hgt, 2, hgt);
      if (over) {
        ctx.fillStyle = "#a50f15";
        ctx.fillRect(i * 3, c.height - room, 2, 3);
      }
    });
    if (p50 != null && items.length) {
      const y = c.height - (Math.min(p50, top) / top) * room;
      ctx.strokeStyle = "#555";
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(c.width, y);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.fillStyle = "#666";
    ctx.font = "9px sans-serif";
    ctx.fillText(`round trips, top = ${top} ms · dashed p50 · green hit, orange read, red cut off`, 2, 9);
    this.root.dataset.chartTop = String(top);
  }
}

/** The next 1, 2 or 5 times a power of ten at or above `v`. @param {number} v */
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
