// The trace picture of hosts without ipympl. The picture has no time marker of its own: it is
// drawn here, so it follows the slider at once. Python sends where the axes sit in the picture
// and how time maps to the x axis (trace_axes).

export class TraceImage {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   * @param {() => number} parts.timeShown  the time slider's position
   */
  constructor({ model, dom, listeners, send, timeShown }) {
    this.model = model;
    this.dom = dom;
    this.timeShown = timeShown;
    /** @type {string | null} */
    this.url = null;
    listeners.onModel("change:trace_png", () => this.sync());
    listeners.onModel("change:trace_axes", () => this.placeMarker());
    listeners.onDom(dom.traceImage, "click", (/** @type {MouseEvent} */ e) => {
      // Map the click through the axes' position inside the picture to an axis value; Python
      // maps that value to the nearest time point (frames or seconds, as the axis shows).
      const g = this.geometry();
      if (!g || !g.box || !g.xlim) return;
      const [left, right] = g.box;
      const r = dom.traceImage.getBoundingClientRect();
      const frac = ((e.clientX - r.left) / r.width - left) / (right - left);
      if (!(frac >= 0 && frac <= 1)) return;
      send({ type: "trace_click", x: g.xlim[0] + frac * (g.xlim[1] - g.xlim[0]) });
    });
  }

  /** @returns {import("./types.js").TraceGeometry | null} */
  geometry() {
    return this.model.get("trace_axes") || null;
  }

  sync() {
    const { dom, model } = this;
    const png = model.get("trace_png");
    const show = model.get("trace_mode") === "image" && png && png.byteLength > 0;
    dom.traceBox.hidden = !show;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    if (show) {
      const bytes = new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
      this.url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      dom.traceImage.src = this.url;
    }
    this.placeMarker();
  }

  /** Axis value (seconds or frames) of time index `t`, interpolated between knots. @param {number} t */
  axisValue(t) {
    const g = this.geometry();
    if (!g || !g.t || g.t.length === 0) return null;
    let i = 0;
    while (i < g.t.length - 2 && g.t[i + 1] < t) i++;
    if (g.t.length === 1) return g.x[0];
    const f = (t - g.t[i]) / Math.max(1e-12, g.t[i + 1] - g.t[i]);
    return g.x[i] + f * (g.x[i + 1] - g.x[i]);
  }

  placeMarker() {
    const marker = this.dom.traceMarker;
    const time = this.timeShown();
    const g = this.geometry();
    const x = this.axisValue(time);
    const ok = g && g.box && g.box.length === 4 && g.xlim && x !== null && g.xlim[1] !== g.xlim[0];
    marker.hidden = !ok;
    if (!ok || !g) return;
    const [left, right, top, bottom] = g.box;
    const frac = (/** @type {number} */ (x) - g.xlim[0]) / (g.xlim[1] - g.xlim[0]);
    marker.style.left = `${(left + Math.min(1, Math.max(0, frac)) * (right - left)) * 100}%`;
    marker.style.top = `${top * 100}%`;
    marker.style.height = `${(bottom - top) * 100}%`;
    marker.dataset.time = String(time);
  }

  destroy() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}
