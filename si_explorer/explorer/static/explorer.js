// src/chunkmap.js
var CHUNK_STATES = ["never", "read", "cached", "reading"];
var [READ, CACHED, READING] = [CHUNK_STATES.indexOf("read"), CHUNK_STATES.indexOf("cached"), CHUNK_STATES.indexOf("reading")];
var LOOK = {
  never: { color: "#eeeeee", name: "not read" },
  read: { color: "#9ecae1", name: "read, evicted" },
  cached: { color: "#3182bd", name: "cached" },
  reading: { color: "#e6550d", name: "being read" }
};
var COLORS = CHUNK_STATES.map((s) => LOOK[s].color);
var GAP_COLOR = "#d62728";
var ChunkMap = class {
  /**
   * @param {HTMLElement} root
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} legend
   * @param {HTMLElement} text
   */
  constructor(root, canvas, legend, text) {
    this.root = root;
    this.canvas = canvas;
    this.text = text;
    this.grid = new Uint8Array(0);
    this.rows = 0;
    this.cols = 0;
    this.bin = 1;
    this.gaps = [];
    this.current = null;
    legend.replaceChildren();
    for (const state of CHUNK_STATES) {
      const sw = document.createElement("span");
      sw.style.background = LOOK[state].color;
      legend.append(sw, LOOK[state].name);
    }
    const gap = document.createElement("span");
    gap.style.background = "transparent";
    gap.style.outline = `2px dashed ${GAP_COLOR}`;
    gap.style.outlineOffset = "-2px";
    this.gapKey = document.createElement("span");
    this.gapKey.dataset.role = "chunk-gap-key";
    this.gapKey.className = "six-gap-key";
    this.gapKey.append(gap, "after dropped frames");
    this.gapKey.hidden = true;
    legend.append(this.gapKey);
  }
  /**
   * Replace the grid (rows = z blocks, cols = time blocks binned by `bin`).
   * `gaps`: columns whose time blocks hold a time point right after dropped frames.
   * @param {DataView} buffer @param {number} rows @param {number} cols @param {number} bin @param {number[]} [gaps]
   */
  setGrid(buffer, rows, cols, bin, gaps = []) {
    this.gaps = gaps.filter((c) => c >= 0 && c < cols);
    this.gapKey.hidden = this.gaps.length === 0;
    this.grid = new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + rows * cols));
    this.rows = rows;
    this.cols = cols;
    this.bin = bin;
  }
  /** Mark a block as being read (sent by Python just before the read). @param {number} tb @param {number} zb */
  markReading(tb, zb) {
    const col = Math.floor(tb / this.bin);
    if (zb < this.rows && col < this.cols) this.grid[zb * this.cols + col] = READING;
    this.draw();
  }
  /** @param {number} tb @param {number} zb */
  setCurrent(tb, zb) {
    this.current = [tb, zb];
    this.draw();
  }
  draw() {
    const c = this.canvas;
    const ctx = (
      /** @type {CanvasRenderingContext2D} */
      c.getContext("2d")
    );
    ctx.clearRect(0, 0, c.width, c.height);
    if (!this.rows || !this.cols) return;
    const cw = c.width / this.cols;
    const ch = c.height / this.rows;
    const counts = CHUNK_STATES.map(() => 0);
    for (let r = 0; r < this.rows; r++) {
      for (let k = 0; k < this.cols; k++) {
        const s = this.grid[r * this.cols + k];
        counts[s]++;
        ctx.fillStyle = COLORS[s];
        ctx.fillRect(k * cw, r * ch, Math.max(cw - (cw > 3 ? 1 : 0), 1), Math.max(ch - (ch > 3 ? 1 : 0), 1));
      }
    }
    if (this.gaps.length) {
      ctx.strokeStyle = GAP_COLOR;
      ctx.lineWidth = 2;
      ctx.setLineDash([3, 2]);
      for (const k of this.gaps) ctx.strokeRect(k * cw + 1, 1, Math.max(cw - 2, 1), c.height - 2);
      ctx.setLineDash([]);
    }
    if (this.current) {
      const [tb, zb] = this.current;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(Math.floor(tb / this.bin) * cw, zb * ch, Math.max(cw, 2), Math.max(ch, 2));
    }
    const binText = this.bin > 1 ? ` (${this.bin} time blocks per column)` : "";
    this.text.textContent = `${this.cols} \xD7 ${this.rows} chunks${binText} \xB7 cached ${counts[CACHED]} \xB7 read ${counts[READ]} \xB7 reading ${counts[READING]}` + (this.gaps.length ? ` \xB7 ${this.gaps.length} after dropped frames` : "");
    this.root.dataset.gaps = this.gaps.join(",");
    this.root.dataset.cached = String(counts[CACHED]);
    this.root.dataset.reading = String(counts[READING]);
  }
};

// src/protocol.js
var BIDI_MODES = (
  /** @type {const} */
  ["off", "auto", "auto-x", "manual"]
);
var BACKENDS = (
  /** @type {const} */
  ["pread", "mmap", "tifffile"]
);
var VIEWS = (
  /** @type {const} */
  ["frame", "mean", "max", "std", "correlation"]
);

// src/style.js
var CSS = `
.six-root { font: 12px/1.4 system-ui, sans-serif; color: #222; display: inline-flex;
  flex-flow: row wrap; align-items: flex-start; gap: 12px; padding: 6px; outline: none;
  max-width: 100%; box-sizing: border-box; }
.six-root *, .six-root *::before, .six-root *::after { box-sizing: border-box; }
.six-root [hidden] { display: none !important; }
.six-root:focus-visible { box-shadow: 0 0 0 2px #7aa7e0; }
.six-main { display: flex; flex-direction: column; gap: 6px; width: 460px; max-width: 100%; }
.six-side { display: flex; flex-direction: column; gap: 4px; }
.six-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.six-row label { display: inline-flex; align-items: center; gap: 4px; }
.six-root button, .six-root input, .six-root select { font: inherit; color: #222; margin: 0;
  border: 1px solid #aaa; border-radius: 3px; background: #fff; padding: 1px 4px; height: 22px;
  min-width: 0; }
.six-root button { background: #f3f3f3; padding: 1px 8px; cursor: pointer; }
.six-root button:hover { background: #e6e6e6; }
.six-root input[type=range] { border: none; padding: 0; background: transparent; height: 16px; }
.six-root button.six-active { background: #dbe8fb; border-color: #7aa7e0; }
.six-slider { display: grid; grid-template-columns: 3em minmax(0, 1fr) 5em; align-items: center;
  gap: 6px; }
.six-slider input[type=range] { width: 100%; }
.six-num { width: 5em; }
.six-root input[data-role=vmin], .six-root input[data-role=vmax] { width: 6.5em; }
.six-slider .six-num { width: 100%; }
.six-stage { position: relative; background: #111; overflow: hidden; cursor: crosshair;
  touch-action: none; user-select: none; }
.six-stage canvas { position: absolute; left: 0; top: 0; }
.six-plane { image-rendering: pixelated; }
.six-overlay { pointer-events: none; }
.six-stage.six-panning { cursor: grab; }
.six-status { font-weight: 600; }
.six-cursor { min-height: 16px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.six-dim { color: #666; }
.six-error { background: #fde2e1; color: #8a1f11; border: 1px solid #e8a39b; padding: 3px 6px;
  border-radius: 3px; cursor: pointer; }
.six-panel { border: 1px solid #ddd; border-radius: 4px; padding: 4px 6px; background: #fafafa; }
.six-panel h4 { margin: 0 0 2px 0; font-size: 11px; text-transform: uppercase; color: #666; }
.six-panel canvas { display: block; max-width: 100%; }
.six-mono { font-family: ui-monospace, monospace; font-size: 11px; white-space: pre-wrap; }
.six-hint { background: #fff4ce; color: #5c4400; border: 1px solid #e6cf7a; border-radius: 3px;
  padding: 3px 6px; margin: 3px 0; font-size: 11px; }
.six-legend span { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px;
  vertical-align: middle; border: 1px solid #999; }
.six-legend span.six-gap-key { display: inline; width: auto; height: auto; margin: 0; border: none; }
.six-legend span.six-gap-key span { margin-left: 8px; }
.six-trace { position: relative; display: inline-block; line-height: 0; }
.six-trace-img { display: block; width: 442px; max-width: 100%; cursor: pointer; }
.six-trace-marker { position: absolute; width: 0; border-left: 1.5px solid #d62728;
  pointer-events: none; }
.six-stage[data-pending="1"] .six-plane { opacity: 0.35; }
.six-histogram canvas { width: 100%; height: 56px; cursor: pointer; touch-action: none; }
.six-roi-svg { display: block; width: 100%; height: 130px; }
.six-roi-svg rect { fill: rgba(122, 167, 224, 0.12); stroke: #6a8fc0; stroke-width: 1.5px;
  cursor: pointer; }
.six-roi-svg rect:hover { fill: rgba(122, 167, 224, 0.3); }
.six-roi-svg rect.six-current { fill: rgba(31, 95, 191, 0.45); stroke: #1f5fbf; stroke-width: 2.5px; }
.six-roi-svg text { fill: #333; pointer-events: none; font-family: system-ui, sans-serif; }
.six-metadata summary { cursor: pointer; font-size: 11px; text-transform: uppercase; color: #666; }
.six-metadata input[type=search] { flex: 1 1 auto; }
.six-meta-scroll { max-height: 320px; overflow: auto; margin-top: 4px; }
.six-meta-section h5 { margin: 6px 0 2px 0; font-size: 11px; color: #666; }
.six-meta-row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 6px;
  font-family: ui-monospace, monospace; font-size: 11px; border-top: 1px solid #eee; }
.six-meta-key { overflow-wrap: anywhere; }
.six-meta-value { overflow-wrap: anywhere; color: #333; }
`;

