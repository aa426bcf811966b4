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
 * @property {number} height
 * @property {number} width
 * @property {ArrayLike<number>} data
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
 * @property {number | null} read_p95
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
