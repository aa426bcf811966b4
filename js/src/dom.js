// Building the widget's DOM. Every element tests or users may automate carries a data-role.

import { BACKENDS, BIDI_MODES, VIEWS } from "./protocol.js";
import { CSS } from "./style.js";
import { VIEW_LABELS } from "./views.js";

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

/**
 * A labelled range slider with a number box kept in step.
 * @param {string} label
 * @param {string} role  data-role of the range input
 */
function slider(label, role) {
  const range = h("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "data-role": role, "aria-label": label });
  const number = h("input", { type: "number", min: "0", max: "0", step: "1", value: "0", class: "six-num", "data-role": `${role}-number`, "aria-label": `${label} number` });
  const row = h("div", { class: "six-slider" }, [h("span", { text: label }), range, number]);
  return { row, range, number };
}

/**
 * @param {string} role
 * @param {string[]} options
 */
function select(role, options) {
  const s = h("select", { "data-role": role });
  for (const o of options) s.append(h("option", { value: o, text: o }));
  return s;
}

/** Each widget needs its own datalist id: two explorers may share one page (no shadow DOM). */
let instances = 0;

/**
 * Create the whole widget under `el`; returns the elements the controller wires up.
 *
 * Layout: a main column (plane, sliders, controls, timing, chunk map) as wide as the plane view,
 * and a side column for the trace picture when the host cannot show the ipympl figure. In
 * Jupyter the ipympl figure sits beside the main column instead, in the same output.
 * @param {HTMLElement} el
 * @param {string[]} colormaps
 */
export function buildDom(el, colormaps) {
  const uid = ++instances;
  const root = h("div", { class: "six-root", "data-role": "si-explorer", tabindex: "0" });
  root.append(h("style", { text: CSS }));
  const main = h("div", { class: "six-main" });

  const title = h("div", { class: "six-row" });
  const status = h("span", { class: "six-status", "data-role": "status", text: "loading…" });
  const seconds = h("span", { class: "six-mono six-dim", "data-role": "seconds" });
  const fileNote = h("span", { class: "six-dim", "data-role": "file-note" });
  title.append(status, seconds, fileNote);
  // A line of its own, always there: text appearing beside a long status would wrap the title
  // and move the plane under the pointer in the middle of a ROI drag.
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

  // What the plane view shows: the frame, or a summary image over time of this field and z.
  const viewSelect = h("select", { "data-role": "view-select", title: "the frame at the time shown, or a summary of this field and plane over every time point (moving in time shows the frame again)" });
  for (const v of VIEWS) viewSelect.append(h("option", { value: v, text: VIEW_LABELS[v] }));
  const summaryNote = h("span", { class: "six-dim six-mono", "data-role": "summary-note" });
  const viewRow = h("div", { class: "six-row" }, [h("label", {}, ["view", viewSelect]), summaryNote]);

  // The scanfields of a multi-ROI acquisition in scan coordinates (hidden for one field).
  const roiSvg = /** @type {SVGSVGElement} */ (document.createElementNS("http://www.w3.org/2000/svg", "svg"));
  roiSvg.setAttribute("class", "six-roi-svg");
  roiSvg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const roiGeometry = h("div", { class: "six-panel", "data-role": "roi-geometry" }, [
    h("h4", { text: "scanfields (scan degrees; click one to show it)" }),
  ]);
  roiGeometry.append(roiSvg);
  roiGeometry.hidden = true;

  const play = h("button", { "data-role": "play", text: "▶ play", title: "play / pause (space)" });
  const fps = h("input", { type: "number", min: "1", max: "240", step: "1", class: "six-num", "data-role": "fps" });
  const channel = select("channel", []);
  const channelLabel = h("label", {}, ["channel", channel]);
  const colormap = select("colormap", colormaps);
  const vmin = h("input", { type: "number", class: "six-num", "data-role": "vmin", step: "any" });
  const vmax = h("input", { type: "number", class: "six-num", "data-role": "vmax", step: "any" });
  const auto = h("button", { "data-role": "auto-contrast", text: "auto", title: "contrast from percentiles of a few sampled planes (of the image, in a summary view)" });
  const zoomOut = h("button", { "data-role": "zoom-out", text: "−", title: "zoom out (or mouse wheel)" });
  const zoomIn = h("button", { "data-role": "zoom-in", text: "+", title: "zoom in (or mouse wheel)" });
  const zoom = h("span", { class: "six-mono", "data-role": "zoom", text: "×1" });
  const pan = h("button", { "data-role": "pan", text: "pan", title: "drag to pan (or shift-drag)" });
  const reset = h("button", { "data-role": "reset-view", text: "fit", title: "whole plane (or double-click)" });
  const clear = h("button", { "data-role": "clear-roi", text: "clear ROI" });
  const follow = h("input", { type: "checkbox", "data-role": "follow" });
  const followLabel = h("label", { title: "grow the time axis while the file is still being written" }, [follow, "follow file"]);
  const playRow = h("div", { class: "six-row" }, [play, h("label", {}, ["fps", fps]), followLabel, channelLabel]);
  const displayRow = h("div", { class: "six-row" }, [
    h("label", {}, ["colormap", colormap]), h("label", {}, ["min", vmin]), h("label", {}, ["max", vmax]), auto,
  ]);
  const zoomRow = h("div", { class: "six-row" }, [zoomOut, zoom, zoomIn, reset, pan, clear]);

  // The displayed image's histogram with the contrast window's handles.
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
    h("label", {}, ["chunks", scheme, schemes]), h("label", {}, ["backend", backend]),
    h("label", {}, ["cache MB", cacheMb]), h("label", {}, ["prefetch", prefetch]),
  ]);

  // Acquisition timeline: aux trigger ticks on the trace (shown when the file has triggers).
  const auxToggle = h("input", { type: "checkbox", "data-role": "aux-toggle" });
  const auxLabel = h("label", { title: "aux trigger times as ticks on the trace" }, [auxToggle, "aux triggers"]);
  auxLabel.hidden = true;
  const timelineNote = h("span", { class: "six-dim", "data-role": "timeline-note" });
  const timelineRow = h("div", { class: "six-row" }, [auxLabel, timelineNote]);

  // Bidirectional scan-phase correction.
  const bidiMode = select("bidi-mode", [...BIDI_MODES]);
  bidiMode.title = "bidirectional scan-phase correction";
  const bidiOffset = h("input", {
    type: "number", step: "0.05", min: "-64", max: "64", class: "six-num", "data-role": "bidi-offset",
    title: "odd-row offset in pixels of this field and plane (typing one applies it everywhere: manual)",
  });
  const bidiCompare = h("input", { type: "checkbox", "data-role": "bidi-compare" });
  const bidiCompareLabel = h("label", { title: "before/after: show the raw plane while checked" }, [bidiCompare, "raw"]);
  const bidiEstimate = h("button", { "data-role": "bidi-estimate", text: "estimate", title: "estimate this field and plane's offset from the frames around the time shown" });
  const bidiStatus = h("span", { class: "six-dim six-mono", "data-role": "bidi-status" });
  const bidiRow = h("div", { class: "six-row", "data-role": "bidi" }, [
    h("label", {}, ["bidi", bidiMode]), h("label", {}, ["px", bidiOffset]), bidiCompareLabel, bidiEstimate, bidiStatus,
  ]);

  const timingText = h("div", { class: "six-mono", "data-role": "timing-text" });
  const timingChart = h("canvas", { width: "420", height: "60", "data-role": "timing-chart" });
  const timing = h("div", { class: "six-panel", "data-role": "timing" }, [
    h("h4", { text: "chunk-load timing" }), timingText, timingChart,
  ]);

  const chunkCanvas = h("canvas", { width: "420", height: "60", "data-role": "chunk-canvas" });
  const legend = h("div", { class: "six-legend" });
  const chunkText = h("div", { class: "six-mono", "data-role": "chunk-text" });
  const chunkMap = h("div", { class: "six-panel", "data-role": "chunk-map" }, [
    h("h4", { text: "chunk map of this field (time →, z ↓)" }), chunkCanvas, legend, chunkText,
  ]);

  const traceStatus = h("div", { class: "six-mono", "data-role": "trace-status" });

  // Every ScanImage key and value, searchable, and the frame header of the page shown.
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
    h("div", { class: "six-meta-scroll" }, [metadataList, h("div", { class: "six-meta-section" }, [frameHeaderTitle, frameHeader])]),
  ]);

  main.append(
    title, cursor, error, stage, sliders, roiGeometry, viewRow, playRow, displayRow, histogram, zoomRow, bidiRow, chunking, timing,
    chunkMap, timelineRow, traceStatus, metadata,
  );

  const traceImage = h("img", { class: "six-trace-img", "data-role": "trace-image", alt: "trace" });
  const traceMarker = h("div", { class: "six-trace-marker", "data-role": "trace-marker" });
  const traceBox = h("div", { class: "six-trace", "data-role": "trace" }, [traceImage, traceMarker]);
  traceBox.hidden = true;
  const side = h("div", { class: "six-side" }, [traceBox]);

  root.append(main, side);
  el.append(root);
  return {
    root, main, status, seconds, cursor, fileNote, error, stage, plane, overlay, field, time, z, play, fps, follow,
    channel, channelLabel, colormap, vmin, vmax, auto, zoomIn, zoomOut, zoom, pan, reset, clear,
    scheme, backend, cacheMb, prefetch, timing, timingText, timingChart, chunkMap, chunkCanvas,
    legend, chunkText, traceStatus, traceBox, traceImage, traceMarker,
    auxToggle, auxLabel, timelineNote, bidiMode, bidiOffset, bidiCompare, bidiCompareLabel, bidiEstimate, bidiStatus,
    viewSelect, summaryNote, roiGeometry, roiSvg, histogram, histogramCanvas, histogramText,
    metadata, metadataSearch, metadataCount, metadataNote, metadataList, frameHeaderTitle, frameHeader,
  };
}

/** @typedef {ReturnType<typeof buildDom>} Dom */
