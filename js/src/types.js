// Shapes of the objects the front end exchanges with the host and with Python.
// Only JSDoc typedefs live here; the module exports nothing at run time. The messages mirror
// si_explorer/explorer/messages.py (parsers for ToPython, builders for FromPython); the lists of
// their types are in protocol.js, checked against Python by tests/explorer/test_schema.py.

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

/** @typedef {typeof import("./protocol.js").SETTING_KEYS[number]} SettingKey */
/** @typedef {typeof import("./protocol.js").VIEWS[number]} View */

/**
 * The browser's request->drawn time for a plane, in ms.
 * @typedef {Object} Ack
 * @property {number} id
 * @property {number} total_ms
 */

// -- browser -> Python (messages.INCOMING) ---------------------------------------------------

/**
 * Ask for a plane; ids are positive and increase. `ack` is the last plane's drawn time.
 * @typedef {Object} RequestMessage
 * @property {"request"} type
 * @property {number} id
 * @property {number} field
 * @property {number} time
 * @property {number} z
 * @property {boolean} playing  the request is a play step (Python prefetches ahead of it)
 * @property {Ack | null} ack
 */

/**
 * A drawn time sent alone, when no request followed to carry it.
 * @typedef {Object} DrawnMessage
 * @property {"drawn"} type
 * @property {number} id
 * @property {number} total_ms
 */

/**
 * A selection on `field`: a half-open rectangle [y0, y1, x0, x1] or a pixel [y, x].
 * @typedef {Object} RoiMessage
 * @property {"roi"} type
 * @property {number} field
 * @property {[number, number, number, number]} [roi]
 * @property {[number, number]} [pixel]
 */

/** @typedef {{ type: "clear_roi" }} ClearRoiMessage */
/** @typedef {{ type: "auto_contrast" }} AutoContrastMessage */
/** Re-estimate the bidi offset of the field and z shown from the frames around the time shown. */
/** @typedef {{ type: "bidi_estimate" }} BidiEstimateMessage */

/**
 * A click on the trace picture at x-axis value `x` (frames, or seconds with time stamps).
 * @typedef {Object} TraceClickMessage
 * @property {"trace_click"} type
 * @property {number} x
 */

/**
 * Change a setting (messages.SETTINGS checks the value's type and range).
 * @typedef {Object} ConfigMessage
 * @property {"config"} type
 * @property {SettingKey} key
 * @property {unknown} value
 */

/**
 * Show `view` of the field and z shown (a summary image is computed, or sent from the cache).
 * @typedef {Object} ViewMessage
 * @property {"view"} type
 * @property {View} view
 */

/** Send the file's metadata (the panel was opened). */
/** @typedef {{ type: "metadata" }} MetadataAskMessage */

/**
 * Send the frame header of the page at (field, time, z).
 * @typedef {Object} FrameHeaderAskMessage
 * @property {"frame_header"} type
 * @property {number} field
 * @property {number} time
 * @property {number} z
 */

/** @typedef {RequestMessage | DrawnMessage | RoiMessage | ClearRoiMessage | AutoContrastMessage | TraceClickMessage | ConfigMessage | BidiEstimateMessage | ViewMessage | MetadataAskMessage | FrameHeaderAskMessage} ToPython */

// -- Python -> browser (messages.OUTGOING) ---------------------------------------------------

/**
 * A plane (messages.plane_message); buffers: its pixels, then the chunk grid when `chunk_map`
 * is present.
 * @typedef {Object} PlaneMessage
 * @property {"plane"} type
 * @property {number} id  negative when asked for from Python
 * @property {number} seen  every browser request up to this id is answered or superseded
 * @property {number} field
 * @property {number} time
 * @property {number} z
 * @property {number | null} seconds
 * @property {number} height  the field's own size
 * @property {number} width
 * @property {[number, number]} padded  the size every field is padded to
 * @property {string} dtype  numpy dtype name, little-endian
 * @property {PlaneTiming} timing
 * @property {[number, number]} block  the (time block, z block) holding the plane
 * @property {{ rows: number, cols: number, bin: number, gaps?: number[] }} [chunk_map]  `gaps`:
 *   the columns whose time blocks follow dropped frames (only when there are any)
 */

/**
 * @typedef {Object} ErrorMessage
 * @property {"error"} type
 * @property {string} message
 */

/**
 * A large block is being read.
 * @typedef {Object} ReadingMessage
 * @property {"reading"} type
 * @property {number} field
 * @property {[number, number]} block  (time block, z block)
 */

/**
 * Progress of the selection's trace.
 * @typedef {Object} TraceMessage
 * @property {"trace"} type
 * @property {"reading" | "done"} state
 * @property {number} done
 * @property {number} total
 */

/**
 * Progress of the summary images of (field, z) (messages.summary_message) and, with `image`,
 * the one of `view` over the first `frames_done` time points: float32 pixels in the buffer,
 * drawn with its contrast `window`.
 * @typedef {Object} SummaryMessage
 * @property {"summary"} type
 * @property {View} view
 * @property {number} field
 * @property {number} z
 * @property {number} frames_done
 * @property {number} frames_total
 * @property {boolean} done
 * @property {boolean} image
 * @property {number} [height]
 * @property {number} [width]
 * @property {[number, number]} [padded]
 * @property {string} [dtype]
 * @property {[number, number] | null} [window]
 */

/**
 * The file's metadata: [section, key, value] rows, and where they come from.
 * @typedef {Object} MetadataMessage
 * @property {"metadata"} type
 * @property {[string, string, string][]} entries
 * @property {string} note
 */

/**
 * The frame header of the page at (field, time, z): [key, value] rows, or a note why none.
 * @typedef {Object} FrameHeaderMessage
 * @property {"frame_header"} type
 * @property {number} field
 * @property {number} time
 * @property {number} z
 * @property {[string, string][]} entries
 * @property {string} note
 */

/**
 * A scanfield of a multi-ROI acquisition in scan coordinates (degrees): the `scanfields` trait.
 * @typedef {Object} Scanfield
 * @property {number | null} field  the stack's field it is (null when they do not match)
 * @property {string} name
 * @property {[number, number]} center
 * @property {[number, number]} size
 * @property {number} rotation  degrees
 */

/** @typedef {PlaneMessage | ErrorMessage | ReadingMessage | TraceMessage | SummaryMessage | MetadataMessage | FrameHeaderMessage} FromPython */

export {};