// src/colormaps.js
var COLORMAP_NAMES = ["gray", "viridis", "magma", "inferno", "plasma", "cividis"];
var COLORMAP_STOPS = {
  viridis: "440154470d6048186a482374472e7c4538824241863e4a893a548c365d8d32658e2e6d8e2b758e287d8e25848e228c8d1f948c1e9c8920a38625ab822eb37c3aba7648c16e58c7656ccd5a7fd34e93d741a8db34c0df25d5e21aeae51afde725",
  magma: "0000040303120a0822130d341e11492a115c38106c45107754137d6018806d1d81792282882781942c80a1307eae347bbd3977ca3e72d6456ce24d66ec5860f3655cf8745cfb835ffd9467fea36ffeb27afec185fed194fde0a1fceeb0fcfdbf",
  inferno: "0000040403120b0724150b37230c4c310a5c3e09664c0c6b5a116e67166e741a6e801f6c8f24699b2964a82e5fb43359c13a50cc4248d74b3fe05536e9612bef6e21f57b17f8890cfb9906fca80dfbb81df9c72ff5d949f2e865f3f586fcffa4",
  plasma: "0d08872206903105973f049c4e02a25b01a56700a87401a88104a78d0ba59814a0a21d9aad2793b6308bbf3984c7427ccf4c74d6556ddd5e66e3685fe97257ef7c51f3874af79143fa9e3bfca934fdb52efdc229fcd025f9dd25f5eb27f0f921",
  cividis: "00224e00285b002e6a0533711c396f293f6e33446d3c4a6c45506c4d556c555b6d5c616e6467706b6d72727274787877807f78888578908b78979177a09875a89e73b0a571b9ab6dc2b369cbb965d3c05fdcc859e6d051efd748f8df3cfee838"
};

// src/lut.js
var cache = /* @__PURE__ */ new Map();
function lut(name) {
  const hit = cache.get(name);
  if (hit) return hit;
  const table = new Uint32Array(256);
  const stops = COLORMAP_STOPS[name];
  for (let i = 0; i < 256; i++) {
    let r = i, g = i, b = i;
    if (stops) {
      const n = stops.length / 6;
      const pos = i / 255 * (n - 1);
      const k = Math.min(n - 2, Math.floor(pos));
      const f = pos - k;
      const chan = (s, c) => parseInt(stops.slice(s * 6 + c * 2, s * 6 + c * 2 + 2), 16);
      r = Math.round(chan(k, 0) * (1 - f) + chan(k + 1, 0) * f);
      g = Math.round(chan(k, 1) * (1 - f) + chan(k + 1, 1) * f);
      b = Math.round(chan(k, 2) * (1 - f) + chan(k + 1, 2) * f);
    }
    table[i] = (255 << 24 | b << 16 | g << 8 | r) >>> 0;
  }
  cache.set(name, table);
  return table;
}
function applyLut(data, out, vmin, vmax, table) {
  const scale = 255 / Math.max(vmax - vmin, 1e-12);
  const n = data.length;
  for (let i = 0; i < n; i++) {
    let v = (data[i] - vmin) * scale;
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    out[i] = table[v | 0];
  }
}
var TYPED = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array
};
function typedPlane(buffer, dtype, count2) {
  const Ctor = TYPED[dtype];
  if (!Ctor) throw new Error(`unsupported pixel type ${dtype}`);
  const dv = buffer instanceof DataView ? buffer : new DataView(buffer);
  const size = (
    /** @type {any} */
    Ctor.BYTES_PER_ELEMENT
  );
  if (dv.byteLength < count2 * size) {
    throw new Error(`plane buffer holds ${dv.byteLength} bytes, expected ${count2 * size}`);
  }
  if (dv.byteOffset % size === 0) return new Ctor(
    /** @type {ArrayBuffer} */
    dv.buffer,
    dv.byteOffset,
    count2
  );
  const copy = dv.buffer.slice(dv.byteOffset, dv.byteOffset + count2 * size);
  return new Ctor(
    /** @type {ArrayBuffer} */
    copy,
    0,
    count2
  );
}

// src/views.js
var VIEW_LABELS = { frame: "frame", mean: "mean", max: "max", std: "std", correlation: "local correlation" };
var count = (n) => n.toLocaleString("en-US");
var Views = class {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {import("./planeview.js").PlaneView} parts.view
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   * @param {() => {field: number, time: number, z: number}} parts.position  the sliders'
   * @param {() => void} parts.requestFrame  ask for the plane at the sliders' position
   * @param {(vmin: number, vmax: number) => void} parts.showWindow  the min/max boxes show it
   */
  constructor({ model, dom, listeners, view, send, position, requestFrame, showWindow }) {
    this.model = model;
    this.dom = dom;
    this.view = view;
    this.send = send;
    this.position = position;
    this.requestFrame = requestFrame;
    this.showWindow = showWindow;
    this.mode = "frame";
    this.frameWindow = null;
    listeners.onDom(dom.viewSelect, "change", () => this.choose(
      /** @type {View} */
      dom.viewSelect.value
    ));
    listeners.onModel("change:view", () => {
      const v = (
        /** @type {View} */
        model.get("view")
      );
      if (VIEWS.includes(v) && v !== this.mode) this.enter(v);
    });
  }
  /** The frame view is shown: planes are drawn as they arrive. */
  showsFrames() {
    return this.mode === "frame";
  }
  /** The user chose `v` in the selector: show it, and tell Python. @param {View} v */
  choose(v) {
    if (v === this.mode) return;
    this.enter(v);
    this.send({ type: "view", view: v });
    if (v === "frame") this.requestFrame();
  }
  /** After render(): a summary view already chosen (in another front end, or from Python) is asked for again. */
  resume() {
    const v = (
      /** @type {View} */
      this.model.get("view") || "frame"
    );
    if (v === "frame" || !VIEWS.includes(v)) return;
    this.enter(v);
    this.send({ type: "view", view: v });
  }
  /** A move in time: back to the frame (Python does the same when the request arrives). */
  backToFrame() {
    if (this.mode !== "frame") this.enter("frame");
  }
  /** Switch the display to view `v` (no message). @param {View} v */
  enter(v) {
    const { dom, view } = this;
    if (this.mode === "frame") this.frameWindow = [view.vmin, view.vmax];
    this.mode = v;
    dom.viewSelect.value = v;
    dom.root.dataset.view = v;
    if (v === "frame") {
      dom.stage.dataset.pending = "";
      if (this.frameWindow) {
        view.setDisplay(view.colormap, this.frameWindow[0], this.frameWindow[1], false);
        this.showWindow(this.frameWindow[0], this.frameWindow[1]);
      }
      this.frameWindow = null;
      dom.summaryNote.textContent = "";
    } else {
      dom.stage.dataset.pending = "1";
      const { field, z } = this.position();
      dom.status.textContent = `${VIEW_LABELS[v]} \xB7 field ${field} \xB7 z ${z} \xB7 starting\u2026`;
    }
  }
  /**
   * Python's summary progress, with the image of the view shown when `msg.image`.
   * @param {import("./types.js").SummaryMessage} msg @param {DataView[]} buffers
   * @returns {string | null} an error to show, or null
   */
  onSummary(msg, buffers) {
    const { dom, view } = this;
    const { field, z } = this.position();
    const here = msg.field === field && msg.z === z;
    const pct = msg.frames_total ? Math.floor(100 * msg.frames_done / msg.frames_total) : 100;
    const label = VIEW_LABELS[msg.view] ?? msg.view;
    const what = msg.done ? `${label} of ${count(msg.frames_total)} frames` : `${label} \xB7 ${pct}% of ${count(msg.frames_total)} frames`;
    if (this.mode === "frame") {
      dom.summaryNote.textContent = msg.done ? "" : `summaries of field ${msg.field} \xB7 z ${msg.z}: ${pct}%`;
      return null;
    }
    if (msg.view !== this.mode || !here) return null;
    const where = `field ${msg.field} \xB7 z ${msg.z}`;
    dom.summaryNote.textContent = "";
    if (!msg.image) {
      dom.stage.dataset.pending = "1";
      dom.status.textContent = `${what} \xB7 ${where}`;
      return null;
    }
    const height = Number(msg.height), width = Number(msg.width);
    let data;
    try {
      data = typedPlane(buffers[0], msg.dtype || "float32", width * height);
    } catch (err) {
      return String(err);
    }
    const [fullHeight, fullWidth] = Array.isArray(msg.padded) ? msg.padded : [height, width];
    if (msg.window) {
      view.setDisplay(view.colormap, msg.window[0], msg.window[1], false);
      this.showWindow(msg.window[0], msg.window[1]);
    }
    view.setPlane({ id: 0, field: msg.field, time: -1, z: msg.z, height, width, fullHeight, fullWidth, data });
    view.refreshReadout();
    dom.stage.dataset.pending = "";
    dom.status.textContent = `${what} \xB7 ${where}`;
    dom.seconds.textContent = "";
    Object.assign(dom.root.dataset, {
      summaryDone: msg.done ? "1" : "0",
      summaryFrames: String(msg.frames_done),
      field: String(msg.field),
      z: String(msg.z)
    });
    return null;
  }
};

