// The si-explorer widget front end (an anywidget module: `export default { render }`).
//
// The browser owns what must feel instant (slider positions, colour, contrast, zoom, ROI
// drawing) and asks Python for planes with numbered requests. Python answers each with one
// message carrying the raw plane as a binary buffer; stale requests are dropped there, so the
// plane drawn last is always the one asked for last. The browser never sets a synced trait
// directly: it sends messages, which Python validates.
//
// render() only wires the parts together: the request tracker (requests.js), sliders, keys and
// play (sliders.js), display options and settings (options.js), the frame and summary views
// (views.js), the histogram and its contrast handles (histogram.js), the metadata panel
// (metadata.js), the scanfields of a multi-ROI file (geometry.js), the trace picture
// (traceimage.js) and the handlers of Python's messages (messages.js).

import { ChunkMap } from "./chunkmap.js";
import { buildDom } from "./dom.js";
import { RoiGeometry } from "./geometry.js";
import { Histogram } from "./histogram.js";
import { Listeners } from "./listen.js";
import { COLORMAP_NAMES } from "./lut.js";
import { ErrorBar, messageHandler } from "./messages.js";
import { MetadataPanel } from "./metadata.js";
import { Options } from "./options.js";
import { PlaneView } from "./planeview.js";
import { RequestTracker } from "./requests.js";
import { Sliders } from "./sliders.js";
import { TimingPanel } from "./timing.js";
import { TraceImage } from "./traceimage.js";
import { Views } from "./views.js";

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
    onRender: (data, vmin, vmax) => histogram.update(data, vmin, vmax),
  });
  /** The min/max boxes show a window applied here before Python's traits follow. @param {number} vmin @param {number} vmax */
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
    model, dom, listeners, tracker, send,
    onTime: () => {
      traceImage.placeMarker();
      views.backToFrame();
    },
  });
  const views = new Views({
    model, dom, listeners, view, send, showWindow, position: () => sliders.pos, requestFrame: () => sliders.request(),
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
  // Ask for the current plane: anything Python sent before this view existed was not seen.
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

export default { render };
