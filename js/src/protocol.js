// The message schema shared with Python (si_explorer/explorer/messages.py), as lists the front
// end runs on. tests/explorer/test_schema.py imports this module with node and fails when a list
// here and Python's disagree; the shape of each message is in types.js.

/** Message types Python sends (messages.OUTGOING); messages.js has one handler for each. */
export const FROM_PYTHON = /** @type {const} */ (["plane", "error", "reading", "trace", "summary", "metadata", "frame_header"]);

/** Message types this front end sends (messages.INCOMING). */
export const TO_PYTHON = /** @type {const} */ ([
  "request", "drawn", "roi", "clear_roi", "auto_contrast", "trace_click", "config", "bidi_estimate", "view", "metadata",
  "frame_header",
]);

/** Widget settings a `config` message may change (the keys of messages.SETTINGS). */
export const SETTING_KEYS = /** @type {const} */ ([
  "channel", "chunk_scheme", "backend", "cache_mb", "prefetch", "colormap", "vmin", "vmax", "playing", "fps", "follow",
  "show_aux", "bidi", "bidi_manual", "bidi_compare",
]);

/** Bidirectional correction modes of the `bidi` setting (messages.BIDI_MODES). */
export const BIDI_MODES = /** @type {const} */ (["off", "auto", "auto-x", "manual"]);

/** Reader backends (messages.BACKENDS). */
export const BACKENDS = /** @type {const} */ (["pread", "mmap", "tifffile"]);

/** What the plane view shows (messages.VIEWS): the frame at the time shown, or a summary image. */
export const VIEWS = /** @type {const} */ (["frame", "mean", "max", "std", "correlation"]);
