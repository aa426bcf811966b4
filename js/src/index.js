// The si-explorer widget front end (an anywidget module: `export default { render }`).
//
// The browser owns what must feel instant (slider positions, colour, contrast, zoom, ROI
// drawing) and asks Python for planes with numbered requests. Python answers each with one
// message carrying the raw plane as a binary buffer; stale requests are dropped there, so the
// plane drawn last is always the one asked for last. The browser never sets a synced trait
// directly: it sends messages, which Python validates.

import { ChunkMap } from "./chunkmap.js";
import { buildDom } from "./dom.js";
import { COLORMAP_NAMES, typedPlane } from "./lut.js";
import { PlaneView } from "./planeview.js";
import { TimingPanel } from "./timing.js";

/** A request with no answer after this long no longer holds back slider updates from Python. */
const STALE_REQUEST_MS = 3000;

/**
 * @param {{ model: import("./types.js").Model, el: HTMLElement }} ctx
 * @returns {() => void} cleanup, called by the host when the view is removed
 */
function render({ model, el }) {
  const dom = buildDom(el, COLORMAP_NAMES);
  /** @type {[string, (...args: any[]) => void][]} */
  const modelHandlers = [];
  /** @type {[EventTarget, string, EventListener, boolean][]} */
  const domHandlers = [];
  /** @param {string} name @param {(...args: any[]) => void} fn */
  const onModel = (name, fn) => {
    model.on(name, fn);
    modelHandlers.push([name, fn]);
  };
  /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
  const onDom = (target, name, fn, capture = false) => {
    target.addEventListener(name, fn, capture);
    domHandlers.push([target, name, fn, capture]);
  };

  // Where the sliders are (may run ahead of the plane on screen while requests are in flight).
  const pos = { field: model.get("field"), time: model.get("time"), z: model.get("z") };
  let nextId = 1;
  let lastSentId = 0;
  let lastSentAt = 0;
  let lastAnsweredId = 0;
  /** @type {Map<number, number>} */
  const sentAt = new Map();
  /** @type {ReturnType<typeof setTimeout> | null} */
  let playTimer = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let errorTimer = null;
  /** @type {string | null} */
  let traceUrl = null;
  // The browser's request->drawn time for the last plane rides on the next request, so a
  // slider step costs one message each way; a timer sends it alone when no request follows.
  /** @type {{id: number, total_ms: number} | null} */
  let pendingAck = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let ackTimer = null;

  const view = new PlaneView(dom.stage, dom.plane, dom.overlay, {
    onSelect: (sel) => model.send({ type: "roi", field: pos.field, ...sel }),
    onCursor: (text) => {
      dom.cursor.textContent = text;
    },
    onZoom: (zoom) => {
      dom.zoom.textContent = `×${zoom < 10 ? zoom.toFixed(1).replace(/\.0$/, "") : Math.round(zoom)}`;
      dom.stage.dataset.zoom = String(zoom);
    },
  });
  const timing = new TimingPanel(dom.timing, dom.timingText, dom.timingChart);
  const chunks = new ChunkMap(dom.chunkMap, dom.chunkCanvas, dom.legend, dom.chunkText);

  const inFlight = () => lastSentId > lastAnsweredId && performance.now() - lastSentAt < STALE_REQUEST_MS;

  const WAITING = "waiting for the first complete volume";

  /** @param {boolean} [playing] */
  function request(playing = false) {
    if (model.get("n_times") < 1) {
      // A recording whose first volume is still being written: Python sends the first plane
      // itself once the file has one.
      dom.status.textContent = WAITING;
      return;
    }
    const id = nextId++;
    const now = performance.now();
    sentAt.set(id, now);
    if (sentAt.size > 500) sentAt.delete(/** @type {number} */ (sentAt.keys().next().value));
    lastSentId = id;
    lastSentAt = now;
    model.send({ type: "request", id, field: pos.field, time: pos.time, z: pos.z, playing, ack: pendingAck });
    pendingAck = null;
  }

  function flushAck() {
    ackTimer = null;
    if (pendingAck) model.send({ type: "drawn", id: pendingAck.id, total_ms: pendingAck.total_ms });
    pendingAck = null;
  }

  /** @param {string} key @param {unknown} value */
  const config = (key, value) => model.send({ type: "config", key, value });

  /** @param {string} text */
  function showError(text) {
    dom.error.textContent = text;
    dom.error.hidden = false;
    // A rejected setting leaves Python's value in force: show that one, not the rejected text.
    syncOptions();
    syncDisplayInputs();
    if (errorTimer) clearTimeout(errorTimer);
    errorTimer = setTimeout(() => {
      dom.error.hidden = true;
    }, 10000);
  }

  // -- sliders ---------------------------------------------------------------------------
  const axes = /** @type {const} */ (["field", "time", "z"]);
  const counts = { field: "n_fields", time: "n_times", z: "n_z" };

  function syncRanges() {
    for (const a of axes) {
      const n = Math.max(1, model.get(counts[a]));
      for (const input of [dom[a].range, dom[a].number]) {
        input.max = String(n - 1);
        input.disabled = n <= 1;
        input.value = String(pos[a]);
      }
    }
  }

  /** Show slider position `v` on `axis` (no request). @param {"field" | "time" | "z"} axis @param {number} v */
  function showPosition(axis, v) {
    pos[axis] = v;
    dom[axis].range.value = dom[axis].number.value = String(v);
    if (axis === "time") placeMarker();
  }

  /** @param {"field" | "time" | "z"} axis @param {number} value */
  function moveTo(axis, value, playing = false) {
    const n = Math.max(1, model.get(counts[axis]));
    const v = Math.min(n - 1, Math.max(0, Math.round(value)));
    if (!Number.isFinite(v)) {
      showPosition(axis, pos[axis]); // an emptied number box: back to where the slider is
      return;
    }
    showPosition(axis, v);
    request(playing);
  }

  for (const a of axes) {
    onDom(dom[a].range, "input", () => moveTo(a, Number(dom[a].range.value)));
    onDom(dom[a].number, "change", () => moveTo(a, Number(dom[a].number.value)));
  }

  // Python moved the plane (user code, a click on the trace). Python never echoes the
  // browser's own requests back as trait changes, but one may cross a request of ours in
  // flight, so while one is outstanding the plane's arrival decides instead (see onPlane).
  for (const a of axes) {
    onModel(`change:${a}`, () => {
      if (!inFlight()) showPosition(a, model.get(a));
    });
  }
  for (const key of ["n_fields", "n_times", "n_z"]) onModel(`change:${key}`, syncRanges);
  const syncFileNote = () => {
    dom.fileNote.textContent = model.get("file_note") || "";
  };
  onModel("change:file_note", syncFileNote);

  // -- keyboard: arrows step time, up/down step z, space plays ------------------------------
  // Listened for on the window in the capture phase, the first place a key event reaches:
  // Notebook 7 (Lumino, capture phase on the document) would otherwise take the arrows for its
  // own shortcuts before the widget sees them. Only keys pressed while the explorer itself has
  // focus are taken; inputs inside it and everything else keep their keys.
  onDom(window, "keydown", (/** @type {KeyboardEvent} */ e) => {
    const target = /** @type {HTMLElement} */ (e.composedPath()[0]); // inside a shadow root too
    if (target !== dom.root && !(target instanceof HTMLCanvasElement && dom.root.contains(target))) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return; // the host's shortcuts
    const step = { ArrowRight: ["time", 1], ArrowLeft: ["time", -1], ArrowUp: ["z", 1], ArrowDown: ["z", -1] }[e.key];
    if (!step && e.key !== " ") return;
    // Handled here: a notebook must not also move its cell selection or scroll.
    e.preventDefault();
    e.stopPropagation();
    if (step) {
      const [axis, d] = /** @type {["time" | "z", number]} */ (step);
      moveTo(axis, pos[axis] + d);
    } else togglePlay();
  }, true);
  onDom(dom.stage, "pointerdown", () => dom.root.focus({ preventScroll: true }));

  // -- play ---------------------------------------------------------------------------------
  let playing = false;
  // A tick that found the previous frame still in flight: the next frame is requested as soon
  // as that one is drawn, so playback runs at min(fps, round-trip rate) instead of dropping to
  // every other tick.
  let owedFrame = false;
  function nextFrame() {
    const n = Math.max(1, model.get("n_times"));
    showPosition("time", (pos.time + 1) % n);
    request(true);
  }
  function schedule() {
    if (!playing) return;
    const fps = Math.max(1, Number(model.get("fps")) || 20);
    playTimer = setTimeout(tick, 1000 / fps);
  }
  function tick() {
    // Never queue: with the last frame still in flight, owe this one instead of sending it.
    if (inFlight()) owedFrame = true;
    else nextFrame();
    schedule();
  }
  /** @param {boolean} on */
  function setPlaying(on) {
    if (on === playing) return;
    playing = on;
    owedFrame = false;
    dom.play.textContent = on ? "❚❚ pause" : "▶ play";
    dom.play.classList.toggle("six-active", on);
    if (playTimer) clearTimeout(playTimer);
    playTimer = null;
    if (on) schedule();
  }
  function togglePlay() {
    setPlaying(!playing);
    config("playing", playing);
  }
  onDom(dom.play, "click", togglePlay);
  onModel("change:playing", () => setPlaying(Boolean(model.get("playing"))));
  onDom(dom.fps, "change", () => config("fps", Number(dom.fps.value)));
  onDom(dom.follow, "change", () => config("follow", dom.follow.checked));
  const syncFollow = () => {
    dom.follow.checked = Boolean(model.get("follow"));
  };
  onModel("change:follow", syncFollow);
  syncFollow();
  onModel("change:fps", () => {
    dom.fps.value = String(model.get("fps"));
  });

  // -- display: colormap and contrast are applied locally at once, then told to Python -------
  function display() {
    view.setDisplay(model.get("colormap"), Number(model.get("vmin")), Number(model.get("vmax")));
  }
  function syncDisplayInputs() {
    dom.colormap.value = model.get("colormap");
    dom.vmin.value = String(model.get("vmin"));
    dom.vmax.value = String(model.get("vmax"));
  }
  onDom(dom.colormap, "change", () => {
    view.setDisplay(dom.colormap.value, view.vmin, view.vmax);
    config("colormap", dom.colormap.value);
  });
  for (const [input, key] of /** @type {const} */ ([[dom.vmin, "vmin"], [dom.vmax, "vmax"]])) {
    onDom(input, "change", () => {
      const v = Number(input.value);
      if (!Number.isFinite(v) || input.value === "") return;
      if (key === "vmin") view.setDisplay(view.colormap, v, view.vmax);
      else view.setDisplay(view.colormap, view.vmin, v);
      config(key, v);
    });
  }
  onDom(dom.auto, "click", () => model.send({ type: "auto_contrast" }));
  for (const key of ["colormap", "vmin", "vmax"]) {
    onModel(`change:${key}`, () => {
      syncDisplayInputs();
      display();
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
  onDom(dom.clear, "click", () => model.send({ type: "clear_roi" }));
  onModel("change:roi", () => view.setRoi(model.get("roi")));

  // -- channel and chunking experiments -----------------------------------------------------
  function syncOptions() {
    const channels = /** @type {string[]} */ (model.get("channels") || []);
    dom.channel.replaceChildren(
      ...channels.map((c, i) => {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = c;
        return o;
      }),
    );
    dom.channel.value = String(model.get("channel"));
    dom.channelLabel.hidden = channels.length < 2;
    dom.scheme.value = committedScheme = model.get("chunk_scheme");
    dom.backend.value = model.get("backend");
    dom.cacheMb.value = String(model.get("cache_mb"));
    dom.prefetch.value = String(model.get("prefetch"));
    dom.fps.value = String(model.get("fps"));
  }
  onDom(dom.channel, "change", () => config("channel", Number(dom.channel.value)));
  // Chromium fires no change event on Enter in an input with a datalist, so Enter commits
  // explicitly; blur still commits through change. Each distinct value is sent once.
  /** @type {string} */
  let committedScheme = model.get("chunk_scheme");
  function commitScheme() {
    const value = dom.scheme.value.trim();
    if (value === committedScheme) return;
    committedScheme = value;
    config("chunk_scheme", value);
  }
  onDom(dom.scheme, "change", commitScheme);
  onDom(dom.scheme, "keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter") commitScheme();
  });
  onDom(dom.backend, "change", () => config("backend", dom.backend.value));
  onDom(dom.cacheMb, "change", () => config("cache_mb", Number(dom.cacheMb.value)));
  onDom(dom.prefetch, "change", () => config("prefetch", Number(dom.prefetch.value)));
  for (const key of ["channels", "channel", "chunk_scheme", "backend", "cache_mb", "prefetch"]) {
    onModel(`change:${key}`, syncOptions);
  }

  // -- trace fallback image (hosts without ipympl) ------------------------------------------
  // The picture has no time marker of its own: it is drawn here, so it follows the slider at
  // once. Python sends where the axes sit in the picture and how time maps to the x axis.
  /** @returns {import("./types.js").TraceGeometry | null} */
  function geometry() {
    return model.get("trace_axes") || null;
  }

  function syncTraceImage() {
    const png = model.get("trace_png");
    const show = model.get("trace_mode") === "image" && png && png.byteLength > 0;
    dom.traceBox.hidden = !show;
    if (traceUrl) URL.revokeObjectURL(traceUrl);
    traceUrl = null;
    if (show) {
      const bytes = new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
      traceUrl = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      dom.traceImage.src = traceUrl;
    }
    placeMarker();
  }

  /** Axis value (seconds or frames) of time index `t`, interpolated between knots. @param {number} t */
  function axisValue(t) {
    const g = geometry();
    if (!g || !g.t || g.t.length === 0) return null;
    let i = 0;
    while (i < g.t.length - 2 && g.t[i + 1] < t) i++;
    if (g.t.length === 1) return g.x[0];
    const f = (t - g.t[i]) / Math.max(1e-12, g.t[i + 1] - g.t[i]);
    return g.x[i] + f * (g.x[i + 1] - g.x[i]);
  }

  function placeMarker() {
    const g = geometry();
    const x = axisValue(pos.time);
    const ok = g && g.box && g.box.length === 4 && g.xlim && x !== null && g.xlim[1] !== g.xlim[0];
    dom.traceMarker.hidden = !ok;
    if (!ok || !g) return;
    const [left, right, top, bottom] = g.box;
    const frac = (/** @type {number} */ (x) - g.xlim[0]) / (g.xlim[1] - g.xlim[0]);
    dom.traceMarker.style.left = `${(left + Math.min(1, Math.max(0, frac)) * (right - left)) * 100}%`;
    dom.traceMarker.style.top = `${top * 100}%`;
    dom.traceMarker.style.height = `${(bottom - top) * 100}%`;
    dom.traceMarker.dataset.time = String(pos.time);
  }

  onModel("change:trace_png", syncTraceImage);
  onModel("change:trace_axes", placeMarker);
  onDom(dom.traceImage, "click", (/** @type {MouseEvent} */ e) => {
    // Map the click through the axes' position inside the picture to an axis value; Python
    // maps that value to the nearest time point (frames or seconds, as the axis shows).
    const g = geometry();
    if (!g || !g.box || !g.xlim) return;
    const [left, right] = g.box;
    const r = dom.traceImage.getBoundingClientRect();
    const frac = ((e.clientX - r.left) / r.width - left) / (right - left);
    if (!(frac >= 0 && frac <= 1)) return;
    model.send({ type: "trace_click", x: g.xlim[0] + frac * (g.xlim[1] - g.xlim[0]) });
  });

  // -- messages from Python -----------------------------------------------------------------
  /** @param {any} msg @param {DataView[]} buffers */
  function onMessage(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "plane") onPlane(msg, buffers);
    else if (msg.type === "error") {
      showError(msg.message);
      lastAnsweredId = lastSentId; // a failed request will not be answered with a plane
    } else if (msg.type === "reading") {
      if (msg.field === pos.field) chunks.markReading(msg.block[0], msg.block[1]);
    } else if (msg.type === "trace") {
      dom.traceStatus.textContent =
        msg.state === "done" ? `trace: done (${msg.total} time points)` : `trace: ${msg.done}/${msg.total} time points`;
      dom.traceStatus.dataset.state = msg.state;
    }
  }

  /** @param {any} msg @param {DataView[]} buffers */
  function onPlane(msg, buffers) {
    const t0 = performance.now();
    let data;
    try {
      data = typedPlane(buffers[0], msg.dtype, msg.width * msg.height);
    } catch (err) {
      showError(String(err));
      return;
    }
    const [fullHeight, fullWidth] = Array.isArray(msg.padded) ? msg.padded : [msg.height, msg.width];
    view.setPlane({ id: msg.id, field: msg.field, time: msg.time, z: msg.z, height: msg.height, width: msg.width, fullHeight, fullWidth, data });
    view.refreshReadout();
    const where = `field ${msg.field} · time ${msg.time} · z ${msg.z}`;
    dom.status.textContent = where;
    dom.seconds.textContent = typeof msg.seconds === "number" ? `${msg.seconds.toFixed(3)} s` : "";
    dom.root.dataset.field = String(msg.field);
    dom.root.dataset.time = String(msg.time);
    dom.root.dataset.z = String(msg.z);
    dom.root.dataset.requestId = String(msg.id);
    const now = performance.now();
    let total = null;
    // Every request of ours up to `seen` is answered or was superseded by this plane.
    const seen = Number(msg.seen) || 0;
    if (msg.id < 0 && seen >= lastSentId) {
      // Asked for in Python after our last request: this is where the sliders belong now.
      for (const a of axes) if (pos[a] !== msg[a]) showPosition(a, msg[a]);
    }
    lastAnsweredId = Math.max(lastAnsweredId, seen);
    if (msg.id > 0) {
      lastAnsweredId = Math.max(lastAnsweredId, msg.id);
      const sent = sentAt.get(msg.id);
      if (sent !== undefined) {
        total = now - sent;
        sentAt.delete(msg.id);
        pendingAck = { id: msg.id, total_ms: total };
        if (ackTimer) clearTimeout(ackTimer);
        ackTimer = setTimeout(flushAck, 250);
      }
    }
    timing.record(msg.timing, total, now - t0, where);
    if (msg.chunk_map && buffers[1]) {
      chunks.setGrid(buffers[1], msg.chunk_map.rows, msg.chunk_map.cols, msg.chunk_map.bin);
    }
    if (msg.block) chunks.setCurrent(msg.block[0], msg.block[1]);
    if (playing && owedFrame && !inFlight()) {
      owedFrame = false;
      nextFrame();
    }
  }
  onModel("msg:custom", onMessage);
  onDom(dom.error, "click", () => {
    dom.error.hidden = true;
  });

  syncRanges();
  syncFileNote();
  syncOptions();
  syncDisplayInputs();
  display();
  view.setRoi(model.get("roi"));
  syncTraceImage();
  setPlaying(Boolean(model.get("playing")));
  // Ask for the current plane: anything Python sent before this view existed was not seen.
  request();

  return () => {
    setPlaying(false);
    if (errorTimer) clearTimeout(errorTimer);
    if (ackTimer) clearTimeout(ackTimer);
    if (traceUrl) URL.revokeObjectURL(traceUrl);
    for (const [name, fn] of modelHandlers) model.off(name, fn);
    for (const [target, name, fn, capture] of domHandlers) target.removeEventListener(name, fn, capture);
    view.destroy();
    dom.root.remove();
  };
}

export default { render };
