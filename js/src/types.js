// Shapes of the objects the front end exchanges with the host and with Python.
// Only JSDoc typedefs live here; the module exports nothing at run time.

/**
 * The part of anywidget's model interface this widget uses (the same in Jupyter and marimo).
 * @typedef {Object} Model
 * @property {(key: string) => any} get
 * @property {(key: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(name: string, callback: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, callback?: ((...args: any[]) => void) | null) => void} off
 * @property {(content: any, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 */

/**
 * A plane as received from Python: the raw pixels and what they are.
 * @typedef {Object} Plane
 * @property {number} id
 * @property {number} field
 * @property {number} time
 * @property {number} z
 * @property {number} height  the field's own size (the pixels in `data`)
 * @property {number} width
 * @property {number} [fullHeight]  the padded size every field of the stack shares
 * @property {number} [fullWidth]
 * @property {ArrayLike<number>} data
 */

/**
 * How the trace picture (the fallback without ipympl) maps time to pixels: the axes' box as
 * fractions of the picture [left, right, top, bottom], the x limits, and time -> x knots.
 * @typedef {Object} TraceGeometry
 * @property {number[]} box
 * @property {number[]} xlim
 * @property {number[]} t
 * @property {number[]} x
 */

/**
 * Per-plane timing sent by Python with each plane.
 * @typedef {Object} PlaneTiming
 * @property {string} cache
 * @property {number[][]} blocks
 * @property {number} bytes
 * @property {number} read_ms
 * @property {number} server_ms
 * @property {number | null} read_p50
 * @property {number | null} read_p95  over planes that were read (cache hits left out)
 * @property {number | null} [hit_rate]  over the last 200 planes
 * @property {number} cache_bytes
 */

/**
 * The view transform: plane pixel (x, y) is drawn at canvas pixel (x * zoom + panX, ...).
 * @typedef {Object} ViewTransform
 * @property {number} zoom
 * @property {number} panX
 * @property {number} panY
 */

export {};
