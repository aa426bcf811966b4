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
  /** @type {[EventTarget, string, EventListener][]} */
  const domHandlers = [];
  /** @param {string} name @param {(...args: any[]) => void} fn */
  const onModel = (name, fn) => {
    model.on(name, fn);
    modelHandlers.push([name, fn]);
  };
  /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
  const onDom = (target, name, fn) => {
    target.addEventListener(name, fn);
    domHandlers.push([target, name, fn]);
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
  });
  const timing = new TimingPanel(dom.timing, dom.timingText, dom.timingChart);
  const chunks = new ChunkMap(dom.chunkMap, dom.chunkCanvas, dom.legend, dom.chunkText);

  const inFlight = () => lastSentId > lastAnsweredId && performance.now() - lastSentAt < STALE_REQUEST_MS;

  /** @param {boolean} [playing] */
  function request(playing = false) {
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

  /** @param {"field" | "time" | "z"} axis @param {number} value */
  function moveTo(axis, value, playing = false) {
    const n = Math.max(1, model.get(counts[axis]));
    const v = Math.min(n - 1, Math.max(0, Math.round(value)));
    if (!Number.isFinite(v)) return;
    pos[axis] = v;
    dom[axis].range.value = dom[axis].number.value = String(v);
    request(playing);
  }

  for (const a of axes) {
    onDom(dom[a].range, "input", () => moveTo(a, Number(dom[a].range.value)));
    onDom(dom[a].number, "change", () => moveTo(a, Number(dom[a].number.value)));
  }

  // Python moved the plane (user code, a click on the trace): follow it, unless the user is
  // mid-drag, in which case these are echoes of our own older requests.
  for (const a of axes) {
    onModel(`change:${a}`, () => {
      if (inFlight()) return;
      pos[a] = model.get(a);
      dom[a].range.value = dom[a].number.value = String(pos[a]);
    });
  }
  for (const key of ["n_fields", "n_times", "n_z"]) onModel(`change:${key}`, syncRanges);

  // -- keyboard: arrows step time, up/down step z, space plays ------------------------------
  onDom(dom.root, "keydown", (/** @type {KeyboardEvent} */ e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (target !== dom.root && target.tagName !== "CANVAS") return; // inputs keep their keys
    const step = { ArrowRight: ["time", 1], ArrowLeft: ["time", -1], ArrowUp: ["z", 1], ArrowDown: ["z", -1] }[e.key];
    if (step) {
      e.preventDefault();
      const [axis, d] = /** @type {["time" | "z", number]} */ (step);
      moveTo(axis, pos[axis] + d);
    } else if (e.key === " ") {
      e.preventDefault();
      togglePlay();
    }
  });
  onDom(dom.stage, "pointerdown", () => dom.root.focus({ preventScroll: true }));

  // -- play ---------------------------------------------------------------------------------
  let playing = false;
  // A tick that found the previous frame still in flight: the next frame is requested as soon
  // as that one is drawn, so playback runs at min(fps, round-trip rate) instead of dropping to
  // every other tick.
  let owedFrame = false;
  function nextFrame() {
    const n = Math.max(1, model.get("n_times"));
    pos.time = (pos.time + 1) % n;
    dom.time.range.value = dom.time.number.value = String(pos.time);
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
    dom.scheme.value = model.get("chunk_scheme");
    dom.backend.value = model.get("backend");
    dom.cacheMb.value = String(model.get("cache_mb"));
    dom.prefetch.value = String(model.get("prefetch"));
    dom.fps.value = String(model.get("fps"));
  }
  onDom(dom.channel, "change", () => config("channel", Number(dom.channel.value)));
  onDom(dom.scheme, "change", () => config("chunk_scheme", dom.scheme.value.trim()));
  onDom(dom.backend, "change", () => config("backend", dom.backend.value));
  onDom(dom.cacheMb, "change", () => config("cache_mb", Number(dom.cacheMb.value)));
  onDom(dom.prefetch, "change", () => config("prefetch", Number(dom.prefetch.value)));
  for (const key of ["channels", "channel", "chunk_scheme", "backend", "cache_mb", "prefetch"]) {
    onModel(`change:${key}`, syncOptions);
  }

  // -- trace fallback image (hosts without ipympl) ------------------------------------------
  function syncTraceImage() {
    const png = model.get("trace_png");
    const show = model.get("trace_mode") === "image" && png && png.byteLength > 0;
    dom.traceImage.hidden = !show;
    if (traceUrl) URL.revokeObjectURL(traceUrl);
    traceUrl = null;
    if (show) {
      const bytes = new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
      traceUrl = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      dom.traceImage.src = traceUrl;
    }
  }
  onModel("change:trace_png", syncTraceImage);
  onDom(dom.traceImage, "click", (/** @type {MouseEvent} */ e) => {
    // Map the click to a time index through the axes' position inside the picture.
    const [f0, f1, x0, x1] = /** @type {number[]} */ (model.get("trace_axes") || []);
    if (f1 === undefined) return;
    const r = dom.traceImage.getBoundingClientRect();
    const frac = ((e.clientX - r.left) / r.width - f0) / (f1 - f0);
    if (frac < 0 || frac > 1) return;
    // The axis is in frames or seconds; Python maps the value to the nearest time point.
    model.send({ type: "trace_click", x: x0 + frac * (x1 - x0) });
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
    view.setPlane({ id: msg.id, field: msg.field, time: msg.time, z: msg.z, height: msg.height, width: msg.width, data });
    view.refreshReadout();
    const where = `field ${msg.field} · time ${msg.time} · z ${msg.z}`;
    dom.status.textContent = where;
    dom.root.dataset.field = String(msg.field);
    dom.root.dataset.time = String(msg.time);
    dom.root.dataset.z = String(msg.z);
    dom.root.dataset.requestId = String(msg.id);
    const now = performance.now();
    let total = null;
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
    for (const [target, name, fn] of domHandlers) target.removeEventListener(name, fn);
    view.destroy();
    dom.root.remove();
  };
}

export default { render };
