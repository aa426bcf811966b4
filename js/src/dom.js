// Building the widget's DOM. Every element tests or users may automate carries a data-role.

import { CSS } from "./style.js";

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

/**
 * Create the whole widget under `el`; returns the elements the controller wires up.
 * @param {HTMLElement} el
 * @param {string[]} colormaps
 */
export function buildDom(el, colormaps) {
  const root = h("div", { class: "six-root", "data-role": "si-explorer", tabindex: "0" });
  root.append(h("style", { text: CSS }));

  const title = h("div", { class: "six-row" });
  const status = h("span", { class: "six-status", "data-role": "status", text: "loading…" });
  const cursor = h("span", { class: "six-mono", "data-role": "cursor" });
  title.append(status, cursor);

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

  const play = h("button", { "data-role": "play", text: "▶ play" });
  const fps = h("input", { type: "number", min: "1", max: "240", step: "1", class: "six-num", "data-role": "fps" });
  const channel = select("channel", []);
  const channelLabel = h("label", {}, ["channel", channel]);
  const colormap = select("colormap", colormaps);
  const vmin = h("input", { type: "number", class: "six-num", "data-role": "vmin", step: "any" });
  const vmax = h("input", { type: "number", class: "six-num", "data-role": "vmax", step: "any" });
  const auto = h("button", { "data-role": "auto-contrast", text: "auto" });
  const pan = h("button", { "data-role": "pan", text: "pan", title: "drag to pan (or shift-drag); wheel zooms" });
  const reset = h("button", { "data-role": "reset-view", text: "1:1" });
  const clear = h("button", { "data-role": "clear-roi", text: "clear ROI" });
  const controls = h("div", { class: "six-row" }, [
    play, h("label", {}, ["fps", fps]), channelLabel,
    h("label", {}, ["colormap", colormap]),
    h("label", {}, ["min", vmin]), h("label", {}, ["max", vmax]), auto, pan, reset, clear,
  ]);

  const scheme = h("input", { "data-role": "chunk-scheme", list: "six-schemes", size: "9" });
  const schemes = h("datalist", { id: "six-schemes" });
  for (const s of ["page", "volume", "frames:4", "frames:16", "frames:64"]) schemes.append(h("option", { value: s }));
  const backend = select("backend", ["pread", "mmap", "tifffile"]);
  const cacheMb = h("input", { type: "number", min: "0", step: "16", class: "six-num", "data-role": "cache-mb" });
  const prefetch = h("input", { type: "number", min: "0", max: "1000", step: "1", class: "six-num", "data-role": "prefetch" });
  const chunking = h("div", { class: "six-row" }, [
    h("label", {}, ["chunks", scheme, schemes]), h("label", {}, ["backend", backend]),
    h("label", {}, ["cache MB", cacheMb]), h("label", {}, ["prefetch", prefetch]),
  ]);

  const timingText = h("div", { class: "six-mono", "data-role": "timing-text" });
  const timingChart = h("canvas", { width: "320", height: "60", "data-role": "timing-chart" });
  const timing = h("div", { class: "six-panel", "data-role": "timing" }, [
    h("h4", { text: "chunk-load timing" }), timingText, timingChart,
  ]);

  const chunkCanvas = h("canvas", { width: "320", height: "60", "data-role": "chunk-canvas" });
  const legend = h("div", { class: "six-legend" });
  const chunkText = h("div", { class: "six-mono", "data-role": "chunk-text" });
  const chunkMap = h("div", { class: "six-panel", "data-role": "chunk-map" }, [
    h("h4", { text: "chunk map (time → , z ↓) of this field" }), chunkCanvas, legend, chunkText,
  ]);

  const traceStatus = h("div", { class: "six-mono", "data-role": "trace-status" });
  const traceImage = h("img", { class: "six-trace-img", "data-role": "trace-image", alt: "trace" });
  traceImage.hidden = true;

  root.append(title, error, stage, sliders, controls, chunking, timing, chunkMap, traceStatus, traceImage);
  el.append(root);
  return {
    root, status, cursor, error, stage, plane, overlay, field, time, z, play, fps, channel,
    channelLabel, colormap, vmin, vmax, auto, pan, reset, clear, scheme, backend, cacheMb,
    prefetch, timing, timingText, timingChart, chunkMap, chunkCanvas, legend, chunkText, traceStatus, traceImage,
  };
}

/** @typedef {ReturnType<typeof buildDom>} Dom */