// src/dom.js
function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}
function slider(label, role) {
  const range = h("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "data-role": role, "aria-label": label });
  const number = h("input", { type: "number", min: "0", max: "0", step: "1", value: "0", class: "six-num", "data-role": `${role}-number`, "aria-label": `${label} number` });
  const row2 = h("div", { class: "six-slider" }, [h("span", { text: label }), range, number]);
  return { row: row2, range, number };
}
function select(role, options) {
  const s = h("select", { "data-role": role });
  for (const o of options) s.append(h("option", { value: o, text: o }));
  return s;
}
var instances = 0;
function buildDom(el, colormaps) {
  const uid = ++instances;
  const root = h("div", { class: "six-root", "data-role": "si-explorer", tabindex: "0" });
  root.append(h("style", { text: CSS }));
  const main = h("div", { class: "six-main" });
  const title = h("div", { class: "six-row" });
  const status = h("span", { class: "six-status", "data-role": "status", text: "loading\u2026" });
  const seconds = h("span", { class: "six-mono six-dim", "data-role": "seconds" });
  const fileNote = h("span", { class: "six-dim", "data-role": "file-note" });
  title.append(status, seconds, fileNote);
  const cursor = h("div", { class: "six-mono six-cursor", "data-role": "cursor" });
  const error = h("div", { class: "six-error", "data-role": "error", title: "click to dismiss" });
  error.hidden = true;
  const stage = h("div", { class: "six-stage", "data-role": "stage" });
  const plane = h("canvas", { class: "six-plane", "data-role": "plane", width: "1", height: "1" });
  const overlay = h("canvas", { class: "six-overlay", "data-role": "overlay" });
  stage.append(plane, overlay);
  const field = slider("field", "field-slider");
  const time = slider("time", "time-slider");
  const z = slider("z", "z-slider");
  const sliders = h("div", {}, [field.row, time.row, z.row]);
  const viewSelect = h("select", { "data-role": "view-select", title: "the frame at the time shown, or a summary of this field and plane over every time point (moving in time shows the frame again)" });
  for (const v of VIEWS) viewSelect.append(h("option", { value: v, text: VIEW_LABELS[v] }));
  const summaryNote = h("span", { class: "six-dim six-mono", "data-role": "summary-note" });
  const viewRow = h("div", { class: "six-row" }, [h("label", {}, ["view", viewSelect]), summaryNote]);
  const roiSvg = (
    /** @type {SVGSVGElement} */
    document.createElementNS("http://www.w3.org/2000/svg", "svg")
  );
  roiSvg.setAttribute("class", "six-roi-svg");
  roiSvg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const roiGeometry = h("div", { class: "six-panel", "data-role": "roi-geometry" }, [
    h("h4", { text: "scanfields (scan degrees; click one to show it)" })
  ]);
  roiGeometry.append(roiSvg);
  roiGeometry.hidden = true;
  const play = h("button", { "data-role": "play", text: "\u25B6 play", title: "play / pause (space)" });
  const fps = h("input", { type: "number", min: "1", max: "240", step: "1", class: "six-num", "data-role": "fps" });
  const channel = select("channel", []);
  const channelLabel = h("label", {}, ["channel", channel]);
  const colormap = select("colormap", colormaps);
  const vmin = h("input", { type: "number", class: "six-num", "data-role": "vmin", step: "any" });
  const vmax = h("input", { type: "number", class: "six-num", "data-role": "vmax", step: "any" });
  const auto = h("button", { "data-role": "auto-contrast", text: "auto", title: "contrast from percentiles of a few sampled planes (of the image, in a summary view)" });
  const zoomOut = h("button", { "data-role": "zoom-out", text: "\u2212", title: "zoom out (or mouse wheel)" });
  const zoomIn = h("button", { "data-role": "zoom-in", text: "+", title: "zoom in (or mouse wheel)" });
  const zoom = h("span", { class: "six-mono", "data-role": "zoom", text: "\xD71" });
  const pan = h("button", { "data-role": "pan", text: "pan", title: "drag to pan (or shift-drag)" });
  const reset = h("button", { "data-role": "reset-view", text: "fit", title: "whole plane (or double-click)" });
  const clear = h("button", { "data-role": "clear-roi", text: "clear ROI" });
  const follow = h("input", { type: "checkbox", "data-role": "follow" });
  const followLabel = h("label", { title: "grow the time axis while the file is still being written" }, [follow, "follow file"]);
  const playRow = h("div", { class: "six-row" }, [play, h("label", {}, ["fps", fps]), followLabel, channelLabel]);
  const displayRow = h("div", { class: "six-row" }, [
    h("label", {}, ["colormap", colormap]),
    h("label", {}, ["min", vmin]),
    h("label", {}, ["max", vmax]),
    auto
  ]);
  const zoomRow = h("div", { class: "six-row" }, [zoomOut, zoom, zoomIn, reset, pan, clear]);
  const histogramCanvas = h("canvas", { width: "440", height: "56", "data-role": "histogram-canvas", title: "drag a handle (or click) to set the contrast" });
  const histogramText = h("div", { class: "six-mono six-dim", "data-role": "histogram-text" });
  const histogram = h("div", { class: "six-panel six-histogram", "data-role": "histogram" }, [histogramCanvas, histogramText]);
  const schemes = h("datalist", { id: `six-schemes-${uid}` });
  const scheme = h("input", { "data-role": "chunk-scheme", list: schemes.id, size: "9", title: "page, volume or frames:k (Enter to apply)" });
  for (const s of ["page", "volume", "frames:4", "frames:16", "frames:64"]) schemes.append(h("option", { value: s }));
  const backend = select("backend", [...BACKENDS]);
  const cacheMb = h("input", { type: "number", min: "0", step: "16", class: "six-num", "data-role": "cache-mb" });
  const prefetch = h("input", { type: "number", min: "0", max: "1000", step: "1", class: "six-num", "data-role": "prefetch", title: "frames read ahead while playing" });
  const chunking = h("div", { class: "six-row" }, [
    h("label", {}, ["chunks", scheme, schemes]),
    h("label", {}, ["backend", backend]),
    h("label", {}, ["cache MB", cacheMb]),
    h("label", {}, ["prefetch", prefetch])
  ]);
  const auxToggle = h("input", { type: "checkbox", "data-role": "aux-toggle" });
  const auxLabel = h("label", { title: "aux trigger times as ticks on the trace" }, [auxToggle, "aux triggers"]);
  auxLabel.hidden = true;
  const timelineNote = h("span", { class: "six-dim", "data-role": "timeline-note" });
  const timelineRow = h("div", { class: "six-row" }, [auxLabel, timelineNote]);
  const bidiMode = select("bidi-mode", [...BIDI_MODES]);
  bidiMode.title = "bidirectional scan-phase correction";
  const bidiOffset = h("input", {
    type: "number",
    step: "0.05",
    min: "-64",
    max: "64",
    class: "six-num",
    "data-role": "bidi-offset",
    title: "odd-row offset in pixels of this field and plane (typing one applies it everywhere: manual)"
  });
  const bidiCompare = h("input", { type: "checkbox", "data-role": "bidi-compare" });
  const bidiCompareLabel = h("label", { title: "before/after: show the raw plane while checked" }, [bidiCompare, "raw"]);
  const bidiEstimate = h("button", { "data-role": "bidi-estimate", text: "estimate", title: "estimate this field and plane's offset from the frames around the time shown" });
  const bidiStatus = h("span", { class: "six-dim six-mono", "data-role": "bidi-status" });
  const bidiRow = h("div", { class: "six-row", "data-role": "bidi" }, [
    h("label", {}, ["bidi", bidiMode]),
    h("label", {}, ["px", bidiOffset]),
    bidiCompareLabel,
    bidiEstimate,
    bidiStatus
  ]);
  const timingText = h("div", { class: "six-mono", "data-role": "timing-text" });
  const timingChart = h("canvas", { width: "420", height: "60", "data-role": "timing-chart" });
  const timing = h("div", { class: "six-panel", "data-role": "timing" }, [
    h("h4", { text: "chunk-load timing" }),
    timingText,
    timingChart
  ]);
  const chunkCanvas = h("canvas", { width: "420", height: "60", "data-role": "chunk-canvas" });
  const legend = h("div", { class: "six-legend" });
  const chunkText = h("div", { class: "six-mono", "data-role": "chunk-text" });
  const chunkMap = h("div", { class: "six-panel", "data-role": "chunk-map" }, [
    h("h4", { text: "chunk map of this field (time \u2192, z \u2193)" }),
    chunkCanvas,
    legend,
    chunkText
  ]);
  const traceStatus = h("div", { class: "six-mono", "data-role": "trace-status" });
  const metadataSearch = h("input", { type: "search", "data-role": "metadata-search", placeholder: "filter keys and values", "aria-label": "filter metadata" });
  const metadataCount = h("span", { class: "six-dim six-mono", "data-role": "metadata-count" });
  const metadataNote = h("div", { class: "six-dim", "data-role": "metadata-note" });
  const metadataList = h("div", { "data-role": "metadata-list" });
  const frameHeaderTitle = h("h5", { text: "frame header" });
  const frameHeader = h("div", { "data-role": "frame-header" });
  const metadata = h("details", { class: "six-panel six-metadata", "data-role": "metadata" }, [
    h("summary", { text: "metadata" }),
    h("div", { class: "six-row" }, [metadataSearch, metadataCount]),
    metadataNote,
    h("div", { class: "six-meta-scroll" }, [metadataList, h("div", { class: "six-meta-section" }, [frameHeaderTitle, frameHeader])])
  ]);
  main.append(
    title,
    cursor,
    error,
    stage,
    sliders,
    roiGeometry,
    viewRow,
    playRow,
    displayRow,
    histogram,
    zoomRow,
    bidiRow,
    chunking,
    timing,
    chunkMap,
    timelineRow,
    traceStatus,
    metadata
  );
  const traceImage = h("img", { class: "six-trace-img", "data-role": "trace-image", alt: "trace" });
  const traceMarker = h("div", { class: "six-trace-marker", "data-role": "trace-marker" });
  const traceBox = h("div", { class: "six-trace", "data-role": "trace" }, [traceImage, traceMarker]);
  traceBox.hidden = true;
  const side = h("div", { class: "six-side" }, [traceBox]);
  root.append(main, side);
  el.append(root);
  return {
    root,
    main,
    status,
    seconds,
    cursor,
    fileNote,
    error,
    stage,
    plane,
    overlay,
    field,
    time,
    z,
    play,
    fps,
    follow,
    channel,
    channelLabel,
    colormap,
    vmin,
    vmax,
    auto,
    zoomIn,
    zoomOut,
    zoom,
    pan,
    reset,
    clear,
    scheme,
    backend,
    cacheMb,
    prefetch,
    timing,
    timingText,
    timingChart,
    chunkMap,
    chunkCanvas,
    legend,
    chunkText,
    traceStatus,
    traceBox,
    traceImage,
    traceMarker,
    auxToggle,
    auxLabel,
    timelineNote,
    bidiMode,
    bidiOffset,
    bidiCompare,
    bidiCompareLabel,
    bidiEstimate,
    bidiStatus,
    viewSelect,
    summaryNote,
    roiGeometry,
    roiSvg,
    histogram,
    histogramCanvas,
    histogramText,
    metadata,
    metadataSearch,
    metadataCount,
    metadataNote,
    metadataList,
    frameHeaderTitle,
    frameHeader
  };
}

// src/geometry.js
var SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
function corners(s) {
  const [cx, cy] = s.center;
  const [w, h2] = s.size;
  const a = s.rotation * Math.PI / 180;
  const cos = Math.cos(a), sin = Math.sin(a);
  return (
    /** @type {[number, number][]} */
    [[-w / 2, -h2 / 2], [w / 2, -h2 / 2], [w / 2, h2 / 2], [-w / 2, h2 / 2]].map(([x, y]) => [
      cx + x * cos - y * sin,
      cy + x * sin + y * cos
    ])
  );
}
var RoiGeometry = class {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {(field: number) => void} parts.select  show that field
   */
  constructor({ model, dom, listeners, select: select2 }) {
    this.model = model;
    this.dom = dom;
    this.field = -1;
    listeners.onModel("change:scanfields", () => this.sync());
    listeners.onDom(dom.roiSvg, "click", (e) => {
      const target = (
        /** @type {Element} */
        e.target.closest?.("[data-field]")
      );
      const field = target ? Number(target.getAttribute("data-field")) : NaN;
      if (Number.isInteger(field) && field >= 0) select2(field);
    });
  }
  sync() {
    const { dom } = this;
    const fields = (
      /** @type {import("./types.js").Scanfield[]} */
      this.model.get("scanfields") || []
    );
    dom.roiSvg.replaceChildren();
    dom.roiGeometry.hidden = fields.length < 2;
    dom.roiGeometry.dataset.count = String(fields.length);
    if (fields.length < 2) return;
    const points = fields.flatMap(corners);
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 0.06 * Math.max(x1 - x0, y1 - y0, 1e-6);
    dom.roiSvg.setAttribute("viewBox", `${x0 - pad} ${y0 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}`);
    const label = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-6);
    fields.forEach((s, i) => {
      const [cx, cy] = s.center;
      const [w, h2] = s.size;
      const rect = svg("rect", {
        x: cx - w / 2,
        y: cy - h2 / 2,
        width: w,
        height: h2,
        transform: `rotate(${s.rotation} ${cx} ${cy})`,
        "vector-effect": "non-scaling-stroke",
        "data-roi": i
      });
      if (s.field !== null && s.field !== void 0) rect.setAttribute("data-field", String(s.field));
      const title = svg("title", {});
      title.textContent = `${s.name}${s.field !== null ? ` \xB7 field ${s.field}` : ""} \xB7 centre (${s.center.map((v) => v.toFixed(3)).join(", ")})\xB0 \xB7 ${s.size.map((v) => v.toFixed(3)).join(" \xD7 ")}\xB0`;
      rect.append(title);
      const text = svg("text", { x: cx, y: cy, "font-size": label, "text-anchor": "middle", "dominant-baseline": "central" });
      text.textContent = s.field !== null ? String(s.field) : String(i);
      dom.roiSvg.append(rect, text);
    });
    this.highlight(this.field);
  }
  /** The field shown: its scanfield(s) highlighted. @param {number} field */
  highlight(field) {
    this.field = field;
    for (const rect of this.dom.roiSvg.querySelectorAll("rect")) {
      rect.classList.toggle("six-current", rect.getAttribute("data-field") === String(field));
    }
  }
};

