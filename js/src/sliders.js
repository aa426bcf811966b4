// Field, time and z: the sliders and number boxes, the keyboard, and play.
//
// Where the sliders are may run ahead of the plane on screen while requests are in flight; the
// plane's arrival says what is shown (messages.js).

/** The status while a recording has no complete volume yet (Python says so in file_note too). */
const WAITING = "waiting for the first complete volume";

export const AXES = /** @type {const} */ (["field", "time", "z"]);
/** @typedef {typeof AXES[number]} Axis */
/** The synced trait holding each axis's length. */
const COUNTS = { field: "n_fields", time: "n_times", z: "n_z" };

export class Sliders {
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
    /** @type {Record<Axis, number>} */
    this.pos = { field: model.get("field"), time: model.get("time"), z: model.get("z") };
    this.playing = false;
    // A tick that found the previous frame still in flight: the next frame is requested as soon
    // as that one is drawn, so playback runs at min(fps, round-trip rate) instead of dropping to
    // every other tick.
    this.owedFrame = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.playTimer = null;

    for (const a of AXES) {
      listeners.onDom(dom[a].range, "input", () => this.moveTo(a, Number(dom[a].range.value)));
      listeners.onDom(dom[a].number, "change", () => this.moveTo(a, Number(dom[a].number.value)));
    }
    // Python moved the plane (user code, a click on the trace). Python never echoes the
    // browser's own requests back as trait changes, but one may cross a request of ours in
    // flight, so while one is outstanding the plane's arrival decides instead.
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
      // A recording whose first volume is still being written: Python sends the first plane
      // itself once the file has one.
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
      this.show(axis, this.pos[axis]); // an emptied number box: back to where the slider is
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
    listeners.onDom(window, "keydown", (/** @type {KeyboardEvent} */ e) => {
      const target = /** @type {HTMLElement} */ (e.composedPath()[0]); // inside a shadow root too
      if (target !== root && !(target instanceof HTMLCanvasElement && root.contains(target))) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return; // the host's shortcuts
      const step = { ArrowRight: ["time", 1], ArrowLeft: ["time", -1], ArrowUp: ["z", 1], ArrowDown: ["z", -1] }[e.key];
      if (!step && e.key !== " ") return;
      // Handled here: a notebook must not also move its cell selection or scroll.
      e.preventDefault();
      e.stopPropagation();
      if (step) {
        const [axis, d] = /** @type {["time" | "z", number]} */ (step);
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
    this.playTimer = setTimeout(() => this.tick(), 1000 / fps);
  }

  tick() {
    // Never queue: with the last frame still in flight, owe this one instead of sending it.
    if (this.tracker.inFlight()) this.owedFrame = true;
    else this.nextFrame();
    this.schedule();
  }

  /** @param {boolean} on */
  setPlaying(on) {
    if (on === this.playing) return;
    this.playing = on;
    this.owedFrame = false;
    this.dom.play.textContent = on ? "❚❚ pause" : "▶ play";
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
}
