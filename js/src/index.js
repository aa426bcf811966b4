// The si-explorer widget front end (an anywidget module: `export default { render }`).
//
// The browser owns what must feel instant (slider positions, colour, contrast, zoom, ROI
// drawing) and asks Python for planes with numbered requests. Python answers each with one
// message carrying the raw plane as a binary buffer; stale requests are dropped there, so the
// plane drawn last is always the one asked for last. The browser never sets a synced trait
// directly: it sends messages, which Python validates.
//
// render() only wires the parts together: the request tracker (requests.js), sliders, keys and
// play (sliders.js), display options and settings (options.js), the trace picture
// (traceimage.js) and the handlers of Python's messages (messages.js).

import { ChunkMap } from "./chunkmap.js";
import { buildDom } from "./dom.js";
import { Listeners } from "./listen.js";
import { COLORMAP_NAMES } from "./lut.js";
import { ErrorBar, messageHandler } from "./messages.js";
import { Options } from "./options.js";
import { PlaneView } from "./planeview.js";
import { RequestTracker } from "./requests.js";
import { Sliders } from "./sliders.js";
import { TimingPanel } from "./timing.js";
import { TraceImage } from "./traceimage.js";

/**
 * @param {{ model: import("./types.js").Model, el: HTMLElement }} ctx
 * @returns {() => void} cleanup, called by the host when the view is removed
 */
function render({ model, el }) {
  const dom = buildDom(el, COLORMAP_NAMES);
  const listeners = new Listeners(model);
  /** @param {import("./types.js").ToPython} msg */
  const send = (msg) => model.send(msg);
  const tracker = new RequestTracker((ack) => send({ type: "drawn", id: ack.id, total_ms: ack.total_ms }));

  const view = new PlaneView(dom.stage, dom.plane, dom.overlay, {
    onSelect: (sel) => send({ type: "roi", field: sliders.pos.field, ...sel }),
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
  const traceImage = new TraceImage({ model, dom, listeners, send, timeShown: () => sliders.pos.time });
  const sliders = new Sliders({ model, dom, listeners, tracker, send, onTime: () => traceImage.placeMarker() });
  const syncFileNote = () => {
    dom.fileNote.textContent = model.get("file_note") || "";
  };
  listeners.onModel("change:file_note", syncFileNote);
  const options = new Options({ model, dom, listeners, view, send });
  options.syncFollow();
  const errors = new ErrorBar(dom, listeners, () => options.syncAll());
  listeners.onModel("msg:custom", messageHandler({ dom, view, chunks, timing, tracker, sliders, errors, options }));

  sliders.syncRanges();
  syncFileNote();
  options.syncAll();
  options.display();
  view.setRoi(model.get("roi"));
  traceImage.sync();
  sliders.setPlaying(Boolean(model.get("playing")));
  // Ask for the current plane: anything Python sent before this view existed was not seen.
  sliders.request();

  return () => {
    sliders.destroy();
    errors.destroy();
    tracker.destroy();
    traceImage.destroy();
    listeners.removeAll();
    view.destroy();
    dom.root.remove();
  };
}

export default { render };
