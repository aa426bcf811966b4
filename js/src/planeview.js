// The plane on screen: pixels from raw values, zoom and pan, cursor readout, ROI drawing.
//
// The `plane` canvas holds exactly one canvas pixel per plane pixel at zoom 1, so what is on
// screen can be checked pixel by pixel; the view is scaled up with CSS. The ROI outline and the
// padding hatch live on a separate overlay canvas so they never alter the data pixels.
//
// Fields of a multi-ROI file differ in size and the stack pads each to the largest. The canvas
// always has the padded size, so every field is drawn at the same scale; the field's pixels
// fill its top-left corner and the rest stays transparent (not data) under a hatch.

import { applyLut, lut } from "./lut.js";

/** Largest side of the stage in CSS pixels; small planes are scaled up to it. */
export const STAGE_PX = 448;
const MAX_ZOOM = 64;

/**
 * @typedef {Object} PlaneViewCallbacks
 * @property {(roi: {pixel?: [number, number], roi?: [number, number, number, number]}) => void} onSelect
 * @property {(text: string) => void} onCursor
 * @property {(zoom: number) => void} [onZoom]
 * @property {(data: ArrayLike<number>, vmin: number, vmax: number) => void} [onRender]  the
 *   image was drawn with this window (the histogram follows it)
 */

/** A diagonal hatch, so padding never looks like dark data. @returns {HTMLCanvasElement} */
function hatchTile() {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const c = /** @type {CanvasRenderingContext2D} */ (tile.getContext("2d"));
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

export class PlaneView {
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
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.octx = /** @type {CanvasRenderingContext2D} */ (overlay.getContext("2d"));
    this.buffer = document.createElement("canvas");
    this.bctx = /** @type {CanvasRenderingContext2D} */ (this.buffer.getContext("2d"));
    /** @type {import("./types.js").Plane | null} */
    this.plane = null;
    /** @type {ImageData | null} */
    this.image = null;
    this.colormap = "gray";
    this.vmin = 0;
    this.vmax = 1;
    /** @type {import("./types.js").ViewTransform} */
    this.view = { zoom: 1, panX: 0, panY: 0 };
    this.scale = 1; // CSS pixels per canvas pixel
    this.panMode = false;
    /** @type {number[] | null} selection in plane pixels: [y, x] or [y0, y1, x0, x1] */
    this.roi = null;
    /** @type {{x: number, y: number, px: number, py: number, panX: number, panY: number, pan: boolean, moved: boolean} | null} */
    this.drag = null;
    /** @type {[number, number, number, number] | null} */
    this.dragRect = null;
    /** @type {[number, number] | null} */
    this.lastCursor = null;

    /** @type {[string, EventListener][]} */
    this.listeners = [
      ["pointerdown", (e) => this.down(/** @type {PointerEvent} */ (e))],
      ["pointermove", (e) => this.move(/** @type {PointerEvent} */ (e))],
      ["pointerup", (e) => this.up(/** @type {PointerEvent} */ (e))],
      ["pointerleave", () => this.callbacks.onCursor("")],
      ["wheel", (e) => this.wheel(/** @type {WheelEvent} */ (e))],
      ["dblclick", () => this.resetView()],
    ];
    for (const [name, fn] of this.listeners) stage.addEventListener(name, fn, { passive: false });
    this.hatch = this.octx.createPattern(hatchTile(), "repeat");
  }

  /** Plane size including padding: [height, width]. @returns {[number, number]} */
  fullSize() {
    const p = /** @type {import("./types.js").Plane} */ (this.plane);
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
      // Another field size: what lay outside the new field is padding now, not old pixels.
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
    /** @type {[number, number, number, number][]} x0, y0, x1, y1 in plane pixels */
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
    // In canvas pixels (the view transform's unit), not CSS pixels.
    const px = (cx ?? this.overlay.width / 2) / this.scale;
    const py = (cy ?? this.overlay.height / 2) / this.scale;
    this.view = { zoom: next, panX: px - ((px - panX) * next) / zoom, panY: py - ((py - panY) * next) / zoom };
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
    if (!this.plane || (e.button !== 0 && e.button !== 1)) return;
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
      // Only the field's own pixels: a click on the padding selects nothing.
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
    const p = /** @type {import("./types.js").Plane} */ (this.plane);
    const clamp = (/** @type {number} */ v, /** @type {number} */ n) => Math.min(n, Math.max(0, v));
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
    // Keep the plane point under the cursor where it is.
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
      this.callbacks.onCursor(`y ${y}, x ${x}: padding, not data (this field is ${p.height}×${p.width})`);
      return;
    }
    this.lastCursor = [y, x];
    const v = p.data[y * p.width + x];
    // Float images (summaries, bidi-corrected planes): a few digits, not float32's noise.
    const text = Number.isInteger(v) ? String(v) : Number(v.toPrecision(5)).toString();
    this.callbacks.onCursor(`y ${y}, x ${x}, value ${text}`);
  }

  /** Refresh the readout after the plane under a still cursor changed. */
  refreshReadout() {
    if (this.lastCursor) this.readout(this.lastCursor[1] + 0.5, this.lastCursor[0] + 0.5);
  }
}