// src/histogram.js
var BINS = 128;
var COMPUTE_MS = 150;
var GRAB_PX = 8;
var BAR = "#6b6b6b";
var WINDOW_FILL = "rgba(122, 167, 224, 0.22)";
var HANDLE = "#1f5fbf";
function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Number(v.toPrecision(4)).toString();
}
var Histogram = class {
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
    this.ctx = /** @type {CanvasRenderingContext2D} */
    canvas.getContext("2d");
    this.data = null;
    this.stale = false;
    this.counts = null;
    this.lo = 0;
    this.hi = 1;
    this.integer = true;
    this.vmin = 0;
    this.vmax = 1;
    this.drag = null;
    this.frame = 0;
    this.computedAt = -Infinity;
    this.timer = null;
    this.dense = null;
    this.listeners = [
      ["pointerdown", (e) => this.down(
        /** @type {PointerEvent} */
        e
      )],
      ["pointermove", (e) => this.move(
        /** @type {PointerEvent} */
        e
      )],
      ["pointerup", (e) => this.up(
        /** @type {PointerEvent} */
        e
      )],
      ["pointercancel", (e) => this.up(
        /** @type {PointerEvent} */
        e
      )]
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
      let b = (v - lo) * scale | 0;
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
    const dense = this.dense && this.dense.length === size ? this.dense.fill(0) : this.dense = new Uint32Array(size);
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
    for (let v = first; v <= last; v++) counts[(v - first) * scale | 0] += dense[v];
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
    this.text.textContent = `${fmt(lo)} \u2026 ${fmt(hi)} \xB7 ${finite.toLocaleString("en-US")} pixels \xB7 log counts`;
  }
  /** @param {number} v */
  x(v) {
    return (v - this.lo) / (this.hi - this.lo) * this.canvas.width;
  }
  /** The value at canvas x, on the image's own grid (whole numbers for integer images). @param {number} x */
  value(x) {
    const v = this.lo + Math.min(this.canvas.width, Math.max(0, x)) / this.canvas.width * (this.hi - this.lo);
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
      const h2 = Math.log1p(counts[b]) / logPeak * (H - top);
      ctx.fillRect(b * bw, H - h2, Math.max(1, bw - (bw > 3 ? 1 : 0)), h2);
    }
    ctx.strokeStyle = ctx.fillStyle = HANDLE;
    ctx.lineWidth = 2;
    for (
      const [x, dir] of
      /** @type {[number, number][]} */
      [[x0, 1], [x1, -1]]
    ) {
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
    return (e.clientX - r.left) / (r.width || 1) * this.canvas.width;
  }
  /** @param {PointerEvent} e */
  down(e) {
    if (!this.counts || e.button !== 0) return;
    e.preventDefault();
    const x = this.canvasX(e);
    const [xMin, xMax] = this.handleXs();
    const dMin = Math.abs(x - xMin);
    const dMax = Math.abs(x - xMax);
    this.drag = dMin < dMax ? "min" : dMax < dMin ? "max" : x < xMin ? "min" : "max";
    this.canvas.setPointerCapture?.(e.pointerId);
    this.move(e);
  }
  /** @param {PointerEvent} e */
  move(e) {
    const x = this.canvasX(e);
    const near = this.counts && this.handleXs().some((h2) => Math.abs(x - h2) <= GRAB_PX);
    this.canvas.style.cursor = this.drag || near ? "ew-resize" : "pointer";
    if (!this.drag) return;
    const v = this.value(x);
    const step = this.integer ? 1 : (this.hi - this.lo) / 1e3;
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
};

// src/listen.js
var Listeners = class {
  /** @param {import("./types.js").Model} model */
  constructor(model) {
    this.model = model;
    this.modelHandlers = [];
    this.domHandlers = [];
  }
  /** @param {string} name @param {(...args: any[]) => void} fn */
  onModel(name, fn) {
    this.model.on(name, fn);
    this.modelHandlers.push([name, fn]);
  }
  /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
  onDom(target, name, fn, capture = false) {
    target.addEventListener(name, fn, capture);
    this.domHandlers.push([target, name, fn, capture]);
  }
  removeAll() {
    for (const [name, fn] of this.modelHandlers) this.model.off(name, fn);
    for (const [target, name, fn, capture] of this.domHandlers) target.removeEventListener(name, fn, capture);
    this.modelHandlers = [];
    this.domHandlers = [];
  }
};

// src/messages.js
var ERROR_MS = 1e4;
var ErrorBar = class {
  /**
   * @param {import("./dom.js").Dom} dom
   * @param {import("./listen.js").Listeners} listeners
   * @param {() => void} onShow  called with each error (the inputs show Python's values again)
   */
  constructor(dom, listeners, onShow) {
    this.el = dom.error;
    this.onShow = onShow;
    this.timer = null;
    listeners.onDom(this.el, "click", () => {
      this.el.hidden = true;
    });
  }
  /** @param {string} text */
  show(text) {
    this.el.textContent = text;
    this.el.hidden = false;
    this.onShow();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.el.hidden = true;
    }, ERROR_MS);
  }
  destroy() {
    if (this.timer) clearTimeout(this.timer);
  }
};
function messageHandler(parts) {
  const { dom, chunks, tracker, sliders, errors, views, metadata } = parts;
  const handlers = {
    plane: (msg, buffers) => onPlane(parts, msg, buffers),
    error: (msg) => {
      errors.show(msg.message);
      tracker.failed();
    },
    reading: (msg) => {
      if (msg.field === sliders.pos.field) chunks.markReading(msg.block[0], msg.block[1]);
    },
    trace: (msg) => {
      dom.traceStatus.textContent = msg.state === "done" ? `trace: done (${msg.total} time points)` : `trace: ${msg.done}/${msg.total} time points`;
      dom.traceStatus.dataset.state = msg.state;
    },
    summary: (msg, buffers) => {
      const problem = views ? views.onSummary(msg, buffers) : null;
      if (problem) errors.show(problem);
    },
    metadata: (msg) => metadata?.setMetadata(msg),
    frame_header: (msg) => metadata?.setHeader(msg)
  };
  return (msg, buffers) => {
    if (!msg || typeof msg !== "object" || !Object.prototype.hasOwnProperty.call(handlers, msg.type)) return;
    handlers[
      /** @type {keyof typeof handlers} */
      msg.type
    ](msg, buffers);
  };
}
function onPlane({ dom, view, chunks, timing, tracker, sliders, errors, options, views, metadata, geometry }, msg, buffers) {
  const t0 = performance.now();
  const where = `field ${msg.field} \xB7 time ${msg.time} \xB7 z ${msg.z}`;
  if (!views || views.showsFrames()) {
    let data;
    try {
      data = typedPlane(buffers[0], msg.dtype, msg.width * msg.height);
    } catch (err) {
      errors.show(String(err));
      return;
    }
    const [fullHeight, fullWidth] = Array.isArray(msg.padded) ? msg.padded : [msg.height, msg.width];
    view.setPlane({ id: msg.id, field: msg.field, time: msg.time, z: msg.z, height: msg.height, width: msg.width, fullHeight, fullWidth, data });
    view.refreshReadout();
    dom.status.textContent = where;
    dom.seconds.textContent = typeof msg.seconds === "number" ? `${msg.seconds.toFixed(3)} s` : "";
    dom.root.dataset.field = String(msg.field);
    dom.root.dataset.time = String(msg.time);
    dom.root.dataset.z = String(msg.z);
  }
  dom.root.dataset.requestId = String(msg.id);
  const now = performance.now();
  const seen = Number(msg.seen) || 0;
  if (tracker.overtakes(msg.id, seen)) sliders.follow(msg);
  const total = tracker.answered(msg.id, seen, now);
  timing.record(msg.timing, total, now - t0, where);
  if (msg.chunk_map && buffers[1]) {
    chunks.setGrid(buffers[1], msg.chunk_map.rows, msg.chunk_map.cols, msg.chunk_map.bin, msg.chunk_map.gaps || []);
  }
  if (msg.block) chunks.setCurrent(msg.block[0], msg.block[1]);
  if (options) options.planeShown(msg.field, msg.z);
  geometry?.highlight(msg.field);
  metadata?.pageShown(msg);
  sliders.planeDrawn();
}

