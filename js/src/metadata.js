// The metadata panel: every ScanImage key and value (the header's FrameData and the ROI group),
// filtered as the user types, and the frame header of the page shown.
//
// The metadata is asked for once, when the panel is first opened (a real header has a few
// thousand rows), and filtered here on every keystroke. The frame header is one small read in
// Python: asked for only while the panel is open, for the page shown, at most every
// HEADER_MS while the sliders move.

/** Least time between two frame header requests while the page shown keeps changing. */
export const HEADER_MS = 200;

/**
 * @param {string} key @param {string} value
 * @returns {HTMLDivElement}
 */
function row(key, value) {
  const div = document.createElement("div");
  div.className = "six-meta-row";
  div.dataset.key = key;
  const k = document.createElement("span");
  k.className = "six-meta-key";
  k.textContent = key;
  const v = document.createElement("span");
  v.className = "six-meta-value";
  v.textContent = value;
  div.append(k, v);
  return div;
}

/** @typedef {{field: number, time: number, z: number}} Page */

export class MetadataPanel {
  /**
   * @param {Object} parts
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   * @param {() => Page} parts.position  the sliders' page, before any plane arrived
   */
  constructor({ dom, listeners, send, position }) {
    this.dom = dom;
    this.send = send;
    this.position = position;
    this.asked = false;
    /** Rows with their lower-case text, for filtering. @type {[HTMLElement, string][]} */
    this.rows = [];
    /** @type {[HTMLElement, string][]} */
    this.headerRows = [];
    /** The page whose header was asked for last, and the page shown. */
    this.headerFor = "";
    /** @type {Page | null} */
    this.page = null;
    this.lastHeaderAt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    listeners.onDom(dom.metadata, "toggle", () => {
      if (!dom.metadata.open) return;
      if (!this.asked) {
        this.asked = true;
        dom.metadataNote.textContent = "reading…";
        send({ type: "metadata" });
      }
      this.pageShown(this.page ?? position());
      dom.metadataSearch.focus({ preventScroll: true });
    });
    listeners.onDom(dom.metadataSearch, "input", () => this.filter());
  }

  destroy() {
    if (this.timer) clearTimeout(this.timer);
  }

  /** @param {import("./types.js").MetadataMessage} msg */
  setMetadata(msg) {
    const { dom } = this;
    /** @type {Map<string, HTMLElement>} */
    const sections = new Map();
    dom.metadataList.replaceChildren();
    this.rows = [];
    for (const [section, key, value] of msg.entries) {
      let box = sections.get(section);
      if (!box) {
        box = document.createElement("div");
        box.className = "six-meta-section";
        box.dataset.section = section;
        const h = document.createElement("h5");
        h.textContent = section;
        box.append(h);
        sections.set(section, box);
        dom.metadataList.append(box);
      }
      const r = row(key, value);
      box.append(r);
      this.rows.push([r, `${key} ${value}`.toLowerCase()]);
    }
    dom.metadataNote.textContent = msg.note;
    this.filter();
  }

  /** @param {import("./types.js").FrameHeaderMessage} msg */
  setHeader(msg) {
    const { dom } = this;
    dom.frameHeaderTitle.textContent = `frame header · field ${msg.field} · time ${msg.time} · z ${msg.z}`;
    dom.frameHeader.dataset.page = `${msg.field},${msg.time},${msg.z}`;
    const rows = msg.entries.map(([k, v]) => /** @type {[HTMLElement, string]} */ ([row(k, v), `${k} ${v}`.toLowerCase()]));
    dom.frameHeader.replaceChildren(...rows.map(([r]) => r));
    if (msg.note) {
      const note = document.createElement("div");
      note.className = "six-dim";
      note.textContent = msg.note;
      dom.frameHeader.append(note);
    }
    this.headerRows = rows;
    this.filter();
  }

  /** A plane of `page` was shown: its header is asked for while the panel is open. @param {Page} page */
  pageShown(page) {
    this.page = { field: page.field, time: page.time, z: page.z };
    if (!this.dom.metadata.open) return;
    const { field, time, z } = page;
    const key = `${field},${time},${z}`;
    if (key === this.headerFor) return;
    const wait = this.lastHeaderAt + HEADER_MS - performance.now();
    if (wait > 0) {
      // Sliding: the last page is asked for when the interval is up.
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          if (this.page) this.pageShown(this.page);
        }, wait);
      }
      return;
    }
    this.headerFor = key;
    this.lastHeaderAt = performance.now();
    this.send({ type: "frame_header", field, time, z });
  }

  /** Show the rows whose key or value holds every word typed (case-insensitive). */
  filter() {
    const { dom } = this;
    const words = dom.metadataSearch.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const [r, text] of this.rows) {
      const hit = words.every((w) => text.includes(w));
      r.hidden = !hit;
      if (hit) shown++;
    }
    for (const box of dom.metadataList.children) {
      const el = /** @type {HTMLElement} */ (box);
      el.hidden = !el.querySelector(".six-meta-row:not([hidden])");
    }
    for (const [r, text] of this.headerRows) r.hidden = !words.every((w) => text.includes(w));
    const total = this.rows.length;
    dom.metadataCount.textContent = words.length ? `${shown.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} keys` : `${total.toLocaleString("en-US")} keys`;
    dom.metadata.dataset.shown = String(shown);
  }
}
