// The histogram of the image on screen (a frame or a summary image), with log-scaled counts and
// the contrast window drawn as two handles that can be dragged: the picture and the min/max
// boxes follow the drag at once, and Python is told on release.
//
// Computed here from the pixels already decoded rather than in Python and sent with every
// plane: nothing is added to the message, the kernel or the draw. It runs after the plane is
// drawn (an animation frame, so a slider move never waits for it), and while planes keep coming
// (play, a fast drag) at most every COMPUTE_MS, always ending with the last plane's. 16- and
// 8-bit images are counted in one pass per value (no separate pass for the range). Measured in
// headless Chromium on a busy 2-core machine, 512 x 512: int16 about 1 ms (5 ms as a min/max
// pass then binning), float32 (summaries, bidi-corrected planes) 4-6 ms; the plane's own
// colour lookup takes 3-5 ms.

/** Most bins drawn; integer images with a narrower range get one bin per value. */
export const BINS = 128;
/** Least time between two histograms while the image keeps changing. */
export const COMPUTE_MS = 150;
/** Pointer distance (canvas pixels) at which the cursor shows a handle can be grabbed. */
const GRAB_PX = 8;
const BAR = "#6b6b6b";
const WINDOW_FILL = "rgba(122, 167, 224, 0.22)";
const HANDLE = "#1f5fbf";

/** @param {number} v */
function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Number(v.toPrecision(4)).toString();
}