// src/metadata.js
var HEADER_MS = 200;
function row(key, value) {
  const div = document.createElement("div");
  div.className = "six-meta-row";
  div.dataset.key = key;
  const k = document.createElement("span");
  k.className = "six-meta-key";
  k.textContent = key;
  const v = document.createElement("span");
  v.className = "six-meta-value";
  v.textContent = value;
  div.append(k, v);
  return div;
}
var MetadataPanel = class {
  /**
   * @param {Object} parts
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   * @param {() => Page} parts.position  the sliders' page, before any plane arrived
   */
  constructor({ dom, listeners, send, position }) {
    this.dom = dom;
    this.send = send;
    this.position = position;
    this.asked = false;
    this.rows = [];
    this.headerRows = [];
    this.headerFor = "";
    this.page = null;
    this.lastHeaderAt = 0;
    this.timer = null;
    listeners.onDom(dom.metadata, "toggle", () => {
      if (!dom.metadata.open) return;
      if (!this.asked) {
        this.asked = true;
        dom.metadataNote.textContent = "reading\u2026";
        send({ type: "metadata" });
      }
      this.pageShown(this.page ?? position());
      dom.metadataSearch.focus({ preventScroll: true });
    });
    listeners.onDom(dom.metadataSearch, "input", () => this.filter());
  }
  destroy() {
    if (this.timer) clearTimeout(this.timer);
  }
  /** @param {import("./types.js").MetadataMessage} msg */
  setMetadata(msg) {
    const { dom } = this;
    const sections = /* @__PURE__ */ new Map();
    dom.metadataList.replaceChildren();
    this.rows = [];
    for (const [section, key, value] of msg.entries) {
      let box = sections.get(section);
      if (!box) {
        box = document.createElement("div");
        box.className = "six-meta-section";
        box.dataset.section = section;
        const h2 = document.createElement("h5");
        h2.textContent = section;
        box.append(h2);
        sections.set(section, box);
        dom.metadataList.append(box);
      }
      const r = row(key, value);
      box.append(r);
      this.rows.push([r, `${key} ${value}`.toLowerCase()]);
    }
    dom.metadataNote.textContent = msg.note;
    this.filter();
  }
  /** @param {import("./types.js").FrameHeaderMessage} msg */
  setHeader(msg) {
    const { dom } = this;
    dom.frameHeaderTitle.textContent = `frame header \xB7 field ${msg.field} \xB7 time ${msg.time} \xB7 z ${msg.z}`;
    dom.frameHeader.dataset.page = `${msg.field},${msg.time},${msg.z}`;
    const rows = msg.entries.map(([k, v]) => (
      /** @type {[HTMLElement, string]} */
      [row(k, v), `${k} ${v}`.toLowerCase()]
    ));
    dom.frameHeader.replaceChildren(...rows.map(([r]) => r));
    if (msg.note) {
      const note = document.createElement("div");
      note.className = "six-dim";
      note.textContent = msg.note;
      dom.frameHeader.append(note);
    }
    this.headerRows = rows;
    this.filter();
  }
  /** A plane of `page` was shown: its header is asked for while the panel is open. @param {Page} page */
  pageShown(page) {
    this.page = { field: page.field, time: page.time, z: page.z };
    if (!this.dom.metadata.open) return;
    const { field, time, z } = page;
    const key = `${field},${time},${z}`;
    if (key === this.headerFor) return;
    const wait = this.lastHeaderAt + HEADER_MS - performance.now();
    if (wait > 0) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          if (this.page) this.pageShown(this.page);
        }, wait);
      }
      return;
    }
    this.headerFor = key;
    this.lastHeaderAt = performance.now();
    this.send({ type: "frame_header", field, time, z });
  }
  /** Show the rows whose key or value holds every word typed (case-insensitive). */
  filter() {
    const { dom } = this;
    const words = dom.metadataSearch.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const [r, text] of this.rows) {
      const hit = words.every((w) => text.includes(w));
      r.hidden = !hit;
      if (hit) shown++;
    }
    for (const box of dom.metadataList.children) {
      const el = (
        /** @type {HTMLElement} */
        box
      );
      el.hidden = !el.querySelector(".six-meta-row:not([hidden])");
    }
    for (const [r, text] of this.headerRows) r.hidden = !words.every((w) => text.includes(w));
    const total = this.rows.length;
    dom.metadataCount.textContent = words.length ? `${shown.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} keys` : `${total.toLocaleString("en-US")} keys`;
    dom.metadata.dataset.shown = String(shown);
  }
};

// src/options.js
var Options = class {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {import("./planeview.js").PlaneView} parts.view
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   */
  constructor({ model, dom, listeners, view, send }) {
    this.model = model;
    this.dom = dom;
    this.view = view;
    const config = (key, value) => send({ type: "config", key, value });
    const { onDom, onModel } = bind(listeners);
    onDom(dom.colormap, "change", () => {
      view.setDisplay(dom.colormap.value, view.vmin, view.vmax);
      config("colormap", dom.colormap.value);
    });
    for (
      const [input, key] of
      /** @type {const} */
      [[dom.vmin, "vmin"], [dom.vmax, "vmax"]]
    ) {
      onDom(input, "change", () => {
        const v = Number(input.value);
        if (!Number.isFinite(v) || input.value === "") return;
        if (key === "vmin") view.setDisplay(view.colormap, v, view.vmax);
        else view.setDisplay(view.colormap, view.vmin, v);
        config(key, v);
      });
    }
    onDom(dom.auto, "click", () => send({ type: "auto_contrast" }));
    for (const key of ["colormap", "vmin", "vmax"]) {
      onModel(`change:${key}`, () => {
        this.syncDisplayInputs();
        this.display();
      });
    }
    onDom(dom.pan, "click", () => {
      view.panMode = !view.panMode;
      dom.pan.classList.toggle("six-active", view.panMode);
      dom.stage.classList.toggle("six-panning", view.panMode);
    });
    onDom(dom.reset, "click", () => view.resetView());
    onDom(dom.zoomIn, "click", () => view.zoomBy(1.5));
    onDom(dom.zoomOut, "click", () => view.zoomBy(1 / 1.5));
    onDom(dom.clear, "click", () => send({ type: "clear_roi" }));
    onModel("change:roi", () => view.setRoi(model.get("roi")));
    onDom(dom.fps, "change", () => config("fps", Number(dom.fps.value)));
    onDom(dom.follow, "change", () => config("follow", dom.follow.checked));
    onModel("change:follow", () => this.syncFollow());
    onModel("change:fps", () => {
      dom.fps.value = String(model.get("fps"));
    });
    onDom(dom.channel, "change", () => config("channel", Number(dom.channel.value)));
    this.committedScheme = model.get("chunk_scheme");
    const commitScheme = () => {
      const value = dom.scheme.value.trim();
      if (value === this.committedScheme) return;
      this.committedScheme = value;
      config("chunk_scheme", value);
    };
    onDom(dom.scheme, "change", commitScheme);
    onDom(dom.scheme, "keydown", (e) => {
      if (e.key === "Enter") commitScheme();
    });
    onDom(dom.backend, "change", () => config("backend", dom.backend.value));
    onDom(dom.cacheMb, "change", () => config("cache_mb", Number(dom.cacheMb.value)));
    onDom(dom.prefetch, "change", () => config("prefetch", Number(dom.prefetch.value)));
    for (const key of ["channels", "channel", "chunk_scheme", "backend", "cache_mb", "prefetch"]) {
      onModel(`change:${key}`, () => this.syncOptions());
    }
    this.shown = { field: 0, z: 0 };
    onDom(dom.bidiMode, "change", () => {
      dom.bidiStatus.textContent = dom.bidiMode.value.startsWith("auto") ? "bidi: estimating\u2026" : "";
      config("bidi", dom.bidiMode.value);
    });
    onDom(dom.bidiOffset, "change", () => {
      const v = Number(dom.bidiOffset.value);
      if (!Number.isFinite(v) || dom.bidiOffset.value === "") return;
      config("bidi_manual", v);
      if (dom.bidiMode.value !== "manual") {
        dom.bidiMode.value = "manual";
        config("bidi", "manual");
      }
    });
    onDom(dom.bidiCompare, "change", () => config("bidi_compare", dom.bidiCompare.checked));
    onDom(dom.bidiEstimate, "click", () => {
      dom.bidiStatus.textContent = "bidi: estimating\u2026";
      send({ type: "bidi_estimate" });
    });
    for (const key of ["bidi", "bidi_manual", "bidi_offsets", "bidi_compare", "bidi_status"]) {
      onModel(`change:${key}`, () => this.syncBidi());
    }
    onDom(dom.auxToggle, "change", () => config("show_aux", dom.auxToggle.checked));
    for (const key of ["aux_count", "show_aux", "timeline_note"]) {
      onModel(`change:${key}`, () => this.syncTimeline());
    }
  }
  /** The plane shown changed: the offset box shows that field and plane's offset. @param {number} field @param {number} z */
  planeShown(field, z) {
    if (field === this.shown.field && z === this.shown.z) return;
    this.shown = { field, z };
    this.syncBidiOffset();
  }
  syncBidi() {
    const { dom, model } = this;
    dom.bidiMode.value = model.get("bidi") || "off";
    dom.bidiCompare.checked = Boolean(model.get("bidi_compare"));
    dom.bidiCompare.disabled = !(model.get("bidi_offsets") || []).length;
    dom.bidiStatus.textContent = model.get("bidi_status") || "";
    this.syncBidiOffset();
  }
  syncBidiOffset() {
    const { dom, model } = this;
    if (document.activeElement === dom.bidiOffset) return;
    const offsets = (
      /** @type {number[][]} */
      model.get("bidi_offsets") || []
    );
    const here = offsets[this.shown.field]?.[this.shown.z];
    const value = typeof here === "number" ? here : Number(model.get("bidi_manual") || 0);
    dom.bidiOffset.value = String(Math.round(value * 1e3) / 1e3);
    dom.root.dataset.bidiOffset = typeof here === "number" ? String(here) : "";
  }
  syncTimeline() {
    const { dom, model } = this;
    const count2 = Number(model.get("aux_count") || 0);
    dom.auxLabel.hidden = count2 === 0;
    dom.auxLabel.title = `${count2} aux trigger times as ticks on the trace`;
    dom.auxToggle.checked = Boolean(model.get("show_aux"));
    dom.timelineNote.textContent = model.get("timeline_note") || "";
  }
  display() {
    this.view.setDisplay(this.model.get("colormap"), Number(this.model.get("vmin")), Number(this.model.get("vmax")));
  }
  syncDisplayInputs() {
    const { dom, model } = this;
    dom.colormap.value = model.get("colormap");
    dom.vmin.value = String(model.get("vmin"));
    dom.vmax.value = String(model.get("vmax"));
  }
  syncFollow() {
    this.dom.follow.checked = Boolean(this.model.get("follow"));
  }
  syncOptions() {
    const { dom, model } = this;
    const channels = (
      /** @type {string[]} */
      model.get("channels") || []
    );
    dom.channel.replaceChildren(
      ...channels.map((c, i) => {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = c;
        return o;
      })
    );
    dom.channel.value = String(model.get("channel"));
    dom.channelLabel.hidden = channels.length < 2;
    dom.scheme.value = this.committedScheme = model.get("chunk_scheme");
    dom.backend.value = model.get("backend");
    dom.cacheMb.value = String(model.get("cache_mb"));
    dom.prefetch.value = String(model.get("prefetch"));
    dom.fps.value = String(model.get("fps"));
  }
  /** Show Python's values in every input: after a rejected setting, not the rejected text. */
  syncAll() {
    this.syncOptions();
    this.syncDisplayInputs();
    this.syncBidi();
    this.syncTimeline();
  }
};
function bind(listeners) {
  return {
    /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
    onDom: (target, name, fn) => listeners.onDom(target, name, fn),
    /** @param {string} name @param {(...args: any[]) => void} fn */
    onModel: (name, fn) => listeners.onModel(name, fn)
  };
}

