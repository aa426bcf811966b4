// The view selector: the frame at the time shown, or a summary image over time (mean, max, std,
// local correlation) of the field and z shown, computed by Python in one pass and refined as
// it reads. A move in time returns to the frame; field and z moves stay in the summary view and
// show that plane's summary (Python computes it, or sends it from its cache).
//
// Each view keeps its own contrast window: the frame's is put back when the frame returns
// (without a redraw of the summary through it: the frame itself is drawn when it arrives), and
// a summary image comes with the window Python chose for it.

import { typedPlane } from "./lut.js";
import { VIEWS } from "./protocol.js";

/** @typedef {import("./types.js").View} View */

/** What the selector and the status call each view. @type {Record<View, string>} */
export const VIEW_LABELS = { frame: "frame", mean: "mean", max: "max", std: "std", correlation: "local correlation" };

/** @param {number} n */
const count = (n) => n.toLocaleString("en-US");

export class Views {
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
    /** @type {View} */
    this.mode = "frame";
    /** The frame view's window while a summary is shown. @type {[number, number] | null} */
    this.frameWindow = null;
    listeners.onDom(dom.viewSelect, "change", () => this.choose(/** @type {View} */ (dom.viewSelect.value)));
    // Python changed the view (user code, a move in time asked for in Python).
    listeners.onModel("change:view", () => {
      const v = /** @type {View} */ (model.get("view"));
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
    const v = /** @type {View} */ (this.model.get("view") || "frame");
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
        // Not drawn through: the summary stays until the frame arrives, at its own contrast.
        view.setDisplay(view.colormap, this.frameWindow[0], this.frameWindow[1], false);
        this.showWindow(this.frameWindow[0], this.frameWindow[1]);
      }
      this.frameWindow = null;
      dom.summaryNote.textContent = "";
    } else {
      // The picture on screen is not this view yet: dimmed until its image arrives.
      dom.stage.dataset.pending = "1";
      const { field, z } = this.position();
      dom.status.textContent = `${VIEW_LABELS[v]} · field ${field} · z ${z} · starting…`;
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
    const pct = msg.frames_total ? Math.floor((100 * msg.frames_done) / msg.frames_total) : 100;
    const label = VIEW_LABELS[msg.view] ?? msg.view;
    // "max · 40% of 12,000 frames" while it reads, then "max of 12,000 frames".
    const what = msg.done ? `${label} of ${count(msg.frames_total)} frames` : `${label} · ${pct}% of ${count(msg.frames_total)} frames`;
    if (this.mode === "frame") {
      // A pass keeps running while frames are shown: its result is ready when asked for.
      dom.summaryNote.textContent = msg.done ? "" : `summaries of field ${msg.field} · z ${msg.z}: ${pct}%`;
      return null;
    }
    if (msg.view !== this.mode || !here) return null; // for a view or plane left since
    const where = `field ${msg.field} · z ${msg.z}`;
    dom.summaryNote.textContent = "";
    if (!msg.image) {
      // A pass just started for this plane: the picture on screen is another plane's.
      dom.stage.dataset.pending = "1";
      dom.status.textContent = `${what} · ${where}`;
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
    dom.status.textContent = `${what} · ${where}`;
    dom.seconds.textContent = "";
    Object.assign(dom.root.dataset, {
      summaryDone: msg.done ? "1" : "0",
      summaryFrames: String(msg.frames_done),
      field: String(msg.field),
      z: String(msg.z),
    });
    return null;
  }
}
