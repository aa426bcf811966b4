// Colormap lookup tables and the plane -> RGBA conversion.

import { COLORMAP_NAMES, COLORMAP_STOPS } from "./colormaps.js";

// The names come from Python's list (messages.COLORMAPS) through js/tools/make_colormaps.py.
export { COLORMAP_NAMES };

/** @type {Map<string, Uint32Array>} */
const cache = new Map();

/**
 * A 256-entry table of packed RGBA pixels (as a little-endian Uint32 view of ImageData sees them).
 * @param {string} name
 * @returns {Uint32Array}
 */
export function lut(name) {
  const hit = cache.get(name);
  if (hit) return hit;
  const table = new Uint32Array(256);
  const stops = COLORMAP_STOPS[name];
  for (let i = 0; i < 256; i++) {
    let r = i, g = i, b = i;
    if (stops) {
      const n = stops.length / 6;
      const pos = (i / 255) * (n - 1);
      const k = Math.min(n - 2, Math.floor(pos));
      const f = pos - k;
      /** @param {number} s @param {number} c */
      const chan = (s, c) => parseInt(stops.slice(s * 6 + c * 2, s * 6 + c * 2 + 2), 16);
      r = Math.round(chan(k, 0) * (1 - f) + chan(k + 1, 0) * f);
      g = Math.round(chan(k, 1) * (1 - f) + chan(k + 1, 1) * f);
      b = Math.round(chan(k, 2) * (1 - f) + chan(k + 1, 2) * f);
    }
    // ImageData is RGBA bytes; read as Uint32 on a little-endian machine that is 0xAABBGGRR.
    table[i] = ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }
  cache.set(name, table);
  return table;
}

/**
 * Map raw values through the contrast window [vmin, vmax] and a colormap into RGBA pixels.
 * @param {ArrayLike<number>} data
 * @param {Uint32Array} out  a Uint32 view of the ImageData's bytes, same length as data
 * @param {number} vmin
 * @param {number} vmax
 * @param {Uint32Array} table
 */
export function applyLut(data, out, vmin, vmax, table) {
  const scale = 255 / Math.max(vmax - vmin, 1e-12);
  const n = data.length;
  for (let i = 0; i < n; i++) {
    let v = (data[i] - vmin) * scale;
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    out[i] = table[v | 0];
  }
}

/** @typedef {Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array} Typed */

/** @type {Record<string, new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => Typed>} */
const TYPED = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/**
 * View a received binary buffer as the plane's typed array (copying only when misaligned).
 * @param {DataView | ArrayBuffer} buffer
 * @param {string} dtype  numpy dtype name, little-endian
 * @param {number} count  number of pixels
 * @returns {Typed}
 */
export function typedPlane(buffer, dtype, count) {
  const Ctor = TYPED[dtype];
  if (!Ctor) throw new Error(`unsupported pixel type ${dtype}`);
  const dv = buffer instanceof DataView ? buffer : new DataView(buffer);
  const size = /** @type {any} */ (Ctor).BYTES_PER_ELEMENT;
  if (dv.byteLength < count * size) {
    throw new Error(`plane buffer holds ${dv.byteLength} bytes, expected ${count * size}`);
  }
  if (dv.byteOffset % size === 0) return new Ctor(/** @type {ArrayBuffer} */ (dv.buffer), dv.byteOffset, count);
  const copy = dv.buffer.slice(dv.byteOffset, dv.byteOffset + count * size);
  return new Ctor(/** @type {ArrayBuffer} */ (copy), 0, count);
}