// src/planeview.js
var STAGE_PX = 448;
var MAX_ZOOM = 64;
function hatchTile() {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const c = (
    /** @type {CanvasRenderingContext2D} */
    tile.getContext("2d")
  );
  c.fillStyle = "#2b2b2b";
  c.fillRect(0, 0, 8, 8);
  c.strokeStyle = "#6a6a6a";
  c.lineWidth = 1.5;
  c.beginPath();
  c.moveTo(-2, 10);
  c.lineTo(10, -2);
  c.stroke();
  return tile;
}
var PlaneView = class {
  /**
   * @param {HTMLDivElement} stage
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLCanvasElement} overlay
   * @param {PlaneViewCallbacks} callbacks
   */
  constructor(stage, canvas, overlay, callbacks) {
    this.stage = stage;
    this.canvas = canvas;
    this.overlay = overlay;
    this.callbacks = callbacks;
    this.ctx = /** @type {CanvasRenderingContext2D} */
    canvas.getContext("2d");
    this.octx = /** @type {CanvasRenderingContext2D} */
    overlay.getContext("2d");
    this.buffer = document.createElement("canvas");
    this.bctx = /** @type {CanvasRenderingContext2D} */
    this.buffer.getContext("2d");
    this.plane = null;
    this.image = null;
    this.colormap = "gray";
    this.vmin = 0;
    this.vmax = 1;
    this.view = { zoom: 1, panX: 0, panY: 0 };
    this.scale = 1;
    this.panMode = false;
    this.roi = null;
    this.drag = null;
    this.dragRect = null;
    this.lastCursor = null;
    this.listeners = [
      ["pointerdown", (e) => this.down(
        /** @type {PointerEvent} */
        e
      )],
      ["pointermove", (e) => this.move(
        /** @type {PointerEvent} */
        e
      )],
      ["pointerup", (e) => this.up(
        /** @type {PointerEvent} */
        e
      )],
      ["pointerleave", () => this.callbacks.onCursor("")],
      ["wheel", (e) => this.wheel(
        /** @type {WheelEvent} */
        e
      )],
      ["dblclick", () => this.resetView()]
    ];
    for (const [name, fn] of this.listeners) stage.addEventListener(name, fn, { passive: false });
    this.hatch = this.octx.createPattern(hatchTile(), "repeat");
  }
  /** Plane size including padding: [height, width]. @returns {[number, number]} */
  fullSize() {
    const p = (
      /** @type {import("./types.js").Plane} */
      this.plane
    );
    return [p.fullHeight ?? p.height, p.fullWidth ?? p.width];
  }
  destroy() {
    for (const [name, fn] of this.listeners) this.stage.removeEventListener(name, fn);
  }
  /**
   * Show a new plane (keeping zoom and pan when its size is unchanged).
   * @param {import("./types.js").Plane} plane
   */
  setPlane(plane) {
    const old = this.plane;
    const fullH = plane.fullHeight ?? plane.height;
    const fullW = plane.fullWidth ?? plane.width;
    const sized = old && (old.fullWidth ?? old.width) === fullW && (old.fullHeight ?? old.height) === fullH;
    const fieldSized = sized && old && old.width === plane.width && old.height === plane.height;
    this.plane = plane;
    if (!sized) {
      this.canvas.width = this.buffer.width = fullW;
      this.canvas.height = this.buffer.height = fullH;
      this.scale = STAGE_PX / Math.max(fullW, fullH);
      const w = Math.round(fullW * this.scale);
      const hgt = Math.round(fullH * this.scale);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${hgt}px`;
      this.overlay.width = w;
      this.overlay.height = hgt;
      this.stage.style.width = `${w}px`;
      this.stage.style.height = `${hgt}px`;
      this.view = { zoom: 1, panX: 0, panY: 0 };
      this.callbacks.onZoom?.(1);
    }
    if (!fieldSized) {
      this.bctx.clearRect(0, 0, fullW, fullH);
      this.image = this.bctx.createImageData(plane.width, plane.height);
    }
    this.stage.dataset.padding = plane.width < fullW || plane.height < fullH ? `${plane.height}x${plane.width} of ${fullH}x${fullW}` : "";
    this.render();
  }
  /**
   * @param {string} colormap
   * @param {number} vmin
   * @param {number} vmax
   * @param {boolean} [draw]  false: the next image is drawn with it, not the one on screen
   */
  setDisplay(colormap, vmin, vmax, draw = true) {
    const same = colormap === this.colormap && vmin === this.vmin && vmax === this.vmax;
    this.colormap = colormap;
    this.vmin = vmin;
    this.vmax = vmax;
    if (draw && !same && this.plane) this.render();
  }
  /** Recolour the current plane and draw it with the current zoom and pan. */
  render() {
    if (!this.plane || !this.image) return;
    applyLut(this.plane.data, new Uint32Array(this.image.data.buffer), this.vmin, this.vmax, lut(this.colormap));
    this.bctx.putImageData(this.image, 0, 0);
    this.paint();
    this.callbacks.onRender?.(this.plane.data, this.vmin, this.vmax);
  }
  paint() {
    const { zoom, panX, panY } = this.view;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.setTransform(zoom, 0, 0, zoom, panX, panY);
    this.ctx.drawImage(this.buffer, 0, 0);
    this.paintOverlay();
  }
  paintOverlay() {
    const o = this.octx;
    o.clearRect(0, 0, this.overlay.width, this.overlay.height);
    this.paintPadding();
    const rect = this.dragRect ?? this.roiRect();
    if (!rect) return;
    const [y0, y1, x0, x1] = rect;
    const [sx0, sy0] = this.toScreen(x0, y0);
    const [sx1, sy1] = this.toScreen(x1, y1);
    o.lineWidth = 2;
    o.strokeStyle = "#00e5ff";
    o.strokeRect(sx0, sy0, Math.max(2, sx1 - sx0), Math.max(2, sy1 - sy0));
  }
  /** Hatch the part of the padded plane that lies outside the field, and say what it is. */
  paintPadding() {
    const p = this.plane;
    if (!p || !this.hatch) return;
    const [fullH, fullW] = this.fullSize();
    const parts = [];
    if (p.width < fullW) parts.push([p.width, 0, fullW, fullH]);
    if (p.height < fullH) parts.push([0, p.height, p.width, fullH]);
    const o = this.octx;
    for (const [x0, y0, x1, y1] of parts) {
      const [sx0, sy0] = this.toScreen(x0, y0);
      const [sx1, sy1] = this.toScreen(x1, y1);
      o.fillStyle = this.hatch;
      o.fillRect(sx0, sy0, sx1 - sx0, sy1 - sy0);
      if (sx1 - sx0 > 60 && sy1 - sy0 > 16) {
        o.fillStyle = "#d0d0d0";
        o.font = "11px system-ui, sans-serif";
        o.textAlign = "center";
        o.textBaseline = "middle";
        o.fillText("padding", (sx0 + sx1) / 2, (sy0 + sy1) / 2);
      }
    }
  }
  /** @returns {[number, number, number, number] | null} */
  roiRect() {
    const r = this.roi;
    if (!r || r.length === 0) return null;
    if (r.length === 2) return [r[0], r[0] + 1, r[1], r[1] + 1];
    return [r[0], r[1], r[2], r[3]];
  }
  /** @param {number[] | null} roi */
  setRoi(roi) {
    this.roi = roi && roi.length ? roi : null;
    this.paintOverlay();
  }
  resetView() {
    this.view = { zoom: 1, panX: 0, panY: 0 };
    this.callbacks.onZoom?.(1);
    this.paint();
  }
  /**
   * Zoom by `factor` keeping the point at stage CSS pixel (cx, cy) in place (default: centre).
   * @param {number} factor @param {number} [cx] @param {number} [cy]
   */
  zoomBy(factor, cx, cy) {
    if (!this.plane) return;
    const { zoom, panX, panY } = this.view;
    const next = Math.min(MAX_ZOOM, Math.max(1, zoom * factor));
    const px = (cx ?? this.overlay.width / 2) / this.scale;
    const py = (cy ?? this.overlay.height / 2) / this.scale;
    this.view = { zoom: next, panX: px - (px - panX) * next / zoom, panY: py - (py - panY) * next / zoom };
    this.callbacks.onZoom?.(next);
    this.paint();
  }
  /**
   * Plane coordinates (fractional) -> overlay CSS pixels.
   * @param {number} x
   * @param {number} y
   * @returns {[number, number]}
   */
  toScreen(x, y) {
    const { zoom, panX, panY } = this.view;
    return [(x * zoom + panX) * this.scale, (y * zoom + panY) * this.scale];
  }
  /**
   * Event position -> plane coordinates (fractional, may be outside the plane).
   * @param {MouseEvent} e
   * @returns {[number, number]} [x, y]
   */
  toPlane(e) {
    const r = this.stage.getBoundingClientRect();
    const cx = (e.clientX - r.left) / this.scale;
    const cy = (e.clientY - r.top) / this.scale;
    const { zoom, panX, panY } = this.view;
    return [(cx - panX) / zoom, (cy - panY) / zoom];
  }
  /** @param {PointerEvent} e */
  down(e) {
    if (!this.plane || e.button !== 0 && e.button !== 1) return;
    e.preventDefault();
    this.stage.setPointerCapture?.(e.pointerId);
    const [px, py] = this.toPlane(e);
    const pan = this.panMode || e.shiftKey || e.button === 1;
    this.drag = { x: e.clientX, y: e.clientY, px, py, panX: this.view.panX, panY: this.view.panY, pan, moved: false };
  }
  /** @param {PointerEvent} e */
  move(e) {
    if (!this.plane) return;
    const [px, py] = this.toPlane(e);
    this.readout(px, py);
    const d = this.drag;
    if (!d) return;
    if (Math.abs(e.clientX - d.x) + Math.abs(e.clientY - d.y) > 3) d.moved = true;
    if (d.pan) {
      this.view.panX = d.panX + (e.clientX - d.x) / this.scale;
      this.view.panY = d.panY + (e.clientY - d.y) / this.scale;
      this.paint();
    } else if (d.moved) {
      this.dragRect = this.rectFrom(d.px, d.py, px, py);
      this.paintOverlay();
    }
  }
  /** @param {PointerEvent} e */
  up(e) {
    const d = this.drag;
    this.drag = null;
    if (!d || !this.plane || d.pan) return;
    const [px, py] = this.toPlane(e);
    this.dragRect = null;
    if (!d.moved) {
      const x = Math.floor(px), y = Math.floor(py);
      if (x >= 0 && y >= 0 && x < this.plane.width && y < this.plane.height) {
        this.setRoi([y, x]);
        this.callbacks.onSelect({ pixel: [y, x] });
      } else this.paintOverlay();
      return;
    }
    const rect = this.rectFrom(d.px, d.py, px, py);
    if (rect[1] > rect[0] && rect[3] > rect[2]) {
      this.setRoi(rect);
      this.callbacks.onSelect({ roi: rect });
    } else this.paintOverlay();
  }
  /**
   * The half-open pixel rectangle covered by a drag between two plane points, clipped to the
   * field (a drag into the padding stops at the field's edge).
   * @param {number} ax @param {number} ay @param {number} bx @param {number} by
   * @returns {[number, number, number, number]}
   */
  rectFrom(ax, ay, bx, by) {
    const p = (
      /** @type {import("./types.js").Plane} */
      this.plane
    );
    const clamp = (v, n) => Math.min(n, Math.max(0, v));
    const x0 = clamp(Math.floor(Math.min(ax, bx)), p.width);
    const x1 = clamp(Math.floor(Math.max(ax, bx)) + 1, p.width);
    const y0 = clamp(Math.floor(Math.min(ay, by)), p.height);
    const y1 = clamp(Math.floor(Math.max(ay, by)) + 1, p.height);
    return [y0, y1, x0, x1];
  }
  /** @param {WheelEvent} e */
  wheel(e) {
    if (!this.plane) return;
    e.preventDefault();
    const r = this.stage.getBoundingClientRect();
    this.zoomBy(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }
  /**
   * Update the cursor readout for plane point (px, py).
   * @param {number} px @param {number} py
   */
  readout(px, py) {
    const p = this.plane;
    if (!p) return;
    const x = Math.floor(px), y = Math.floor(py);
    const [fullH, fullW] = this.fullSize();
    if (x < 0 || y < 0 || x >= fullW || y >= fullH) {
      this.lastCursor = null;
      this.callbacks.onCursor("");
      return;
    }
    if (x >= p.width || y >= p.height) {
      this.lastCursor = [y, x];
      this.callbacks.onCursor(`y ${y}, x ${x}: padding, not data (this field is ${p.height}\xD7${p.width})`);
      return;
    }
    this.lastCursor = [y, x];
    const v = p.data[y * p.width + x];
    const text = Number.isInteger(v) ? String(v) : Number(v.toPrecision(5)).toString();
    this.callbacks.onCursor(`y ${y}, x ${x}, value ${text}`);
  }
  /** Refresh the readout after the plane under a still cursor changed. */
  refreshReadout() {
    if (this.lastCursor) this.readout(this.lastCursor[1] + 0.5, this.lastCursor[0] + 0.5);
  }
};

// src/requests.js
var STALE_REQUEST_MS = 3e3;
var ACK_DELAY_MS = 250;
var MAX_TRACKED = 500;
var RequestTracker = class {
  /** @param {(ack: import("./types.js").Ack) => void} sendDrawn  sends an ack on its own */
  constructor(sendDrawn) {
    this.sendDrawn = sendDrawn;
    this.nextId = 1;
    this.lastSentId = 0;
    this.lastSentAt = 0;
    this.lastAnsweredId = 0;
    this.sentAt = /* @__PURE__ */ new Map();
    this.pendingAck = null;
    this.ackTimer = null;
  }
  /**
   * Number a new request and take the ack waiting to ride on it.
   * @returns {{ id: number, ack: import("./types.js").Ack | null }}
   */
  next() {
    const id = this.nextId++;
    const now = performance.now();
    this.sentAt.set(id, now);
    if (this.sentAt.size > MAX_TRACKED) this.sentAt.delete(
      /** @type {number} */
      this.sentAt.keys().next().value
    );
    this.lastSentId = id;
    this.lastSentAt = now;
    const ack = this.pendingAck;
    this.pendingAck = null;
    return { id, ack };
  }
  /** Whether a request of ours is still waiting for its plane (and not given up on). */
  inFlight() {
    return this.lastSentId > this.lastAnsweredId && performance.now() - this.lastSentAt < STALE_REQUEST_MS;
  }
  /**
   * Whether a plane asked for in Python came after our last request: then it, not the sliders,
   * says where the view is.
   * @param {number} id @param {number} seen
   */
  overtakes(id, seen) {
    return id < 0 && seen >= this.lastSentId;
  }
  /**
   * A plane arrived: settle every request up to `seen` (and `id`, if ours).
   * @param {number} id @param {number} seen @param {number} now  when it arrived
   * @returns {number | null} the round trip of our own request, in ms
   */
  answered(id, seen, now) {
    this.lastAnsweredId = Math.max(this.lastAnsweredId, seen);
    if (id <= 0) return null;
    this.lastAnsweredId = Math.max(this.lastAnsweredId, id);
    const sent = this.sentAt.get(id);
    if (sent === void 0) return null;
    const total = now - sent;
    this.sentAt.delete(id);
    this.pendingAck = { id, total_ms: total };
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => this.flushAck(), ACK_DELAY_MS);
    return total;
  }
  /** Python reported an error: the request in flight will not be answered with a plane. */
  failed() {
    this.lastAnsweredId = this.lastSentId;
  }
  flushAck() {
    this.ackTimer = null;
    if (this.pendingAck) this.sendDrawn(this.pendingAck);
    this.pendingAck = null;
  }
  destroy() {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }
};

// src/sliders.js
var WAITING = "waiting for the first complete volume";
var AXES = (
  /** @type {const} */
  ["field", "time", "z"]
);
var COUNTS = { field: "n_fields", time: "n_times", z: "n_z" };
var Sliders = class {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {import("./requests.js").RequestTracker} parts.tracker
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   * @param {() => void} parts.onTime  the time shown changed (the trace marker follows it)
   */
  constructor({ model, dom, listeners, tracker, send, onTime }) {
    this.model = model;
    this.dom = dom;
    this.tracker = tracker;
    this.send = send;
    this.onTime = onTime;
    this.pos = { field: model.get("field"), time: model.get("time"), z: model.get("z") };
    this.playing = false;
    this.owedFrame = false;
    this.playTimer = null;
    for (const a of AXES) {
      listeners.onDom(dom[a].range, "input", () => this.moveTo(a, Number(dom[a].range.value)));
      listeners.onDom(dom[a].number, "change", () => this.moveTo(a, Number(dom[a].number.value)));
    }
    for (const a of AXES) {
      listeners.onModel(`change:${a}`, () => {
        if (!tracker.inFlight()) this.show(a, model.get(a));
      });
    }
    for (const key of Object.values(COUNTS)) listeners.onModel(`change:${key}`, () => this.syncRanges());
    this.listenToKeys(listeners);
    listeners.onDom(dom.play, "click", () => this.togglePlay());
    listeners.onModel("change:playing", () => this.setPlaying(Boolean(model.get("playing"))));
  }
  /** Ask Python for the plane at the sliders' position. */
  request(playing = false) {
    if (this.model.get("n_times") < 1) {
      this.dom.status.textContent = WAITING;
      return;
    }
    const { id, ack } = this.tracker.next();
    const { field, time, z } = this.pos;
    this.send({ type: "request", id, field, time, z, playing, ack });
  }
  /** @param {Axis} axis */
  count(axis) {
    return Math.max(1, this.model.get(COUNTS[axis]));
  }
  syncRanges() {
    for (const a of AXES) {
      const n = this.count(a);
      for (const input of [this.dom[a].range, this.dom[a].number]) {
        input.max = String(n - 1);
        input.disabled = n <= 1;
        input.value = String(this.pos[a]);
      }
    }
  }
  /** Show slider position `v` on `axis` (no request). @param {Axis} axis @param {number} v */
  show(axis, v) {
    this.pos[axis] = v;
    this.dom[axis].range.value = this.dom[axis].number.value = String(v);
    if (axis === "time") this.onTime();
  }
  /** @param {Axis} axis @param {number} value */
  moveTo(axis, value, playing = false) {
    const v = Math.min(this.count(axis) - 1, Math.max(0, Math.round(value)));
    if (!Number.isFinite(v)) {
      this.show(axis, this.pos[axis]);
      return;
    }
    this.show(axis, v);
    this.request(playing);
  }
  /** A plane Python asked for overtook our requests: the sliders go where it is. @param {{field: number, time: number, z: number}} plane */
  follow(plane) {
    for (const a of AXES) if (this.pos[a] !== plane[a]) this.show(a, plane[a]);
  }
  // -- keyboard: arrows step time, up/down step z, space plays --------------------------------
  // Listened for on the window in the capture phase, the first place a key event reaches:
  // Notebook 7 (Lumino, capture phase on the document) would otherwise take the arrows for its
  // own shortcuts before the widget sees them. Only keys pressed while the explorer itself has
  // focus are taken; inputs inside it and everything else keep their keys.
  /** @param {import("./listen.js").Listeners} listeners */
  listenToKeys(listeners) {
    const root = this.dom.root;
    listeners.onDom(window, "keydown", (e) => {
      const target = (
        /** @type {HTMLElement} */
        e.composedPath()[0]
      );
      if (target !== root && !(target instanceof HTMLCanvasElement && root.contains(target))) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const step = { ArrowRight: ["time", 1], ArrowLeft: ["time", -1], ArrowUp: ["z", 1], ArrowDown: ["z", -1] }[e.key];
      if (!step && e.key !== " ") return;
      e.preventDefault();
      e.stopPropagation();
      if (step) {
        const [axis, d] = (
          /** @type {["time" | "z", number]} */
          step
        );
        this.moveTo(axis, this.pos[axis] + d);
      } else this.togglePlay();
    }, true);
    listeners.onDom(this.dom.stage, "pointerdown", () => root.focus({ preventScroll: true }));
  }
  // -- play -----------------------------------------------------------------------------------
  nextFrame() {
    this.show("time", (this.pos.time + 1) % this.count("time"));
    this.request(true);
  }
  schedule() {
    if (!this.playing) return;
    const fps = Math.max(1, Number(this.model.get("fps")) || 20);
    this.playTimer = setTimeout(() => this.tick(), 1e3 / fps);
  }
  tick() {
    if (this.tracker.inFlight()) this.owedFrame = true;
    else this.nextFrame();
    this.schedule();
  }
  /** @param {boolean} on */
  setPlaying(on) {
    if (on === this.playing) return;
    this.playing = on;
    this.owedFrame = false;
    this.dom.play.textContent = on ? "\u275A\u275A pause" : "\u25B6 play";
    this.dom.play.classList.toggle("six-active", on);
    if (this.playTimer) clearTimeout(this.playTimer);
    this.playTimer = null;
    if (on) this.schedule();
  }
  togglePlay() {
    this.setPlaying(!this.playing);
    this.send({ type: "config", key: "playing", value: this.playing });
  }
  /** A plane was drawn: a frame owed while it was in flight is requested now. */
  planeDrawn() {
    if (this.playing && this.owedFrame && !this.tracker.inFlight()) {
      this.owedFrame = false;
      this.nextFrame();
    }
  }
  destroy() {
    this.setPlaying(false);
  }
};

// src/stats.js
function percentile(values, q) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
var FpsMeter = class {
  constructor() {
    this.stamps = [];
  }
  /** @param {number} now */
  tick(now) {
    this.stamps.push(now);
    while (this.stamps.length && this.stamps[0] < now - 1e3) this.stamps.shift();
  }
  /** @param {number} now */
  fps(now) {
    while (this.stamps.length && this.stamps[0] < now - 1e3) this.stamps.shift();
    return this.stamps.length;
  }
};

// src/timing.js
var KEEP = 200;
var HINT_WINDOW = 20;
var HINT_QUANTILE = 25;
var HINT_SHOW_MS = 40;
var HINT_HIDE_MS = 30;
var LATENCY_HINT = "The server is probably paying the ~40 ms delayed-ACK stall on its kernel websocket. pip install si-explorer in the Jupyter server's environment enables the fix (then restart the server); or run `jupyter server extension enable si_explorer.explorer.nodelay` and restart it. If the fix is on already (the server log says \"si-explorer: TCP_NODELAY enabled\"), the host's own messaging, the network or a busy machine is the cause.";
var MARIMO_LATENCY_HINT = "marimo's server adds this between the kernel and the page; si-explorer's TCP_NODELAY fix is for Jupyter servers and does not apply here. JupyterLab or Voila answer faster.";
function inMarimo(node) {
  let n = node;
  while (n) {
    if (n instanceof Element && n.tagName.startsWith("MARIMO-")) return true;
    n = n.parentNode ?? (n instanceof ShadowRoot ? n.host : null);
  }
  return false;
}
function bytes(n) {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${n} B`;
}
function ms(v) {
  return v == null ? "\u2013" : `${v.toFixed(1)}`;
}
var TimingPanel = class {
  /**
   * @param {HTMLElement} root  the panel (its dataset carries machine-readable figures)
   * @param {HTMLElement} text
   * @param {HTMLCanvasElement} chart
   */
  constructor(root, text, chart) {
    this.root = root;
    this.text = text;
    this.chart = chart;
    this.recent = [];
    this.fps = new FpsMeter();
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
    this.text.textContent = `${where}: cache ${t.cache} \xB7 blocks read ${blocks} \xB7 ${bytes(t.bytes)}
read ${ms(t.read_ms)} ms \xB7 kernel ${ms(t.server_ms)} ms \xB7 draw ${ms(drawMs)} ms \xB7 round trip ${ms(totalMs)} ms
round trip p50 ${ms(p50)} / p95 ${ms(p95)} ms \xB7 reads p50 ${ms(t.read_p50)} / p95 ${ms(t.read_p95)} ms
hits ${t.hit_rate == null ? "\u2013" : Math.round(t.hit_rate * 100)}% \xB7 ${this.fps.fps(now)} planes/s \xB7 cache holds ${bytes(t.cache_bytes)}`;
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
    const floor = (
      /** @type {number} */
      percentile(last.map((r) => r.total - r.own), HINT_QUANTILE)
    );
    this.root.dataset.transportMs = floor.toFixed(2);
    if (floor > HINT_SHOW_MS) this.hint.hidden = false;
    else if (floor < HINT_HIDE_MS) this.hint.hidden = true;
    if (!this.hint.hidden) {
      const total = (
        /** @type {number} */
        percentile(last.map((r) => r.total), 50)
      );
      const own = (
        /** @type {number} */
        percentile(last.map((r) => r.own), 50)
      );
      this.hint.textContent = `Most round trips spend over ${floor.toFixed(0)} ms between kernel and page (last ${HINT_WINDOW}: p50 ${total.toFixed(0)} ms, of which this explorer's own work, kernel read + send + draw, is ${own.toFixed(1)} ms). ` + (inMarimo(this.root) ? MARIMO_LATENCY_HINT : LATENCY_HINT);
    }
  }
  /** Recent round trips as bars, newest on the right. @param {number | null} p50 */
  drawChart(p50) {
    const c = this.chart;
    const ctx = (
      /** @type {CanvasRenderingContext2D} */
      c.getContext("2d")
    );
    ctx.clearRect(0, 0, c.width, c.height);
    const items = this.recent.slice(-Math.floor(c.width / 3));
    const p95 = percentile(items.map((r) => r.total), 95) ?? 0;
    const top = niceCeil(Math.max(20, p95 * 1.25));
    const room = c.height - 12;
    items.forEach((r, i) => {
      const over = r.total > top;
      const hgt = Math.max(1, Math.min(r.total, top) / top * room);
      ctx.fillStyle = r.hit ? "#74c476" : "#fd8d3c";
      ctx.fillRect(i * 3, c.height - hgt, 2, hgt);
      if (over) {
        ctx.fillStyle = "#a50f15";
        ctx.fillRect(i * 3, c.height - room, 2, 3);
      }
    });
    if (p50 != null && items.length) {
      const y = c.height - Math.min(p50, top) / top * room;
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
    ctx.fillText(`round trips, top = ${top} ms \xB7 dashed p50 \xB7 green hit, orange read, red cut off`, 2, 9);
    this.root.dataset.chartTop = String(top);
  }
};
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// src/traceimage.js
var TraceImage = class {
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
    this.url = null;
    listeners.onModel("change:trace_png", () => this.sync());
    listeners.onModel("change:trace_axes", () => this.placeMarker());
    listeners.onDom(dom.traceImage, "click", (e) => {
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
      const bytes2 = new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
      this.url = URL.createObjectURL(new Blob([bytes2], { type: "image/png" }));
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
    const frac = (
      /** @type {number} */
      (x - g.xlim[0]) / (g.xlim[1] - g.xlim[0])
    );
    marker.style.left = `${(left + Math.min(1, Math.max(0, frac)) * (right - left)) * 100}%`;
    marker.style.top = `${top * 100}%`;
    marker.style.height = `${(bottom - top) * 100}%`;
    marker.dataset.time = String(time);
  }
  destroy() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
};

// src/index.js
function render({ model, el }) {
  const dom = buildDom(el, COLORMAP_NAMES);
  const listeners = new Listeners(model);
  const send = (msg) => model.send(msg);
  const tracker = new RequestTracker((ack) => send({ type: "drawn", id: ack.id, total_ms: ack.total_ms }));
  const view = new PlaneView(dom.stage, dom.plane, dom.overlay, {
    onSelect: (sel) => send({ type: "roi", field: sliders.pos.field, ...sel }),
    onCursor: (text) => {
      dom.cursor.textContent = text;
    },
    onZoom: (zoom) => {
      dom.zoom.textContent = `\xD7${zoom < 10 ? zoom.toFixed(1).replace(/\.0$/, "") : Math.round(zoom)}`;
      dom.stage.dataset.zoom = String(zoom);
    },
    onRender: (data, vmin, vmax) => histogram.update(data, vmin, vmax)
  });
  const showWindow = (vmin, vmax) => {
    dom.vmin.value = String(vmin);
    dom.vmax.value = String(vmax);
  };
  const histogram = new Histogram(dom.histogram, dom.histogramCanvas, dom.histogramText, (vmin, vmax, done) => {
    view.setDisplay(view.colormap, vmin, vmax);
    showWindow(vmin, vmax);
    if (done) {
      send({ type: "config", key: "vmin", value: vmin });
      send({ type: "config", key: "vmax", value: vmax });
    }
  });
  const timing = new TimingPanel(dom.timing, dom.timingText, dom.timingChart);
  const chunks = new ChunkMap(dom.chunkMap, dom.chunkCanvas, dom.legend, dom.chunkText);
  const traceImage = new TraceImage({ model, dom, listeners, send, timeShown: () => sliders.pos.time });
  const sliders = new Sliders({
    model,
    dom,
    listeners,
    tracker,
    send,
    onTime: () => {
      traceImage.placeMarker();
      views.backToFrame();
    }
  });
  const views = new Views({
    model,
    dom,
    listeners,
    view,
    send,
    showWindow,
    position: () => sliders.pos,
    requestFrame: () => sliders.request()
  });
  const metadata = new MetadataPanel({ dom, listeners, send, position: () => sliders.pos });
  const geometry = new RoiGeometry({ model, dom, listeners, select: (field) => sliders.moveTo("field", field) });
  const syncFileNote = () => {
    dom.fileNote.textContent = model.get("file_note") || "";
  };
  listeners.onModel("change:file_note", syncFileNote);
  const options = new Options({ model, dom, listeners, view, send });
  options.syncFollow();
  const errors = new ErrorBar(dom, listeners, () => options.syncAll());
  listeners.onModel("msg:custom", messageHandler({ dom, view, chunks, timing, tracker, sliders, errors, options, views, metadata, geometry }));
  sliders.syncRanges();
  syncFileNote();
  options.syncAll();
  options.display();
  view.setRoi(model.get("roi"));
  traceImage.sync();
  sliders.setPlaying(Boolean(model.get("playing")));
  geometry.sync();
  geometry.highlight(sliders.pos.field);
  sliders.request();
  views.resume();
  return () => {
    sliders.destroy();
    errors.destroy();
    tracker.destroy();
    traceImage.destroy();
    histogram.destroy();
    metadata.destroy();
    listeners.removeAll();
    view.destroy();
    dom.root.remove();
  };
}
var index_default = { render };
export {
  index_default as default
};