export class Histogram {
  /**
   * @param {HTMLElement} root  the panel (data-role="histogram")
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} text  the range and count line under it
   * @param {(vmin: number, vmax: number, done: boolean) => void} onWindow  a handle moved
   *   (`done` on release)
   */
  constructor(root, canvas, text, onWindow) {
    this.root = root;
    this.canvas = canvas;
    this.text = text;
    this.onWindow = onWindow;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    /** @type {ArrayLike<number> | null} */
    this.data = null;
    this.stale = false;
    /** @type {Uint32Array | null} */
    this.counts = null;
    this.lo = 0;
    this.hi = 1; // the axis runs [lo, hi): integer value v covers [v, v + 1)
    this.integer = true;
    this.vmin = 0;
    this.vmax = 1;
    /** @type {"min" | "max" | null} */
    this.drag = null;
    this.frame = 0;
    this.computedAt = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** Per-value counts of 16-bit images, reused. @type {Uint32Array | null} */
    this.dense = null;
    /** @type {[string, EventListener][]} */
    this.listeners = [
      ["pointerdown", (e) => this.down(/** @type {PointerEvent} */ (e))],
      ["pointermove", (e) => this.move(/** @type {PointerEvent} */ (e))],
      ["pointerup", (e) => this.up(/** @type {PointerEvent} */ (e))],
      ["pointercancel", (e) => this.up(/** @type {PointerEvent} */ (e))],
    ];
    for (const [name, fn] of this.listeners) canvas.addEventListener(name, fn);
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.timer) clearTimeout(this.timer);
    for (const [name, fn] of this.listeners) this.canvas.removeEventListener(name, fn);
  }

  /**
   * The view drew `data` through the window [vmin, vmax].
   * @param {ArrayLike<number>} data @param {number} vmin @param {number} vmax
   */
  update(data, vmin, vmax) {
    if (data !== this.data) {
      this.data = data;
      this.stale = true;
    }
    if (!this.drag) {
      this.vmin = vmin;
      this.vmax = vmax;
    }
    this.schedule();
  }

  schedule() {
    if (this.frame || this.timer) return;
    const wait = this.stale ? this.computedAt + COMPUTE_MS - performance.now() : 0;
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.stale) {
        this.computedAt = performance.now();
        this.compute();
      }
      this.draw();
    });
  }

  compute() {
    this.stale = false;
    const data = this.data;
    if (!data) return;
    this.integer = !(data instanceof Float32Array || data instanceof Float64Array);
    if (data instanceof Int16Array || data instanceof Uint16Array || data instanceof Int8Array || data instanceof Uint8Array) {
      this.countValues(data);
      return;
    }
    const n = data.length;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = data[i];
      // NaN (a summary of no frames yet) fails both comparisons: left out.
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(lo <= hi)) {
      this.counts = null;
      this.root.dataset.count = "0";
      return;
    }
    const axisHi = this.integer ? hi + 1 : hi > lo ? hi : lo + 1;
    const bins = this.integer ? Math.min(BINS, axisHi - lo) : BINS;
    const counts = new Uint32Array(bins);
    const scale = bins / (axisHi - lo);
    let finite = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!(v >= lo && v <= hi)) continue;
      let b = ((v - lo) * scale) | 0;
      if (b >= bins) b = bins - 1;
      counts[b]++;
      finite++;
    }
    this.finish(counts, lo, hi, axisHi, finite);
  }

  /**
   * One pass over an 8- or 16-bit image counting each value; the range and the bins follow
   * from the counts.
   * @param {Int16Array | Uint16Array | Int8Array | Uint8Array} data
   */
  countValues(data) {
    const signed = data instanceof Int16Array || data instanceof Int8Array;
    const size = data instanceof Int16Array || data instanceof Uint16Array ? 65536 : 256;
    const offset = signed ? size / 2 : 0;
    const dense = this.dense && this.dense.length === size ? this.dense.fill(0) : (this.dense = new Uint32Array(size));
    const n = data.length;
    for (let i = 0; i < n; i++) dense[data[i] + offset]++;
    let first = 0;
    while (first < size && !dense[first]) first++;
    if (first === size) {
      this.counts = null;
      this.root.dataset.count = "0";
      return;
    }
    let last = size - 1;
    while (!dense[last]) last--;
    const lo = first - offset, hi = last - offset;
    const bins = Math.min(BINS, last - first + 1);
    const counts = new Uint32Array(bins);
    const scale = bins / (last - first + 1);
    for (let v = first; v <= last; v++) counts[((v - first) * scale) | 0] += dense[v];
    this.finish(counts, lo, hi, hi + 1, n);
  }

  /**
   * @param {Uint32Array} counts @param {number} lo @param {number} hi  the image's range
   * @param {number} axisHi  where the axis ends @param {number} finite  pixels counted
   */
  finish(counts, lo, hi, axisHi, finite) {
    this.counts = counts;
    this.lo = lo;
    this.hi = axisHi;
    Object.assign(this.root.dataset, { bins: String(counts.length), lo: String(lo), hi: String(hi), count: String(finite) });
    this.text.textContent = `${fmt(lo)} … ${fmt(hi)} · ${finite.toLocaleString("en-US")} pixels · log counts`;
  }

  /** @param {number} v */
  x(v) {
    return ((v - this.lo) / (this.hi - this.lo)) * this.canvas.width;
  }

  /** The value at canvas x, on the image's own grid (whole numbers for integer images). @param {number} x */
  value(x) {
    const v = this.lo + (Math.min(this.canvas.width, Math.max(0, x)) / this.canvas.width) * (this.hi - this.lo);
    if (this.integer) return Math.round(v);
    return Number(v.toPrecision(5));
  }

  /** Where the handles are drawn: at the window's ends, or at the edge past the image's range. @returns {[number, number]} */
  handleXs() {
    const W = this.canvas.width;
    return [Math.max(0, Math.min(W, this.x(this.vmin))), Math.max(0, Math.min(W, this.x(this.vmax)))];
  }

  draw() {
    const { ctx, canvas, counts } = this;
    const W = canvas.width;
    const H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    if (!counts) {
      this.text.textContent = "no pixel values yet";
      return;
    }
    const [x0, x1] = this.handleXs();
    ctx.fillStyle = WINDOW_FILL;
    ctx.fillRect(x0, 0, x1 - x0, H);
    let peak = 0;
    for (const c of counts) if (c > peak) peak = c;
    const top = 4;
    const logPeak = Math.log1p(peak) || 1;
    const bw = W / counts.length;
    ctx.fillStyle = BAR;
    for (let b = 0; b < counts.length; b++) {
      if (!counts[b]) continue;
      const h = (Math.log1p(counts[b]) / logPeak) * (H - top);
      ctx.fillRect(b * bw, H - h, Math.max(1, bw - (bw > 3 ? 1 : 0)), h);
    }
    // Handles: a line and a grip; outside the image's range they wait at the edge.
    ctx.strokeStyle = ctx.fillStyle = HANDLE;
    ctx.lineWidth = 2;
    for (const [x, dir] of /** @type {[number, number][]} */ ([[x0, 1], [x1, -1]])) {
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, H);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x, H);
      ctx.lineTo(x + 7 * dir, H);
      ctx.lineTo(x, H - 10);
      ctx.closePath();
      ctx.fill();
    }
    this.root.dataset.peak = String(peak);
  }

  /** @param {PointerEvent} e @returns {number} canvas x */
  canvasX(e) {
    const r = this.canvas.getBoundingClientRect();
    return ((e.clientX - r.left) / (r.width || 1)) * this.canvas.width;
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (!this.counts || e.button !== 0) return;
    e.preventDefault();
    const x = this.canvasX(e);
    const [xMin, xMax] = this.handleXs();
    const dMin = Math.abs(x - xMin);
    const dMax = Math.abs(x - xMax);
    // The nearer handle follows the pointer (grabbed, or jumping to where it was pressed).
    this.drag = dMin < dMax ? "min" : dMax < dMin ? "max" : x < xMin ? "min" : "max";
    this.canvas.setPointerCapture?.(e.pointerId);
    this.move(e);
  }

  /** @param {PointerEvent} e */
  move(e) {
    const x = this.canvasX(e);
    const near = this.counts && this.handleXs().some((h) => Math.abs(x - h) <= GRAB_PX);
    this.canvas.style.cursor = this.drag || near ? "ew-resize" : "pointer";
    if (!this.drag) return;
    const v = this.value(x);
    const step = this.integer ? 1 : (this.hi - this.lo) / 1000;
    if (this.drag === "min") this.vmin = Math.min(v, this.vmax - step);
    else this.vmax = Math.max(v, this.vmin + step);
    this.draw();
    this.onWindow(this.vmin, this.vmax, false);
  }

  /** @param {PointerEvent} e */
  up(e) {
    if (!this.drag) return;
    this.drag = null;
    this.canvas.releasePointerCapture?.(e.pointerId);
    this.onWindow(this.vmin, this.vmax, true);
  }
}
