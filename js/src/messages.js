// Messages from Python: one handler per type in protocol.js's FROM_PYTHON (the handler table's
// type makes tsc insist on all of them), and the error bar they may show.

import { typedPlane } from "./lut.js";

/** Errors stay on screen this long unless clicked away. */
const ERROR_MS = 10000;

export class ErrorBar {
  /**
   * @param {import("./dom.js").Dom} dom
   * @param {import("./listen.js").Listeners} listeners
   * @param {() => void} onShow  called with each error (the inputs show Python's values again)
   */
  constructor(dom, listeners, onShow) {
    this.el = dom.error;
    this.onShow = onShow;
    /** @type {ReturnType<typeof setTimeout> | null} */
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
}

/**
 * @typedef {Object} Parts
 * @property {import("./dom.js").Dom} dom
 * @property {import("./planeview.js").PlaneView} view
 * @property {import("./chunkmap.js").ChunkMap} chunks
 * @property {import("./timing.js").TimingPanel} timing
 * @property {import("./requests.js").RequestTracker} tracker
 * @property {import("./sliders.js").Sliders} sliders
 * @property {ErrorBar} errors
 * @property {import("./options.js").Options} [options]
 * @property {import("./views.js").Views} [views]
 * @property {import("./metadata.js").MetadataPanel} [metadata]
 * @property {import("./geometry.js").RoiGeometry} [geometry]
 */

/**
 * The `msg:custom` listener for a view made of `parts`.
 * @param {Parts} parts
 * @returns {(msg: any, buffers: DataView[]) => void}
 */
export function messageHandler(parts) {
  const { dom, chunks, tracker, sliders, errors, views, metadata } = parts;
  /** @type {{ [K in import("./types.js").FromPython["type"]]: (msg: Extract<import("./types.js").FromPython, { type: K }>, buffers: DataView[]) => void }} */
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
      dom.traceStatus.textContent =
        msg.state === "done" ? `trace: done (${msg.total} time points)` : `trace: ${msg.done}/${msg.total} time points`;
      dom.traceStatus.dataset.state = msg.state;
    },
    summary: (msg, buffers) => {
      const problem = views ? views.onSummary(msg, buffers) : null;
      if (problem) errors.show(problem);
    },
    metadata: (msg) => metadata?.setMetadata(msg),
    frame_header: (msg) => metadata?.setHeader(msg),
  };
  return (msg, buffers) => {
    if (!msg || typeof msg !== "object" || !Object.prototype.hasOwnProperty.call(handlers, msg.type)) return;
    /** @type {(msg: any, buffers: DataView[]) => void} */ (handlers[/** @type {keyof typeof handlers} */ (msg.type)])(msg, buffers);
  };
}

/**
 * Draw a plane, settle the requests it answers, and update what depends on it.
 * @param {Parts} parts @param {import("./types.js").PlaneMessage} msg @param {DataView[]} buffers
 */
function onPlane({ dom, view, chunks, timing, tracker, sliders, errors, options, views, metadata, geometry }, msg, buffers) {
  const t0 = performance.now();
  const where = `field ${msg.field} · time ${msg.time} · z ${msg.z}`;
  // In a summary view the plane still settles its request (the sliders asked for it), but the
  // summary image stays on screen and the status names it.
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
  // Every request of ours up to `seen` is answered or was superseded by this plane.
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
