// The chunk-load timing panel: what serving the last plane cost, running p50/p95, and a chart.

import { FpsMeter, percentile } from "./stats.js";

const KEEP = 200;

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
    /** @type {{total: number, hit: boolean}[]} */
    this.recent = [];
    this.fps = new FpsMeter();
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
      this.recent.push({ total: totalMs, hit: t.cache === "hit" });
      if (this.recent.length > KEEP) this.recent.shift();
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
